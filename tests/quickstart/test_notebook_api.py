"""``hpogrid.optimize`` from a real Jupyter kernel (nbclient + ipykernel): a function defined in
the notebook runs in two pool workers at once, and the returned study has its best trial and
figures that Jupyter draws inline."""
import json

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    # the function and its barrier live only in the notebook: the pool workers get them by value
    '''import os, time
import hpogrid

BARRIER = @BARRIER@

def objective(config):
    os.makedirs(BARRIER, exist_ok=True)
    open(os.path.join(BARRIER, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 120
    while len(os.listdir(BARRIER)) < 2:  # both trials must run at the same time to pass
        if time.monotonic() > deadline:
            raise RuntimeError("the other trial never started")
        time.sleep(0.05)
    return (config["x"] - 0.3) ** 2 + config["n"]''',
    '''import json
study = hpogrid.optimize(objective, {"x": hpogrid.space.uniform(0, 1), "n": "int:1:3"}, trials=2,
                         n_jobs=2, algorithm="random", seed=7)
best = study.best_trial
print(json.dumps({"value": best.value, "params": best.params,
                  "states": sorted(t.state for t in study.trials)}))''',
    '''figures = study.figures()
figures["loss by trial"]''',
]


def test_a_notebook_function_runs_on_two_workers(tmp_path, hpogrid_home):
    barrier = tmp_path / "barrier"
    cells = [c.replace("@BARRIER@", repr(str(barrier))) for c in CELLS]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    # the kernel inherits this process's environment: $HPOGRID_HOME is the test's own store
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    got = json.loads(printed.strip().splitlines()[-1])
    assert got["states"] == ["COMPLETED", "COMPLETED"]
    assert len(list(barrier.iterdir())) == 2  # two worker processes held each other at the barrier

    from hpogrid.study import load

    with load("objective") as study:  # the notebook's best is the study's best
        values = [t.value for t in study.trials]
        assert got["value"] == min(values) == pytest.approx((got["params"]["x"] - 0.3) ** 2 + got["params"]["n"])
    shown = [o for o in nb.cells[2].outputs if o.output_type in ("display_data", "execute_result")]
    assert [o.output_type for o in nb.cells[2].outputs if o.output_type == "error"] == []
    assert any("application/vnd.plotly.v1+json" in o["data"] for o in shown), nb.cells[2].outputs  # drawn inline
