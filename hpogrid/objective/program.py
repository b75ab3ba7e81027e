"""Black-box programs as objectives: any command that prints ``RESULT: <number>``.

The command is split once with :func:`shlex.split` (never run through a shell); then each
argument gets its placeholders replaced, so a value with spaces, quotes or ``;rm -rf`` stays
one literal argument. Placeholders:

* ``{name}``: the trial's value of search-space parameter ``name`` (colon paths allowed);
  OmniOpt's ``($name)`` is the same, consumed with its parentheses (``hpogrid optimize``'s form);
* ``$x_0``, ``$x_1``, ...: OmniOpt style, the parameters in search-space order; OmniOpt's
  ``($x_0)`` form is the same placeholder, consumed with its parentheses (``--lr=($x_0)``
  becomes ``--lr=0.01``), so OmniOpt commands work unchanged;
* ``{trial_dir}`` and ``{scripts}``: the trial's working folder and the project's scripts;
* ``{{`` and ``}}``: literal braces.

Values are written as JSON would write them, except strings, which go in as they are.
An argument naming a file of the project's scripts (``python train.py``) is passed as its
absolute path, since the program runs in its own trial folder. The program's environment has
``HPOGRID_PARAM_<NAME>`` for every parameter, ``HPOGRID_TRIAL_DIR`` and ``HPOGRID_SCRIPTS_DIR``.
A conditional parameter whose condition does not hold has no value: an argument with its
placeholder is left out (write ``--momentum={momentum}`` as one argument) and its
``HPOGRID_PARAM_<NAME>`` is not set.
The result is the LAST line ``<prefix>: <number>`` of stdout; ``<prefix> <name>: <number>``
lines add named metrics and ``<prefix>: {json object}`` several at once. With several
objectives the plain line is the first one's, and each other one needs its named line.

Per-step results (learning curves, early stopping): a line ``<prefix> step=<N>: <number>``
(the first objective's value) or ``<prefix> step=<N>: {json object}`` (several metrics) is one
intermediate result, reported as the program prints it (flush stdout after it). When the
scheduler stops the trial, the program's process group gets SIGTERM, then SIGKILL after
model_config ``stop_grace`` seconds; the trial ends COMPLETED with its last step's values. A
program that prints step lines and no final line ends with its last step's values too.
"""
import json
import math
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from hpogrid.errors import ValidationError
from hpogrid.fileio import AppendedLines
from hpogrid.trial import CHECKPOINT_DIR, CHECKPOINT_DIR_ENV, RESTORED_ENV, holds_checkpoint

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}|\(\$x_(\d+)\)|\$x_(\d+)|\(\$([A-Za-z_][^()\s$]*)\)")
BUILTINS = ("trial_dir", "scripts")


class TrialFailed(Exception):
    """The program ran but gave no usable result; the message says why (one line)."""


