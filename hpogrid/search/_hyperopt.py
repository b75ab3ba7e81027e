"""HyperOpt's TPE driven directly, for the backends that are not Ray Tune.

Ray's ``HyperOptSearch`` needs ``ray.tune`` and cannot be told trials it did not propose, so a
resumed study (and the random start of :mod:`hpogrid.search._random_start`) would be lost on
it. This class keeps HyperOpt's own ``Trials`` and calls ``tpe.suggest`` as ``fmin`` does;
foreign trials become documents HyperOpt reads like its own. The space is the one Ray's
wrapper would build from the codec: uniform (an integer as the floor of one), choice of
indices, normal.

Conditional parameters (``when``): TPE proposes the flat space, but a finished trial's document
keeps values only for the parameters active in it (HyperOpt's own representation of a
conditional parameter that was not drawn), so TPE models each parameter only on the trials
that used it and is never told an inactive value.
"""
from typing import Any, Dict, Optional

from hpogrid.search._codec import ChoiceByIndex, Codec, IntViaUniform, NormalNative, UniformNative

#: how HyperOpt sees each latent kind: an integer as the floor of a uniform, since
#: ``hp.uniformint(low, high)`` rounds a uniform and gives each end half the weight of the others
ENCODINGS = (UniformNative, IntViaUniform, ChoiceByIndex, NormalNative)


def hyperopt_space(codec: Codec) -> Dict[str, Any]:
    from hyperopt import hp

    out = {}
    for name, enc in codec.encodings.items():
        if isinstance(enc, UniformNative):
            out[name] = hp.uniform(name, enc.latent.low, enc.latent.high)
        elif isinstance(enc, IntViaUniform):
            out[name] = hp.uniform(name, enc.latent.low, enc.latent.high + 1)
        elif isinstance(enc, ChoiceByIndex):
            out[name] = hp.choice(name, list(range(len(enc.latent.categories))))
        elif isinstance(enc, NormalNative):
            out[name] = hp.normal(name, enc.latent.mu, enc.latent.sigma)
        else:  # pragma: no cover - the hyperopt adapter's encodings are the four above
            raise TypeError(f"no hyperopt dimension for {type(enc).__name__}")
    return out


class HyperoptAskTell:
    """The searcher protocol of :class:`hpogrid.search.AskTell` over HyperOpt's TPE.

    ``n_initial_points``: random trials before TPE models (HyperOpt's ``n_startup_jobs``);
    ``gamma``: TPE's quantile of good trials.
    """

    native = True
    #: finished trials keep only active values (HyperOpt's form of an unused parameter)
    conditional_native = True

    def __init__(self, codec: Codec, metric: str, mode: str, seed: Optional[int] = None,
                 n_initial_points: int = 20, gamma: float = 0.25):
        import functools

        import hyperopt
        import numpy as np

        self.metric, self._sign = metric, (1.0 if mode == "min" else -1.0)
        self._ints = {n for n, e in codec.encodings.items() if isinstance(e, ChoiceByIndex)}
        self._names = list(codec.encodings)
        self._codec = codec
        self._trials = hyperopt.Trials()
        self._domain = hyperopt.Domain(lambda config: config, hyperopt_space(codec))
        self._algo = functools.partial(hyperopt.tpe.suggest, n_startup_jobs=n_initial_points, gamma=gamma)
        self._rng = np.random.default_rng(seed)
        self._live: Dict[str, dict] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, Any]:
        ids = self._trials.new_trial_ids(1)
        self._trials.refresh()
        doc = self._algo(ids, self._domain, self._trials, int(self._rng.integers(2 ** 31 - 1)))[0]
        self._trials.insert_trial_docs([doc])
        self._trials.refresh()
        # the stored copy of the document (insert_trial_docs copies it): tell updates that one
        self._live[trial_id] = next(d for d in reversed(self._trials.trials) if d["tid"] == ids[0])
        vals = doc["misc"]["vals"]
        return {n: (int(vals[n][0]) if n in self._ints else float(vals[n][0])) for n in self._names}

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        import hyperopt

        doc = self._live.pop(trial_id, None)
        if doc is None:
            return
        if self._codec.space.conditional:  # keep only what the trial used
            vals = doc["misc"]["vals"]
            active = self._codec.active({n: vals[n][0] for n in self._names if vals[n]})
            for n in self._names:
                if n not in active:
                    doc["misc"]["idxs"][n], doc["misc"]["vals"][n] = [], []
        if error or not result or result.get(self.metric) is None:
            doc["state"] = hyperopt.JOB_STATE_ERROR
        else:
            doc["result"] = {"loss": self._sign * float(result[self.metric]), "status": hyperopt.STATUS_OK}
            doc["state"] = hyperopt.JOB_STATE_DONE
        self._trials.refresh()

    def add_evaluated_point(self, config: Dict[str, Any], value: float, **kwargs) -> None:
        """A trial HyperOpt did not propose (an earlier run, the random start): a finished document."""
        import hyperopt

        tid = self._trials.new_trial_ids(1)[0]
        active = self._codec.active(config)
        misc = {"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"), "workdir": None,
                "idxs": {n: [tid] if n in active else [] for n in self._names},
                "vals": {n: [config[n]] if n in active else [] for n in self._names}}
        result = {"loss": self._sign * float(value), "status": hyperopt.STATUS_OK}
        doc = self._trials.new_trial_docs([tid], [None], [result], [misc])[0]
        doc["state"] = hyperopt.JOB_STATE_DONE
        self._trials.insert_trial_docs([doc])
        self._trials.refresh()
