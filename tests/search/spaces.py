"""Search spaces used across the search tests: every grammar method at least once."""
ALL_METHODS = {
    "cat": {"method": "categorical", "dimension": {"categories": ["relu", 3, None, [1, 2]]}},
    "uni": {"method": "uniform", "dimension": {"low": -2.5, "high": 4}},
    "int": {"method": "uniformint", "dimension": {"low": 3, "high": 10}},
    "qu": {"method": "quniform", "dimension": {"low": 0, "high": 100, "q": 5}},
    "lu": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1e-2, "base": 10}},
    "qlu": {"method": "qloguniform", "dimension": {"low": 1, "high": 1024, "q": 1, "base": 2}},
    "nor": {"method": "normal", "dimension": {"mu": 1.0, "sigma": 2.0}},
    "qn": {"method": "qnormal", "dimension": {"mu": 0, "sigma": 1, "q": 0.5}},
    "ln": {"method": "lognormal", "dimension": {"mu": -1, "sigma": 0.5, "base": 10}},
    "qln": {"method": "qlognormal", "dimension": {"mu": 2, "sigma": 0.5, "q": 1}},
}
