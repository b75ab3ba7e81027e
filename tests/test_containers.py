"""The container runtimes' command lines (apptainer and singularity are not installable on this
machine: their argv is checked as constructed; podman's runs for real in
tests/backends/test_container_local.py and tests/backends/slurm/test_slurm_container.py), the
checks made before any trial starts, and the slurm_config container fields."""
import os
import re
from pathlib import Path

import pytest

from hpogrid.containers import (REGISTRY, Payload, binds_for, check, container_name, default_runtime, get_runtime,
                                store_folder)
from hpogrid.errors import ValidationError

PAYLOAD = Payload(["python3", "-m", "hpogrid.objective.standalone", "/runs/r1/t-0"], Path("/runs/r1/t-0"),
                  [Path("/projects/p"), Path("/runs/r1")], {"PYTHONPATH": "/projects/p/scripts"})


@pytest.mark.parametrize("name", ["apptainer", "singularity"])
def test_apptainer_and_singularity_exec_the_payload_with_binds_workdir_and_env(name):
    argv = REGISTRY[name]().command("/images/hpogrid.sif", PAYLOAD, ["--bind", "/data"])
    assert argv == [name, "exec", "--pwd", "/runs/r1/t-0", "--bind", "/projects/p", "--bind", "/runs/r1",
                    "--env", "PYTHONPATH=/projects/p/scripts", "--bind", "/data", "/images/hpogrid.sif",
                    "python3", "-m", "hpogrid.objective.standalone", "/runs/r1/t-0"]


def test_the_gpu_flag_is_nv_for_apptainer_and_a_device_for_podman():
    gpu = Payload(PAYLOAD.argv, PAYLOAD.workdir, gpu=True)
    apptainer = REGISTRY["apptainer"]().command("img.sif", gpu)
    assert "--nv" in apptainer and apptainer.index("--nv") < apptainer.index("img.sif")
    assert "--nv" not in REGISTRY["apptainer"]().command("img.sif", PAYLOAD)
    podman = REGISTRY["podman"]().command("localhost/img:1", gpu)
    i = podman.index("--device")
    assert podman[i + 1] == "nvidia.com/gpu=all" and i < podman.index("localhost/img:1")
    assert "--device" not in REGISTRY["podman"]().command("localhost/img:1", PAYLOAD)


def test_podman_runs_the_payload_as_its_entrypoint_with_binds_at_their_own_paths():
    argv = REGISTRY["podman"]().command("docker://localhost/img:1", PAYLOAD, ["--runtime", "runc"])
    assert argv[:5] == ["podman", "run", "--rm", "--network", "host"]
    user = ["--user", "0:0"] if os.getuid() == 0 else ["--userns", "keep-id"]  # files written are the user's
    assert argv[5:7] == user
    assert argv[argv.index("-w") + 1] == "/runs/r1/t-0"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-v"] == ["/projects/p:/projects/p", "/runs/r1:/runs/r1"]
    envs = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
    assert "HPOGRID_*" in envs and "SLURM_*" in envs and "PYTHONPATH=/projects/p/scripts" in envs
    # the user's arguments, then the payload: docker:// stripped (a podman reference)
    assert argv[argv.index("--entrypoint") - 2:] == ["--runtime", "runc", "--entrypoint", "python3", "localhost/img:1",
                                                      "-m", "hpogrid.objective.standalone", "/runs/r1/t-0"]


