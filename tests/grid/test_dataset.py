"""``hpogrid dataset upload|list|download`` against a real Rucio server on 127.0.0.1.

The server tests skip (with the reason) where the rucio server package is not installed;
the configuration and input checks below them need no server.
"""
import hashlib
import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from hpogrid.configs import NamedStore
from hpogrid.errors import ValidationError
from hpogrid.grid.rucio import default_dataset_name, split_did
from hpogrid.project import create_project
from tests.conftest import EXAMPLE_SCRIPTS, REPO, SPACE_EX1, tree_snapshot
from tests.grid.rucio_server import ACCOUNT, client_config, free_port

SCOPE = f"user.{ACCOUNT}"


def make_project(name: str) -> Path:
    NamedStore("model_config").create("m", {"script": "simple_objective.py", "model": "simple_objective"})
    NamedStore("search_space").create("s", SPACE_EX1)
    NamedStore("hpo_config").create("h", {"metric": "loss", "mode": "min", "trials": 2})
    return create_project(name, str(EXAMPLE_SCRIPTS), {"model_config": "m", "search_space": "s",
                                                        "hpo_config": "h"}).path


def project_config(path: Path) -> dict:
    return json.loads((path / "config" / "config.json").read_text())


def checksums(path: Path) -> tuple:
    data = path.read_bytes()
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}", hashlib.md5(data).hexdigest()


def write_inputs(root: Path, tag: str) -> dict:
    """Two files in a folder (one nested) and one loose file; returns name -> path."""
    (root / "data" / "nested").mkdir(parents=True)
    files = {
        f"{tag}-train.csv": root / "data" / f"{tag}-train.csv",
        f"{tag}-weights.bin": root / "data" / "nested" / f"{tag}-weights.bin",
        f"{tag}-notes.txt": root / f"{tag}-notes.txt",
    }
    files[f"{tag}-train.csv"].write_text("x,y\n" + "".join(f"{i},{i * i}\n" for i in range(500)))
    files[f"{tag}-weights.bin"].write_bytes(bytes(range(256)) * 301 + b"\x00tail")
    files[f"{tag}-notes.txt"].write_text(f"inputs of {tag}\n")
    return files


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


# -- no server needed -------------------------------------------------------------------------

def test_default_name_and_did_forms():
    assert default_dataset_name("alice", "mnist") == "user.alice.hpogrid.mnist.in"
    assert split_did("user.alice:user.alice.x") == ("user.alice", "user.alice.x")
    assert split_did("user.alice.hpogrid.p.in") == ("user.alice", "user.alice.hpogrid.p.in")
    assert split_did("group.phys-higgs.data.v1") == ("group.phys-higgs", "group.phys-higgs.data.v1")
    assert split_did("mc23_13p6TeV.601229.evnt") == ("mc23_13p6TeV", "mc23_13p6TeV.601229.evnt")
    assert split_did("user.alice.out_log/") == ("user.alice", "user.alice.out_log")
    for bad in ("a:b:c", ":name", "scope:", "user.alice.has space"):
        with pytest.raises(ValidationError, match="not a Rucio DID"):
            split_did(bad)


@pytest.fixture
def no_rucio_config(monkeypatch):
    for var in ("RUCIO_CONFIG", "RUCIO_HOME", "VIRTUAL_ENV", "CONDA_PREFIX", "HPOGRID_RSE"):
        monkeypatch.delenv(var, raising=False)
    if Path("/opt/rucio/etc/rucio.cfg").exists():
        pytest.skip("this machine has a system-wide /opt/rucio/etc/rucio.cfg")


def test_without_rucio_config_every_command_says_what_to_set(run_cli, no_rucio_config, tmp_path):
    make_project("p")
    (tmp_path / "f.txt").write_text("x")
    for args in (["list"], ["download", "user.me.x"], ["upload", "p", tmp_path / "f.txt", "--rse", "X"]):
        line = one_line_error(run_cli("dataset", *args))
        assert "no Rucio client configuration found: set RUCIO_CONFIG" in line and "RUCIO_HOME" in line


