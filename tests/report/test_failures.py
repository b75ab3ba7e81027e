"""``hpogrid report --failures``: what failed where, from a study holding a known mixed set of
failures (two grid sites and a Slurm node, two error classes, lost attempts); the same table
in the JSON, the HTML report (and the dashboard: tests/dashboard/test_failures.py)."""
import json

from tests.report.helpers import FAILURES, make_project, write_failures

OOM_CLASS = "RuntimeError: CUDA out of memory. Tried to allocate <n> GiB (GPU <n>; <n> GiB total)"
LOST_CLASS = "pilot: Lost heartbeat after <n> s for job <n>"


def _study(tmp_path):
    from hpogrid import paths
    from hpogrid.study import sqlite_url

    name = make_project(tmp_path, "fx")
    return name, write_failures(sqlite_url(paths.study_db(name)), name)


def test_error_class_replaces_what_differs_between_occurrences():
    from hpogrid.report import error_class

    uid = "t-7f3a"
    a = error_class(f"OSError: cannot open /scratch/job_12/{uid}/ckpt.pt (inode 0x7ffde1) for trial {uid}\nmore", uid)
    b = error_class("OSError: cannot open /data/other.pt (inode 0xa1) for trial t-0001\n", "t-0001")
    assert a == b == "OSError: cannot open <path> (inode <hex>) for trial <uid>"
    assert error_class("Traceback (most recent call last):\n  File \"x.py\", line 9\nValueError: bad lr 0.3") \
        == "ValueError: bad lr <n>"  # a traceback: its exception line
    assert error_class("job 3f2a9c7e-1b2c-4d5e-8f90-a1b2c3d4e5f6 on host deadbeef42 lost") == \
        "job <uid> on host <hex> lost"
    assert error_class(None) == error_class("  \n") == "(no error text)"


def test_failures_are_grouped_by_place_and_by_error_class(tmp_path, report_cli):
    name, n = _study(tmp_path)
    r = report_cli(name, "--failures", "--no-sync", "--to_json", "--outname", "fails", "--outdir", tmp_path)
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "fails.json").read_text())
    assert (data["failed"], data["lost_attempts"]) == (4, 3)
    places = {row["where"]: (row["failed"], row["lost_attempts"], row["trials"]) for row in data["by_place"]}
    assert places == {"site ANALY_A": (2, 1, sorted([n["oom-a"], n["oom-b"], n["ok-d"]])),
                      "site ANALY_B": (1, 2, sorted([n["oom-a"], n["lost-c"], n["ok-d"]])),
                      "node node01": (1, 0, [n["oom-s"]])}
    assert [row["where"] for row in data["by_place"]][-1] == "node node01"  # most frequent first
    errors = {row["error"]: (row["failed"], row["lost_attempts"], row["trials"], sorted(row["where"]))
              for row in data["by_error"]}
    assert errors == {
        LOST_CLASS: (1, 3, sorted([n["oom-a"], n["lost-c"], n["ok-d"]]), ["site ANALY_A", "site ANALY_B"]),
        OOM_CLASS: (3, 0, sorted([n["oom-a"], n["oom-b"], n["oom-s"]]), ["node node01", "site ANALY_A"])}
    assert data["by_error"][0]["error"] == LOST_CLASS
    assert n["ok-e"] not in {t for row in data["by_place"] for t in row["trials"]}

    lines = r.output.splitlines()  # the terminal: both tables and the totals
    row = next(ln for ln in lines if ln.startswith("site ANALY_A"))
    assert row.split()[2:4] == ["2", "1"]
    assert any(ln.startswith(LOST_CLASS) and ln[len(LOST_CLASS):].split()[:2] == ["1", "3"] for ln in lines)
    assert "4 failed trials, 3 lost attempts in 6 trials of study 'fx'." in r.output
    assert f"Wrote {tmp_path / 'fails.json'}" in r.output


def test_no_failure_is_one_line_and_bad_combinations_are_refused(tmp_path, report_cli):
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    name = make_project(tmp_path, "ok")
    store = StudyStore(sqlite_url(paths.study_db(name)))
    store.get_or_create_study(name, metric="loss", mode="min")
    store.upsert_trial(name, "a", state="COMPLETED", params={"lr": 0.01, "layers": 1, "act": "relu"},
                       metrics={"loss": 1.0})
    store.close()
    r = report_cli(name, "--failures", "--no-sync")
    assert r.exit_code == 0 and r.output == "No failed trial and no lost attempt in study 'ok' (1 trials).\n"
    r = report_cli(name, "--failures", "--to_csv", "--no-sync")
    assert r.exit_code == 2 and "--failures shows one study's failures" in r.output


def test_html_report_has_the_same_tables(tmp_path):
    from html.parser import HTMLParser

    from hpogrid.report import ERROR_HEADERS, PLACE_HEADERS, build_report, digest_tables, failure_digest
    from hpogrid.report._html import render

    name, _ = _study(tmp_path)
    rep = build_report(name)
    text, _ = render(rep)

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.current, self.cell = {}, None, None

        def handle_starttag(self, tag, attrs):
            ident = dict(attrs).get("id")
            if tag == "table" and ident and ident.startswith("failures-"):
                self.current = self.tables.setdefault(ident, [])
            elif tag == "tr" and self.current is not None:
                self.current.append([])
            elif tag in ("td", "th") and self.current is not None:
                self.cell = ""

        def handle_endtag(self, tag):
            if tag == "table":
                self.current = None
            elif tag in ("td", "th") and self.current is not None:
                self.current[-1].append(self.cell)
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Tables()
    parser.feed(text)
    by_place, by_error = digest_tables(failure_digest(rep.trials))
    assert "What failed where" in text
    assert parser.tables["failures-by-place"] == [PLACE_HEADERS, *[[str(c) for c in r] for r in by_place]]
    assert parser.tables["failures-by-error"] == [ERROR_HEADERS, *[[str(c) for c in r] for r in by_error]]
    assert len(by_place) == 3 and len(by_error) == 2 and len(FAILURES) == 6
