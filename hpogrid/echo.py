"""echo-opt's ``BaseObjective``, so its objective classes run as hpogrid models.

An echo-opt objective is a class::

    from hpogrid.echo import BaseObjective     # was: from echo.src.base_objective import ...

    class Objective(BaseObjective):
        def train(self, trial, conf):
            ...
            return {"val_loss": ..., "loss": ...}

hpogrid builds it once per trial (``Objective(study=None, config=conf, metric=..., device=...)``,
passing what its ``__init__`` takes) and calls ``train(trial, conf)``: ``conf`` is the model
configuration with the trial's values put in place (``optimizer:learning_rate`` replaces
``conf["optimizer"]["learning_rate"]``) and echo-opt's ``optuna`` section copied in;
``trial.suggest_*`` returns the searched value of a parameter by its echo-opt ``settings.name``
(or its key); ``trial.report`` and ``trial.should_prune`` are hpogrid's early stopping. The
returned dict is the trial's metrics. Bottom-level: imports nothing.
"""
from typing import Any, Dict


class BaseObjective:
    """What echo-opt's base class offers a subclass: ``study``, ``config``, ``metric``, ``device``."""

    def __init__(self, study: Any = None, config: Any = None, metric: Any = "val_loss", device: str = "cpu",
                 **_: Any):
        if isinstance(study, dict) and not isinstance(config, dict):  # echo-opt's later (config, metric) form
            study, config, metric = None, study, config if isinstance(config, str) else metric
        self.study, self.config, self.metric, self.device = study, config or {}, metric, device

    def train(self, trial: Any, conf: Dict[str, Any]) -> Dict[str, Any]:
        raise NotImplementedError("an echo-opt Objective defines train(self, trial, conf)")

    def __call__(self, trial: Any) -> Dict[str, Any]:
        return self.train(trial, self.config)
