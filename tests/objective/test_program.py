"""Black-box programs: argv without a shell, RESULT parsing, failures, timeouts (real processes)."""
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from hpogrid.errors import ValidationError
from hpogrid.objective import program
from hpogrid.objective.program import TrialFailed

ECHO_ARGS = "import json, os, sys; print(json.dumps(sys.argv[1:])); print('RESULT: 1.5')"


def _run(tmp_path, command, values, order=None, timeout=None, scripts=None, prefix="RESULT"):
    argv = program.parse_command(command)
    scripts = scripts or tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    trial = tmp_path / "trial"
    args = program.build_argv(argv, values, order or list(values), trial, scripts)
    env = program.environment(values, trial, scripts)
    return program.run_program(args, env, trial, timeout, prefix, "loss")[0], trial


def test_hostile_value_stays_one_literal_argument(tmp_path):
    evil = "a b \"q\" 'x' ;rm -rf / $(touch pwned) `id`"
    metrics, trial = _run(tmp_path, f"{sys.executable} -c \"{ECHO_ARGS}\" --name {{name}} --n {{n}}",
                          {"name": evil, "n": 3})
    argv = json.loads((trial / "stdout.log").read_text().splitlines()[0])
    assert argv == ["--name", evil, "--n", "3"] and metrics == {"loss": 1.5}
    assert not (trial / "pwned").exists() and not Path("pwned").exists()


def test_omniopt_positional_placeholders_and_builtins(tmp_path):
    metrics, trial = _run(tmp_path, f"{sys.executable} -c \"{ECHO_ARGS}\" $x_1 $x_0 {{trial_dir}} {{{{lit}}}}",
                          {"lr": 0.25, "layers": 4}, order=["lr", "layers"])
    argv = json.loads((trial / "stdout.log").read_text().splitlines()[0])
    assert argv == ["4", "0.25", str(trial), "{lit}"]


def test_omniopt_parenthesised_placeholder_is_consumed_with_its_parentheses(tmp_path):
    command = (f"{sys.executable} -c \"{ECHO_ARGS}\" ($x_0) --layers=($x_1) ($x_1)$x_0 (x) ($lr) "
               "'(($x_0))' --n=($layers)")
    metrics, trial = _run(tmp_path, command, {"lr": 0.25, "layers": 4}, order=["lr", "layers"])
    argv = json.loads((trial / "stdout.log").read_text().splitlines()[0])
    # "($x_N)" and "($name)" lose their parentheses; other parentheses are the user's text
    assert argv == ["0.25", "--layers=4", "40.25", "(x)", "0.25", "(0.25)", "--n=4"] and metrics == {"loss": 1.5}
    assert program.placeholders(program.parse_command("run ($x_1) {lr} ($n)")) == ["$x_1", "lr", "n"]
    with pytest.raises(ValidationError, match=r"\$x_2 refers to parameter 2 but the search space has 2"):
        program.check_placeholders(program.parse_command("run ($x_2)"), ["lr", "layers"])


def test_script_names_resolve_to_the_project_scripts_and_env_is_set(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "train.py").write_text(
        "import os\nprint('RESULT:', float(os.environ['HPOGRID_PARAM_OPTIMIZER_LR']) * 2)\n"
        "print('RESULT acc: 0.9')\nprint('cwd', os.getcwd() == os.environ['HPOGRID_TRIAL_DIR'])\n")
    metrics, trial = _run(tmp_path, f"{sys.executable} train.py", {"optimizer:lr": 0.5}, scripts=scripts)
    assert metrics == {"loss": 1.0, "acc": 0.9}
    assert "cwd True" in (trial / "stdout.log").read_text()


def test_shell_script_last_result_wins_and_json_line(tmp_path):
    script = tmp_path / "scripts" / "sim.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho 'RESULT: 5'\necho noise\necho \"RESULT: $1\"\n"
                      "echo 'RESULT: {\"extra\": 7, \"name\": \"x\"}'\n")
    script.chmod(0o755)
    metrics, _ = _run(tmp_path, "./sim.sh {x}", {"x": 2.5}, scripts=script.parent)
    assert metrics == {"loss": 2.5, "extra": 7}


@pytest.mark.parametrize("code, reason", [
    ("print('no result here')", "no line 'RESULT: <number>' for metric 'loss'"),
    ("import sys; print('RESULT: 1'); sys.stderr.write('boom\\n'); sys.exit(3)", "exit code 3: boom"),
    ("print('RESULT: nan')", "reported nan for metric 'loss' (not a finite number)"),
    ("print('RESULT: inf')", "reported inf for metric 'loss' (not a finite number)"),
    ("print('RESULT: -inf')", "reported -inf for metric 'loss' (not a finite number)"),
])
def test_failures_have_a_reason(tmp_path, code, reason):
    (tmp_path / "p.py").write_text(code)
    with pytest.raises(TrialFailed, match=re.escape(reason)):
        _run(tmp_path, f"{sys.executable} {tmp_path / 'p.py'}", {})


