"""Every method samples its reference distribution, directly and through latent + decode.

Continuous methods: Kolmogorov-Smirnov against the theoretical CDF. Discrete methods (q grids,
integers, categories): chi-square against exact bin probabilities. Fixed seeds keep it
deterministic; p > 0.001 is the bar.
"""
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from hpogrid.space import SearchSpace
from hpogrid.space._check import json_key

N = 20_000
ALPHA = 1e-3
PATHS = ["sample", "latent"]
LN10 = math.log(10)


def param(method, **dimension):
    return SearchSpace.from_dict({"p": {"method": method, "dimension": dimension}})["p"]


def draws(p, path, seed=12345):
    rng = np.random.default_rng(seed if path == "sample" else seed + 1)
    if path == "sample":
        return [p.sample(rng) for _ in range(N)]
    latent = p.latent()
    return [p.decode(latent.sample(rng)) for _ in range(N)]


def chi2_pvalue(keys, probs):
    """Chi-square of observed keys against ``probs``; bins expecting < 5 are pooled."""
    counts = Counter(keys)
    outside = set(counts) - set(probs)
    assert not outside, f"values outside the support: {sorted(outside)[:5]}"
    big = [k for k in probs if probs[k] * N >= 5]
    observed = [counts[k] for k in big]
    expected = [probs[k] * N for k in big]
    rest_obs, rest_exp = N - sum(observed), N - sum(expected)
    if rest_exp >= 5:
        observed.append(rest_obs)
        expected.append(rest_exp)
    else:
        observed[-1] += rest_obs
        expected[-1] += rest_exp
    return stats.chisquare(observed, expected).pvalue


def grid_probs(cdf, lo, hi, q, k_range):
    """P(round(X / q) == k) for X with ``cdf`` supported on [lo, hi]."""
    return {k: cdf(min(hi, (k + 0.5) * q)) - cdf(max(lo, (k - 0.5) * q)) for k in k_range}


