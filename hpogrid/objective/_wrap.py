"""Wrap the user's model so it receives decoded hyperparameters merged into ``param``.

A function ``model(config)`` may return a number (the metric), a dict of metrics, or report
per iteration itself with ``ray.tune.report``. A ``ray.tune.Trainable`` subclass is
subclassed so ``setup``, ``reset_config`` and ``self.config`` see decoded values. Hyperparameters win over
``param`` on conflicts.
"""
import math
import numbers
from typing import Any, Callable, Dict, Mapping

from hpogrid.objective._loader import is_trainable_class, load_model
from hpogrid.search import Codec


def trial_config(param: Dict[str, Any], codec: Codec, config: Dict[str, Any]) -> Dict[str, Any]:
    return {**param, **codec.decode(config)}


def _as_metrics(result: Any, metric: str, model: str) -> Dict[str, Any]:
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        return {metric: float(result)}
    raise TypeError(f"{model}() returned {type(result).__name__}; return a number, a dict of "
                    "metrics, or report them with ray.tune.report")


def make_trainable(scripts_dir: str, script: str, model: str, param: Dict[str, Any],
                   codec: Codec, metric: str) -> Any:
    """A Ray Tune trainable (function or class) running the user's model."""
    obj = load_model(scripts_dir, script, model)
    if is_trainable_class(obj):
        return _wrap_class(obj, param, codec)
    return _wrap_function(scripts_dir, script, model, param, codec, metric)


def _wrap_function(scripts_dir, script, model, param, codec, metric) -> Callable:
    def trainable(config):
        from ray import tune

        fn = load_model(scripts_dir, script, model)
        result = fn(trial_config(param, codec, config))
        if result is not None:
            metrics = _as_metrics(result, metric, model)
            value = metrics.get(metric)
            if isinstance(value, float) and math.isnan(value):
                raise ValueError(f"{model}() returned NaN for metric '{metric}'")
            tune.report(metrics)

    trainable.__name__ = model
    trainable.__qualname__ = model
    return trainable


def _wrap_class(cls, param, codec):
    # decoding where Ray hands the config over keeps ``self.config`` decoded as well
    class Wrapped(cls):
        def __init__(self, config=None, *args, **kwargs):
            super().__init__(trial_config(param, codec, config or {}), *args, **kwargs)

        def reset(self, new_config, *args, **kwargs):
            return super().reset(trial_config(param, codec, new_config), *args, **kwargs)

    Wrapped.__name__ = cls.__name__
    Wrapped.__qualname__ = cls.__qualname__
    return Wrapped
