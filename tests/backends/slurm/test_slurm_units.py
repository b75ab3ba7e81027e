"""The Slurm backend's parts without a cluster: sbatch argv, state parsing, ask/tell, the payload."""

import pytest

from hpogrid.backends.slurm._sbatch import (SlurmClient, _fields, _state, _task_key, array_argv, job_order,
                                            one_line, sbatch_argv)
from tests.backends.slurm.helpers import UNI, make_slurm_project

SLURM = {"partition": "gpu", "account": "atlas", "qos": None, "gres": "gpu:1", "cpus": 2, "mem": "4G",
         "time": "01:00:00", "sbatch_args": ["--constraint=a100", "--exclusive"]}

@pytest.fixture
def fake_sbatch(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    exe = folder / "sbatch"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return str(exe)


def test_percent_signs_in_paths_reach_slurm_escaped(tmp_path, fake_sbatch):
    argv = sbatch_argv({**SLURM, "gres": None, "partition": None, "account": None, "sbatch_args": []},
                       job_name="j", workdir=tmp_path / "100%j", script=tmp_path / "job.sh", args=[])
    assert f"--output={tmp_path}/100%%j/stdout.log" in argv and f"--chdir={tmp_path}/100%j" in argv
    assert not any(a.startswith(("--gres", "--partition", "--account", "--qos")) for a in argv)


def test_sbatch_argv_maps_every_option_and_puts_user_flags_last(tmp_path, fake_sbatch):
    argv = sbatch_argv(SLURM, job_name="hpogrid-s-0", workdir=tmp_path / "t 0", script=tmp_path / "job.sh",
                       args=["/py", "-m", "mod", tmp_path / "t 0"])
    assert argv == [
        fake_sbatch, "--parsable", "--job-name=hpogrid-s-0", f"--chdir={tmp_path}/t 0",
        f"--output={tmp_path}/t 0/stdout.log", f"--error={tmp_path}/t 0/stderr.log",
        "--cpus-per-task=2", "--mem=4G", "--time=01:00:00", "--partition=gpu", "--account=atlas",
        "--gres=gpu:1", "--constraint=a100", "--exclusive", str(tmp_path / "job.sh"), "/py", "-m", "mod",
        f"{tmp_path}/t 0"]  # one argument each, spaces and all: no shell anywhere


def test_without_sbatch_the_error_says_slurm_is_not_here(tmp_path, monkeypatch, slurm_cli):
    name = make_slurm_project(tmp_path, "def objective(config):\n    return 1.0\n", UNI, trials=1)
    monkeypatch.setenv("PATH", str(tmp_path))
    r = slurm_cli("slurm_run", name)
    assert r.exit_code == 1
    assert r.output.strip() == "Error: Slurm is not available here: 'sbatch' not found in PATH"


def test_scontrol_records_parse_with_spaces_in_the_command():
    line = ("JobId=42 JobName=hpogrid-s-0 UserId=root(0) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) "
            "ExitCode=0:15 RunTime=00:01:25 TimeLimit=00:01:00 StartTime=2026-11-23T13:11:10 "
            "EndTime=2026-11-23T13:12:35 NodeList=vm BatchHost=vm Command=/x/job.sh /py -m mod /tmp/a b "
            "WorkDir=/tmp/a b")
    state = _state(_fields(line), "42")
    assert (state.state, state.node, state.exit_code, state.run_time, state.time_limit) == (
        "TIMEOUT", "vm", "0:15", "00:01:25", "00:01:00")
    assert state.finished and not state.running and state.end > state.start
    assert _state(_fields("JobId=7 JobState=CANCELLED by 0 NodeList=(null)"), "7").state == "CANCELLED"


def test_jobcomp_lines_are_found_by_job_id(tmp_path):
    log = tmp_path / "jobcomp.log"
    log.write_text("JobId=41 Name=a JobState=COMPLETED NodeList=vm ExitCode=0:0\n"
                   "JobId=4 Name=b JobState=FAILED TimeLimit=1 NodeList=vm ExitCode=3:0\n")
    client = SlurmClient()
    client._asked_config, client._jobcomp = True, log
    assert client._from_jobcomp("4").state == "FAILED" and client._from_jobcomp("4").exit_code == "3:0"
    assert client._from_jobcomp("41").state == "COMPLETED" and client._from_jobcomp("5") is None


def test_array_tasks_are_found_by_array_and_index_in_the_jobcomp_log(tmp_path):
    log = tmp_path / "jobcomp.log"  # a task's own JobId is not the name users and the study know it by
    log.write_text("JobId=71 Name=a JobState=COMPLETED NodeList=vm ArrayJobId=70 ArrayTaskId=1 ExitCode=0:0 \n"
                   "JobId=70 Name=a JobState=CANCELLED NodeList=vm ArrayJobId=70 ArrayTaskId=10 ExitCode=0:15 \n")
    client = SlurmClient()
    client._asked_config, client._jobcomp = True, log
    assert client._from_jobcomp("70_1").state == "COMPLETED" and client._from_jobcomp("70_10").state == "CANCELLED"
    assert client._from_jobcomp("70_0") is None and client._from_jobcomp("70").state == "CANCELLED"


def test_scontrol_names_an_array_task_by_array_and_index():
    assert _task_key(_fields("JobId=27 ArrayJobId=25 ArrayTaskId=2 JobState=RUNNING")) == "25_2"
    assert _task_key(_fields("JobId=25 ArrayJobId=25 ArrayTaskId=3-9%4 JobState=PENDING")) == "25"  # not yet split
    assert _task_key(_fields("JobId=42 JobState=COMPLETED")) == "42"
    assert sorted(["9_10", "10_0", "9_2", "8"], key=job_order) == ["8", "9_2", "9_10", "10_0"]


def test_an_array_runs_each_task_in_its_own_folder_throttled_to_the_limit(tmp_path, fake_sbatch):
    argv = array_argv({**SLURM, "sbatch_args": []}, job_name="hpogrid-s", tasks_dir=tmp_path / "array-0001",
                      size=5, limit=2, script=tmp_path / "job.sh", args=["/py"])
    assert argv[:3] == [fake_sbatch, "--parsable", "--array=0-4%2"]
    assert f"--output={tmp_path}/array-0001/%a/stdout.log" in argv
    assert f"--error={tmp_path}/array-0001/%a/stderr.log" in argv and argv[-2:] == [str(tmp_path / "job.sh"), "/py"]


def test_one_line_keeps_the_reason_only():
    err = "sbatch: error: Batch job submission failed: Requested node configuration is not available\n"
    assert one_line(err) == "Batch job submission failed: Requested node configuration is not available"
    assert one_line("") == "no message"


@pytest.mark.parametrize("state, result, cancelled, expect_state, expect_error", [
    ("COMPLETED", {"status": "completed"}, None, "COMPLETED", None),
    ("COMPLETED", None, None, "FAILED", "job 9 completed but wrote no result.json"),
    ("FAILED", {"status": "failed", "error": "Traceback\nValueError: x"}, None, "FAILED", "Traceback\nValueError: x"),
    ("OUT_OF_MEMORY", None, None, "FAILED", "Slurm: OUT_OF_MEMORY with exit code 0:125 after 00:00:07"),
    ("TIMEOUT", None, None, "FAILED", "Slurm: TIMEOUT after 00:00:07 (time limit 00:01:00)"),
    ("CANCELLED", None, None, "INTERRUPTED", "Slurm: CANCELLED after 00:00:07"),
    ("PREEMPTED", None, None, "INTERRUPTED", "Slurm: PREEMPTED after 00:00:07"),
    ("NODE_FAIL", None, None, "INTERRUPTED", "Slurm: NODE_FAIL after 00:00:07, reason NodeDown"),
    ("CANCELLED", None, "interrupted by the user", "INTERRUPTED", "interrupted by the user (Slurm job 9 cancelled)"),
    ("COMPLETED", {"status": "completed"}, "interrupted by the user", "COMPLETED", None),
    ("UNKNOWN", None, None, "FAILED", "Slurm has no record of job 9 any more and it left no result"),
])
def test_slurm_end_states_become_trial_states(tmp_path, state, result, cancelled, expect_state, expect_error):
    from hpogrid.backends.slurm import verdict
    from hpogrid.backends.slurm._sbatch import JobState

    reason = "NodeDown" if state == "NODE_FAIL" else "None"
    info = JobState("9", state, "vm", reason, "0:125", "00:00:07", "00:01:00")
    assert verdict("9", tmp_path, info, result, cancelled) == (expect_state, expect_error)


@pytest.mark.parametrize("state, exit_code, lost", [
    ("NODE_FAIL", "0:0", "NODE_FAIL"), ("PREEMPTED", "0:15", "PREEMPTED"), ("BOOT_FAIL", "0:0", "BOOT_FAIL"),
    ("OUT_OF_MEMORY", "0:125", "out of memory"), ("FAILED", "0:9", "killed by SIGKILL"),
    ("FAILED", "1:0", None), ("TIMEOUT", "0:15", None), ("CANCELLED", "0:15", None), ("COMPLETED", "0:0", None),
])
def test_slurm_states_that_lost_the_trial_say_why(state, exit_code, lost):
    """The engine retries a lost trial (max_retries); a job that failed on its own, ran out of
    time or was cancelled by someone was not lost."""
    from hpogrid.backends.slurm._executor import lost_reason
    from hpogrid.backends.slurm._sbatch import JobState

    assert lost_reason(JobState("9", state, "vm", None, exit_code)) == lost


@pytest.mark.parametrize("exit_code, status", [("1:0", 1), ("0:9", 137), ("0:0", 0), (None, None)])
def test_a_slurm_job_s_exit_status_is_what_a_shell_would_say(exit_code, status):
    """Failure rules' ``exit_code`` match it: Slurm's ``code:signal``, a signal N as 128 + N."""
    from hpogrid.backends.slurm._executor import exit_status
    from hpogrid.backends.slurm._sbatch import JobState

    assert exit_status(JobState("9", "FAILED", "vm", None, exit_code)) == status


def test_excluded_nodes_go_to_sbatch_before_the_user_s_flags(tmp_path, fake_sbatch):
    argv = sbatch_argv(SLURM, job_name="j", workdir=tmp_path, script=tmp_path / "job.sh", args=[],
                       exclude=["node1", "node7"])
    assert argv.index("--exclude=node1,node7") < argv.index("--constraint=a100")
