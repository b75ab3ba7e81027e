"""A study as CSV: one row per trial that a spreadsheet opens safely, and an exact round trip.

Studies are generated (hypothesis) with what trials really hold - every state, parameters of
mixed types across trials (1, 1.0, "1", true, null, lists), inactive parameters, NaN and
infinite metrics, per-iteration values, annotations, errors and text that looks like a
formula - normalised as the store normalises them, and must come back field for field.
"""
import csv
import json
import math
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpogrid.errors import ValidationError
from hpogrid.study.records import STATES, StudyInfo, TrialRecord
from hpogrid.study.store import _check_fields
from hpogrid.study.studycsv import read_csv, write_csv
from hpogrid.study.studyfiles import read, write
from hpogrid.study.transfer import StudyDump
from hpogrid.study.values import clean_json, decode_nonfinite

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
TRICKY = st.sampled_from(["=1+1", "+x", "-y", "@SUM(A1)", "'q", "-1.5", "1", "", "a,b", 'say "hi"', "line\nbreak",
                          "\r\n", "nan", "true", "null", "[1]", " pad "])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | TRICKY
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                       max_leaves=6)
KEYS = st.sampled_from(["lr", "act", "=evil", "a.b", "", "x y"]) | TEXT
TIMES = st.datetimes(timezones=st.just(timezone.utc))
SHORT = st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=20) | TRICKY


@st.composite
def studies(draw):
    n = draw(st.integers(0, 6))
    uids = draw(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20) | TRICKY
                         .filter(bool), min_size=n, max_size=n, unique=True))
    numbers = draw(st.lists(st.integers(0, 10 ** 6), min_size=n, max_size=n, unique=True))
    trials = []
    for uid, number in zip(uids, sorted(numbers)):
        raw = {"state": draw(st.sampled_from(STATES)), "params": draw(st.dictionaries(KEYS, JSONISH, max_size=4)),
               "metrics": draw(st.dictionaries(KEYS, JSONISH, max_size=4)),
               "value": draw(st.none() | st.floats(allow_nan=False, allow_infinity=False)),
               "intermediate": draw(st.lists(st.dictionaries(KEYS, JSONISH, max_size=2), max_size=3)),
               "annotations": draw(st.dictionaries(KEYS, JSONISH, max_size=2)), "error": draw(SHORT),
               "created_at": draw(TIMES)}
        for key in ("backend", "host", "job_id", "task_id", "site"):
            raw[key] = draw(SHORT)
        for key in ("started_at", "finished_at", "heartbeat_at"):
            raw[key] = draw(st.none() | TIMES)
        fields = _check_fields(raw)  # what the store would keep, and hand back
        fields["metrics"], fields["intermediate"] = (decode_nonfinite(fields["metrics"]),
                                                     decode_nonfinite(fields["intermediate"]))
        trials.append(TrialRecord(study="s", uid=uid, number=number, **fields))
    info = StudyInfo(id=0, name="s", metric=draw(KEYS.filter(bool)), mode=draw(st.sampled_from(["min", "max"])),
                     attrs=clean_json(draw(st.dictionaries(TEXT, JSONISH, max_size=3))), created_at=draw(st.none() | TIMES))
    return StudyDump(info, tuple(trials))


