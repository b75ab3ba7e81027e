"""The engine's own rules, on the fake backend (no Ray, no Slurm: milliseconds per run)."""
import os
import signal

import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.engine import RunControl, scoped_environ, worker_environment
from hpogrid.errors import ValidationError
from hpogrid.project import load_project
from hpogrid.settings import Settings
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import ECHO, make_project

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def run_fake(name, **options):
    return get_backend("fake").run(load_project(name), RunOptions(progress=False, **options))


def test_a_run_leaves_the_process_environment_as_it_found_it(tmp_path):
    name = make_project(tmp_path, ECHO, UNI, trials=2, scheduler="fifo")
    before = dict(os.environ)
    cwd = os.getcwd()
    run_fake(name)
    assert dict(os.environ) == before and os.getcwd() == cwd


def test_changed_metric_needs_another_study(tmp_path, run_cli):
    name = make_project(tmp_path, ECHO, UNI, trials=2, scheduler="fifo")
    StudyStore(sqlite_url(paths.study_db(name))).create_study(name, metric="accuracy", mode="max")
    with pytest.raises(ValidationError, match=r"--study: study '.*' optimises accuracy \(max\) but the project "
                                              r"now asks for loss \(min\)"):
        run_fake(name)
    run_fake(name, study="other")  # another study of the same project is fine
    assert len(StudyStore(sqlite_url(paths.study_db(name))).trials("other")) == 2


def test_study_url_and_settings_choose_where_the_study_lives(tmp_path):
    name = make_project(tmp_path, ECHO, UNI, trials=1, scheduler="fifo")
    url = sqlite_url(tmp_path / "shared.db")
    summary = get_backend("fake").run(load_project(name), RunOptions(
        progress=False, settings=Settings(home=paths.home(), study_url=url)))
    assert summary.store_url == url and len(StudyStore(url).trials(name)) == 1
    assert not paths.study_db(name).exists()  # nothing written to the project's own store


def test_a_searcher_with_nothing_to_propose_and_nothing_running_stops_the_run(tmp_path, monkeypatch):
    from hpogrid.search import RandomSampler

    monkeypatch.setattr(RandomSampler, "suggest", lambda self, trial_id: None)
    name = make_project(tmp_path, ECHO, UNI, algorithm="random", trials=3, scheduler="fifo")
    with pytest.raises(Exception, match="the search algorithm proposed no configuration while no trial was running"):
        run_fake(name)


def test_signals_escalate_drain_then_stop_then_give_up():
    control = RunControl()
    control.on_signal(signal.SIGQUIT)
    assert control.draining and control.ending and not control.stopping
    control.on_signal(signal.SIGQUIT)  # a second signal while draining stops now
    assert control.stopping and not control.hurry
    control.on_signal(signal.SIGINT)  # while stopping: stop waiting for running trials
    assert control.hurry
    with pytest.raises(KeyboardInterrupt):
        control.on_signal(signal.SIGTERM)


def test_sigterm_and_sigint_stop_now():
    for sig in (signal.SIGINT, signal.SIGTERM):
        control = RunControl()
        control.on_signal(sig)
        assert control.stopping and not control.draining and control.interrupted


def test_settings_are_read_once_and_bad_values_are_one_line(tmp_path):
    s = Settings.from_env({"HPOGRID_HOME": str(tmp_path), "HPOGRID_STUDY_URL": "sqlite:///x.db",
                           "HPOGRID_STALE_AFTER_S": "8"})
    assert (s.home, s.study_url, s.stale_after_s, s.heartbeat_s) == (tmp_path, "sqlite:///x.db", 8.0, 2.0)
    with pytest.raises(ValidationError, match="HPOGRID_STALE_AFTER_S: expected a number of seconds > 0, got '-1'"):
        Settings.from_env({"HPOGRID_STALE_AFTER_S": "-1"})


def test_worker_environment_puts_hpogrid_and_the_scripts_first_and_keeps_the_users_path(tmp_path):
    env = worker_environment(tmp_path, base={"PYTHONPATH": "/mine", "RAY_DEDUP_LOGS": "1"})
    parts = env["PYTHONPATH"].split(os.pathsep)
    assert parts[1:] == [str(tmp_path), "/mine"] and (os.path.isdir(os.path.join(parts[0], "hpogrid")))
    assert env["RAY_DEDUP_LOGS"] == "1"  # the user's own setting wins
    with scoped_environ({"HPOGRID_X": "1"}):
        assert os.environ["HPOGRID_X"] == "1"
    assert "HPOGRID_X" not in os.environ


def test_old_slurm_configs_with_max_failures_still_load(run_cli, hpogrid_home):
    folder = hpogrid_home / "slurm"
    folder.mkdir(parents=True)
    (folder / "old.json").write_text('{"workers": 2, "max_failures": 3}')
    r = run_cli("slurm_config", "show", "old")
    assert r.exit_code == 0, r.output
    assert '"workers": 2' in r.output and "max_failures" not in r.output
