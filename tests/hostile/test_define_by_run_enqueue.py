"""Issue #34 item 4: a define-by-run model is never given a value outside what it asks for.

``enqueue`` cannot check a define-by-run point (there is no space), so the trial does: an
enqueued value that is not one of a ``suggest_categorical``'s choices, outside a
``suggest_float``/``suggest_int`` range, off its ``step``, not an integer for ``suggest_int``,
or of another type is not used (the trial draws its own); a value that fits is used as given.
The model below fails its trial if it ever gets a value it did not ask for.
"""
import json

import pytest

MODEL = '''
def objective(trial):
    kind = trial.suggest_categorical("kind", ["ok", "fine", 3])
    x = trial.suggest_float("x", 0.0, 1.0)
    lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    drop = trial.suggest_float("drop", 0.0, 0.5, step=0.1)
    n = trial.suggest_int("n", 1, 4)
    m = trial.suggest_int("m", 2, 10, step=2)
    assert kind in ("ok", "fine", 3) and (kind != 3 or type(kind) is int), kind
    assert 0.0 <= x <= 1.0 and 1e-3 <= lr <= 1e-1 and 0.0 <= drop <= 0.5, (x, lr, drop)
    assert abs(drop * 10 - round(drop * 10)) < 1e-9, drop
    assert type(n) is int and 1 <= n <= 4 and type(m) is int and m in (2, 4, 6, 8, 10), (n, m)
    return {"loss": x}
'''
GOOD = {"kind": "fine", "x": 0.25, "lr": 0.01, "drop": 0.3, "n": 2, "m": 6}
#: one bad value per kind of suggest: (parameter, value)
BAD = [("kind", "bogus"), ("kind", "OK"), ("kind", 3.5), ("kind", True), ("kind", None), ("kind", "3"),
       ("x", 5), ("x", -0.1), ("x", "0.5"), ("x", True), ("x", [0.5]),
       ("lr", 0), ("lr", 1.0), ("lr", -1),
       ("drop", 0.25), ("drop", 0.6),
       ("n", 7), ("n", 0), ("n", 2.5), ("n", "2"), ("n", False),
       ("m", 3), ("m", 12), ("m", 0)]


@pytest.fixture
def dbr_project(run_cli, tmp_path):
    scripts = tmp_path / "dbr"
    scripts.mkdir()
    (scripts / "t.py").write_text(MODEL)
    assert run_cli("model_config", "create", "m", "--script", "t.py", "--model", "objective").exit_code == 0
    assert run_cli("hpo_config", "create", "h", "--metric", "loss", "--mode", "min", "--trials", "1",
                   "--algorithm", "random").exit_code == 0
    r = run_cli("project", "create", "p", "-p", scripts, "--model_config", "m", "--hpo_config", "h")
    assert r.exit_code == 0, r.output
    return "p"


def _trials(project):
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    with StudyStore(sqlite_url(paths.study_db(project))) as store:
        return store.trials(project)


@pytest.mark.parametrize("first_run", [False, True], ids=["fresh study", "distributions already known"])
def test_an_enqueued_value_the_model_does_not_ask_for_is_not_given_to_it(run_cli, dbr_project, first_run):
    points = [{**GOOD, name: value} for name, value in BAD]
    runs = []
    if first_run:  # the searcher knows every distribution before the points run: the case
        r = run_cli("local_run", dbr_project, "--seed", "1")
        assert r.exit_code == 0, r.output
        runs = ["--resume"]
    r = run_cli("enqueue", dbr_project, json.dumps(points + [GOOD]))
    assert r.exit_code == 0, r.output
    total = len(points) + 1 + (1 if first_run else 0)
    r = run_cli("local_run", dbr_project, "--trials", total, "--seed", "2", *runs)
    assert r.exit_code == 0, r.output
    assert "internal error" not in r.output
    trials = _trials(dbr_project)
    assert len(trials) == total
    assert {t.state for t in trials} == {"COMPLETED"}, [(t.params, t.state) for t in trials]
    used = [t.params for t in trials]
    for name, value in BAD:
        assert not any(p[name] == value and type(p[name]) is type(value) for p in used), (name, value)
    assert GOOD in used  # a point that fits is used exactly as given


def test_an_enqueued_point_of_a_model_that_asks_for_nothing_it_knows_runs(run_cli, dbr_project, tmp_path):
    (tmp_path / "dbr" / "t.py").write_text("def objective(trial):\n"
                                           "    trial.suggest_float('x', 0.0, 1.0)\n    return {'loss': 1.0}\n")
    assert run_cli("project", "update", dbr_project, "-p", tmp_path / "dbr").exit_code == 0
    assert run_cli("local_run", dbr_project, "--algorithm", "optuna").exit_code == 0
    (tmp_path / "dbr" / "t.py").write_text("def objective(trial):\n    return {'loss': 2.0}\n")
    assert run_cli("project", "update", dbr_project, "-p", tmp_path / "dbr").exit_code == 0
    assert run_cli("enqueue", dbr_project, '{"x": 0.5}').exit_code == 0
    r = run_cli("local_run", dbr_project, "--algorithm", "optuna", "--resume", "--trials", "3")
    assert r.exit_code == 0 and "internal error" not in r.output, r.output
    assert [t.state.value for t in _trials(dbr_project)] == ["COMPLETED"] * 3
