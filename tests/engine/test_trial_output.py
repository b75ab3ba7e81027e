"""A failed trial's stored error is the user's exception; logs are capped head and tail."""
from hpogrid.engine import clean_error
from hpogrid.fileio import cap_log

#: what Ray Tune 2.60 writes for a function trial raising in the user's helper (error.txt)
RAY_ERROR = (
    "Failure # 1 (occurred at 2026-12-03_09-59-19)\n"
    "\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=22893, ip=192.0.2.2, actor_id=70df, repr=model)\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/v/lib/python3.11/site-packages/ray/tune/trainable/trainable.py", line 329, in train\n'
    "    raise skipped from exception_cause(skipped)\n"
    '  File "/v/lib/python3.11/site-packages/ray/air/_internal/util.py", line 98, in run\n'
    "    self._ret = self._target(*self._args, **self._kwargs)\n"
    "                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/work/hpogrid/objective/_wrap.py", line 75, in trainable\n'
    "    result = fn(trial_config(param, codec, config))\n"
    "             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/home/u/projects/p/scripts/m.py", line 5, in model\n'
    '    return {"loss": helper(config["x"])}\n'
    "                    ^^^^^^^^^^^^^^^^^^^\n"
    '  File "/home/u/projects/p/scripts/m.py", line 2, in helper\n'
    '    raise ValueError(f"boom at x={x:.2f}")\n'
    "ValueError: boom at x=0.30\n")


def test_ray_preamble_colours_and_foreign_frames_are_dropped():
    assert clean_error(RAY_ERROR) == (
        "Traceback (most recent call last):\n"
        '  File "/home/u/projects/p/scripts/m.py", line 5, in model\n'
        '    return {"loss": helper(config["x"])}\n'
        "                    ^^^^^^^^^^^^^^^^^^^\n"
        '  File "/home/u/projects/p/scripts/m.py", line 2, in helper\n'
        '    raise ValueError(f"boom at x={x:.2f}")\n'
        "ValueError: boom at x=0.30")


def test_plain_messages_and_chained_exceptions_are_kept():
    assert clean_error("the trial reported NaN for metric 'loss'") == "the trial reported NaN for metric 'loss'"
    chained = ("Traceback (most recent call last):\n  File \"/s/m.py\", line 3, in f\n    open('x')\n"
               "FileNotFoundError: x\n\nThe above exception was the direct cause of the following exception:\n\n"
               "Traceback (most recent call last):\n  File \"/s/m.py\", line 5, in model\n    raise RuntimeError('no data')\n"
               "RuntimeError: no data")
    assert clean_error(chained) == chained
    assert clean_error("\x1b[31mred\x1b[0m alert") == "red alert"


def test_cap_log_keeps_whole_lines_of_head_and_tail(tmp_path):
    log = tmp_path / "stdout.log"
    lines = [f"line {i:06d}\n" for i in range(30000)]  # 360 kB
    log.write_text("".join(lines))
    cut = cap_log(log, head=50_000, tail=50_000)
    text = log.read_text()
    assert cut > 250_000 and text.startswith("line 000000\n") and text.endswith("line 029999\n")
    head, marker, tail = text.partition("\n[hpogrid: ")
    assert head.splitlines()[-1].startswith("line ") and len(head.splitlines()[-1]) == 11  # a whole line
    assert f"({cut} bytes) cut from the middle of this log" in tail
    small = tmp_path / "small.log"
    small.write_text("short\n")
    assert cap_log(small) == 0 and small.read_text() == "short\n"
