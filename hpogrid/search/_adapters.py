"""The searchers hpogrid offers: under Ray Tune each is Ray's searcher (or hpogrid's own, see
``_ray_searchers.py``); on the other backends each library is driven by its own ask/tell
(``make_native``), the model-based ones after a random start drawn while they load."""

from typing import TYPE_CHECKING, Any, Dict, Optional

from hpogrid.errors import ValidationError
from hpogrid.search._base import RunShape, SearcherAdapter, construct
from hpogrid.search._codec import ALL_NATIVE, FLOATS_ONLY, Codec
from hpogrid.search._core import SearchCore
from hpogrid.search._hyperopt import ENCODINGS as HYPEROPT_ENCODINGS

if TYPE_CHECKING:
    from hpogrid.objectives import Objectives


class RandomSearch(SearcherAdapter):
    """Independent random sampling from one seeded generator (the same points for the same
    seed on every backend); ``algorithm_param`` may give ``points_to_evaluate``."""

    name = "random"
    encodings = ALL_NATIVE

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        from hpogrid.search._ray_searchers import SeededSampler

        return construct(SeededSampler, self.name, {"codec": codec, "seed": seed, "num_samples": None}, params)

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None) -> Optional[SearchCore]:
        from hpogrid.search.asktell import RandomSampler

        return construct(RandomSampler, self.name, {"codec": codec, "seed": seed, "num_samples": None}, params)


class TuneSearch(RandomSearch):
    """Ray Tune's basic variant semantics by its Ray name (grid search + random sampling)."""

    name = "tune"


class HyperOptAdapter(SearcherAdapter):
    """HyperOpt's TPE. Under Ray Tune a flat space runs Ray's ``HyperOptSearch``, a conditional
    one hpogrid's own core (:class:`~hpogrid.search._hyperopt.HyperoptAskTell`, the one the other
    backends ask), whose space nests conditional parameters in HyperOpt's choices."""

    name = "hyperopt"
    encodings = HYPEROPT_ENCODINGS

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        if codec.space.conditional:
            from hpogrid.search._hyperopt import HyperoptAskTell
            from hpogrid.search._ray_searchers import NativeSearcher

            core = construct(HyperoptAskTell, self.name, {"codec": codec, "metric": metric, "mode": mode,
                                                         "seed": seed}, params)
            return NativeSearcher(core, metric, mode)
        from ray.tune.search.hyperopt import HyperOptSearch

        return construct(HyperOptSearch, self.name, {
            "space": None, "metric": metric, "mode": mode, "random_state_seed": seed}, params)

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None) -> Optional[SearchCore]:
        from hpogrid.search._hyperopt import HyperoptAskTell

        ours = {"codec": codec, "metric": metric, "mode": mode, "seed": seed}
        return self.start_randomly(HyperoptAskTell, codec, metric, seed, ours, params,
                                   length=params.get("n_initial_points", 20))