def test_rucio_home_and_rucio_config_are_checked(run_cli, no_rucio_config, tmp_path, monkeypatch):
    home = tmp_path / "rucio-home"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "rucio.cfg").write_text("[common]\nloglevel = INFO\n")
    monkeypatch.setenv("RUCIO_HOME", str(home))
    line = one_line_error(run_cli("dataset", "list"))
    assert f"{home / 'etc' / 'rucio.cfg'} has no [client] section" in line

    server_cfg = tmp_path / "server.cfg"
    server_cfg.write_text("[database]\ndefault = sqlite:////tmp/x.db\n[client]\nrucio_host = http://x\n")
    monkeypatch.setenv("RUCIO_CONFIG", str(server_cfg))
    assert "is a Rucio server config (it has a [database] section)" in one_line_error(run_cli("dataset", "list"))

    monkeypatch.setenv("RUCIO_CONFIG", str(tmp_path / "missing.cfg"))
    assert "RUCIO_CONFIG is " in one_line_error(run_cli("dataset", "list"))


def test_upload_input_errors_come_before_any_rucio_contact(run_cli, no_rucio_config, tmp_path, monkeypatch):
    """Unknown project, missing RSE, bad paths: reported even without any Rucio config."""
    (tmp_path / "a" / "same.txt").parent.mkdir()
    (tmp_path / "a" / "same.txt").write_text("1")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "same.txt").write_text("2")
    assert "project 'nope' does not exist" in one_line_error(
        run_cli("dataset", "upload", "nope", tmp_path / "a", "--rse", "R"))
    path = make_project("p")
    before = tree_snapshot(path)
    line = one_line_error(run_cli("dataset", "upload", "p", tmp_path / "a"))
    assert "rse: is required: pass --rse" in line and "HPOGRID_RSE" in line
    line = one_line_error(run_cli("dataset", "upload", "p", tmp_path / "a", tmp_path / "b", "--rse", "R"))
    assert "have the same name; a dataset is flat" in line
    assert "does not exist" in one_line_error(run_cli("dataset", "upload", "p", tmp_path / "zz", "--rse", "R"))
    assert "not a Rucio DID" in one_line_error(
        run_cli("dataset", "upload", "p", tmp_path / "a", "--rse", "R", "--name", "x:y:z"))
    assert tree_snapshot(path) == before


