"""One call from a script or a notebook to a finished study: ``hpogrid optimize`` and
``hpogrid.optimize(func, space)``.

Both create (or reuse) named configs and a project through the stores every other command
uses, then run it with the run commands' own options classes; nothing here runs trials itself.

    prepared = prepare("train_objective", "train.py", {"script": "train.py", "model": "objective"},
                       {"lr": parse_spec("lr", "loguniform:1e-5:1e-1")}, {"metric": "loss"}, trials=20)
    backend, command, options = run_options("local", prepared, n_jobs=2)
"""
from hpogrid.quickstart._notebook import StudyResult, optimize
from hpogrid.quickstart._run import ON, run_options
from hpogrid.quickstart._setup import Prepared, prepare
from hpogrid.quickstart._target import Target, parse_target

__all__ = ["ON", "Prepared", "StudyResult", "Target", "optimize", "parse_target", "prepare", "run_options"]