def test_a_named_podman_container_is_removed_by_its_name(tmp_path, monkeypatch):
    podman = REGISTRY["podman"]()
    name = "hpogrid-study-container-20261207-231634-9347-00000"
    argv = podman.command("localhost/img:1", PAYLOAD, ["--runtime", "runc"], name=name)
    # named before the user's arguments; --replace: a rerun of the trial replaces an earlier attempt's
    assert argv[argv.index("--name"):argv.index("--entrypoint")] == [
        "--name", name, "--replace", "--runtime", "runc"]
    assert "--name" not in podman.command("localhost/img:1", PAYLOAD)  # (Slurm jobs: unnamed)
    assert podman.cleanup_argv([name, "hpogrid-b"]) == ["podman", "rm", "--force", "--ignore", "--time", "0",
                                                         name, "hpogrid-b"]
    # the removal is best effort: a runtime that fails does not stop the run's end
    log = tmp_path / "argv"
    fake = tmp_path / "podman"
    fake.write_text(f'#!/bin/sh\necho "$@" > {log}\nexit 125\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    podman.remove([name])
    assert log.read_text().split() == ["rm", "--force", "--ignore", "--time", "0", name]


@pytest.mark.parametrize("runtime", ["apptainer", "singularity"])
def test_apptainer_containers_are_unnamed_and_leave_nothing_to_remove(runtime, tmp_path, monkeypatch):
    found = REGISTRY[runtime]()
    assert found.command("x.sif", PAYLOAD, name="hpogrid-s-t") == found.command("x.sif", PAYLOAD)
    assert found.cleanup_argv(["hpogrid-s-t"]) is None
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run, nothing run
    found.remove(["hpogrid-s-t"])


def test_container_names_are_recognisable_and_valid_for_podman():
    assert container_name("p1a2", "container-20261207-231634-9347-00000") == \
        "hpogrid-p1a2-container-20261207-231634-9347-00000"
    odd = container_name("my study/ü:v2", "t 1")
    assert odd == "hpogrid-my_study___v2-t_1" and re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", odd)


def test_bind_sources_are_read_from_each_runtimes_own_flags():
    assert REGISTRY["apptainer"]().bind_sources(["--nv", "--bind", "/a:/x,/b", "-B=/c", "--bind=/d:/y:ro"]) == \
        ["/a", "/b", "/c", "/d"]
    assert REGISTRY["podman"]().bind_sources(["-v", "/a:/x", "--volume=/b:/y:ro", "--mount",
                                              "type=bind,src=/c,dst=/z", "--runtime", "runc"]) == ["/a", "/b", "/c"]


def test_check_names_what_cannot_work_in_one_line(tmp_path, monkeypatch):
    apptainer = REGISTRY["apptainer"]()
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    with pytest.raises(ValidationError, match=r"^slurm_config\.container_runtime: apptainer is not installed here") \
            as err:
        check(apptainer, "x.sif", [], [], prefix="slurm_config.")
    assert "\n" not in str(err.value)
    check(apptainer, "x.sif", [], [], installed=False)  # setup lines may load it on the node: not checked here
    fake = tmp_path / "apptainer"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    with pytest.raises(ValidationError, match=r"^container: no image file or sandbox folder '/nope/x\.sif'"):
        check(apptainer, "/nope/x.sif", [], [])
    check(apptainer, "docker://registry/hpogrid:1", [], [])  # pulled on the node: nothing to check here
    sif = tmp_path / "x.sif"
    sif.write_text("")
    with pytest.raises(ValidationError, match=r"^container_args: bind of '/nope/data': no such file or folder"):
        check(apptainer, str(sif), ["--bind", f"{tmp_path},/nope/data:/data"], [])
    check(apptainer, str(sif), ["--bind", str(tmp_path)], [tmp_path])


def test_podman_refuses_a_sif_and_names_a_missing_image(tmp_path, monkeypatch):
    fake = tmp_path / "podman"
    fake.write_text("#!/bin/sh\nexit 1\n")  # 'podman image exists': no
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ValidationError, match=r"^--container: podman has no image 'localhost/nope:1' "):
        check(REGISTRY["podman"](), "docker://localhost/nope:1", [], [], prefix="--")
    with pytest.raises(ValidationError, match=r"podman cannot run the \.sif image"):
        check(REGISTRY["podman"](), "/images/x.sif", [], [])


def test_the_default_runtime_is_the_first_installed_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert default_runtime() is None
    with pytest.raises(ValidationError, match="no container runtime is installed here"):
        get_runtime(None)
    for name in ("podman", "singularity"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    assert default_runtime() == "singularity" and get_runtime(None).name == "singularity"
    with pytest.raises(ValidationError, match=r"^container_runtime: 'docker' is not allowed; choose one of: "
                                              r"apptainer, singularity, podman$"):
        get_runtime("docker")


def test_binds_are_each_folder_once_and_a_sqlite_stores_folder():
    assert binds_for(Path("/a/b"), Path("/a"), Path("/a/b/c"), None, Path("/d")) == [Path("/a"), Path("/d")]
    assert store_folder("sqlite:////home/u/.hpogrid/studies/p.db") == Path("/home/u/.hpogrid/studies")
    assert store_folder("postgresql://u@db/hpo") is None  # reached over the network as it is


@pytest.mark.parametrize("value, message", [
    ({"container_runtime": "docker"}, "slurm_config.container_runtime: 'docker' is not allowed; choose one of: "
                                      "apptainer, singularity, podman"),
    ({"setup": ["module load x\nrm -rf /"]}, "slurm_config.setup: items must be single lines"),
    ({"container": " "}, "slurm_config.container: container must be an image reference or a path on one line"),
    ({"container_args": "--nv"}, "slurm_config.container_args"),
])
def test_slurm_config_container_fields_are_validated_in_one_line(value, message):
    from hpogrid.configs import get_kind

    with pytest.raises(ValidationError) as err:
        get_kind("slurm_config").validate(value)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_slurm_config_container_fields_default_to_none():
    from hpogrid.configs import get_kind

    got = get_kind("slurm_config").validate({"container": "/images/x.sif", "setup": ["module load apptainer"]})
    assert got["container"] == "/images/x.sif" and got["container_runtime"] is None
    assert got["container_args"] == [] and got["setup"] == ["module load apptainer"]
    assert get_kind("slurm_config").validate({})["container"] is None
