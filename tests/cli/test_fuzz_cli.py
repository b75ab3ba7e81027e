"""Property test: no input to a config command yields a traceback or a half-written store.

Every outcome is exit 0, or exit != 0 with one line ``Error: ...`` and the store untouched.
Covered: ``search_space create`` with any JSON (also truncated) and any name,
create / recreate / update of all four config types with random option values, and the
JSON-valued options (``--param``, ``--stop``, ``--resource``, ``--scheduler_param``,
``--algorithm_param``) with deep, near-valid and malformed JSON.

``HPOGRID_FUZZ_EXAMPLES`` sets the example count per test (default 150, ~10 s). The nightly
variant runs 10,000 (about 3 minutes on 2 cores), with hypothesis' database kept so a
failure found at night is replayed first the next day:

    HPOGRID_FUZZ_EXAMPLES=10000 python -m pytest -q tests/cli/test_fuzz_cli.py \
        --hypothesis-show-statistics
"""
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import tree_snapshot

EXAMPLES = int(os.environ.get("HPOGRID_FUZZ_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8))
json_like = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=12)
methods = st.sampled_from(["categorical", "uniform", "uniformint", "quniform", "loguniform", "qloguniform",
                           "normal", "qnormal", "lognormal", "qlognormal", "fixed", "gauss"])
dim_keys = st.sampled_from(["low", "high", "q", "base", "mu", "sigma", "categories", "grid_search", "value", "x"])
near_valid_param = st.fixed_dictionaries({"method": methods, "dimension": st.dictionaries(dim_keys, json_like, max_size=5)})
spaces = st.one_of(json_like, st.dictionaries(st.text(min_size=0, max_size=6), near_valid_param, max_size=3))
names = st.one_of(st.sampled_from(["ok", "a.b", "../x", "a/b", "-rf", ".hid", "", "x\x00"]),
                  st.text(max_size=10))


def _check(result, before, home):
    out = result.output
    assert "Traceback" not in out and "internal error" not in out, out
    if result.exit_code != 0:
        lines = out.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), out
        assert tree_snapshot(home) == before


@SETTINGS
@given(space=spaces, name=names, as_text=st.booleans())
def test_search_space_create_any_json(run_cli, hpogrid_home, space, name, as_text):
    before = tree_snapshot(hpogrid_home)
    text = json.dumps(space) if not as_text else json.dumps(space)[:-1]  # sometimes truncated JSON
    if name.startswith("-"):
        name = "x" + name  # click treats leading '-' as an option
    _check(run_cli("search_space", "create", name, text), before, hpogrid_home)


option_values = st.one_of(st.text(max_size=12), st.integers(-5, 10**4).map(str), json_like.map(json.dumps))


@SETTINGS
@given(kind=st.sampled_from(["hpo_config", "grid_config", "model_config", "slurm_config"]),
       options=st.dictionaries(st.sampled_from([
           "--algorithm", "--metric", "--mode", "--scheduler", "--trials", "--log_dir", "--stop",
           "--scheduler_param", "--algorithm_param", "--resource", "--extra_metrics", "--site",
           "--container", "--inDS", "--outDS", "--extra", "--script", "--model", "--param", "--partition",
           "--gres", "--cpus", "--mem", "--time", "--sbatch_args", "--workers"]),
           option_values, max_size=4),
       action=st.sampled_from(["create", "recreate", "update"]))
def test_config_writers_any_option_values(run_cli, hpogrid_home, kind, options, action):
    run_cli("model_config", "create", "base", "--script", "s.py", "--model", "f")
    run_cli("hpo_config", "create", "base")
    run_cli("grid_config", "create", "base")
    run_cli("slurm_config", "create", "base")
    before = tree_snapshot(hpogrid_home)
    args = [a for kv in options.items() for a in kv]
    _check(run_cli(kind, action, "base" if action != "create" else "new", *args), before, hpogrid_home)


def _nested(depth: int, leaf) -> str:
    return "[" * depth + json.dumps(leaf) + "]" * depth


key_names = st.one_of(st.sampled_from([
    "points_to_evaluate", "n_initial_points", "gamma", "seed", "space", "max_concurrent", "grace_period", "max_t",
    "time_attr", "cpu", "gpu", "custom:tpu", "tpu", "custom:", "training_iteration", "lr", "nested/key"]),
    st.text(max_size=8))
json_option_values = st.one_of(
    st.dictionaries(key_names, json_like, max_size=4).map(json.dumps),
    st.dictionaries(key_names, st.floats(allow_nan=False, allow_infinity=False), max_size=3).map(json.dumps),
    st.builds(_nested, st.integers(1, 3000), json_like),
    st.sampled_from(['{"a": NaN}', '{"cpu": Infinity}', '{"a": 1, "a": 2}', "\ufeff{}", "{", "[]", "null", '""']),
    json_like.map(json.dumps))


@SETTINGS
@given(option=st.sampled_from(["--param", "--stop", "--resource", "--scheduler_param", "--algorithm_param"]),
       value=json_option_values,
       algorithm=st.sampled_from(["random", "hyperopt", "optuna", "bohb", "ax", "auto"]),
       scheduler=st.sampled_from(["fifo", "asynchyperband", "median", "pbt", "bohbhyperband"]))
def test_json_options_any_value(run_cli, hpogrid_home, option, value, algorithm, scheduler):
    """Deeply nested, near-valid and malformed JSON in every JSON-valued option."""
    before = tree_snapshot(hpogrid_home)
    if option == "--param":
        args = ["model_config", "create", "m", "--script", "s.py", "--model", "f", option, value]
    else:
        args = ["hpo_config", "create", "h", "--algorithm", algorithm, "--scheduler", scheduler, option, value]
    _check(run_cli(*args), before, hpogrid_home)
