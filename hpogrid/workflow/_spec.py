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

o2tuner's ``config.yaml`` is read as written: an optimisation stage may name its own script and
entry point (``file`` + ``objective``), ``jobs`` (parallel trials), and an optuna ``sampler:
{name, args}``; any stage its folder (``cwd``). Keys that o2tuner's README shows beside the
only stage of a section rather than under it are read as that stage's keys (and said so).
"""
from typing import Any, Dict, List, Optional

from pydantic import (field_validator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError as PydanticError,
                      model_validator)

from hpogrid.errors import ValidationError
from hpogrid.names import check_name


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deps: List[str] = Field(default_factory=list)
    config: Dict[str, Any] = Field(default_factory=dict)
    #: the stage's folder under the workflow folder (o2tuner's ``cwd``; default: the stage name)
    cwd: Optional[str] = None

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            check_name(v, "cwd")
        return v

    @field_validator("config", mode="before")
    @classmethod
    def _no_config(cls, v: Any) -> Any:
        return {} if v is None else v  # (o2tuner: "config might be None if nothing was given")


class UserStage(_Stage):
    cmd: Optional[str] = None
    python: Optional[str] = None
    entrypoint: Optional[str] = None
    optimisations: List[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _python_section(cls, data: Any) -> Any:
        """o2tuner's later spelling ``python: {file, entrypoint}``."""
        if isinstance(data, dict) and isinstance(data.get("python"), dict):
            data = dict(data)
            section = data.pop("python")
            unknown = sorted(set(section) - {"file", "entrypoint"})
            if unknown:
                raise ValueError(f"python: unknown key {unknown[0]!r}; allowed: file, entrypoint")
            data["python"] = section.get("file")
            data.setdefault("entrypoint", section.get("entrypoint"))
        return data

    @model_validator(mode="after")
    def _one_action(self) -> "UserStage":
        if (self.cmd is None) == (self.python is None):
            raise ValueError("give either cmd, or python with entrypoint")
        if self.python is not None and not (self.entrypoint or "").isidentifier():
            raise ValueError("python stages need an entrypoint: a function name in the file")
        if self.python is not None:
            _check_python_file(self.python)
        return self


def _check_python_file(python: str, key: str = "python") -> None:
    """``python`` names a ``.py`` file among the project's scripts (it is imported from there)."""
    from pathlib import PurePosixPath

    path = PurePosixPath(python.replace("\\", "/"))
    if path.suffix != ".py" or not path.stem:
        raise ValueError(f"{key}: {python!r} is not a Python file (a .py file among the project's scripts)")
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{key}: {python!r} must be a path inside the project's scripts (no leading / or ..)")


#: o2tuner's sampler names (optuna's samplers) -> hpogrid's optuna ``algorithm_param`` sampler
O2TUNER_SAMPLERS = {"tpe": "tpe", "random": "random", "genetic": "nsga2", "nsga2": "nsga2", "gp": "gp",
                    "cmaes": "cmaes", "qmc": "qmc"}


class Sampler(BaseModel):
    """o2tuner's ``sampler: {name, args}``: an optuna sampler and its keyword arguments."""

    model_config = ConfigDict(extra="forbid")
    name: str
    args: Dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v.lower() not in O2TUNER_SAMPLERS:
            raise ValueError(f"{v!r} is not a sampler hpogrid runs; choose one of: {', '.join(O2TUNER_SAMPLERS)}")
        return v.lower()

    @field_validator("args", mode="before")
    @classmethod
    def _no_args(cls, v: Any) -> Any:
        return {} if v is None else v

    @model_validator(mode="after")
    def _args(self) -> "Sampler":
        from hpogrid.search.names import algorithm_param_problem

        problem = algorithm_param_problem("optuna", self.algorithm_param())
        if problem:
            raise ValueError(f"args: {problem[0]!r} {problem[1]}")
        return self

    def algorithm_param(self) -> Dict[str, Any]:
        """As hpo_config ``algorithm_param`` of algorithm ``optuna``."""
        return {"sampler": O2TUNER_SAMPLERS[self.name], **self.args}


