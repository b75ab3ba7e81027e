"""HyperOpt's TPE driven directly: its own ask/tell on every backend but Ray Tune, and under
Ray Tune for a conditional space (wrapped in :class:`~hpogrid.search._ray_searchers.NativeSearcher`).

Ray's ``HyperOptSearch`` needs ``ray.tune`` and cannot be told trials it did not propose, so a
resumed study (and the random start of :mod:`hpogrid.search._random_start`) would be lost on
it. This class keeps HyperOpt's own ``Trials`` and calls ``tpe.suggest`` as ``fmin`` does;
foreign trials become documents HyperOpt reads like its own. The space is the one Ray's
wrapper would build from the codec: uniform (an integer as the floor of one), choice of
indices, normal.

Conditional parameters (``when``) are HyperOpt's nested choices: a parameter whose condition
names a categorical (or fixed) parent lives in the branches of that parent's ``hp.choice`` for
the categories listed (with several such parents, the last in dependency order), so TPE draws
it only there and models it only on the trials that had it. A branch cannot express the rest
of a condition (an integer or q-method parent, a further parent): such a parameter is drawn
wherever its branch is taken (with no categorical parent, always) and kept only where its
whole condition holds. A finished trial's document keeps values only for the parameters active
in it (HyperOpt's own representation of a parameter that was not drawn), so TPE is never told
an inactive value.
"""
from typing import Any, Dict, List, Optional, Tuple

from hpogrid.search._codec import ChoiceByIndex, Codec, IntViaUniform, NormalNative, UniformNative, _index
from hpogrid.search._core import SearchCore

#: how HyperOpt sees each latent kind: an integer as the floor of a uniform, since
#: ``hp.uniformint(low, high)`` rounds a uniform and gives each end half the weight of the others
ENCODINGS = (UniformNative, IntViaUniform, ChoiceByIndex, NormalNative)


def _dimension(name: str, enc) -> Any:
    from hyperopt import hp

    if isinstance(enc, UniformNative):
        return hp.uniform(name, enc.latent.low, enc.latent.high)
    if isinstance(enc, IntViaUniform):
        return hp.uniform(name, enc.latent.low, enc.latent.high + 1)
    if isinstance(enc, ChoiceByIndex):
        return hp.choice(name, list(range(len(enc.latent.categories))))
    if isinstance(enc, NormalNative):
        return hp.normal(name, enc.latent.mu, enc.latent.sigma)
    raise TypeError(f"no hyperopt dimension for {type(enc).__name__}")  # pragma: no cover


def nesting(codec: Codec) -> Dict[str, Tuple[str, Tuple[int, ...]]]:
    """``{parameter: (parent, category indices)}``: the choice branches each conditional
    parameter lives in. The parent is the last categorical (or fixed) parent of its condition in
    dependency order; a parameter whose condition names none stays at the top level."""
    space = codec.space
    rank = {n: i for i, n in enumerate(space.dependency_order)}
    out = {}
    for name in codec.encodings:
        choices = [p for p in space.when(name) if isinstance(codec.encodings[p], ChoiceByIndex)]
        if choices:
            parent = max(choices, key=rank.__getitem__)
            categories = codec.encodings[parent].latent.categories
            out[name] = (parent, tuple(sorted(_index(categories, v) for v in space.when(name)[parent])))
    return out


def hyperopt_space(codec: Codec) -> Dict[str, Any]:
    """HyperOpt's space for ``codec``: every parameter under its own name, conditional ones in
    the branches of their parent's ``hp.choice`` (:func:`nesting`); a parameter that several
    branches activate is one node shared by them (one label, as HyperOpt requires)."""
    from hyperopt import hp

    nested = nesting(codec)
    children: Dict[str, List[str]] = {}
    for name, (parent, _) in nested.items():
        children.setdefault(parent, []).append(name)
    nodes: Dict[str, Any] = {}
    for name in reversed(codec.space.dependency_order):  # children before their parents
        enc = codec.encodings[name]
        if name in children:
            branches = [{c: nodes[c] for c in children[name] if i in nested[c][1]}
                        for i in range(len(enc.latent.categories))]
            nodes[name] = hp.choice(name, branches)
        else:
            nodes[name] = _dimension(name, enc)
    return {n: nodes[n] for n in codec.encodings if n not in nested}


def _identity(config):
    return config  # (a module function: the searcher is pickled with its Domain under Ray Tune)


class HyperoptAskTell(SearchCore):
    """The searcher protocol of :class:`hpogrid.search.AskTell` over HyperOpt's TPE.

    ``n_initial_points``: random trials before TPE models (HyperOpt's ``n_startup_jobs``);
    ``gamma``: TPE's quantile of good trials; ``points_to_evaluate``: searcher configs run
    first (under Ray Tune; elsewhere the random start runs them).
    """

    #: HyperOpt draws a conditional parameter only where its branch is taken, and finished
    #: trials keep only active values (HyperOpt's form of an unused parameter)
    conditional_native = True

    def __init__(self, codec: Codec, metric: str, mode: str, seed: Optional[int] = None,
                 n_initial_points: int = 20, gamma: float = 0.25,
                 points_to_evaluate: Optional[List[Dict[str, Any]]] = None):
        import functools

        import hyperopt
        import numpy as np

        self.metric, self._sign = metric, (1.0 if mode == "min" else -1.0)
        self._ints = {n for n, e in codec.encodings.items() if isinstance(e, ChoiceByIndex)}
        self._names = list(codec.encodings)
        self._codec = codec
        self._trials = hyperopt.Trials()
        self._domain = hyperopt.Domain(_identity, hyperopt_space(codec))
        self._algo = functools.partial(hyperopt.tpe.suggest, n_startup_jobs=n_initial_points, gamma=gamma)
        self._rng = np.random.default_rng(seed)
        self._live: Dict[str, dict] = {}
        self._first = [dict(p) for p in (points_to_evaluate or [])]  # evaluated before TPE asks
        self._given: Dict[str, Dict[str, Any]] = {}

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str) -> Dict[str, Any]:
        if self._first:
            self._given[trial_id] = config = self._codec.complete(self._first.pop(0))
            return config
        ids = self._trials.new_trial_ids(1)
        self._trials.refresh()
        doc = self._algo(ids, self._domain, self._trials, int(self._rng.integers(2 ** 31 - 1)))[0]
        self._trials.insert_trial_docs([doc])
        self._trials.refresh()
        # the stored copy of the document (insert_trial_docs copies it): tell updates that one
        self._live[trial_id] = next(d for d in reversed(self._trials.trials) if d["tid"] == ids[0])
        vals = doc["misc"]["vals"]
        drawn = {n: (int(vals[n][0]) if n in self._ints else float(vals[n][0])) for n in self._names if vals[n]}
        return self._codec.complete(drawn)  # the parameters of branches not taken: neutral, dropped by decode

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None, error: bool = False) -> None:
        import hyperopt

        given = self._given.pop(trial_id, None)
        if given is not None:
            if not error and result and result.get(self.metric) is not None:
                self.add_evaluated_point(given, result[self.metric])
            return
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
