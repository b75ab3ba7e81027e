"""``hpogrid.optimize(func, space)``: the notebook API.

The function becomes the project's script. A function of an importable module (a ``.py`` file)
is packed as that module's file, as ``project create --scripts_path`` would, so it runs
wherever the project runs (pool, Slurm, grid). A function defined in the notebook itself has no
file: it is pickled by value with cloudpickle next to a small generated script whose entry
point, with the function's own parameter names (``config``, or ``trial`` for a define-by-run
model), calls it; pool workers and Slurm jobs import that script as any other. (A grid job
needs cloudpickle and the notebook's Python version in its container: pack a module there.)
"""
import inspect
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from hpogrid.errors import ValidationError
from hpogrid.study import StudyView

_ADAPTER = '''"""Written by hpogrid.optimize: {name}, defined in a notebook, from its cloudpickle."""
import pathlib

import cloudpickle

with open(pathlib.Path(__file__).with_name("{name}.pkl"), "rb") as _file:
    _func = cloudpickle.load(_file)


def {name}({args}):
    return _func({args})
'''


def _module_file(func: Callable) -> Optional[Path]:
    """The file of ``func``'s module when ``func`` is a top-level name there (None: not so,
    e.g. defined in a notebook, whose module is ``__main__``)."""
    if getattr(func, "__module__", "__main__") == "__main__" or func.__qualname__ != func.__name__:
        return None
    try:
        file = Path(inspect.getfile(func))
    except (TypeError, OSError):
        return None
    return file if file.suffix == ".py" and file.is_file() else None


def pack(func: Callable, folder: Path) -> Tuple[str, Dict[str, Any]]:
    """(scripts path, model_config) running ``func``; writes into ``folder`` for a notebook function."""
    if not callable(func) or not getattr(func, "__name__", "").isidentifier():
        raise ValidationError("func", f"must be a named function or Trainable class (got {func!r})")
    file = _module_file(func)
    if file is not None:
        return str(file), {"script": file.name, "model": func.__name__}
    import cloudpickle  # type: ignore[import-untyped]

    name = func.__name__
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    args = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is p.empty] or ["config"]
    (folder / f"{name}.pkl").write_bytes(cloudpickle.dumps(func))
    (folder / f"{name}.py").write_text(_ADAPTER.format(name=name, args=", ".join(args)))
    return str(folder), {"script": f"{name}.py", "model": name}


class StudyResult(StudyView):
    """The study ``hpogrid.study.load`` returns (``best_trial``, ``best_trials``,
    ``to_dataframe()``), with the report's figures and what the call created or continued."""

    def __init__(self, view: StudyView, project: str, notes: List[str]):
        super().__init__(view.store, view.name)
        self.project = project
        self.notes = notes

    def figures(self) -> Dict[str, Any]:
        """The report's figures (``hpogrid report --to_html``) as plotly Figures, by title:
        each one is drawn inline when a Jupyter cell ends with it."""
        import plotly.graph_objects as go  # type: ignore[import-untyped]

        from hpogrid.report import build_figures, build_report

        report = build_report(self.project, study=self.name, study_url=self.store.url)
        return {panel.title: go.Figure(panel.figure) for panel in build_figures(report).panels}

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(self.counts().items()) if n) or "no trials"
        try:
            best = self.best_trial
        except Exception:  # several objectives: best_trials holds the front
            best = None
        shown = f"; best {self.info.metric}={best.value} with {best.params}" if best is not None else ""
        return "\n".join([*self.notes, f"study {self.name!r} of project {self.project!r}: {counts}{shown}"])


def optimize(func: Callable, space: Optional[Dict[str, Any]], metric: str = "loss", mode: str = "min",
             trials: int = 50, algorithm: str = "auto", backend: str = "local", n_jobs: int = 1,
             study: Optional[str] = None, project: Optional[str] = None, force: bool = False,
             seed: Optional[int] = None) -> StudyResult:
    """Optimise ``func(config)`` over ``space`` and return its study (README "In a notebook").

    ``space``: ``{"lr": hpogrid.space.loguniform(1e-5, 1e-1), "layers": "int:1:8", ...}`` (the
    JSON grammar, the helpers or the SPECs of ``hpogrid optimize``); None for a define-by-run
    ``func(trial)``. ``backend``: ``local``, ``slurm`` or ``grid``. The project and its configs
    are named ``project`` (default: the function's name); calling again continues the study, as
    ``hpogrid optimize`` does; other settings under the same name need another ``project`` or
    ``force=True``.
    """
    from hpogrid.backends import get_backend
    from hpogrid.project import load_project
    from hpogrid.quickstart._run import run_options
    from hpogrid.quickstart._setup import prepare
    from hpogrid.quickstart._target import _clean
    from hpogrid.settings import Settings
    from hpogrid.space import space_from
    from hpogrid.study import load

    name = project or _clean(getattr(func, "__name__", "optimize"))
    hpo = {"metric": metric, "mode": mode, "algorithm": algorithm}
    with tempfile.TemporaryDirectory(prefix="hpogrid-notebook-") as tmp:
        scripts, model = pack(func, Path(tmp))
        prepared = prepare(name, scripts, model, None if space is None else space_from(space), hpo, trials,
                           force=force, study=study, flags=("project=NAME", "force=True"))
    kind, command, options = run_options(backend, prepared, n_jobs=n_jobs, seed=seed)
    options.settings = Settings.from_env()
    summary = get_backend(kind).run(load_project(name), options)
    notes = [*prepared.lines, *(f"Note: {n}" for n in summary.notes)]
    if summary.interrupted:
        notes.append("Interrupted: finished trials are kept; call hpogrid.optimize again to resume")
    return StudyResult(load(name, prepared.study), name, notes)
