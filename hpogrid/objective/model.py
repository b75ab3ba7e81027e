"""The user's model as one typed value: which kind it is is decided here, and only here.

A project's ``model_config`` is read by :meth:`Model.from_config` (nothing else inspects its
keys) and its kind is decided by :func:`_decide_kind`:

* ``program``: ``command`` is set (a black-box program, see :mod:`hpogrid.objective.program`);
* ``define_by_run``: a function whose first parameter is named ``trial``
  (``def objective(trial[, config])``), which declares its parameters as it runs;
* ``trainable``: a ``ray.tune.Trainable`` subclass;
* ``function``: any other function ``model(config)``, or an echo-opt objective class (a class
  with ``train(trial, conf)``, see :mod:`hpogrid.echo`), loaded as such a function.

The kind of a Python model is decided from the object (the script is imported) when a run is
planned, and from the script's source (nothing of the user's runs) when a project is created.
Everything downstream (the plan, the trial spec, the runner, the Ray trainable) asks
``model.kind``.
"""
from __future__ import annotations

import enum
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

from hpogrid.errors import ValidationError


class ModelKind(str, enum.Enum):
    FUNCTION = "function"
    TRAINABLE = "trainable"
    PROGRAM = "program"
    DEFINE_BY_RUN = "define_by_run"


@dataclass(frozen=True)
class Model:
    """One project's model (see the module docstring); frozen, so it travels to Ray workers."""

    kind: ModelKind
    scripts_dir: Path
    #: a Python model: the script and the function or class in it (model_config ``model``)
    script: Optional[str] = None
    entry: Optional[str] = None
    #: model_config ``param``: the configuration the trial's values are merged into
    param: Mapping[str, Any] = field(default_factory=dict)
    #: a program: its command line, seconds it may run, the prefix of its result lines
    command: Optional[str] = None
    timeout: Optional[float] = None
    result_prefix: str = "RESULT"
    #: seconds between SIGTERM and SIGKILL when the scheduler stops the program
    stop_grace: float = 10.0

    @classmethod
    def of(cls, project) -> "Model":
        """The model of ``project`` (imports its script to decide the kind)."""
        return cls.from_config(project.model_config, project.scripts_dir)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], scripts_dir: Path, kind: Optional[ModelKind] = None,
                    imports: bool = True) -> "Model":
        """The one reader of model_config's keys. ``kind``: already decided (a trial spec
        carries it); ``imports=False``: decide from the script's source, running nothing."""
        command = config.get("command")
        model = cls(kind=ModelKind.PROGRAM, scripts_dir=Path(scripts_dir), script=config.get("script"),
                    entry=config.get("model"), param=dict(config.get("param") or {}), command=command,
                    timeout=config.get("timeout"), result_prefix=config.get("result_prefix") or "RESULT",
                    stop_grace=float(config.get("stop_grace") or 10.0))
        if kind is None:
            kind = _decide_kind(model, imports)
        return model._with_kind(ModelKind(kind))

    def _with_kind(self, kind: ModelKind) -> "Model":
        from dataclasses import replace

        return replace(self, kind=kind)

    @property
    def name(self) -> str:
        """How trials and errors name the model: the function or class, or the program."""
        if self.kind is ModelKind.PROGRAM:
            from hpogrid.objective.program import parse_command

            return Path(parse_command(self.command or "")[0]).name or "program"
        return self.entry or "model"

    def load(self) -> Any:
        """The function or class (the script is imported once per process); an echo-opt
        objective class as the function that runs it."""
        from hpogrid.objective._echo import as_function, is_echo_class
        from hpogrid.objective._loader import load_model

        obj = load_model(str(self.scripts_dir), str(self.script), str(self.entry))
        return as_function(obj) if is_echo_class(obj) else obj

    def custom_updates(self) -> Optional[Callable]:
        """The script's ``custom_updates(trial_config, base_config)``, if it defines one (not for
        an echo-opt objective: its ``custom_updates(trial, conf)`` is its own ``train``'s to call)."""
        from hpogrid.objective._echo import is_echo_class
        from hpogrid.objective._loader import load_model, load_module

        if is_echo_class(load_model(str(self.scripts_dir), str(self.script), str(self.entry))):
            return None
        hook = getattr(load_module(str(self.scripts_dir), str(self.script)), "custom_updates", None)
        return hook if callable(hook) else None

    def check(self, space) -> None:
        """Parse the command or import the script now, before any trial: a broken model costs
        no trial (``space``: the search space; None for a define-by-run model)."""
        if self.kind is ModelKind.PROGRAM:
            from hpogrid.objective.program import check_placeholders, parse_command

            check_placeholders(parse_command(self.command or ""), list(space or ()))
            return
        from hpogrid.objective._substitute import check_paths

        if space is not None:
            check_paths(self.param, space)
        self.load()

    def to_json(self) -> Dict[str, Any]:
        """As model_config (with the kind), for a trial spec."""
        out: Dict[str, Any] = {"kind": self.kind.value}
        if self.kind is ModelKind.PROGRAM:
            out.update(command=self.command, timeout=self.timeout, result_prefix=self.result_prefix,
                       stop_grace=self.stop_grace)
        else:
            out.update(script=self.script, model=self.entry)
        return out


def _decide_kind(model: Model, imports: bool) -> ModelKind:
    """THE place where a model's kind is decided (see the module docstring)."""
    if model.command:
        return ModelKind.PROGRAM
    if model.script is None or model.entry is None:
        raise ValidationError("model_config", "give command, or script and model")
    if not imports:
        return _kind_in_source(model.scripts_dir / model.script, model.entry)
    obj = model.load()
    if inspect.isclass(obj):
        if _is_trainable_class(obj):
            return ModelKind.TRAINABLE
        raise ValidationError("model_config.model", f"{model.entry} in {model.script} is a class but not a "
                              "ray.tune.Trainable; give a function, a Trainable subclass or an echo-opt "
                              "objective class (with train(self, trial, conf))")
    return ModelKind.DEFINE_BY_RUN if _first_parameter(obj) == "trial" else ModelKind.FUNCTION


def _first_parameter(fn: Any) -> Optional[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[0].name if params else None


def _is_trainable_class(cls: type) -> bool:
    """Without importing Ray: a Trainable subclass was defined by a script that imported it."""
    trainable = sys.modules.get("ray.tune.trainable.trainable")
    return trainable is not None and issubclass(cls, trainable.Trainable)


def _kind_in_source(script: Path, entry: str) -> ModelKind:
    """The kind read from the script's source: creating a project runs none of the user's code."""
    import ast

    try:
        tree = ast.parse(script.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return ModelKind.FUNCTION
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == entry:
            methods = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            echo = "train" in methods and "step" not in methods  # an echo-opt objective class
            return ModelKind.FUNCTION if echo else ModelKind.TRAINABLE
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry:
            args = node.args.posonlyargs + node.args.args
            return ModelKind.DEFINE_BY_RUN if args and args[0].arg == "trial" else ModelKind.FUNCTION
    return ModelKind.FUNCTION
