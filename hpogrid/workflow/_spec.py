"""The workflow file: stages, their dependencies, and a valid running order.

``workflow.json`` (among the project's scripts, or given with ``--file``; ``workflow.yaml`` with
the same content in YAML works the same)::

    {"stages_user": {
        "prepare":  {"cmd": "python make_data.py"},
        "evaluate": {"python": "evaluate.py", "entrypoint": "evaluate",
                     "optimisations": ["optimise"], "config": {"plot": true}}},
     "stages_optimisation": {
        "optimise": {"deps": ["prepare"], "trials": 20, "algorithm": "optuna"}}}

A user stage runs a command (``cmd``, split like a black-box command, never through a shell)
or a Python entry point (``python`` + ``entrypoint``). An optimisation stage runs the
project's HPO, recorded in a study named after the stage. ``optimisations`` makes a user stage
depend on those optimisation stages and hands it one inspector per study.
"""
from typing import Any, Dict, List, Optional

from pydantic import field_validator, BaseModel, ConfigDict, Field, ValidationError as PydanticError, model_validator

from hpogrid.errors import ValidationError
from hpogrid.names import check_name


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deps: List[str] = Field(default_factory=list)
    config: Dict[str, Any] = Field(default_factory=dict)


class UserStage(_Stage):
    cmd: Optional[str] = None
    python: Optional[str] = None
    entrypoint: Optional[str] = None
    optimisations: List[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_action(self) -> "UserStage":
        if (self.cmd is None) == (self.python is None):
            raise ValueError("give either cmd, or python with entrypoint")
        if self.python is not None and not (self.entrypoint or "").isidentifier():
            raise ValueError("python stages need an entrypoint: a function name in the file")
        if self.python is not None:
            _check_python_file(self.python)
        return self


def _check_python_file(python: str) -> None:
    """``python`` names a ``.py`` file among the project's scripts (it is imported from there)."""
    from pathlib import PurePosixPath

    path = PurePosixPath(python.replace("\\", "/"))
    if path.suffix != ".py" or not path.stem:
        raise ValueError(f"python: {python!r} is not a Python file (a .py file among the project's scripts)")
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"python: {python!r} must be a path inside the project's scripts (no leading / or ..)")


class OptimisationStage(_Stage):
    trials: Optional[int] = Field(None, ge=1)
    algorithm: Optional[str] = None
    seed: Optional[int] = None
    n_jobs: Optional[int] = Field(None, ge=1)
    #: where its trials run: a backend of hpogrid.backends ("local", "slurm", ...)
    backend: str = "local"

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str) -> str:
        from hpogrid.backends import BACKEND_NAMES

        if v not in BACKEND_NAMES:
            raise ValueError(f"{v!r} is not a backend; choose one of: {', '.join(BACKEND_NAMES)}")
        return v


class Workflow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stages_user: Dict[str, UserStage] = Field(default_factory=dict)
    stages_optimisation: Dict[str, OptimisationStage] = Field(default_factory=dict)

    @property
    def stages(self) -> Dict[str, _Stage]:
        return {**self.stages_user, **self.stages_optimisation}

    def needs(self, name: str) -> List[str]:
        stage = self.stages[name]
        return list(dict.fromkeys(stage.deps + getattr(stage, "optimisations", [])))

    def order(self, targets: Optional[List[str]] = None) -> List[str]:
        """Stages in dependency order; only ``targets`` and what they need, if given."""
        done: List[str] = []
        visiting: List[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                cycle = " -> ".join(visiting[visiting.index(name):] + [name])
                raise ValidationError("workflow", f"dependency cycle: {cycle}")
            visiting.append(name)
            for dep in self.needs(name):
                visit(dep)
            visiting.pop()
            done.append(name)

        for name in targets or list(self.stages):
            visit(name)
        return done


def parse_workflow(data: Any) -> Workflow:
    try:
        wf = Workflow.model_validate(data)
    except PydanticError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":  # say what is allowed there
            message = f"unknown key {str(err['loc'][-1])!r}; allowed: {', '.join(_allowed_keys(err['loc']))}"
        raise ValidationError(f"workflow.{loc}" if loc else "workflow", message) from None
    both = set(wf.stages_user) & set(wf.stages_optimisation)
    if both:
        raise ValidationError("workflow", f"stage names used twice: {', '.join(sorted(both))}")
    if not wf.stages:
        raise ValidationError("workflow", "defines no stages (stages_user / stages_optimisation)")
    for name, stage in wf.stages.items():
        check_name(name, f"workflow stage {name!r}")
        for dep in wf.needs(name):
            if dep not in wf.stages:
                raise ValidationError(f"workflow.{name}.deps", f"unknown stage {dep!r} (stages: {', '.join(wf.stages)})")
        for opt in getattr(stage, "optimisations", []):
            if opt not in wf.stages_optimisation:
                raise ValidationError(f"workflow.{name}.optimisations", f"{opt!r} is not an optimisation stage")
    wf.order()  # raises on cycles
    return wf


def _allowed_keys(loc: tuple) -> List[str]:
    """The keys allowed where an unknown key ``loc`` was found (the workflow, or a stage)."""
    model: Any = {"stages_user": UserStage, "stages_optimisation": OptimisationStage}.get(str(loc[0]), Workflow) \
        if len(loc) == 3 else Workflow
    return list(model.model_fields)