def _gone(pid: int) -> bool:
    """The process exited (a zombie nobody reaped yet counts as gone: it runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def test_timeout_kills_the_program_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    (tmp_path / "p.py").write_text(  # the program and its child both wait far beyond the timeout
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"open({str(pids)!r} + '.tmp', 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        f"os.rename({str(pids)!r} + '.tmp', {str(pids)!r})\n"
        "time.sleep(300)\n")
    with pytest.raises(TrialFailed, match="timed out after 6 s"):  # room to start both on a loaded machine
        _run(tmp_path, f"{sys.executable} {tmp_path / 'p.py'}", {}, timeout=6)
    assert pids.is_file(), "the program had not started its child within the timeout"
    deadline = time.monotonic() + 30
    while not all(_gone(int(pid)) for pid in pids.read_text().split()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(int(pid)) for pid in pids.read_text().split())


def test_missing_program_is_a_failed_trial(tmp_path):
    with pytest.raises(TrialFailed, match="cannot start 'no-such-program-xyz'"):
        _run(tmp_path, "no-such-program-xyz {x}", {"x": 1})


def test_placeholders_checked_before_any_trial():
    argv = program.parse_command("run {lr} $x_2")
    with pytest.raises(ValidationError, match=r"\$x_2 refers to parameter 2 but the search space has 2"):
        program.check_placeholders(argv, ["lr", "layers"])
    with pytest.raises(ValidationError, match=r"placeholder \{momentum\} is not a search-space parameter"):
        program.check_placeholders(program.parse_command("run {momentum}"), ["lr"])


def test_an_argument_of_an_inactive_conditional_parameter_is_left_out(tmp_path):
    """``momentum`` has no value (its condition does not hold): its arguments and its
    environment variable are absent, the others are passed as usual."""
    env_echo = ("import json, os, sys; print(json.dumps([sys.argv[1:], "
                "dict((k, v) for k, v in os.environ.items() if k.startswith('HPOGRID_PARAM_'))])); print('RESULT: 1')")
    metrics, trial = _run(tmp_path, f"{sys.executable} -c \"{env_echo}\" --opt={{opt}} --momentum={{momentum}} $x_1",
                          {"opt": "adam"}, order=["opt", "momentum"])
    argv, env = json.loads((trial / "stdout.log").read_text().splitlines()[0])
    assert argv == ["--opt=adam"] and env == {"HPOGRID_PARAM_OPT": "adam"} and metrics == {"loss": 1.0}


STEPS = """
for s in (1, 2, 3):
    print(f"RESULT step={s}: {4 - s}", flush=True)
print("RESULT step=4: not a number")
print('RESULT step=5: {"loss": 0.5, "acc": 0.9}')
"""


def test_step_lines_are_reports_and_the_last_is_the_result_without_a_final_line(tmp_path):
    (tmp_path / "steps.py").write_text(STEPS)
    seen = []
    argv = [sys.executable, str(tmp_path / "steps.py")]
    metrics, final = program.run_program(argv, dict(), tmp_path / "t", None, "RESULT", "loss",
                                         on_step=lambda item: seen.append(item) and False)
    assert seen == [{"loss": 3.0, "step": 1}, {"loss": 2.0, "step": 2}, {"loss": 1.0, "step": 3},
                    {"loss": 0.5, "acc": 0.9, "step": 5}]
    assert (metrics, final) == (seen[-1], False)
    # a final line is the result; the step lines are not read as named metrics
    assert program.parse_results("RESULT step=1: 5\nRESULT: 2\n", "RESULT", "loss") == {"loss": 2.0}


def test_a_stop_answer_ends_the_program_with_sigterm(tmp_path):
    script = ("import signal, sys, time\n"  # the handler first: the stop may come right after the line
              "signal.signal(signal.SIGTERM, lambda *a: (open('term', 'w').close(), sys.exit(0)))\n"
              "print('RESULT step=1: 7', flush=True)\n"
              "while True: time.sleep(0.05)\n")
    (tmp_path / "p.py").write_text(script)
    metrics, final = program.run_program([sys.executable, str(tmp_path / "p.py")], dict(os.environ), tmp_path / "t",
                                         30, "RESULT", "loss", on_step=lambda item: True, stop_grace=30)
    assert (metrics, final) == ({"loss": 7.0, "step": 1}, False)
    assert (tmp_path / "t" / "term").exists()  # it ended on the SIGTERM, well before the grace ran out
