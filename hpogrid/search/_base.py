"""The searcher adapter contract: check a space, encode it, build a Ray Tune searcher."""
import importlib
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Optional, Tuple, Type

from hpogrid.errors import MissingDependencyError, UnsupportedSpaceError, ValidationError
from hpogrid.search._codec import NO_NORMAL, Codec, Encoding
from hpogrid.search.catalogue import Algorithm, entry
from hpogrid.space import SearchSpace


@dataclass(frozen=True)
class RunShape:
    """What is known of a run before its first trial that a searcher adapts to (nevergrad's
    NGOpt picks its algorithm from the budget and workers; ``auto`` chooses by them too)."""

    #: the run's trials (its budget)
    trials: int
    #: trials running at once (``--n_jobs`` / ``max_concurrent``; 1 when not given)
    parallel: int = 1


#: the facts an adapter takes from its catalogue entry (and may not set itself)
_FACTS = ("library", "summary", "honours_grid", "multi_objective", "uses_objectives")


class SearcherAdapter(ABC):
    """One HPO algorithm. Subclasses set ``name`` and implement :meth:`make` (and, where the
    library has a native ask/tell, :meth:`make_native`); every other fact about the algorithm
    comes from its entry in :mod:`hpogrid.search.catalogue` (an adapter without one, or one
    that sets a fact itself, is an error when its class is defined).

    ``algorithm_param`` (hpo_config) goes to the library's constructor; unknown keys are a
    one-line error listing what the library accepts.
    """

    name: ClassVar[str]
    #: its catalogue entry, and the entry's facts (see :class:`hpogrid.search.catalogue.Algorithm`)
    algorithm: ClassVar[Algorithm]
    library: ClassVar[str]
    summary: ClassVar[str]
    honours_grid: ClassVar[bool]
    multi_objective: ClassVar[bool]
    #: :meth:`make`/:meth:`make_native` take ``objectives`` (several, or outcome constraints to learn)
    uses_objectives: ClassVar[bool]
    #: how latent dimensions are shown to the library (see :mod:`hpogrid.search._codec`)
    encodings: ClassVar[Tuple[Type[Encoding], ...]] = NO_NORMAL

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        own = [fact for fact in _FACTS if fact in cls.__dict__]
        if own:
            raise TypeError(f"{cls.__name__} sets {', '.join(own)}: the facts of algorithm {cls.name!r} "
                            "live in hpogrid.search.catalogue")
        try:
            cls.algorithm = entry(cls.name)
        except KeyError:
            raise TypeError(f"{cls.__name__}: algorithm {cls.name!r} has no entry in hpogrid.search.catalogue") \
                from None
        for fact in _FACTS:
            setattr(cls, fact, getattr(cls.algorithm, fact))

    def check(self, space: SearchSpace) -> None:
        """Raise :class:`UnsupportedSpaceError` before any trial runs if the space can't be run."""
        if space.grid_params and not self.honours_grid:
            from hpogrid.search.names import GRID_ALGORITHMS

            able = ", ".join(GRID_ALGORITHMS)
            name = space.grid_params[0]
            raise UnsupportedSpaceError(
                f"search_space.{name}: categorical with grid_search cannot be run by algorithm "
                f"'{self.name}'; use one of: {able} (or set grid_search to 0)")

    def codec(self, space: SearchSpace) -> Codec:
        return Codec.build(space, self.encodings, grid=self.honours_grid)

    def build(self, space: SearchSpace, metric: str, mode: str, seed: Optional[int],
              params: Dict[str, Any], native: bool = False, shape: Optional[RunShape] = None,
              objectives: Any = None) -> Tuple[Any, Codec]:
        """(searcher, codec) for this space: a Ray Tune ``Searcher``, or with ``native`` the
        library's own ask/tell where hpogrid has one (no Ray import; :meth:`make_native`).
        ``shape``: the run's budget and parallelism, where known. ``objectives``: an
        :class:`~hpogrid.objectives.Objectives` (several objectives need an adapter that
        optimises them; ``metric``/``mode`` are its first)."""
        self.check(space)
        self.check_objectives(objectives)
        check_known(params, self.name, several=objectives is not None and objectives.is_multi)
        codec = self.codec(space)
        extra = {"objectives": objectives} if self.uses_objectives and objectives is not None else {}
        if native:
            searcher = self.make_native(codec, metric, mode, seed, dict(params), shape=shape, **extra)
            if searcher is not None:
                return searcher, codec
        try:
            importlib.import_module(self.library)
        except ImportError as exc:
            raise self._missing(exc) from None
        return self.make(codec, metric, mode, seed, dict(params), shape=shape, **extra), codec

    def check_objectives(self, objectives: Any) -> None:
        """Several objectives need an algorithm that optimises them: one line naming those that do."""
        if objectives is None or not objectives.is_multi or self.multi_objective:
            return
        from hpogrid.search.names import MULTI_OBJECTIVE_ALGORITHMS

        raise ValidationError("hpo_config.algorithm", f"'{self.name}' optimises one metric, and this run has "
                              f"{len(objectives)} objectives ({objectives.describe()}); choose one of: "
                              f"{', '.join(MULTI_OBJECTIVE_ALGORITHMS)}")

    def _missing(self, why: Any) -> MissingDependencyError:
        return MissingDependencyError(f"algorithm '{self.name}' needs the Python package '{self.library}' "
                                      f"({why}); re-run setupenv.sh")

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int],
                    params: Dict[str, Any], shape: Optional[RunShape] = None) -> Any:
        """The library driven by its own ask/tell, without Ray (None: only through Ray's searcher)."""
        return None

    def start_randomly(self, cls: Any, codec: Codec, metric: str, seed: Optional[int], ours: Dict[str, Any],
                       params: Dict[str, Any], length: int, extra: Tuple[str, ...] = ()) -> Any:
        """``cls(**ours, **params)`` built in a thread while a random start of ``length`` points
        (after ``points_to_evaluate``) runs (see :mod:`hpogrid.search._random_start`).

        Everything that can be checked without the library is checked here, before any trial:
        the package is installed, and every ``algorithm_param`` key is known (``extra``: keys
        this adapter reads itself).
        """
        import importlib.util

        from hpogrid.search._random_start import RandomStart

        if importlib.util.find_spec(self.library.split(".")[0]) is None:
            raise self._missing("not installed")
        params = dict(params)
        points = params.pop("points_to_evaluate", None)
        check_params(cls, self.name, ours, {k: v for k, v in params.items() if k not in extra},
                     also=("points_to_evaluate",) + extra)
        if points is not None and not (isinstance(points, list) and all(isinstance(p, dict) for p in points)):
            raise ValidationError("hpo_config.algorithm_param.points_to_evaluate", "must be a list of objects")
        wanted = {k: v for k, v in params.items() if k not in extra}
        return RandomStart(codec, metric, seed, length, lambda: construct(cls, self.name, ours, wanted), points,
                           objectives=ours.get("objectives"))

    @abstractmethod
    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any],
             shape: Optional[RunShape] = None) -> Any:
        """Construct the library's searcher."""


