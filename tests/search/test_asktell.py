"""The ask/tell layer every non-Ray backend drives."""
from hpogrid.search import FINISHED, AskTell, Suggestion, get_adapter
from hpogrid.space import SearchSpace

UNI = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def test_seeded_sampler_enumerates_the_grid_and_is_seeded():
    space = SearchSpace.from_dict({"b": {"method": "categorical", "dimension": {"categories": ["p", "q", "r"],
                                                                                "grid_search": 1}}, **UNI})

    def draw(seed):
        searcher, codec = get_adapter("tune").build(space, "loss", "min", seed, {})
        searcher.num_samples = 2
        asker = AskTell(searcher, codec, "loss", "min")
        out = []
        while isinstance(answer := asker.ask(f"t{len(out)}"), Suggestion):
            out.append(codec.decode(answer.config))
            asker.tell(answer.uid, {"loss": 1.0}, ok=True)
        assert answer is FINISHED
        return out

    first = draw(5)
    assert [v["b"] for v in first] == ["p", "q", "r", "p", "q", "r"]
    assert first == draw(5) and first != draw(6)
    assert all(0 <= v["x"] <= 1 for v in first)
