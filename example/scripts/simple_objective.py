"""Example 1: a simple objective function to minimise.

loss = (height - 14)**2 - abs(width - 3), with -100 < height < 100 and 0 < width < 20.
hpogrid calls ``simple_objective(config)`` once per trial; returning a dict of metrics is
enough (per-iteration reporting with ``ray.tune.report`` works too).
"""


def simple_objective(config):
    height, width = config["height"], config["width"]
    return {"loss": (height - 14) ** 2 - abs(width - 3)}
