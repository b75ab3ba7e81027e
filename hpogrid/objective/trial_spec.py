"""One trial, as a typed value: what runs, with which values, where, and what it may report.

A :class:`TrialSpec` is built by :meth:`TrialSpec.build` from the model and the searcher's
suggestion, on the driver (written to the trial folder as ``trial.json`` for a pool worker, a
Slurm job, a grid job's pool, the fake backend) or in a Ray worker (from the config Tune
hands over). Dicts appear only at the JSON boundary (:meth:`to_json` / :meth:`from_json`);
the JSON keeps the shape of earlier versions' ``trial.json`` (plus ``kind``), and a spec
written by an earlier version still reads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from hpogrid.objective.model import Model, ModelKind


def json_default(value: Any) -> Any:
    """How a value JSON cannot write travels (numpy scalars as numbers, the rest as text)."""
    return value.item() if hasattr(value, "item") else str(value)


@dataclass(frozen=True)
class TrialSpec:
    uid: str
    folder: Path
    model: Model
    #: what the model gets: a function's or Trainable's config (param with the trial's decoded
    #: values), a define-by-run model's ``config`` (param), a program's ``HPOGRID_CONFIG``
    config: Mapping[str, Any]
    #: the trial's values by parameter name (a program's placeholders, a define-by-run
    #: trial's pre-suggested values); ``order``: the search space's order ($x_0, $x_1, ...)
    values: Mapping[str, Any] = field(default_factory=dict)
    order: Tuple[str, ...] = ()
    #: what the trial may report: the study metric, every objective, and when it stops
    metric: str = "loss"
    metrics: Tuple[str, ...] = ()
    mode: str = "min"
    stop: Mapping[str, Any] = field(default_factory=dict)
    study: str = ""
    #: a program runs in ``folder/program`` (the folder holds a Slurm job's own logs)
    program_subdir: bool = False
    #: define-by-run: the trial's seed and the distributions of its pre-suggested values
    seed: Optional[int] = None
    distributions: Mapping[str, Any] = field(default_factory=dict)
    #: the engine judges each report (early stopping): the trial waits for its decision
    #: (:mod:`hpogrid.objective.trial_folder`, ``decision.json``) after every report
    awaits_decision: bool = False

    @property
    def objectives(self) -> Tuple[str, ...]:
        """Every objective (a multi-objective program prints a result line for each)."""
        return tuple(self.metrics) or (self.metric,)

    @classmethod
    def build(cls, model: Model, codec, *, uid: str, folder: Path, latent: Optional[Dict[str, Any]] = None,
              values: Optional[Dict[str, Any]] = None, metric: str, metrics: Sequence[str] = (),
              mode: str = "min", stop: Optional[Mapping[str, Any]] = None, study: str = "",
              program_subdir: bool = False) -> "TrialSpec":
        """The spec of trial ``uid`` from the searcher's ``latent`` config (a Ray config, an
        ask/tell suggestion) or, for a re-run of stored values, ``values`` alone."""
        from hpogrid.search import RERUN_KEY

        key = str(RERUN_KEY)
        rerun = (latent or {}).get(key)
        if latent is None:
            latent = {key: {"uid": uid, "values": dict(values or {})}}
        if values is None:
            values = dict(rerun["values"]) if isinstance(rerun, dict) else codec.decode(latent)
        order = tuple(codec.encodings)
        seed: Optional[int] = None
        dists: Dict[str, Any] = {}
        if model.kind is ModelKind.PROGRAM:
            from hpogrid.objective._substitute import apply_values

            values = {n: values[n] for n in order if n in values}  # (inactive conditional ones are absent)
            config = apply_values(model.param, values)
        elif model.kind is ModelKind.DEFINE_BY_RUN:
            from hpogrid.search.define_by_run import DISTRIBUTIONS_KEY, SEED_KEY, trial_seed

            if DISTRIBUTIONS_KEY in latent:  # Ray: the searcher sent them along
                dists = json.loads(latent[DISTRIBUTIONS_KEY] or "{}")
            else:
                known = codec.distributions
                dists = {n: known[n] for n in values if n in known}
            seed = trial_seed(uid, None if isinstance(rerun, dict) else latent.get(SEED_KEY))
            config = dict(model.param)
        else:
            from hpogrid.objective._substitute import trial_config

            config = trial_config(model.param, codec, latent, model.custom_updates())
        return cls(uid=uid, folder=Path(folder), model=model, config=config, values=values, order=order,
                   metric=metric, metrics=tuple(metrics) if len(metrics) > 1 else (), mode=mode,
                   stop=dict(stop or {}), study=study, program_subdir=program_subdir, seed=seed, distributions=dists)

    # -- the JSON boundary (trial.json) --------------------------------------------------------
    def to_json(self) -> Dict[str, Any]:
        model = self.model
        data: Dict[str, Any] = {"uid": self.uid, "study": self.study, "scripts_dir": str(model.scripts_dir),
                                "metric": self.metric, "mode": self.mode, "stop": dict(self.stop),
                                "values": dict(self.values), "order": list(self.order), "folder": str(self.folder),
                                **model.to_json()}
        if self.metrics:
            data["metrics"] = list(self.metrics)
        if model.kind is ModelKind.PROGRAM:
            data.update(program_subdir=self.program_subdir, program_config=dict(self.config))
        else:
            data["config"] = dict(self.config)
        if self.awaits_decision:
            data["awaits_decision"] = True
        if model.kind is ModelKind.DEFINE_BY_RUN:
            data["define_by_run"] = {"values": dict(self.values), "seed": self.seed,
                                     "distributions": dict(self.distributions)}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], folder: Optional[Path] = None) -> "TrialSpec":
        """A spec from ``trial.json`` (``folder``: where it was read, when it names none)."""
        dbr = data.get("define_by_run")
        # (a spec written before specs carried the kind: the model decides it, as the driver did)
        model = Model.from_config(data, Path(data.get("scripts_dir") or "."), kind=data.get("kind"))
        program = model.kind is ModelKind.PROGRAM
        return cls(uid=data.get("uid") or Path(data.get("folder") or folder or ".").name,
                   folder=Path(data.get("folder") or folder or "."), model=model,
                   config=dict((data.get("program_config") if program else data.get("config")) or {}),
                   values=dict((dbr or {}).get("values") or data.get("values") or {}),
                   order=tuple(data.get("order") or ()), metric=data.get("metric") or "loss",
                   metrics=tuple(data.get("metrics") or ()), mode=data.get("mode") or "min",
                   stop=dict(data.get("stop") or {}), study=data.get("study") or "",
                   program_subdir=bool(data.get("program_subdir")),
                   seed=None if dbr is None or dbr.get("seed") is None else int(dbr["seed"]),
                   distributions=dict((dbr or {}).get("distributions") or {}),
                   awaits_decision=bool(data.get("awaits_decision")))