def canonical(dump):
    """The dump as comparable text (NaN == NaN; dict key order aside)."""
    return json.dumps([[dump.info.name, dump.info.metric, dump.info.mode, dump.info.attrs, str(dump.info.created_at)],
                       [[t.uid, t.number, str(t.state), t.params, t.metrics, t.value, t.intermediate, t.error,
                         t.backend, t.host, t.job_id, t.task_id, t.site, t.annotations,
                         *(str(getattr(t, k)) for k in ("created_at", "started_at", "finished_at", "heartbeat_at"))]
                        for t in dump.trials]], sort_keys=True, default=str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(studies())
def test_csv_round_trip_is_exact(dump):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv(dump, Path(tmp) / "s.csv")
        back = read(path)
        assert canonical(back) == canonical(dump)
        # a trial's params and metrics keep their types: 1, 1.0, "1" and true stay apart
        for a, b in zip(dump.trials, back.trials):
            assert {k: type(v) for k, v in a.params.items()} == {k: type(v) for k, v in b.params.items()}
            assert {k: type(v) for k, v in a.metrics.items()} == {k: type(v) for k, v in b.metrics.items()}
        # writing what was read gives the same bytes; no cell starts a formula
        assert write_csv(back, Path(tmp) / "again.csv").read_bytes() == path.read_bytes()
        with open(path, newline="", encoding="utf-8") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        for cell in cells:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or float(cell) == float(cell) or math.isnan(float(cell))


def sample():
    t = TrialRecord(study="s", uid="t-1", number=0, state="COMPLETED", params={"lr": 0.1, "act": "=cmd|' /C calc'!A0"},
                    metrics={"loss": 0.5}, value=0.5, intermediate=[{"loss": 0.7}, {"loss": 0.5}],
                    created_at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    u = TrialRecord(study="s", uid="t-2", number=1, state="FAILED", params={"lr": 1}, metrics={}, error="boom",
                    created_at=t.created_at)
    return StudyDump(StudyInfo(id=0, name="s", metric="loss", mode="min", attrs={"k": 1}, created_at=t.created_at),
                     (t, u))


def test_spreadsheet_layout(tmp_path):
    path = write(sample(), tmp_path / "s.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        header, names, first, second = list(csv.reader(fh))
    assert len(header) == 1 and header[0].startswith("# {")
    assert json.loads(header[0][2:])["columns"]["param.lr"] == "json"  # 0.1 and 1: float and int
    row = dict(zip(names, first))
    assert names[:4] == ["uid", "number", "state", "value"] and row["metric.loss"] == "0.5"
    assert row["param.act"] == "'=cmd|' /C calc'!A0" and row["param.lr"] == "0.1"
    assert dict(zip(names, second))["metric.loss"] == ""  # a metric the trial does not have
    assert read(path).trials[0].params["act"] == "=cmd|' /C calc'!A0"


def test_a_byte_order_mark_is_skipped(tmp_path):
    """Spreadsheets save UTF-8 CSV with a byte-order mark in front."""
    path = write(sample(), tmp_path / "s.csv")
    marked = tmp_path / "bom.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert canonical(read(marked)) == canonical(sample())


def test_format_by_suffix_or_name(tmp_path):
    assert (write(sample(), tmp_path / "s.csv").read_text()[0]) == '"'
    assert (write(sample(), tmp_path / "s.jsonl").read_text()[0]) == "{"
    assert (write(sample(), tmp_path / "s.txt", "csv").read_text()[0]) == '"'
    assert canonical(read(tmp_path / "s.txt")) == canonical(read(tmp_path / "s.jsonl"))
    with pytest.raises(ValidationError, match="--format: expected one of jsonl, csv"):
        write(sample(), tmp_path / "x", "xls")


def test_malformed_csv_names_line_and_column(tmp_path):
    good = write(sample(), tmp_path / "g.csv").read_text().splitlines()
    head = json.loads(list(csv.reader([good[0]]))[0][0][2:])

    def header(**change):
        return _csv_line(["# " + json.dumps({**head, **change})])

    cases = [
        ([good[0], good[1], good[2].replace(",COMPLETED,", ",DONE,")], "line 3: state", "expected one of"),
        ([good[0], good[1], good[2].replace(",0,", ",zero,", 1)], "line 3: number", "expected a int value"),
        ([good[0], good[1], good[2] + ",extra"], "line 3", "expected 19 cells"),
        ([good[0], good[1].replace("param.lr", "param.rate")], "line 2: column 5", "expected 'param.lr'"),
        ([good[0], good[1], good[2], good[2]], "line 4: uid", "already on line 3"),
        (["uid,number", *good[1:]], "line 1", "JSON header"),
        ([header(columns={**head["columns"], "colour": "str"}), *good[1:]], "line 1: columns: colour", "unknown column"),
        ([header(columns={**head["columns"], "param.lr": "decimal"}), *good[1:]], "line 1: columns: param.lr",
         "expected a type"),
        ([good[0], good[1], good[2].replace('"[{', '"[{{', 1)], "line 3: intermediate", "not JSON"),
        ([good[0], good[1], good[2] + '"'], "line 3", "not CSV"),
        ([good[0]], "line 2", "missing the row of column names"),
    ]
    for lines, where, what in cases:
        path = tmp_path / "bad.csv"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValidationError) as err:
            read(path)
        assert where in str(err.value) and what in str(err.value), (where, str(err.value))
        assert "\n" not in str(err.value)


def _csv_line(cells):
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()
