"""One small class per config type: how to validate it and what ``list`` shows of it."""
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Dict, Optional, Tuple, Type

from hpogrid.errors import ValidationError


class ConfigKind(ABC):
    """A config type as the CLI names it (``hpo_config``, ...)."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: columns ``list`` shows besides the name (kept here, not on the model: listing must not
    #: import pydantic)
    list_columns: ClassVar[Tuple[str, ...]] = ()

    @abstractmethod
    def validate(self, data: Any) -> Dict[str, Any]:
        """Return the canonical JSON dict of ``data`` or raise :class:`ValidationError`."""

    def check_new(self, data: Any) -> Dict[str, Any]:
        """:meth:`validate`, plus what only a config the user writes anew must meet."""
        return self.validate(data)

    def columns(self) -> Tuple[str, ...]:
        return self.list_columns


class _PydanticKind(ConfigKind):
    """Config types described by a pydantic model in :mod:`hpogrid.configs._models`."""

    model_name: ClassVar[str]

    @property
    def model(self) -> Type:
        from hpogrid.configs import _models

        return getattr(_models, self.model_name)

    def validate(self, data: Any) -> Dict[str, Any]:
        import pydantic

        if not isinstance(data, dict):
            raise ValidationError(self.name, f"must be a JSON object (got {type(data).__name__})")
        try:
            return self.model.model_validate(data).to_json_dict()
        except pydantic.ValidationError as exc:
            raise _one_line(self.name, exc, tuple(self.model.model_fields)) from None


def _one_line(kind: str, exc: Any, allowed: Tuple[str, ...]) -> ValidationError:
    """Turn pydantic's multi-line report into one line about the first problem."""
    err = exc.errors()[0]
    # a key the user typed may hold anything (a newline would break the one-line promise)
    loc = ".".join(str(p) if str(p).isprintable() else json.dumps(str(p)) for p in err["loc"])
    field = f"{kind}.{loc}" if loc else kind
    if err["type"] == "extra_forbidden":
        return ValidationError(field, f"unknown option; allowed: {', '.join(allowed)}")
    if err["type"] == "missing":
        return ValidationError(field, "is required")
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] not in ("value_error",) and not isinstance(value, (dict, list)):
        msg = f"{msg} (got {value!r})"
    return ValidationError(field, msg)


class HpoKind(_PydanticKind):
    name = "hpo_config"
    title = "HPO configuration"
    model_name = "HpoConfig"
    list_columns = ("algorithm", "metric", "mode", "trials", "scheduler")

    def check_new(self, data: Any) -> Dict[str, Any]:
        """A config the user writes anew (create, recreate) may not ask for a scheduler that has
        nothing to act on: one whose ``stop`` ends every trial after one iteration. (Stored
        configs are not re-checked: hpogrid 1.3.3's default was asynchyperband with that stop.)"""
        config = self.validate(data)
        if "scheduler" not in data:  # a default (fifo; bohbhyperband with bohb, as hpogrid always ran it)
            return config
        scheduler, stop = config.get("scheduler"), config.get("stop") or {}
        its = stop.get("training_iteration")
        if scheduler != "fifo" and isinstance(its, (int, float)) and its <= 1:
            raise ValidationError("hpo_config.scheduler", f"'{scheduler}' acts on intermediate results, but stop "
                                  f"{json.dumps(stop)} ends every trial after one iteration: give a longer stop "
                                  '(e.g. --stop \'{"training_iteration": 100}\') or use scheduler fifo')
        return config


class GridKind(_PydanticKind):
    name = "grid_config"
    title = "grid configuration"
    model_name = "GridConfig"
    list_columns = ("site", "container", "inDS")


class ModelKind(_PydanticKind):
    name = "model_config"
    title = "model configuration"
    model_name = "ModelConfig"
    list_columns = ("script", "model")


class SlurmKind(_PydanticKind):
    name = "slurm_config"
    title = "Slurm configuration"
    model_name = "SlurmConfig"
    list_columns = ("partition", "gres", "cpus", "mem", "time", "workers")


class SearchSpaceKind(ConfigKind):
    name = "search_space"
    title = "search space"

    def validate(self, data: Any) -> Dict[str, Any]:
        from hpogrid.space import SearchSpace

        return SearchSpace.from_dict(data).to_dict()

    list_columns = ("parameters",)


KINDS: Tuple[ConfigKind, ...] = (HpoKind(), GridKind(), ModelKind(), SearchSpaceKind(), SlurmKind())


def get_kind(name: str) -> ConfigKind:
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise ValidationError("config_type", f"unknown config type {name!r}; "
                          f"choose one of: {', '.join(k.name for k in KINDS)}")


def summarize(kind: ConfigKind, data: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The ``list`` columns of one stored config (raw JSON, not validated: listing stays fast)."""
    if not isinstance(data, dict):
        return {c: "<unreadable>" for c in kind.columns()}
    if kind.name == "search_space":
        space = data.get("search_space", data)
        names = [n for n, spec in space.items() if not (n == "constraints" and isinstance(spec, list))] \
            if isinstance(space, dict) else None
        return {"parameters": ", ".join(names) if names is not None else "?"}
    if kind.name == "hpo_config" and "trials" not in data:
        data = {**data, "trials": data.get("num_trials")}
    return {c: data.get(c) for c in kind.columns()}
