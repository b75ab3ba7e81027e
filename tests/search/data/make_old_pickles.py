"""How tests/search/data/*.pkl were written: by the code before the searcher protocol (commit 89fb4df),
run as ``PYTHONPATH=<checkout of 89fb4df> python make_old_pickles.py tests/search/data``. Kept to
show what the pickles hold; test_protocol.py loads them with the current code."""
import pickle, sys
from hpogrid.search import get_adapter, constrain
from hpogrid.space import SearchSpace

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "y": {"method": "uniform", "dimension": {"low": 0, "high": 1}},
         "constraints": ["x + y <= 0.8"]}
space = SearchSpace.from_dict(SPACE)
out = sys.argv[1]
seeded, codec = get_adapter("random").build(space, "loss", "min", 3, {}, native=False)
seeded.num_samples = 10
for i in range(2):
    seeded.suggest(f"s{i}")
pickle.dump(seeded, open(f"{out}/seeded_sampler.pkl", "wb"))
outer = constrain(get_adapter("random").build(space, "loss", "min", 3, {}, native=False)[0], codec, ray=True, seed=3)
outer.num_samples = 10
for i in range(3):
    outer.suggest(f"c{i}")
pickle.dump(outer, open(f"{out}/constrained_tune_searcher.pkl", "wb"))
hyper, codec2 = get_adapter("hyperopt").build(space, "loss", "min", 3, {}, native=False)
inner = constrain(hyper, codec2, seed=3)
inner.set_search_properties("loss", "min", codec2.param_space())
for i in range(3):
    inner.suggest(f"h{i}")
from ray import cloudpickle; cloudpickle.dump(inner, open(f"{out}/constrained_ray_hyperopt.pkl", "wb"))
print(type(seeded), type(outer), type(inner), type(inner.inner))
