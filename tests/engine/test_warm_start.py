"""``--warm-start``: the searcher is told another study's completed trials before it proposes
anything (fake backend: the engine's logic; the CLI run is in tests/cli/test_run_warm_rerun.py)."""
import pytest

from hpogrid import paths
from hpogrid.backends import RunOptions, get_backend
from hpogrid.errors import ValidationError
from hpogrid.project import load_project
from hpogrid.study import StudyStore, sqlite_url
from tests.backends.helpers import ECHO, make_project
from tests.conftest import tree_snapshot

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "n": {"method": "uniformint", "dimension": {"low": 1, "high": 4}}}
SOURCE_TRIALS = 12  # more than optuna TPE's 10 random start-up trials: a told searcher models


def _files(root):
    """The tree's files and bytes, less the -shm/-wal a SQLite reader leaves beside a WAL database
    it opened read-only (SQLite's, not a change to any study: the database's own bytes are compared)."""
    return {p: b for p, b in tree_snapshot(root).items() if not p.endswith(("-shm", "-wal"))}


def run(name, **options):
    return get_backend("fake").run(load_project(name), RunOptions(progress=False, n_jobs=1, **options))


def _trials(name, study=None):
    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        return sorted(store.trials(study or name), key=lambda t: t.number)


@pytest.fixture
def source(tmp_path):
    name = make_project(tmp_path, ECHO, SPACE, algorithm="random", trials=SOURCE_TRIALS, scheduler="fifo")
    run(name, seed=3)
    return name


def test_warm_start_changes_the_first_proposals_and_tells_n_trials(tmp_path, source):
    name = make_project(tmp_path, ECHO, SPACE, algorithm="optuna", trials=3, scheduler="fifo")
    run(name, seed=5, study="cold")
    run(name, seed=5, study="cold2")
    summary = run(name, seed=5, study="warm", warm_start=source)
    cold, cold2, warm = (_trials(name, s) for s in ("cold", "cold2", "warm"))
    assert [t.params for t in cold] == [t.params for t in cold2]  # same seed, same points...
    assert warm[0].params != cold[0].params  # ...unless the searcher was told another study first
    assert [t.annotations["searcher_told"] for t in warm] == [SOURCE_TRIALS + i for i in range(3)]
    assert f"warm start: searcher told {SOURCE_TRIALS} completed trials of project '{source}'" in summary.notes
    # the other study of the same store is named directly, and the source is left as it was
    summary = run(name, seed=5, study="warm2", warm_start="cold")
    assert "warm start: searcher told 3 completed trials of study 'cold'" in summary.notes
    assert len(_trials(source)) == SOURCE_TRIALS


def test_random_search_learns_nothing_and_says_so(tmp_path, source):
    name = make_project(tmp_path, ECHO, SPACE, algorithm="random", trials=2, scheduler="fifo")
    summary = run(name, seed=5, warm_start=source)
    assert any(n.startswith("warm start: the random search learns nothing") for n in summary.notes)


@pytest.mark.parametrize("algorithm", ["optuna", "hyperopt"])  # hyperopt itself accepts any value
def test_trials_outside_this_space_are_skipped(tmp_path, source, algorithm):
    narrow = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
              "n": {"method": "uniformint", "dimension": {"low": 1, "high": 2}}}
    name = make_project(tmp_path, ECHO, narrow, algorithm=algorithm, trials=1, scheduler="fifo")
    summary = run(name, seed=5, warm_start=source)
    inside = sum(1 for t in _trials(source) if t.params["n"] <= 2)
    assert 0 < inside < SOURCE_TRIALS
    assert (f"warm start: searcher told {inside} completed trials of project '{source}' "
            f"({SOURCE_TRIALS - inside} outside this space skipped)") in summary.notes


@pytest.mark.parametrize("space, hpo, message", [
    ({"x": {"method": "loguniform", "dimension": {"low": 0.1, "high": 1}},
      "lr": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}, {},
     "--warm-start: project '{src}' searched another space (only there: n; only here: lr; x is uniform there, "
     "loguniform here); warm-start from a study of the same parameter names and methods"),
    (SPACE, {"metric": "acc"}, "--warm-start: project '{src}' optimises loss, this run acc: its results cannot be "
                               "told to this search"),
])
def test_an_incompatible_source_is_one_line_and_changes_nothing(tmp_path, hpogrid_home, source, space, hpo,
                                                                message):
    name = make_project(tmp_path, ECHO, space, algorithm="optuna", trials=1, scheduler="fifo", **hpo)
    before = _files(hpogrid_home)
    with pytest.raises(ValidationError) as err:
        run(name, warm_start=source)
    assert str(err.value) == message.format(src=source)
    assert _files(hpogrid_home) == before  # not even the new project's study was created


def test_an_unknown_source_names_what_there_is(tmp_path, hpogrid_home):
    name = make_project(tmp_path, ECHO, SPACE, trials=1, scheduler="fifo")
    with pytest.raises(ValidationError) as err:
        run(name, warm_start="nosuch")
    assert str(err.value) == ("--warm-start: no study 'nosuch' in this run's study store and no project 'nosuch' "
                              "(studies here: none)")
    with pytest.raises(ValidationError, match="is the study this run records into; --resume continues it"):
        run(name, warm_start=name)
    assert not paths.study_db(name).exists()


@pytest.mark.parametrize("db", ["missing", "zero-length"])
def test_a_source_without_a_study_is_one_line_and_creates_nothing(tmp_path, hpogrid_home, db):
    """The source store is only read: a missing or empty study.db is neither created nor given tables."""
    src = make_project(tmp_path, ECHO, SPACE, algorithm="random", trials=1, scheduler="fifo")
    if db == "zero-length":
        paths.study_db(src).write_bytes(b"")
    name = make_project(tmp_path, ECHO, SPACE, algorithm="optuna", trials=1, scheduler="fifo")
    before = tree_snapshot(hpogrid_home)  # nothing at all is left beside an empty or missing file
    with pytest.raises(ValidationError) as err:
        run(name, warm_start=src)
    assert str(err.value) == f"--warm-start: project '{src}' has no study yet (run it first)"
    assert "\n" not in str(err.value)
    assert tree_snapshot(hpogrid_home) == before  # the source's file as it was, no study for the new project
    assert paths.study_db(src).exists() == (db == "zero-length")


def test_an_empty_study_store_of_this_run_is_read_not_created(tmp_path, hpogrid_home, source):
    """This run's own store is listed read-only for the source: an empty study.db stays empty until the run."""
    name = make_project(tmp_path, ECHO, SPACE, algorithm="optuna", trials=1, scheduler="fifo")
    paths.study_db(name).write_bytes(b"")
    with pytest.raises(ValidationError, match="no study 'nosuch' in this run's study store"):
        run(name, warm_start="nosuch")
    assert paths.study_db(name).read_bytes() == b""