def test_dataset_commands_do_not_import_rucio_until_run():
    code = ("import sys; from hpogrid.cli import cli; import hpogrid.cli.dataset, hpogrid.grid.rucio; "
            "bad = [m for m in sys.modules if m == 'rucio' or m.startswith('rucio.')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


# -- against the real server ------------------------------------------------------------------

@pytest.mark.slow
def test_upload_list_download_round_trip_keeps_checksums(run_cli, rucio_client_env, tmp_path):
    server = rucio_client_env
    path = make_project("roundtrip")
    files = write_inputs(tmp_path, "rt")

    result = run_cli("dataset", "upload", "roundtrip", tmp_path / "data", files["rt-notes.txt"],
                     "--rse", server.rse)
    assert result.exit_code == 0, result.output
    ds = default_dataset_name(ACCOUNT, "roundtrip")
    assert f"Dataset {SCOPE}:{ds} holds 3 file(s)" in result.output
    for name, local in files.items():
        adler, _ = checksums(local)
        assert any(line.split()[:4] == [name, str(local.stat().st_size), adler, "uploaded"]
                   for line in result.output.splitlines()), result.output
    assert project_config(path)["grid_config"]["inDS"] == ds  # a project without grid_config gets one

    # the files really are on the RSE's storage, byte for byte
    stored = {p.name: p for p in server.rse_dir.rglob("*") if p.is_file() and p.name.startswith("rt-")}
    assert {n: p.read_bytes() for n, p in stored.items()} == {n: p.read_bytes() for n, p in files.items()}

    listed = run_cli("dataset", "list", "--project", "roundtrip", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["did"] == f"{SCOPE}:{ds}" and row["type"] == "dataset"
    assert row["files"] == 3 and row["bytes"] == sum(p.stat().st_size for p in files.values())
    assert row["created"]
    table = run_cli("dataset", "list")
    assert table.exit_code == 0 and f"{SCOPE}:{ds}" in table.output and "created" in table.output

    dest = tmp_path / "downloads"
    got = run_cli("dataset", "download", ds, "--dir", dest, "--json")
    assert got.exit_code == 0, got.output
    paths = [Path(p) for p in json.loads(got.output)]
    assert sorted(p.name for p in paths) == sorted(files)
    for p in paths:
        assert p.parent == dest / ds
        assert checksums(p) == checksums(files[p.name])


@pytest.mark.slow
def test_output_container_of_a_grid_task_is_listed_and_downloaded(run_cli, rucio_client_env, tmp_path):
    """PanDA puts each output of a task in a container <outDS>_<file> of datasets; downloading
    the outDS (which itself does not exist) fetches every file of those containers."""
    from hpogrid.grid.rucio import connect, upload

    server = rucio_client_env
    make_project("outs")
    files = write_inputs(tmp_path, "out")
    part = upload("outs", [str(tmp_path / "data")], rse=server.rse,
                  name=f"{SCOPE}:user.{ACCOUNT}.hpogrid.outs.out.20260101000000_result")
    out_ds = f"user.{ACCOUNT}.hpogrid.outs.out.20260101000000"
    container = f"{out_ds}_hpo_result.json"
    client = connect().client
    client.add_container(SCOPE, container)
    client.attach_dids(SCOPE, container, [{"scope": SCOPE, "name": part.did.split(":")[1]}])

    rows = json.loads(run_cli("dataset", "list", "--project", "outs", "--json").output)
    by_did = {r["did"]: r for r in rows}
    assert by_did[f"{SCOPE}:{container}"]["type"] == "container"
    assert by_did[f"{SCOPE}:{container}"]["files"] == 2

    got = run_cli("dataset", "download", f"{SCOPE}:{out_ds}", "--dir", tmp_path / "dl")
    assert got.exit_code == 0, got.output
    paths = [Path(line) for line in got.stdout.splitlines()]
    assert sorted(p.name for p in paths) == ["out-train.csv", "out-weights.bin"]
    for p in paths:
        assert checksums(p) == checksums(files[p.name])


@pytest.mark.slow
def test_upload_again_adds_new_files_and_keeps_the_old(run_cli, rucio_client_env, tmp_path):
    server = rucio_client_env
    make_project("again")
    files = write_inputs(tmp_path, "ag")
    assert run_cli("dataset", "upload", "again", tmp_path / "data", "--rse", server.rse).exit_code == 0
    result = run_cli("dataset", "upload", "again", tmp_path / "data", files["ag-notes.txt"],
                     "--rse", server.rse, "--json")
    assert result.exit_code == 0, result.output
    status = {f["name"]: f["status"] for f in json.loads(result.output)["files"]}
    assert status == {"ag-train.csv": "already in dataset", "ag-weights.bin": "already in dataset",
                      "ag-notes.txt": "uploaded"}
    assert json.loads(result.output)["dataset_files"] == 3

    # a file already in Rucio (same content) is attached to a new dataset, not skipped
    result = run_cli("dataset", "upload", "again", files["ag-notes.txt"], "--rse", server.rse,
                     "--name", f"user.{ACCOUNT}.hpogrid.again.second")
    assert result.exit_code == 0, result.output
    assert "attached" in result.output
    row = [r for r in json.loads(run_cli("dataset", "list", "--project", "again", "--json").output)
           if r["did"].endswith(".second")]
    assert row and row[0]["files"] == 1


@pytest.mark.slow
def test_same_name_other_content_is_refused_before_anything_changes(run_cli, rucio_client_env, tmp_path):
    server = rucio_client_env
    path = make_project("conflict")
    files = write_inputs(tmp_path, "cf")
    assert run_cli("dataset", "upload", "conflict", tmp_path / "data", "--rse", server.rse).exit_code == 0
    before_project = tree_snapshot(path)
    before_rse = tree_snapshot(server.rse_dir)

    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "cf-notes.txt").write_text("new file\n")
    (changed / "cf-train.csv").write_text("other content\n")
    line = one_line_error(run_cli("dataset", "upload", "conflict", changed, "--rse", server.rse))
    assert "file 'cf-train.csv' in dataset" in line and "has other content" in line
    # into another dataset: the name is still taken in the scope
    line = one_line_error(run_cli("dataset", "upload", "conflict", changed / "cf-train.csv",
                                  "--rse", server.rse, "--name", f"user.{ACCOUNT}.hpogrid.conflict.v2"))
    assert f"file {SCOPE}:cf-train.csv already exists in Rucio with other content" in line

    assert tree_snapshot(path) == before_project
    assert tree_snapshot(server.rse_dir) == before_rse  # cf-notes.txt was not uploaded either
    (row,) = json.loads(run_cli("dataset", "list", "--project", "conflict", "--json").output)
    assert row["files"] == 2
    assert files  # the originals are untouched on disk
    assert checksums(files["cf-train.csv"]) != checksums(changed / "cf-train.csv")


@pytest.mark.slow
def test_unknown_rse_foreign_scope_and_missing_dataset(run_cli, rucio_client_env, tmp_path):
    path = make_project("errs")
    (tmp_path / "f.txt").write_text("payload\n")
    before = tree_snapshot(path)
    line = one_line_error(run_cli("dataset", "upload", "errs", tmp_path / "f.txt", "--rse", "NOPE_SCRATCHDISK"))
    assert line == ("Error: RSE 'NOPE_SCRATCHDISK' does not exist in Rucio (see 'rucio list-rses'; "
                    "uploads usually go to a *_SCRATCHDISK)")
    line = one_line_error(run_cli("dataset", "upload", "errs", tmp_path / "f.txt", "--rse",
                                  rucio_client_env.rse, "--name", "user.someoneelse.data"))
    assert "Rucio refused the request" in line and "user.someoneelse" in line
    assert tree_snapshot(path) == before

    dest = tmp_path / "dl"
    line = one_line_error(run_cli("dataset", "download", f"user.{ACCOUNT}.hpogrid.never.out", "--dir", dest))
    assert line == (f"Error: dataset {SCOPE}:user.{ACCOUNT}.hpogrid.never.out does not exist in Rucio "
                    "(see 'hpogrid dataset list')")
    assert not dest.exists()
    assert "No datasets found for project 'errs'." in run_cli("dataset", "list", "--project", "errs").output


@pytest.mark.slow
def test_unreachable_server_and_wrong_password(run_cli, rucio_client_env, tmp_path, monkeypatch):
    make_project("conn")
    (tmp_path / "f.txt").write_text("x")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    port = free_port()  # nothing listens there
    dead = client_config(tmp_path / "dead.cfg", f"http://127.0.0.1:{port}", ACCOUNT, ACCOUNT, "pw", tokens)
    monkeypatch.setenv("RUCIO_CONFIG", str(dead))
    for args in (["list"], ["upload", "conn", tmp_path / "f.txt", "--rse", "R"], ["download", "user.a.b"]):
        line = one_line_error(run_cli("dataset", *args))
        assert line.startswith(f"Error: cannot reach the Rucio server at http://127.0.0.1:{port}: ")

    secret = "not-the-password-4711"
    wrong = client_config(tmp_path / "wrong.cfg", rucio_client_env.url, ACCOUNT, ACCOUNT, secret, tokens)
    monkeypatch.setenv("RUCIO_CONFIG", str(wrong))
    result = run_cli("dataset", "list")
    line = one_line_error(result)
    assert "Rucio authentication failed" in line and f"account {ACCOUNT}" in line
    assert secret not in result.output


@pytest.mark.slow
def test_transfers_draw_a_progress_bar_at_a_terminal(rucio_client_env, tmp_path, monkeypatch):
    """At a terminal (forced: TTY_COMPATIBLE=1) upload and download show a rich bar that ends at
    the total size; without one (the tests above) their output has no bar."""
    from click.testing import CliRunner

    from hpogrid.cli import cli

    server = rucio_client_env
    make_project("bars")
    files = write_inputs(tmp_path, "bar")
    total = sum(p.stat().st_size for p in files.values())
    runner = CliRunner()
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    up = runner.invoke(cli, ["dataset", "upload", "bars", str(tmp_path / "data"), str(files["bar-notes.txt"]),
                             "--rse", server.rse])
    assert up.exit_code == 0, up.output
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", up.output)  # without colours
    assert "[hpogrid] upload" in text and "━" in text
    assert f"{total / 1000:.1f}/{total / 1000:.1f} kB" in text, text  # the bar ended full (82 kB here)
    got = runner.invoke(cli, ["dataset", "download", default_dataset_name(ACCOUNT, "bars"),
                              "--dir", str(tmp_path / "dl")])
    assert got.exit_code == 0, got.output
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", got.output)
    assert "[hpogrid] download" in text and "━" in text
    assert f"{total / 1000:.1f}/{total / 1000:.1f} kB" in text, text
