"""Learning curves: read from the study's per-iteration values, best highlighted, the rest visible."""
from hpogrid.report import build_report, learning_curves, read_curves
from hpogrid.report._curves import pick, points
from hpogrid.study import StudyStore


def _write(known, histories):
    store = StudyStore(known.url)
    for uid, losses in histories.items():
        store.upsert_trial(known.name, uid, intermediate=[
            {"loss": v, "training_iteration": i + 1, "time_total_s": 1.0 * i} for i, v in enumerate(losses)])
    store.close()


def test_curves_come_from_the_stored_iterations(known):
    _write(known, {"g2": [0.5, 0.3, 0.1], "l1": [0.6, 0.2], "l2": [1.0], "l3": [0.3, 0.05]})
    report = build_report(known.name)
    curves = {c.uid: c for c in read_curves(report)}
    assert set(curves) == {"g2", "l1", "l2", "l3"}  # trials without iterations have no curve
    assert curves["g2"].points == ((1.0, 0.5), (2.0, 0.3), (3.0, 0.1))
    assert curves["g2"].rank == 1 and curves["l1"].rank == 2
    assert curves["l2"].rank is None and curves["l2"].state == "FAILED"


def test_best_highlighted_and_stopped_failed_running_marked(known):
    _write(known, {"g2": [0.5, 0.3, 0.1], "l1": [0.6, 0.2], "l2": [1.0], "l3": [0.3, 0.05]})
    report = build_report(known.name)
    fig = learning_curves(report, read_curves(report), best=1)
    by_name = {}
    for trace in fig["data"]:
        by_name.setdefault(trace["name"], []).append(trace)
    best = by_name["#1: trial 5"][0]  # g2 is trial number 5
    assert best["line"]["width"] == 3 and best["y"] == [0.5, 0.3, 0.1]
    assert fig["data"][-1] is best  # drawn last: on top
    # l1 completed after 2 of the 3 iterations the longest trial ran: stopped early
    assert [t["y"] for t in by_name["stopped early"]] == [[0.6, 0.2]]
    assert [t["y"] for t in by_name["failed / interrupted"]] == [[1.0]]
    assert [t["y"] for t in by_name["running"]] == [[0.3, 0.05]]
    assert by_name["running"][0]["marker"]["symbol"] == "x"  # where it ended (so far)


def test_no_curves_no_figure(known):
    report = build_report(known.name)
    assert read_curves(report) == [] and learning_curves(report, []) is None


def test_points_skip_non_numbers_and_default_the_iteration():
    history = [{"loss": 1.0}, {"loss": None}, {"loss": "x"}, {"loss": 0.5, "training_iteration": 7}, "junk"]
    assert points(history, "loss") == ((1.0, 1.0), (7.0, 0.5))


def test_pick_keeps_best_and_every_unfinished_trial(known):
    report = build_report(known.name)
    chosen = pick(report, max_curves=4, best=2)
    ranked = report.ranked
    assert chosen[:2] == [0, 1]
    assert all(i >= ranked for i in chosen[2:])  # the room left goes to failed/running trials first
    assert len(chosen) == 4