class OptimisationStage(_Stage):
    trials: Optional[int] = Field(None, ge=1)
    algorithm: Optional[str] = None
    seed: Optional[int] = None
    n_jobs: Optional[int] = Field(None, ge=1)
    #: o2tuner's name for n_jobs: trials run at the same time
    jobs: Optional[int] = Field(None, ge=1)
    #: where its trials run: a backend of hpogrid.backends ("local", "slurm", ...)
    backend: str = "local"
    #: the stage's own script and entry point (default: the project's model_config);
    #: ``entrypoint`` is o2tuner's other spelling of ``objective``
    file: Optional[str] = None
    objective: Optional[str] = None
    entrypoint: Optional[str] = None
    sampler: Optional[Sampler] = None

    @model_validator(mode="after")
    def _own_model(self) -> "OptimisationStage":
        if self.jobs is not None and self.n_jobs is not None and self.jobs != self.n_jobs:
            raise ValueError("give jobs or n_jobs, not both")
        if self.objective and self.entrypoint and self.objective != self.entrypoint:
            raise ValueError("give objective or entrypoint, not both")
        entry = self.entry
        if (self.file is None) != (entry is None):
            raise ValueError("file and objective go together: the script and the function in it")
        if entry is not None and not entry.isidentifier():
            raise ValueError(f"objective: {entry!r} is not a function name")
        if self.file is not None:
            _check_python_file(self.file, "file")
        if self.sampler is not None and self.algorithm not in (None, "optuna"):
            raise ValueError(f"a sampler is optuna's: the algorithm is 'optuna' (got {self.algorithm!r})")
        return self

    @property
    def entry(self) -> Optional[str]:
        return self.objective or self.entrypoint

    @property
    def parallel(self) -> Optional[int]:
        return self.n_jobs or self.jobs

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
    #: what reading the file assumed (keys folded into a stage), said by the command
    _notes: List[str] = PrivateAttr(default_factory=list)

    @property
    def notes(self) -> List[str]:
        return self._notes

    def folder(self, name: str) -> str:
        """The stage's folder name under the workflow folder (``cwd``, else its name)."""
        return self.stages[name].cwd or name

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


_SECTIONS = {"stages_user": UserStage, "stages_optimisation": OptimisationStage}


def parse_workflow(data: Any) -> Workflow:
    notes: List[str] = []
    if isinstance(data, dict):
        data = {k: _fold(k, v, notes) if k in _SECTIONS else v for k, v in data.items()}
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
    for name in wf.stages:
        folders = [other for other in wf.stages if wf.folder(other) == wf.folder(name)]
        if len(folders) > 1:
            raise ValidationError(f"workflow.{name}.cwd", f"stages {' and '.join(folders)} share the folder "
                                  f"{wf.folder(name)!r}; give each its own cwd")
    wf.order()  # raises on cycles
    wf._notes.extend(notes)
    return wf


def _fold(section: str, stages: Any, notes: List[str]) -> Any:
    """o2tuner's README writes some stage keys beside the section's only stage instead of under
    it (``preparation:`` then ``cmd: ...`` at the same indent): read them as that stage's keys.
    Only when exactly one entry can be a stage (empty, or a mapping) and every other key is a
    stage key; anything else is validated as written."""
    if not isinstance(stages, dict):
        return stages
    keys = set(_SECTIONS[section].model_fields)
    stray = [k for k in stages if k in keys and not (isinstance(stages[k], dict) and set(stages[k]) & keys)]
    candidates = [k for k in stages if k not in stray]
    if not stray or len(candidates) != 1 or not (stages[candidates[0]] is None or isinstance(stages[candidates[0]],
                                                                                            dict)):
        return stages
    name = candidates[0]
    both = sorted(set(stray) & set(stages[name] or {}))
    if both:
        raise ValidationError(f"workflow.{section}.{name}", f"{', '.join(both)} given both under the stage and "
                              "beside it")
    notes.append(f"workflow.{section}: read {', '.join(stray)} as keys of stage {name!r} (written beside it; "
                 "indent them under it)")
    return {name: {**(stages[name] or {}), **{k: stages[k] for k in stray}}}


def _allowed_keys(loc: tuple) -> List[str]:
    """The keys allowed where an unknown key ``loc`` was found (the workflow, a stage, a sampler)."""
    model: Any = Workflow
    if len(loc) >= 3:
        model = _SECTIONS.get(str(loc[0]), Workflow)
    if len(loc) == 4 and loc[2] == "sampler":
        model = Sampler
    return list(model.model_fields)
