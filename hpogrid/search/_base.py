"""The searcher adapter contract: check a space, encode it, build a Ray Tune searcher."""
import importlib
import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Dict, Optional, Tuple, Type

from hpogrid.errors import MissingDependencyError, UnsupportedSpaceError, ValidationError
from hpogrid.search._codec import NO_NORMAL, Codec, Encoding
from hpogrid.space import SearchSpace


class SearcherAdapter(ABC):
    """One HPO algorithm. Subclasses set ``name``/``library`` and implement :meth:`make`.

    ``algorithm_param`` (hpo_config) goes to the library's constructor; unknown keys are a
    one-line error listing what the library accepts.
    """

    name: ClassVar[str]
    #: module that must be importable (a missing one is a clear error, not a vanished adapter)
    library: ClassVar[str]
    #: how latent dimensions are shown to the library (see :mod:`hpogrid.search._codec`)
    encodings: ClassVar[Tuple[Type[Encoding], ...]] = NO_NORMAL
    #: whether ``grid_search`` categoricals are enumerated (only the basic variant generator)
    honours_grid: ClassVar[bool] = False
    summary: ClassVar[str] = ""

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
              params: Dict[str, Any], native: bool = False) -> Tuple[Any, Codec]:
        """(searcher, codec) for this space: a Ray Tune ``Searcher``, or with ``native`` the
        library's own ask/tell where hpogrid has one (no Ray import; :meth:`make_native`)."""
        self.check(space)
        codec = self.codec(space)
        if native:
            searcher = self.make_native(codec, metric, mode, seed, dict(params))
            if searcher is not None:
                return searcher, codec
        try:
            importlib.import_module(self.library)
        except ImportError as exc:
            raise MissingDependencyError(
                f"algorithm '{self.name}' needs the Python package '{self.library}' ({exc}); "
                "re-run setupenv.sh") from None
        return self.make(codec, metric, mode, seed, dict(params)), codec

    def make_native(self, codec: Codec, metric: str, mode: str, seed: Optional[int],
                    params: Dict[str, Any]) -> Any:
        """The library driven by its own ask/tell, without Ray (None: only through Ray's searcher)."""
        return None

    @abstractmethod
    def make(self, codec: Codec, metric: str, mode: str, seed: Optional[int], params: Dict[str, Any]) -> Any:
        """Construct the library's searcher."""


def construct(cls: Any, owner: str, ours: Dict[str, Any], user: Dict[str, Any],
              field: str = "hpo_config.algorithm_param") -> Any:
    """Call ``cls(**ours, **user)`` after checking ``user`` keys (from ``field``) against its signature."""
    sig = inspect.signature(cls)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    allowed = [n for n, p in sig.parameters.items()
               if n not in ours and n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for key in user:
        if key in ours:
            raise ValidationError(f"{field}.{key}",
                                  f"is set by hpogrid for '{owner}' and cannot be given")
        if key not in allowed and not accepts_any:
            raise ValidationError(f"{field}.{key}",
                                  f"unknown for '{owner}'; allowed: {', '.join(allowed)}")
    try:
        return cls(**ours, **user)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"rejected by {owner}: {exc}") from None