class OptunaAdapter(SearcherAdapter):
    """Optuna; ``algorithm_param`` ``sampler`` picks tpe (default; nsga2 with several objectives),
    gp, gp-tpe (GP, TPE while stalled: :mod:`hpogrid.search._stall`), cmaes, qmc, nsga2 or random, and
    the other keys go to that sampler."""

    name = "optuna"

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None, objectives: Optional["Objectives"] = None) -> Any:
        if _beyond_one_metric(objectives) or codec.space.conditional:
            # Ray's OptunaSearch takes several metrics but no constraints, and would be told a
            # conditional space's inactive values: the same core as elsewhere
            return _under_ray(self.make_native(codec, metric, mode, seed, params, shape, objectives), metric, mode,
                              codec)
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(metric=metric, mode=mode, sampler=self.sampler(seed, params))

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None, objectives: Optional["Objectives"] = None
                    ) -> Optional[SearchCore]:
        from hpogrid.search._optuna import OptunaAskTell

        import functools

        self.sampler(seed, params, objectives)  # bad algorithm_param fails here, before any trial
        return OptunaAskTell(codec, metric, mode, functools.partial(self.sampler, seed, params, objectives),
                             objectives=objectives)

    def sampler(self, seed: Optional[int], params: Dict[str, Any], objectives: Optional["Objectives"] = None) -> Any:
        """optuna's sampler named by ``sampler`` (default TPE; NSGA-II for several objectives) with
        the other keys as its arguments.

        TPE gets the constant liar unless told otherwise: trials asked while others run (worker
        processes, grid jobs) then do not all land in the same region. (Outcome constraints are
        set on each trial: NSGA-II, TPE and GP read them from there.)
        """
        import optuna

        from hpogrid.search.names import OPTUNA_MULTI_OBJECTIVE, OPTUNA_SAMPLER_PARAMS

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        params = dict(params)
        several = objectives is not None and objectives.is_multi
        name = params.pop("sampler", "nsga2" if several else "tpe")
        if objectives is not None and several and name not in OPTUNA_MULTI_OBJECTIVE:
            raise ValidationError("hpo_config.algorithm_param.sampler", f"optuna's {name} sampler optimises one "
                                  f"metric; with {len(objectives)} objectives choose one of: "
                                  f"{', '.join(OPTUNA_MULTI_OBJECTIVE)}")
        classes = {"tpe": optuna.samplers.TPESampler, "gp": optuna.samplers.GPSampler,
                   "cmaes": optuna.samplers.CmaEsSampler, "qmc": optuna.samplers.QMCSampler,
                   "nsga2": optuna.samplers.NSGAIISampler, "random": optuna.samplers.RandomSampler}
        from hpogrid.search._stall import GpThenTpeSampler

        classes["gp-tpe"] = GpThenTpeSampler
        assert set(classes) == set(OPTUNA_SAMPLER_PARAMS)
        ours = {"seed": seed}
        if name == "tpe":
            params = {"constant_liar": True, **params}
        if name in ("gp", "gp-tpe", "cmaes", "qmc"):
            # what these samplers do not model (CMA-ES and QMC: categories) is drawn at random; the
            # README says so once, rather than optuna warning once per trial and parameter
            params = {"warn_independent_sampling": False, **params}
        return construct(classes[name], f"optuna sampler {name}", ours, params)


def _under_ray(core: Optional[SearchCore], metric: str, mode: str, codec: Codec) -> Any:
    """hpogrid's own ask/tell ``core`` as a Ray Tune searcher (where Ray's wrapper of the library
    cannot be told what the run needs it told)."""
    from hpogrid.search._ray_searchers import NativeSearcher

    assert core is not None  # (the adapters that call this have a native core)
    return NativeSearcher(core, metric, mode, codec)


def _beyond_one_metric(objectives: Optional["Objectives"]) -> bool:
    """Several objectives or outcome constraints: Ray's own wrappers cannot be told them."""
    return objectives is not None and (objectives.is_multi or bool(objectives.constraints))


class BohbAdapter(SearcherAdapter):
    """BOHB; runs with the bohbhyperband scheduler (see :mod:`hpogrid.search._schedulers`), over a
    ConfigSpace with the space's conditions (:mod:`hpogrid.search._bohb`)."""

    name = "bohb"

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        from hpogrid.search._bohb import BohbSearcher

        return construct(BohbSearcher, self.name, {"codec": codec, "metric": metric, "mode": mode, "seed": seed},
                         params)


class AxAdapter(SearcherAdapter):
    name = "ax"

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None, objectives: Optional["Objectives"] = None) -> Any:
        if _beyond_one_metric(objectives) or codec.space.constraints or codec.space.conditional:
            # Ray's AxSearch is told one metric, not the proposals search_space constraints reject,
            # and a conditional space's inactive values: the same core as elsewhere
            return _under_ray(self.make_native(codec, metric, mode, seed, params, shape, objectives), metric, mode,
                              codec)
        from hpogrid.search._ax import quiet_ax

        quiet_ax()
        from ray.tune.search.ax import AxSearch

        ours = {"metric": metric, "mode": mode, "random_seed": seed, "verbose_logging": False}
        return construct(AxSearch, self.name, ours, params)

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None, objectives: Optional["Objectives"] = None
                    ) -> Optional[SearchCore]:
        from hpogrid.search._ax import AxAskTell, initial_trials

        ours = {"codec": codec, "metric": metric, "mode": mode, "seed": seed}
        if objectives is not None:
            ours["objectives"] = objectives
        if codec.space.constraints:  # the linear ones are Ax's own (the others are rejected for it)
            from hpogrid.search._constrained import ax_constraints

            params = {**params, "parameter_constraints": ax_constraints(codec) + list(
                params.get("parameter_constraints") or [])}
        return self.start_randomly(AxAskTell, codec, metric, seed, ours, params, length=initial_trials(codec))


