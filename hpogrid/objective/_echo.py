"""echo-opt's objective class (``Objective(BaseObjective)`` with ``train(trial, conf)``) as a model.

:class:`~hpogrid.objective.model.Model` decides that a class with a ``train`` method (and no
Ray Trainable) is one, and loads it as :func:`as_function`'s function ``model(config)``: the
rest of hpogrid sees an ordinary function model, searched over the project's search space.
See :mod:`hpogrid.echo` for what the class gets.
"""
import inspect
from typing import Any, Callable, Dict, Mapping

from hpogrid.objective._substitute import SEP


def is_echo_class(obj: Any) -> bool:
    """An echo-opt objective: a class with ``train`` that is not a Ray Trainable (those have ``step``)."""
    return inspect.isclass(obj) and callable(getattr(obj, "train", None)) and not hasattr(obj, "step")


def as_function(cls: type) -> Callable[[Dict[str, Any]], Any]:
    def model(config: Dict[str, Any]) -> Any:
        import zlib

        from hpogrid.errors import HpogridError
        from hpogrid.objective._define_by_run import DefineByRunTrial
        from hpogrid.trial import report, should_stop, trial_uid

        found = config.get("optuna")
        section: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        metric = str(section.get("metric") or "val_loss")
        steps = [0]

        def reporter(value: float) -> None:
            steps[0] += 1
            report(steps[0], **{metric: value})

        try:
            uid = trial_uid()
        except HpogridError:  # (called by hand, outside a run)
            uid = ""
        # a parameter train() asks that the search space lacks is drawn from the trial's own generator
        trial = DefineByRunTrial(_values(config, section.get("parameters") or {}), {}, seed=zlib.crc32(uid.encode()),
                                 uid=uid, reporter=reporter, stopped=should_stop)
        instance = cls(**_init_args(cls, config, metric, section))
        return instance.train(trial, config)

    model.__name__ = model.__qualname__ = cls.__name__
    return model


def _values(config: Mapping[str, Any], parameters: Mapping[str, Any]) -> Dict[str, Any]:
    """The trial's value of each echo-opt parameter, by its key and by its ``settings.name``."""
    values: Dict[str, Any] = {}
    for key, spec in parameters.items():
        node: Any = config
        for part in str(key).split(SEP):
            node = node.get(part) if isinstance(node, Mapping) else None
        values[str(key)] = node
        name = ((spec or {}).get("settings") or {}).get("name") if isinstance(spec, Mapping) else None
        if name:
            values[str(name)] = node
    return values


def _init_args(cls: type, config: Dict[str, Any], metric: str, section: Mapping[str, Any]) -> Dict[str, Any]:
    """echo-opt's ``Objective(study, config, metric, device)``, passing what ``__init__`` takes."""
    offered = {"study": None, "config": config, "metric": metric,
               "device": "cuda" if section.get("gpu") else "cpu"}
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {"config": config}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return offered
    return {k: v for k, v in offered.items() if k in params}
