"""``local_run`` without Ray: which runs need Ray Tune, and that the others never import it."""
import os
import subprocess
import sys

import pytest

from hpogrid.backends import RunOptions
from hpogrid.backends.pool import needs_ray
from hpogrid.project import load_project
from tests.backends.helpers import ECHO, make_project
from tests.conftest import REPO

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


@pytest.mark.parametrize("hpo, options, why", [
    ({}, {}, None),  # the defaults: asynchyperband, but one result per trial: nothing to act on
    ({"scheduler": "fifo", "stop": {"training_iteration": 5}}, {}, None),
    # the engine applies ASHA and median stopping on the pool (tests/engine/test_schedulers.py)
    ({"scheduler": "asynchyperband", "stop": {"training_iteration": 5}}, {}, None),
    ({"scheduler": "median", "stop": {"training_iteration": 5}}, {}, None),
    ({"scheduler": "pbt"}, {}, "scheduler 'pbt'"),
    ({"algorithm": "bohb", "scheduler": "bohbhyperband"}, {}, "algorithm 'bohb'"),
    ({}, {"algorithm": "bohb"}, "algorithm 'bohb'"),
    ({"resource": {"cpu": 1, "gpu": 1}}, {}, "a GPU per trial (Ray assigns the devices)"),
    ({}, {"address": "127.0.0.1:6379"}, "a Ray cluster address"),
])
def test_local_run_uses_ray_only_when_the_run_needs_it(tmp_path, hpo, options, why):
    name = make_project(tmp_path, ECHO, UNI, trials=2, **hpo)
    assert needs_ray(load_project(name), RunOptions(**options)) == why


@pytest.mark.parametrize("algorithm", ["random", "optuna"])
def test_a_run_on_the_pool_never_imports_ray(tmp_path, hpogrid_home, algorithm):
    name = make_project(tmp_path, ECHO, UNI, algorithm=algorithm, trials=12, scheduler="fifo")
    code = ("import sys; from hpogrid.backends import RunOptions, get_backend; "
            "from hpogrid.project import load_project; "
            f"s = get_backend('local').run(load_project({name!r}), RunOptions(seed=1, progress=False)); "
            "print(s.counts['COMPLETED'], s.backend, sorted(m for m in sys.modules if m.split('.')[0] == 'ray'))")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "HPOGRID_HOME": str(hpogrid_home)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["12", "pool", "[]"], r.stdout
