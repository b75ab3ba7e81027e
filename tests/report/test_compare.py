"""``hpogrid report PROJECT --study a,b``: several studies side by side, through the CLI.

One summary row per study in the terminal, JSON with each study's best and trials, one CSV
with a ``study`` column, and an HTML page whose figures overlay the studies in their own
colours (best so far, parameter distributions, Pareto fronts for several objectives).
"""
import csv
import html
import io
import json
import re

from tests.report.helpers import MO_CONSTRAINTS, MO_ROWS, TRIALS, mo_project, write_mo_study, write_trials

# a second study of project rp: 3 trials, best loss 0.15 in its trial 1; one parameter is a formula
B_TRIALS = [
    ("b0", "COMPLETED", {"lr": 0.02, "layers": 1, "act": "relu"}, {"loss": 0.6}, "local", None, None, None, -5, 10,
     None),
    ("b1", "COMPLETED", {"lr": 0.005, "layers": 4, "act": "=1+cmd"}, {"loss": 0.15}, "local", None, None, None, -4,
     10, None),
    ("b2", "FAILED", {"lr": 0.09, "layers": 2, "act": "tanh"}, {}, "local", None, None, None, -3, 1, "boom"),
]


def _figures(page):
    blob = re.search(r'<script type="application/json" id="hpogrid-figures">(.*?)</script>', page, re.S).group(1)
    return json.loads(blob)


def test_terminal_shows_one_row_per_study(known, report_cli):
    write_trials(known.url, "rp_b", known.now, B_TRIALS)
    r = report_cli(known.name, "--study", "rp,rp_b", "--no-sync")
    assert r.exit_code == 0, r.output
    head, _, first, second = r.output.splitlines()
    assert head.split()[:8] == ["study", "trials", "completed", "failed", "running", "best", "loss", "(min)"]
    assert first.split()[:8] == ["rp", "8", "6", "1", "1", "0.1", "5", "lr=0.003,"]
    assert second.split()[:7] == ["rp_b", "3", "2", "1", "0", "0.15", "1"]
    # the same rows, sorted by another metric in the direction given
    r = report_cli(known.name, "--study", "rp_b,rp", "--metric", "loss", "--mode", "max", "--no-sync")
    assert [ln.split()[5] for ln in r.output.splitlines()[2:]] == ["0.6", "0.9"]


def test_files_overlay_the_studies(known, report_cli, tmp_path):
    write_trials(known.url, "rp_b", known.now, B_TRIALS)
    r = report_cli(known.name, "--study", "rp,rp_b", "--to_json", "--to_csv", "--to_html", "--outdir", tmp_path,
                   "--outname", "cmp", "--no-sync")
    assert r.exit_code == 0, r.output
    assert [ln for ln in r.output.splitlines() if ln.startswith("Wrote")] == [
        f"Wrote {tmp_path}/cmp.csv", f"Wrote {tmp_path}/cmp.json", f"Wrote {tmp_path}/cmp.html"]
    data = json.loads((tmp_path / "cmp.json").read_text())
    assert (data["metric"], data["mode"]) == ("loss", "min")
    assert [(s["study"], s["best"]["number"], s["best"]["value"]) for s in data["studies"]] == [
        ("rp", 5, 0.1), ("rp_b", 1, 0.15)]
    assert [len(s["trials"]) for s in data["studies"]] == [len(TRIALS), 3]
    assert data["studies"][1]["counts"]["FAILED"] == 1
    rows = list(csv.DictReader(io.StringIO((tmp_path / "cmp.csv").read_text())))
    assert [r["study"] for r in rows] == ["rp"] * len(TRIALS) + ["rp_b"] * 3
    assert [r["param.act"] for r in rows if r["study"] == "rp_b"] == ["'=1+cmd", "relu", "tanh"]
    page = (tmp_path / "cmp.html").read_text()
    figs = _figures(page)
    assert set(figs) == {"best", "params"}
    lines = [t for t in figs["best"]["data"] if t["mode"] == "lines"]
    assert [t["name"] for t in lines] == ["rp", "rp_b"] and lines[0]["line"]["color"] != lines[1]["line"]["color"]
    assert lines[1]["y"] == [0.6, 0.15, 0.15]  # best so far of rp_b: trial 0, then trial 1
    hist = [t for t in figs["params"]["data"] if t["xaxis"] == "x3"]  # act, a categorical
    assert [sorted(t["x"]) for t in hist] == [sorted(["relu", "tanh", "tanh", "relu", "tanh", "&lt;script&gt;"
                                                      "alert(1)&lt;/script&gt;"]), ["=1+cmd", "relu"]]
    table = re.search(r'<table id="studies">(.*?)</table>', page, re.S).group(1)
    assert [html.unescape(c) for c in re.findall(r"<td>([^<]*)</td>", table)][:3] == ["rp", "8", "6"]


def test_several_objectives_overlay_the_pareto_fronts(tmp_path, report_cli):
    from hpogrid import paths
    from hpogrid.objectives import Objectives
    from hpogrid.study import sqlite_url

    name = mo_project(tmp_path)
    other = [("z", "COMPLETED", {"loss": 0.1, "acc": 0.8, "latency": 1}), *MO_ROWS[:3]]
    write_mo_study(sqlite_url(paths.study_db(name)), "mo_b", Objectives.parse(["loss", "acc"], ["min", "max"],
                                                                              MO_CONSTRAINTS), other)
    r = report_cli(name, "--study", "mo,mo_b", "--to_html", "--outdir", tmp_path, "--no-sync")
    assert r.exit_code == 0, r.output
    rows = [ln.split() for ln in r.output.splitlines()[2:4]]
    assert r.output.splitlines()[0].split()[5:7] == ["pareto", "front"]
    assert [(row[0], row[5]) for row in rows] == [("mo", "4"), ("mo_b", "2")]  # mo_b: z and b
    fronts = _figures((tmp_path / "hpo_result.html").read_text())["fronts"]["data"]
    points = {t["name"]: sorted(t["customdata"]) for t in fronts if t["mode"] == "markers"}
    assert points == {"mo": [0, 1, 4, 7], "mo_b": [0, 2]}
    assert len([t for t in fronts if t["mode"] == "lines"]) == 2


def test_refusals_are_one_line(known, report_cli, tmp_path):
    from hpogrid.objectives import Objectives
    from hpogrid.study import StudyStore

    store = StudyStore(known.url)
    two = Objectives.parse(["accuracy", "loss"], ["max", "min"])
    store.create_study("acc_study", metric="accuracy", mode="max", attrs=two.to_attrs())
    store.upsert_trial("acc_study", "a", state="COMPLETED", metrics={"accuracy": 0.5, "loss": 0.7})
    store.close()

    def error(*args):
        r = report_cli(known.name, *args, "--no-sync")
        assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output
        return r.output

    assert ("optimises loss (min), study 'acc_study' accuracy (max), loss (min): compare them by one metric "
            "with --metric M") in error("--study", "rp,acc_study")
    assert "--to_pcp draws one study" in error("--study", "rp,acc_study", "--to_pcp")
    assert "--extra, --columns and --artifacts show one study" in error("--study", "rp,acc_study", "--extra", "site")
    assert "'nope'" in error("--study", "rp,nope")
    assert "compare 2 to 10 studies" in error("--study", ",".join(f"s{i}" for i in range(11)))
    r = report_cli(known.name, "--study", "rp,acc_study", "--metric", "loss", "--no-sync")
    assert r.exit_code == 0 and r.output.splitlines()[3].split()[:6] == ["acc_study", "1", "1", "0", "0", "0.7"]
    assert not list(tmp_path.glob("*.html"))