def parse_command(command: str) -> List[str]:
    """Split once; raise :class:`ValidationError` for unbalanced quotes or stray braces."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValidationError("model_config.command", f"cannot split into arguments: {exc}") from None
    if not argv:
        raise ValidationError("model_config.command", "is empty")
    for arg in argv:
        rest = _PLACEHOLDER.sub("", arg)
        if "{" in rest or "}" in rest:
            raise ValidationError("model_config.command", f"unbalanced brace in {arg!r} "
                                  "(write {{ or }} for a literal brace)")
    return argv


def placeholders(argv: Sequence[str]) -> List[str]:
    """Names and ``$x_i`` positions used by the command (for checks before any trial)."""
    found = []
    for arg in argv:
        for m in _PLACEHOLDER.finditer(arg):
            if _named(m) is not None:
                found.append(str(_named(m)))
            elif _position(m) is not None:
                found.append(f"$x_{_position(m)}")
    return found


def _named(m: re.Match) -> Optional[str]:
    """The name of a ``{name}`` or ``($name)`` placeholder (None: positional or a literal brace)."""
    return m.group(1) if m.group(1) is not None else m.group(4)


def _position(m: re.Match) -> Optional[str]:
    """The N of a ``$x_N`` or ``($x_N)`` placeholder (None: a named one or a literal brace)."""
    return m.group(2) if m.group(2) is not None else m.group(3)


def check_placeholders(argv: Sequence[str], names: Sequence[str]) -> None:
    for ph in placeholders(argv):
        if ph.startswith("$x_"):
            if int(ph[3:]) >= len(names):
                raise ValidationError("model_config.command", f"{ph} refers to parameter {int(ph[3:])} but the "
                                      f"search space has {len(names)} ({', '.join(names)})")
        elif ph not in names and ph not in BUILTINS:
            raise ValidationError("model_config.command", f"placeholder {{{ph}}} is not a search-space parameter "
                                  f"(parameters: {', '.join(names)}; built-ins: {', '.join(BUILTINS)})")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _Inactive(LookupError):
    """A placeholder of a parameter without a value in this trial (its condition does not hold)."""


def build_argv(argv: Sequence[str], values: Mapping[str, Any], order: Sequence[str],
               trial_dir: Path, scripts: Path) -> List[str]:
    lookup = {**{n: _text(values[n]) for n in values}, "trial_dir": str(trial_dir), "scripts": str(scripts)}

    def sub(m: re.Match) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        position = _position(m)
        name = order[int(position)] if position is not None else _named(m)
        if name not in lookup:  # an inactive conditional parameter
            raise _Inactive(name)
        return lookup[name]

    out = []
    for arg in argv:
        try:
            arg = _PLACEHOLDER.sub(sub, arg)
        except _Inactive:
            continue
        candidate = scripts / arg
        if not os.path.isabs(arg) and ".." not in Path(arg).parts and candidate.is_file() \
                and not (trial_dir / arg).exists():
            arg = str(candidate)
        out.append(arg)
    return out


def environment(values: Mapping[str, Any], trial_dir: Path, scripts: Path) -> Dict[str, str]:
    env = dict(os.environ)
    for name, value in values.items():
        env["HPOGRID_PARAM_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()] = _text(value)
    env["HPOGRID_TRIAL_DIR"] = str(trial_dir)
    env[CHECKPOINT_DIR_ENV] = str(trial_dir / CHECKPOINT_DIR)
    env[RESTORED_ENV] = "1" if holds_checkpoint(trial_dir) else "0"
    env["HPOGRID_SCRIPTS_DIR"] = str(scripts)
    return env


_STEP_WORD = "step"


def step_pattern(prefix: str) -> "re.Pattern[str]":
    """``<prefix> step=<N>: <value>`` (groups: N, value)."""
    return re.compile(rf"^\s*{re.escape(prefix)}\s+{_STEP_WORD}=(\d+)\s*:\s*(.+?)\s*$")


def parse_step(line: str, pattern: "re.Pattern[str]", metric: str) -> Optional[Dict[str, Any]]:
    """The metrics of a per-step line (with ``step``), None for any other line or a value that
    is no number (nor a JSON object of numbers)."""
    m = pattern.match(line)
    if not m:
        return None
    text = m.group(2)
    metrics: Dict[str, Any] = {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        metrics = {k: v for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    else:
        try:
            metrics[metric] = float(text)
        except ValueError:
            return None
    return {**metrics, "step": int(m.group(1))} if metrics else None


def parse_results(stdout: str, prefix: str, metric: Union[str, Sequence[str]]) -> Dict[str, Any]:
    """Metrics from the result lines; the plain ``prefix: value`` line last seen wins.

    ``metric``: the objective(s); a plain line is the first one's value, and every one must be
    there as a finite number (``RESULT latency: 3.2`` gives another).
    """
    wanted = [metric] if isinstance(metric, str) else list(metric)
    pattern = re.compile(rf"^\s*{re.escape(prefix)}(?:\s+([^\s:]+))?\s*:\s*(.+?)\s*$")
    metrics: Dict[str, Any] = {}
    for line in stdout.splitlines():
        m = pattern.match(line)
        if not m or (m.group(1) or "").startswith(_STEP_WORD + "="):
            continue
        name, text = m.group(1), m.group(2)
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if isinstance(data, dict):
                metrics.update({k: v for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
            continue
        try:
            metrics[name or wanted[0]] = float(text)
        except ValueError:
            continue
    for i, name in enumerate(wanted):
        if name not in metrics:
            form = f"'{prefix}: <number>'" if i == 0 else f"'{prefix} {name}: <number>'"
            if i == 0 and len(wanted) > 1:
                form = f"'{prefix}: <number>' or '{prefix} {name}: <number>'"
            raise TrialFailed(f"no line {form} for metric '{name}' in the program's output")
        if not math.isfinite(metrics[name]):  # NaN or +-inf: no value a searcher or a table can use
            raise TrialFailed(f"the program reported {metrics[name]} for metric '{name}' (not a finite number)")
    return metrics


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


#: seconds between reads of a running program's stdout.log for per-step lines
STEP_POLL_S = 0.05
#: a per-step result: the step's metrics -> True when the scheduler stops the trial
OnStep = Callable[[Dict[str, Any]], bool]


def run_program(argv: List[str], env: Dict[str, str], trial_dir: Path, timeout: Optional[float],
                prefix: str, metric: Union[str, Sequence[str]], on_step: Optional[OnStep] = None,
                stop_grace: float = 10.0) -> Tuple[Dict[str, Any], bool]:
    """Run once in ``trial_dir`` (stdout.log, stderr.log there); ``(metrics, final)`` or
    :class:`TrialFailed` (``metric``: the objective(s), see :func:`parse_results`). ``on_step``
    gets each per-step line's metrics as the program prints it; ``final`` False: the metrics
    are the last step's (stopped by the scheduler, or no final line)."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = trial_dir / "stdout.log", trial_dir / "stderr.log"
    first = metric if isinstance(metric, str) else list(metric)[0]
    steps = _StepReader(out_path, step_pattern(prefix), first)
    last_step: Optional[Dict[str, Any]] = None
    stopped = False
    with open(out_path, "w") as out, open(err_path, "w") as err:
        try:
            proc = subprocess.Popen(argv, cwd=trial_dir, env=env, stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise TrialFailed(f"cannot start {argv[0]!r}: {exc.strerror}") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    code = proc.wait(timeout=STEP_POLL_S if on_step is not None else
                                     (None if deadline is None else max(0.0, deadline - time.monotonic())))
                    break
                except subprocess.TimeoutExpired:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise
                for item in steps.new():
                    last_step = item
                    if on_step is not None and on_step(item):
                        stopped = True
                        break
                if stopped:
                    code = _stop_group(proc, stop_grace)
                    break
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise TrialFailed(f"timed out after {timeout:g} s") from None
        except BaseException:
            _kill_group(proc)  # Ctrl-C or Ray stopping the trial: the program goes too
            raise
    if stopped and last_step is not None:
        return last_step, False
    for item in steps.new(final=True):  # what it printed between the last read and its end
        last_step = item
        if on_step is not None and on_step(item):
            return item, False
    if code != 0:
        tail = _tail(err_path)
        raise TrialFailed(f"exit code {code}" + (f": {tail}" if tail else ""))
    text = out_path.read_text(errors="replace")
    if last_step is not None and not _has_final_line(text, prefix):
        return last_step, False
    return parse_results(text, prefix, metric), True


def _has_final_line(stdout: str, prefix: str) -> bool:
    """Did the program print a result line that is not a per-step one?"""
    pattern = re.compile(rf"^\s*{re.escape(prefix)}(?:\s+([^\s:]+))?\s*:")
    for line in stdout.splitlines():
        m = pattern.match(line)
        if m and not (m.group(1) or "").startswith(_STEP_WORD + "="):
            return True
    return False


class _StepReader:
    """The per-step lines a running program appended to its stdout.log since the last call."""

    def __init__(self, path: Path, pattern: "re.Pattern[str]", metric: str):
        self.lines = AppendedLines(path)
        self.pattern, self.metric = pattern, metric

    def new(self, final: bool = False) -> List[Dict[str, Any]]:
        found = (parse_step(line.decode(errors="replace"), self.pattern, self.metric)
                 for line in self.lines.new(final))
        return [item for item in found if item is not None]


def _stop_group(proc: subprocess.Popen, grace: float) -> int:
    """SIGTERM to the program's process group, SIGKILL after ``grace`` seconds; its exit status."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return proc.wait()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