class BayesOptAdapter(SearcherAdapter):
    """Gaussian-process BO over a box: integers, categories and normals via exact transforms."""

    name = "bayesian"
    encodings = FLOATS_ONLY

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        if codec.space.conditional:  # Ray's searcher would be told inactive values: the same core as elsewhere
            return _under_ray(self.make_native(codec, metric, mode, seed, params, shape), metric, mode, codec)
        from hpogrid.search._ray_searchers import BayesOptSearcher

        return construct(BayesOptSearcher, self.name, {
            "space": None, "metric": metric, "mode": mode, "random_state": seed or 42}, params)

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None) -> Optional[SearchCore]:
        from hpogrid.search._bayesopt import BayesOptAskTell

        ours = {"codec": codec, "metric": metric, "mode": mode, "random_state": seed or 42}
        return self.start_randomly(BayesOptAskTell, codec, metric, seed, ours, params,
                                   length=params.get("random_search_steps", 10), extra=("random_search_steps",))


class SkoptAdapter(SearcherAdapter):
    """scikit-optimize's ``Optimizer`` (Ray dropped SkOptSearch; see ``_skopt.py``)."""

    name = "skopt"

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        from hpogrid.search._ray_searchers import SkoptSearcher

        return construct(SkoptSearcher, self.name, {
            "codec": codec, "metric": metric, "mode": mode, "random_state": seed}, params)

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None) -> Optional[SearchCore]:
        from hpogrid.search._skopt import SkoptAskTell

        ours = {"codec": codec, "metric": metric, "mode": mode, "random_state": seed}
        return self.start_randomly(SkoptAskTell, codec, metric, seed, ours, params,
                                   length=params.get("n_initial_points", 10))


class HeboAdapter(SearcherAdapter):
    """HEBO: a GP with input and output warping and an ensemble of acquisitions (see ``_hebo.py``)."""

    name = "hebo"

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        from hpogrid.search._hebo import HeboAskTell
        from hpogrid.search._ray_searchers import NativeSearcher

        core = construct(HeboAskTell, self.name, {"codec": codec, "metric": metric, "mode": mode, "seed": seed},
                         params)
        return NativeSearcher(core, metric, mode, codec)

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None) -> Optional[SearchCore]:
        from hpogrid.search._hebo import HeboAskTell

        ours = {"codec": codec, "metric": metric, "mode": mode, "seed": seed}
        length = params.get("rand_sample") or 1 + len(codec.encodings)  # HEBO's own random start
        return self.start_randomly(HeboAskTell, codec, metric, seed, ours, params, length=length)


class NevergradAdapter(SearcherAdapter):
    """nevergrad; ``algorithm_param`` ``optimizer`` names one (default NGOpt, which picks by budget)."""

    name = "nevergrad"

    @staticmethod
    def _ours(codec: Codec, metric: str, mode: str, seed: Optional[int], shape: Optional[RunShape]) -> Dict[str, Any]:
        return {"codec": codec, "metric": metric, "mode": mode, "seed": seed,
                "budget": shape.trials if shape else None, "num_workers": shape.parallel if shape else 1}

    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        from hpogrid.search._nevergrad import NevergradAskTell
        from hpogrid.search._ray_searchers import NativeSearcher

        return NativeSearcher(construct(NevergradAskTell, self.name, self._ours(codec, metric, mode, seed, shape),
                                        params), metric, mode, codec)

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
                    shape: Optional[RunShape] = None) -> Optional[SearchCore]:
        from hpogrid.search._nevergrad import NevergradAskTell

        ours = self._ours(codec, metric, mode, seed, shape)
        if "optimizer" in params:  # a named optimizer is checked before any trial (NGOpt needs no check)
            from hpogrid.search._nevergrad import check_optimizer

            check_optimizer(params["optimizer"])
        # nevergrad takes seconds to import: a first batch of (at least 4) random points runs meanwhile
        return self.start_randomly(NevergradAskTell, codec, metric, seed, ours, params,
                                   length=max(4, ours["num_workers"]))
