"""Ax (BoTorch) driven directly through ``AxClient``, for the backends that are not Ray Tune.

Ray's ``AxSearch`` wraps the same client but needs ``ray.tune`` and cannot be told trials it
did not propose. Here every random start point (:mod:`hpogrid.search._random_start` draws
them while Ax and torch load, ~5 s) and every trial of a resumed study is attached to the
experiment as a completed trial, and BoTorch proposes the rest: its generation strategy has
no Sobol step of its own. Pending trials are known to Ax (BoTorch conditions on them).
"""
from typing import Any, Dict, List, Optional

from hpogrid.search._codec import _EPS, EVALUATED_KEY, ChoiceByIndex, Codec, IntNative, NormalViaUniform, UniformNative
from hpogrid.search._core import SearchCore


def ax_parameters(codec: Codec) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for name, enc in codec.encodings.items():
        if isinstance(enc, UniformNative):
            out.append({"name": name, "type": "range", "bounds": [enc.latent.low, enc.latent.high],
                        "value_type": "float"})
        elif isinstance(enc, IntNative):
            out.append({"name": name, "type": "range", "bounds": [enc.latent.low, enc.latent.high],
                        "value_type": "int"})
        elif isinstance(enc, ChoiceByIndex):
            out.append({"name": name, "type": "choice", "values": list(range(len(enc.latent.categories))),
                        # sort_values: the indices are sorted already; Ax takes a two-value choice
                        # as ordered and then refuses sort_values=False once its model runs
                        "value_type": "int", "is_ordered": False, "sort_values": True})
        elif isinstance(enc, NormalViaUniform):
            out.append({"name": name, "type": "range", "bounds": [_EPS, 1 - _EPS], "value_type": "float"})
        else:  # pragma: no cover - the Ax adapter's encodings are the four above
            raise TypeError(f"no Ax parameter for {type(enc).__name__}")
    return out


def initial_trials(codec: Codec) -> int:
    """Ax's own length of a random (Sobol) start: max(5, 2 x the tunable parameters)."""
    return max(5, 2 * len(codec.encodings))


def quiet_ax() -> None:
    """Ax logs every generation step to stderr: keep the console for hpogrid's progress line.

    Its import also warns that its SQL storage needs SQLAlchemy < 2 (hpogrid never uses Ax's
    storage); that logger exists before Ax's handlers do, so a filter set first silences it.
    """
    import logging

    logging.getLogger("ax.storage.sqa_store.with_db_settings_base").addFilter(
        lambda record: "sqlalchemy" not in record.getMessage().lower())
    from ax.utils.common.logger import set_ax_logger_levels, set_stderr_log_level

    set_stderr_log_level(logging.ERROR)
    set_ax_logger_levels(logging.ERROR)


class AxAskTell(SearchCore):
    """The searcher protocol of :class:`hpogrid.search.AskTell` over an ``AxClient``.

    Several objectives make a multi-objective experiment (Ax then proposes by qNEHVI, its
    thresholds inferred from the data); the run's outcome constraints on other metrics are Ax's
    own, so the model learns where they hold.
    """

    #: told every metric of a trial (several objectives, constraints)
    told_metrics = True

    def __init__(self, codec: Codec, metric: str, mode: str, seed: Optional[int] = None,
                 parameter_constraints: Optional[List[str]] = None,
                 outcome_constraints: Optional[List[str]] = None, objectives: Any = None):
        import warnings

        quiet_ax()
        from ax.adapter.registry import Generators
        from ax.generation_strategy.generation_node import GenerationNode
        from ax.generation_strategy.generation_strategy import GenerationStrategy
        from ax.generation_strategy.generator_spec import GeneratorSpec
        from ax.service.ax_client import AxClient, ObjectiveProperties

        from hpogrid.objectives import Objectives

        self.metric = metric
        self.objectives = objectives if objectives is not None else Objectives.parse(metric, mode)
        objective_names = set(self.objectives.metrics)
        # Ax refuses a constraint on an objective: with several, one that bounds an objective from
        # the side it is optimised towards is that objective's threshold (the hypervolume's
        # reference); the others are recorded by hpogrid only (README "Outcome constraints")
        direction = dict(zip(self.objectives.metrics, self.objectives.modes))
        thresholds = {c.metric: c.bound for c in self.objectives.constraints
                      if self.objectives.is_multi and c.metric in direction
                      and (c.op == "<=") == (direction[c.metric] == "min")}
        outcome_constraints = [f"{c.metric} {c.op} {c.bound!r}" for c in self.objectives.constraints
                               if c.metric not in objective_names] + list(outcome_constraints or [])
        #: every metric Ax is told (objectives, then those of the constraints)
        self._told = list(dict.fromkeys([*self.objectives.metrics, *(c.metric for c in self.objectives.constraints)]))
        strategy = GenerationStrategy(name="hpogrid", nodes=[
            GenerationNode(name="BoTorch",
                           generator_specs=[GeneratorSpec(generator_enum=Generators.BOTORCH_MODULAR)])])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.client = AxClient(generation_strategy=strategy, random_seed=seed, verbose_logging=False)
            self.client.create_experiment(
                parameters=ax_parameters(codec),
                objectives={o.metric: ObjectiveProperties(minimize=o.mode == "min", threshold=thresholds.get(o.metric))
                            for o in self.objectives},
                parameter_constraints=parameter_constraints, outcome_constraints=outcome_constraints or None)
        self._live: Dict[str, int] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, Any]:
        params, index = self.client.get_next_trial()
        self._live[trial_id] = index
        return dict(params)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        index = self._live.pop(trial_id, None)
        if index is None:
            return
        data = None if error else self._data(result)
        if data is None:
            self.client.log_trial_failure(trial_index=index)
        elif result and result.get(EVALUATED_KEY):  # not its proposal that ran: dropped, the run one attached
            self.client.abandon_trial(trial_index=index)
            self._attach(result[EVALUATED_KEY], data)
        else:
            self.client.complete_trial(trial_index=index, raw_data=data)

    def _data(self, result: Optional[Dict]) -> Optional[Dict[str, Any]]:
        """Ax's raw data of a result (None: not every metric Ax models is a finite number)."""
        import math

        values = {}
        for name in self._told:
            value = (result or {}).get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return None
            values[name] = (float(value), None)
        return values

    def _attach(self, config: Dict[str, Any], data: Dict[str, Any]) -> None:
        _, index = self.client.attach_trial(dict(config))
        self.client.complete_trial(trial_index=index, raw_data=data)

    def add_evaluated_point(self, config: Dict[str, Any], value: float, metrics: Optional[Dict[str, Any]] = None,
                            **kwargs) -> None:
        data = self._data(metrics) if metrics else None
        if data is None:
            if len(self._told) > 1:
                return  # one number cannot stand for several metrics
            assert self.metric is not None  # (set by the adapter before anything is told)
            data = {self.metric: (float(value), None)}
        self._attach(config, data)
