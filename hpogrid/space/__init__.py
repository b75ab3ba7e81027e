"""The search-space grammar: parse, validate, sample and reduce to latent dimensions.

``SearchSpace.from_json(text)`` reads ``{"NAME": {"method": M, "dimension": {...}}}`` with
``M`` one of :data:`METHODS`, and optionally ``"constraints": ["x + y <= 1", ...]`` beside the
parameters (:class:`Constraint`). Every :class:`Param` samples with fixed reference semantics and
reduces to one of four :class:`Latent` primitives plus a deterministic ``decode``, which is
all a search-library adapter has to translate. Imports only numpy and the stdlib.
``parse_param("lr=loguniform:1e-5:1e-1")`` reads the short grammar of ``hpogrid optimize``, and
``loguniform(1e-5, 1e-1)`` ... build the same JSON parameters in Python.
"""
from hpogrid.space._conditions import holds
from hpogrid.space._constraints import Constraint
from hpogrid.space._latent import Latent, LatentChoice, LatentInt, LatentNormal, LatentUniform
from hpogrid.space._params import (
    METHODS,
    PARAM_TYPES,
    Categorical,
    Fixed,
    LogNormal,
    LogUniform,
    Normal,
    Param,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Uniform,
    UniformInt,
    param_type,
)
from hpogrid.space._space import SearchSpace
from hpogrid.space._spec import (
    FORMS,
    choice,
    fixed,
    loguniform,
    lognormal,
    normal,
    parse_param,
    parse_spec,
    qloguniform,
    qlognormal,
    qnormal,
    quniform,
    space_from,
    uniform,
    uniformint,
)

__all__ = [
    "METHODS", "PARAM_TYPES", "SearchSpace", "Param", "param_type",
    "Categorical", "Uniform", "UniformInt", "QUniform", "LogUniform", "QLogUniform",
    "Normal", "QNormal", "LogNormal", "QLogNormal", "Fixed",
    "Latent", "LatentChoice", "LatentUniform", "LatentInt", "LatentNormal", "Constraint", "holds",
    # the short grammar (hpogrid optimize --param NAME=SPEC) and its Python helpers
    "FORMS", "parse_param", "parse_spec", "space_from", "uniform", "uniformint", "quniform", "loguniform",
    "qloguniform", "normal", "qnormal", "lognormal", "qlognormal", "choice", "fixed",
]