def check_known(params: Dict[str, Any], algorithm: str, several: bool = False) -> None:
    """``algorithm_param`` keys against what hpogrid documents for ``algorithm`` (the same
    check as when the hpo_config is written; a config file edited by hand meets it here)."""
    from hpogrid.search.names import algorithm_param_problem

    problem = algorithm_param_problem(algorithm, params, several)
    if problem:
        raise ValidationError(f"hpo_config.algorithm_param.{problem[0]}", problem[1].removeprefix("is "))


def check_params(cls: Any, owner: str, ours: Dict[str, Any], user: Dict[str, Any],
                 field: str = "hpo_config.algorithm_param", also: Tuple[str, ...] = ()) -> None:
    """Check ``user`` keys (from ``field``) against ``cls``'s signature (``also``: further
    keys that are allowed): one line naming the key and what is allowed."""
    sig = inspect.signature(cls)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    allowed = [n for n, p in sig.parameters.items()
               if n not in ours and n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    allowed += [n for n in also if n not in allowed]
    for key in user:
        if key in ours:
            raise ValidationError(f"{field}.{key}",
                                  f"is set by hpogrid for '{owner}' and cannot be given")
        if key not in allowed and not accepts_any:
            raise ValidationError(f"{field}.{key}",
                                  f"unknown for '{owner}'; allowed: {', '.join(allowed)}")


def construct(cls: Any, owner: str, ours: Dict[str, Any], user: Dict[str, Any],
              field: str = "hpo_config.algorithm_param") -> Any:
    """Call ``cls(**ours, **user)`` after checking ``user`` keys (from ``field``) against its signature."""
    check_params(cls, owner, ours, user, field)
    try:
        return cls(**ours, **user)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"rejected by {owner}: {exc}") from None
