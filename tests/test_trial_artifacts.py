"""``hpogrid.trial.save_artifact``: a file a trial produced, kept with it and listed.

Inside a trial (here activated by hand, then through a real run of the fake backend) the
file is copied into the trial folder with its size and SHA-256 in the trial's annotations,
which the study stores and ``study show --trial`` / ``report --artifacts`` print.
"""
import hashlib
import json
from pathlib import Path

import pytest

from hpogrid.errors import HpogridError
from hpogrid.trial import activated, artifacts, read_annotations, save_artifact


def test_save_artifact_copies_hashes_and_lists(tmp_path):
    src = tmp_path / "model.txt"
    src.write_bytes(b"weights v1")
    with activated("t1", tmp_path / "trial") as folder:
        kept = save_artifact(src)
        src.write_bytes(b"weights, better")  # the trial goes on writing its own file
        again = save_artifact(src, name="final.txt")
        save_artifact(again)  # a kept file saved again: listed once, not copied onto itself
    assert kept == folder / "artifacts" / "model.txt" and kept.read_bytes() == b"weights v1"
    listed = artifacts(read_annotations(folder))
    assert list(listed) == ["model.txt", "final.txt"]
    assert listed["model.txt"] == {"path": "artifacts/model.txt", "file": str(kept.resolve()), "size": 10,
                                   "sha256": hashlib.sha256(b"weights v1").hexdigest()}
    assert listed["final.txt"]["size"] == len(b"weights, better")
    assert not [p for p in (folder / "artifacts").iterdir() if p.name.startswith(".")]


def test_save_artifact_refusals(tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("x")
    with pytest.raises(HpogridError, match="only inside a trial"):
        save_artifact(src)
    with activated("t1", tmp_path / "trial") as folder:
        for bad in ("../evil", "sub/x", ".hidden", "", ".."):
            with pytest.raises(HpogridError, match="plain file name"):
                save_artifact(src, name=bad)
        with pytest.raises(HpogridError, match="is not a file"):
            save_artifact(tmp_path)
    assert not (tmp_path / "evil").exists() and artifacts(read_annotations(folder)) == {}


SCRIPT = """
from hpogrid.trial import save_artifact, trial_dir

def objective(config):
    path = trial_dir() / "scratch.txt"
    path.write_text(f"x={config['x']!r}")
    save_artifact(path, name="model.txt")
    return {"loss": config["x"]}
"""


def test_a_run_stores_artifacts_and_the_cli_lists_them(tmp_path, run_cli):
    from hpogrid.backends import RunOptions, get_backend
    from hpogrid.project import load_project
    from tests.projects import make_project

    name = make_project(tmp_path, SCRIPT, algorithm="random", trials=2, scheduler="fifo")
    get_backend("fake").run(load_project(name), RunOptions(progress=False, seed=3))
    out = run_cli("study", "list", name)
    assert out.exit_code == 0, out.output
    from hpogrid import paths
    from hpogrid.study import StudyStore, sqlite_url

    with StudyStore(sqlite_url(paths.study_db(name))) as store:
        trials = store.trials(name)
    assert len(trials) == 2
    t = trials[0]
    shown = run_cli("study", "show", name, "--trial", t.uid)
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["uid"] == t.uid and data["params"] == t.params and "artifacts" not in data["annotations"]
    (art,) = data["artifacts"]
    text = f"x={t.params['x']!r}".encode()
    assert (art["name"], art["size"], art["sha256"], art["exists"]) == (
        "model.txt", len(text), hashlib.sha256(text).hexdigest(), True)
    listed = run_cli("report", name, "--artifacts", "--no-sync", "--top", "0")
    assert listed.exit_code == 0, listed.output
    rows = [ln.split() for ln in listed.output.splitlines() if "model.txt" in ln]
    assert sorted(r[1] for r in rows) == sorted(x.uid for x in trials)
    html_out = run_cli("report", name, "--to_html", "--to_json", "--outdir", tmp_path, "--no-sync", "--top", "0")
    assert html_out.exit_code == 0, html_out.output
    page = (tmp_path / "hpo_result.html").read_text()
    table = page[page.index('<table id="artifacts">'):]
    assert f'<a href="{(Path(art["file"])).as_uri()}">model.txt</a>' in table and t.uid in table
    records = {r["uid"]: r for r in json.loads((tmp_path / "hpo_result.json").read_text())}
    assert [a["name"] for a in records[t.uid]["artifacts"]] == ["model.txt"]
    assert records[t.uid]["artifacts"][0]["sha256"] == art["sha256"]
    missing = run_cli("study", "show", name, "--trial", "nope")
    assert missing.exit_code == 1 and missing.output.startswith("Error: ") and "'nope'" in missing.output
