"""hpogrid studies to optuna and back, checked with optuna's own API, over SQLite and PostgreSQL.

optuna names its tables ``studies`` and ``trials`` like hpogrid, so its storage lives in a
separate SQLite file, or a separate PostgreSQL schema of the test database.
"""
import uuid

import pytest

from hpogrid.errors import AlreadyExistsError, NotFoundError, StudyError, ValidationError
from hpogrid.study import StudyStore, sqlite_url
from hpogrid.study.optuna_io import export_optuna, import_optuna
from hpogrid.study.transfer import read_study, write_study
from tests.study.conftest import server_url, storage_url
from tests.study.test_transfer import SPACE, fill, same

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)
SCHEMA = "hpogrid_optuna_test"


def optuna_url(kind, tmp_path):
    if kind == "sqlite":
        return sqlite_url(tmp_path / "optuna.db")
    url = server_url("postgresql")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    engine.dispose()
    return f"{url}?options=-csearch_path%3D{SCHEMA}"


@pytest.fixture(params=["sqlite", "postgresql"])
def setting(request, tmp_path):
    """(hpogrid store, optuna storage URL, unique name); both studies are deleted afterwards."""
    kind = request.param
    store = StudyStore(storage_url(kind, tmp_path))
    ourl, name = optuna_url(kind, tmp_path), f"o_{uuid.uuid4().hex[:12]}"
    yield store, ourl, name
    for n in (name, name + "_back"):
        try:
            store.delete_study(n)
        except NotFoundError:
            pass
        try:
            optuna.delete_study(study_name=n, storage=ourl)
        except KeyError:
            pass
    store.close()


def test_round_trip_hpogrid_optuna_hpogrid(setting):
    store, ourl, name = setting
    fill(store, name, n=6)
    store.upsert_trial(name, "queued-1", state="PENDING", params={"lr": 0.01, "layers": 2, "act": "relu"})
    original = read_study(store, name)
    export_optuna(original, ourl)

    study = optuna.load_study(study_name=name, storage=ourl)  # optuna itself reads it
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.metric_names == ["loss"]
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL", "FAIL", "FAIL", "RUNNING", "COMPLETE", "WAITING"]  # NaN loss: not COMPLETE
    assert study.best_value == store.best_trial(name).value
    assert study.best_trial.params == store.best_trial(name).params
    first = study.trials[0]
    assert first.distributions["lr"] == optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
    assert first.distributions["layers"] == optuna.distributions.IntDistribution(1, 4)
    assert first.distributions["act"] == optuna.distributions.CategoricalDistribution(["relu", "tanh"])
    assert first.intermediate_values == {0: 1.0, 1: 0.5, 2: 1 / 3}
    assert first.user_attrs == {"by": "test", "i": 0}

    back = import_optuna(ourl, name)
    write_study(store, back, name + "_back")
    same(original, read_study(store, name + "_back"), name=name + "_back")
    assert store.best_trial(name + "_back").uid == store.best_trial(name).uid


def test_several_objectives_become_directions(setting):
    store, ourl, name = setting
    store.create_study(name, "loss", "min", attrs={"objectives": [{"metric": "loss", "mode": "min"},
                                                                  {"metric": "acc", "mode": "max"}]})
    for i, (loss, acc) in enumerate([(0.1, 0.5), (0.2, 0.9), (0.3, 0.4)]):
        store.upsert_trial(name, f"m{i}", state="COMPLETED", params={"x": i}, metrics={"loss": loss, "acc": acc})
    export_optuna(read_study(store, name), ourl)
    study = optuna.load_study(study_name=name, storage=ourl)
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    assert sorted(t.number for t in study.best_trials) == [0, 1]


def test_an_optuna_study_comes_in_with_a_derived_space(setting):
    from hpogrid.space import SearchSpace

    store, ourl, name = setting
    study = optuna.create_study(storage=ourl, study_name=name, direction="maximize")
    for i in range(4):
        trial = study.ask()
        x = trial.suggest_float("x", 1e-3, 1.0, log=True)
        n = trial.suggest_int("n", 2, 8)
        c = trial.suggest_categorical("c", ["a", "b"])
        trial.set_user_attr("who", "optuna")
        trial.report(x * n, 0)
        if i == 3:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, x * n + (c == "a"))
    write_study(store, import_optuna(ourl, name), name + "_back")
    info = store.get_study(name + "_back")
    assert (info.metric, info.mode) == ("value", "max")
    space = SearchSpace.from_dict(info.attrs["search_space"]).to_dict()
    assert space["x"] == {"method": "loguniform", "dimension": {"low": 1e-3, "high": 1.0}}
    assert space["n"] == {"method": "uniformint", "dimension": {"low": 2, "high": 8}}
    trials = store.trials(name + "_back")
    assert [t.state for t in trials] == ["COMPLETED"] * 3 + ["FAILED"]
    assert store.best_trial(name + "_back").value == study.best_value
    assert trials[0].annotations == {"who": "optuna"} and trials[0].intermediate[0]["step"] == 0


def test_a_distribution_hpogrid_cannot_express_names_the_parameter(setting):
    store, ourl, name = setting
    study = optuna.create_study(storage=ourl, study_name=name)
    study.enqueue_trial({"w": 0.15})
    study.optimize(lambda t: t.suggest_float("w", 0.05, 0.95, step=0.1), n_trials=1)
    with pytest.raises(ValidationError, match="parameter w"):
        import_optuna(ourl, name)
    with pytest.raises(NotFoundError):
        store.get_study(name + "_back")


def test_export_onto_an_existing_optuna_study_changes_nothing(setting):
    store, ourl, name = setting
    fill(store, name, n=2)
    export_optuna(read_study(store, name), ourl)
    with pytest.raises(AlreadyExistsError, match=name):
        export_optuna(read_study(store, name), ourl)
    assert len(optuna.load_study(study_name=name, storage=ourl).trials) == 2


def test_optuna_is_never_pointed_at_hpogrid_tables(tmp_path):
    store = StudyStore(sqlite_url(tmp_path / "study.db"))
    fill(store, "s", n=1)
    with pytest.raises(StudyError, match="another database"):
        export_optuna(read_study(store, "s"), store.url)
    assert len(store.trials("s")) == 1