CONTINUOUS = [
    # (method, dimension, theoretical distribution)
    ("uniform", dict(low=-100, high=100), stats.uniform(-100, 200)),
    ("uniform", dict(low=0.5, high=1.0), stats.uniform(0.5, 0.5)),
    ("loguniform", dict(low=1e-5, high=1e-2, base=10), stats.loguniform(1e-5, 1e-2)),
    ("loguniform", dict(low=0.1, high=10), stats.loguniform(0.1, 10)),
    ("normal", dict(mu=1, sigma=2), stats.norm(1, 2)),
    ("lognormal", dict(mu=0.5, sigma=0.8), stats.lognorm(s=0.8, scale=math.exp(0.5))),
    ("lognormal", dict(mu=-2, sigma=0.5, base=10), stats.lognorm(s=0.5 * LN10, scale=1e-2)),
    ("lognormal", dict(mu=3, sigma=1, base=2), stats.lognorm(s=math.log(2), scale=8)),
    # base < 1 flips the sign of the exponent: 0.5 ** N(1, 1) = exp(N(-ln 2, ln 2))
    ("lognormal", dict(mu=1, sigma=1, base=0.5), stats.lognorm(s=math.log(2), scale=0.5)),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method,dimension,dist", CONTINUOUS)
def test_continuous_methods_follow_their_distribution(method, dimension, dist, path):
    p = param(method, **dimension)
    values = draws(p, path)
    assert all(type(v) is float and p.contains(v) for v in values)
    assert stats.kstest(values, dist.cdf).pvalue > ALPHA


def q_cases():
    u = stats.uniform
    lu = stats.loguniform
    yield "quniform", dict(low=0, high=100, q=5), u(0, 100).cdf, (0, 100), range(0, 21)
    yield "quniform", dict(low=0, high=1, q=0.1), u(0, 1).cdf, (0, 1), range(0, 11)
    yield "quniform", dict(low=-3.3, high=7.9, q=0.5), u(-3.3, 11.2).cdf, (-3.3, 7.9), range(-7, 17)
    yield "qloguniform", dict(low=1, high=1000, q=1), lu(1, 1000).cdf, (1, 1000), range(1, 1001)
    yield ("qloguniform", dict(low=1e-3, high=1, q=1e-3, base=10), lu(1e-3, 1).cdf, (1e-3, 1),
           range(1, 1001))
    # low < q / 2: 0 is a legitimate value (reference semantics, as in hyperopt)
    yield "qloguniform", dict(low=1e-4, high=0.1, q=0.01), lu(1e-4, 0.1).cdf, (1e-4, 0.1), range(11)
    yield "qnormal", dict(mu=0, sigma=3, q=0.5), stats.norm(0, 3).cdf, (-math.inf, math.inf), \
        range(-50, 51)
    yield "qnormal", dict(mu=10, sigma=4, q=1), stats.norm(10, 4).cdf, (-math.inf, math.inf), \
        range(-25, 46)
    yield "qlognormal", dict(mu=1, sigma=0.5, q=1), stats.lognorm(s=0.5, scale=math.e).cdf, \
        (0, math.inf), range(0, 60)
    yield ("qlognormal", dict(mu=-1, sigma=0.4, q=0.01, base=10),
           stats.lognorm(s=0.4 * LN10, scale=0.1).cdf, (0, math.inf), range(0, 2000))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method,dimension,cdf,support,k_range", list(q_cases()))
def test_q_methods_follow_their_grid_distribution(method, dimension, cdf, support, k_range, path):
    p = param(method, **dimension)
    q = dimension["q"]
    values = draws(p, path)
    assert all(p.contains(v) for v in values)
    if isinstance(q, int):
        assert all(type(v) is int and v % q == 0 for v in values)
    else:
        decimals = len(repr(q).split(".")[1]) if "e" not in repr(q) else -int(repr(q).split("e")[1])
        assert all(type(v) is float and v == round(v, decimals) for v in values)
    keys = [round(v / q) for v in values]
    assert all(abs(v - k * q) <= 1e-9 * max(1, abs(v)) for v, k in zip(values, keys))
    assert chi2_pvalue(keys, grid_probs(cdf, *support, q, k_range)) > ALPHA


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("low,high", [(3, 10), (-2, 2), (0, 1)])
def test_uniformint_is_uniform_on_the_inclusive_range(low, high, path):
    p = param("uniformint", low=low, high=high)
    values = draws(p, path)
    assert all(type(v) is int and p.contains(v) for v in values)
    assert set(values) == set(range(low, high + 1))  # both ends, unlike Ray's randint
    probs = {k: 1 / (high - low + 1) for k in range(low, high + 1)}
    assert chi2_pvalue(values, probs) > ALPHA


CATEGORIES = [32, 64, "relu", None, True, 1.0, 1, [1, 2], {"a": [3]}]


@pytest.mark.parametrize("path", PATHS)
def test_categorical_is_a_uniform_choice_of_the_objects_themselves(path):
    p = param("categorical", categories=CATEGORIES)
    values = draws(p, path)
    assert all(any(v is c for c in p.categories) for v in values)
    assert all(p.contains(v) for v in values)
    probs = {json_key(c): 1 / len(CATEGORIES) for c in CATEGORIES}
    assert chi2_pvalue([json_key(v) for v in values], probs) > ALPHA


@pytest.mark.parametrize("path", PATHS)
def test_fixed_always_gives_its_value(path):
    p = param("fixed", value={"layers": [64, 32]})
    assert all(v is p.value for v in draws(p, path)[:1000])
    assert p.contains({"layers": [64, 32]}) and not p.contains({"layers": [64]})


@pytest.mark.parametrize("path", PATHS)
def test_loguniform_base_10_is_uniform_in_log10(path):
    values = draws(param("loguniform", low=1e-5, high=1e-2, base=10), path)
    assert stats.kstest(np.log10(values), stats.uniform(-5, 3).cdf).pvalue > ALPHA


@pytest.mark.parametrize("path", PATHS)
def test_lognormal_base_10_has_normal_log10(path):
    # hpogrid 1.3.3 computed normal ** base instead of base ** normal
    values = draws(param("lognormal", mu=-3, sigma=0.7, base=10), path)
    assert stats.kstest(np.log10(values), stats.norm(-3, 0.7).cdf).pvalue > ALPHA


def test_quniform_is_on_the_grid_not_plain_uniform():
    # hpogrid 1.3.3 sampled quniform as a plain uniform
    values = draws(param("quniform", low=0, high=1, q=0.25), "sample")
    assert set(values) == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert set(draws(param("quniform", low=0, high=1, q=0.1), "sample")) == {
        0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}


def test_lognormal_with_exact_powers():
    p = param("lognormal", mu=0, sigma=1, base=10)
    assert p.decode(math.log(100)) == pytest.approx(100)
    assert p.decode(p.latent().mu) == 1.0


def test_contains_rejects_wrong_types_and_values_outside_the_support():
    cases = [
        (param("uniform", low=0, high=1), [0.5, 0.0, 1.0], [1, True, 1.5, -0.1, math.nan, "0.5"]),
        (param("uniformint", low=3, high=10), [3, 10, np.int64(5)], [2, 11, 5.0, True, "5"]),
        (param("quniform", low=0, high=100, q=5), [0, 5, 100], [3, 5.0, 105, -5, True]),
        (param("quniform", low=0, high=1, q=0.1), [0.3, 0.1 * 3, 1.0], [0.35, 1.1, 0, math.inf]),
        (param("loguniform", low=1e-5, high=1e-2), [1e-3, 1e-5], [0.0, 1.0, 1e-6, -1e-3, 1]),
        (param("qloguniform", low=1, high=1000, q=1), [1, 1000], [0, 1001, 1.0, 2.5]),
        (param("normal", mu=0, sigma=1), [0.0, 1e6, -3.5], [math.inf, math.nan, 1, None]),
        (param("qnormal", mu=0, sigma=1, q=0.5), [0.0, -1.5, 100.0], [0.25, 1, math.inf]),
        (param("lognormal", mu=0, sigma=1), [1.0, 1e-9], [0.0, -1.0, 1, math.inf]),
        (param("qlognormal", mu=1, sigma=0.5, q=1), [0, 3], [-1, 2.0, 2.5]),
        (param("categorical", categories=[1, "a", [2]]), [1, "a", [2]], [1.0, True, "b", [3], {}]),
        (param("fixed", value=3), [3], [3.0, True, "3", None]),
    ]
    for p, inside, outside in cases:
        assert all(p.contains(v) for v in inside), p
        assert not any(p.contains(v) for v in outside), p


def test_decode_rounds_and_clamps_library_values():
    assert param("uniformint", low=0, high=9).decode(4.0) == 4
    assert param("quniform", low=0, high=1, q=0.1).decode(0.29) == 0.3
    assert param("quniform", low=0, high=100, q=5).decode(12.6) == 15
    lu = param("loguniform", low=1e-5, high=1e-2)
    assert lu.decode(lu.latent().high) == 1e-2 and lu.decode(lu.latent().low) == 1e-5
