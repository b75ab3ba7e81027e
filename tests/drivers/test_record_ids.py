"""Driver ids sort by start: ``hpogrid status`` lists drivers newest first by id."""
from hpogrid.drivers import _record


def test_two_drivers_of_one_second_sort_by_start(monkeypatch):
    ids = []
    for now in (1_800_000_000.900, 1_800_000_000.901, 1_800_000_001.002):
        monkeypatch.setattr(_record.time, "time", lambda now=now: now)
        ids.append(_record.new_id())
    assert sorted(ids) == ids and len(set(ids)) == 3
