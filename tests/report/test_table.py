"""Terminal table, summary line, CSV and JSON content against the known study."""
import csv
import io
import json
import math

import pytest

from hpogrid.errors import ValidationError
from hpogrid.report import build_report, fit, output_base, records, summary, table, to_csv, to_json

COLUMNS = ["rank", "number", "uid", "state", "param.lr", "param.layers", "param.act", "metric.loss",
           "metric.accuracy", "backend", "site", "host", "job_id", "task_id", "taskname", "created_at",
           "started_at", "finished_at", "time_s", "task_time_s", "error"]


def test_summary_line(known):
    report = build_report(known.name)
    assert summary(report) == ("Study 'rp': 8 trials: 6 completed, 1 failed, 1 running; best loss (min) 0.1 "
                               "in trial 5: lr=0.003, layers=2, act=tanh")
    from hpogrid.report import Filters

    some = build_report(known.name, filters=Filters(taskname="*alpha"))
    assert summary(some).startswith("Study 'rp': 2 of 8 trials (--taskname '*alpha'): 2 completed, 0 failed, "
                                    "0 running; best loss (min) 0.3 in trial 3:")


def test_table_top_and_columns(known):
    report = build_report(known.name)
    headers, rows = table(report, top=2)
    assert headers == ["trial", "state", "loss", "lr", "layers", "act"]
    assert rows == [[5, "COMPLETED", 0.1, 0.003, 2, "tanh"], [1, "COMPLETED", 0.2, 0.001, 3, "tanh"]]
    headers, rows = table(report, columns=["accuracy", "lr", "time_s"], top=1)
    assert headers == ["trial", "state", "loss", "accuracy", "lr", "time_s"]
    assert rows == [[5, "COMPLETED", 0.1, 0.95, 0.003, 40.0]]
    with pytest.raises(ValidationError) as err:
        table(report, columns=["nope"])
    assert str(err.value) == ("--columns: unknown column 'nope'; allowed: lr, layers, act, loss, accuracy, "
                              "site, task_time_s, time_s, taskid, jobid")


def test_fit_drops_trailing_columns():
    headers = ["trial", "state", "loss", "a" * 30, "b", "c"]
    rows = [[1, "COMPLETED", 0.5, 1.0, 2.0, 3.0]]
    h, r, hidden = fit(headers, rows, width=52)
    assert h == ["trial", "state", "loss", "a" * 30] and hidden == ["b", "c"] and r == [rows[0][:4]]
    assert fit(headers, rows, width=500)[2] == []
    assert fit(headers, rows, width=1)[0] == headers[:3]


def test_csv_content(known):
    report = build_report(known.name)
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert rows[0] == COLUMNS
    assert [r[1] for r in rows[1:]] == ["5", "1", "3", "7", "0", "4", "6", "2"]
    first = dict(zip(COLUMNS, rows[1]))
    assert first["rank"] == "1" and first["uid"] == "g2" and first["param.lr"] == "0.003"
    assert first["metric.loss"] == "0.1" and first["task_id"] == "10000002" and first["site"] == "BNL"
    assert first["taskname"] == "user.me.hpo.beta" and first["backend"] == "panda"
    assert first["time_s"] == "40.0" and first["task_time_s"] == "40.0"
    assert first["started_at"] == (known.now - __import__("datetime").timedelta(hours=120)).isoformat()
    failed = dict(zip(COLUMNS, rows[-1]))
    assert failed["rank"] == "" and failed["state"] == "FAILED" and failed["metric.loss"] == ""
    assert failed["error"].startswith("Traceback (most recent call last):\nValueError: boom")
    running = dict(zip(COLUMNS, rows[-2]))
    assert running["rank"] == "" and running["finished_at"] == "" and running["metric.loss"] == "0.05"


def test_json_records_keep_types(known):
    report = build_report(known.name)
    data = json.loads(to_json(report))
    assert isinstance(data, list) and len(data) == 8 and list(data[0]) == COLUMNS + ["artifacts"]
    first = data[0]
    assert first["artifacts"] == []  # the files a trial kept (hpogrid.trial.save_artifact): none here
    assert first["rank"] == 1 and first["number"] == 5 and first["param.layers"] == 2
    assert first["param.lr"] == 0.003 and first["metric.loss"] == 0.1 and first["metric.accuracy"] == 0.95
    assert first["time_s"] == 40.0 and first["task_time_s"] == 40.0 and first["task_id"] == "10000002"
    assert data[2]["task_time_s"] == 3650.0
    assert [d["rank"] for d in data] == [1, 2, 3, 4, 5, 6, None, None]
    assert data == [json.loads(json.dumps(r)) for r in records(report)]


def test_json_nonfinite_and_nested_values(known):
    from hpogrid.study import StudyStore

    store = StudyStore(known.url)
    store.upsert_trial(known.name, "odd", state="COMPLETED", params={"lr": 0.001, "layers": 1, "act": "relu",
                                                                      "extra": [1, 2]},
                       metrics={"loss": 0.7, "accuracy": math.nan, "sub": {"x": 1}})
    store.close()
    report = build_report(known.name)
    row = next(d for d in json.loads(to_json(report)) if d["uid"] == "odd")
    assert row["metric.accuracy"] is None and row["metric.sub.x"] == 1 and row["param.extra"] == [1, 2]
    line = next(r for r in csv.DictReader(io.StringIO(to_csv(report))) if r["uid"] == "odd")
    assert line["param.extra"] == "[1, 2]" and line["metric.accuracy"] == "nan"


def test_outname_validation(tmp_path):
    assert output_base("a.v2", str(tmp_path)) == tmp_path / "a.v2"
    rule = "use 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
    (tmp_path / "file").write_text("")
    cases = {(name, str(tmp_path)): f"--outname: invalid name {name!r}: {rule}"
             for name in ("a\x00b", "../x", "a/b", "-x", ".x", "dir/", "", str(tmp_path / "abs"))}
    cases[("x", str(tmp_path / "missing"))] = f"--outdir: '{tmp_path / 'missing'}' does not exist (create it first)"
    cases[("x", str(tmp_path / "file"))] = f"--outdir: '{tmp_path / 'file'}' is not a folder (create it first)"
    for (outname, outdir), message in cases.items():
        with pytest.raises(ValidationError) as err:
            output_base(outname, outdir)
        assert str(err.value) == message
