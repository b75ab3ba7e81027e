"""The parameter-pair plot and o2tuner's loss/feature history."""
from hpogrid.report import build_report, loss_feature_history, pairs
from hpogrid.report._plots import sample


def test_pairs_one_panel_per_pair_coloured_by_the_metric(known):
    report = build_report(known.name)
    idx, _ = sample(report)
    fig, note = pairs(report, idx)
    assert note is None
    names = [a.name for a in report.axes]  # lr, layers, act
    assert len(fig["data"]) == 3
    first = fig["data"][0]
    assert fig["layout"]["xaxis"]["title"]["text"] == names[0]
    assert fig["layout"]["yaxis"]["title"]["text"] == names[1]
    by_number = {report.trials[i].number: (report.trials[i], report.values[i]) for i in idx}
    for x, y, n, colour in zip(first["x"], first["y"], first["text"], first["marker"]["color"]):
        trial, value = by_number[int(n)]
        assert (x, y, colour) == (trial.params["lr"], trial.params["layers"], value)
    assert fig["layout"]["xaxis"]["type"] == "log"  # lr is loguniform
    assert fig["layout"]["coloraxis"]["reversescale"] is True  # loss is minimised: low = bright


def test_pairs_caps_parameters_with_a_note(known):
    report = build_report(known.name)
    idx, _ = sample(report)
    fig, note = pairs(report, idx, max_params=2)
    assert len(fig["data"]) == 1 and "first 2 of 3 parameters" in note
    assert pairs(report, idx, max_params=1) == (None, None)


def test_loss_feature_history_stacks_metric_and_each_parameter(known):
    report = build_report(known.name)
    fig = loss_feature_history(report)
    names = [t["name"] for t in fig["data"]]
    assert names == ["loss", "best so far", "lr", "layers", "act"]
    metric = fig["data"][0]
    done = sorted((t.number, v) for t, v in zip(report.trials[: report.ranked], report.values))
    assert sorted(zip(metric["x"], metric["y"])) == done
    assert fig["data"][1]["y"][-1] == min(v for _, v in done)  # best so far ends at the best
    lr = fig["data"][2]
    assert lr["yaxis"] == "y2" and fig["layout"]["xaxis2"]["matches"] == "x"  # one shared x axis
    assert fig["layout"]["xaxis4"]["title"]["text"] == "trial number"  # under the last panel only
    act = fig["data"][4]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in act["y"]  # hostile category shown as text
