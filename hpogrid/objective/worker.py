"""A long-lived trial process: runs trials one after another, as the pool backend asks.

    python -m hpogrid.objective.worker REPLY_FD

Reads ``log PATH`` (where its stdout and stderr go from then on: the pool may start a worker
before the run's folder exists) and then one trial folder per line on stdin (a folder with ``trial.json``, see
:mod:`hpogrid.objective.standalone`), runs it with :func:`~hpogrid.objective.standalone.run_trial`
and answers ``done <folder>`` on file descriptor ``REPLY_FD`` (and ``step <folder>`` after each
report of a trial that awaits the engine's decision, so the driver judges it at once), so whatever the user's code
prints can never be mistaken for an answer. The user's script is imported once per worker,
not once per trial. A trial that kills its process (segfault, ``os._exit``, out of memory)
leaves no answer: the pool sees the process gone and records the trial failed.
"""
import os
import sys


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        sys.stderr.write("usage: python -m hpogrid.objective.worker REPLY_FD\n")
        return 2
    from pathlib import Path

    from hpogrid.objective.standalone import run_trial

    reply = os.fdopen(int(args[0]), "w", buffering=1)
    for line in sys.stdin:
        folder = line.strip()
        if folder.startswith("log "):
            _output_to(folder[4:])
            continue
        if not folder:
            continue
        step = f"step {folder}\n"

        def notify(line: str = step) -> None:
            reply.write(line)  # line-buffered: sent at once

        run_trial(Path(folder), notify=notify)
        sys.stdout.flush()
        sys.stderr.flush()
        reply.write(f"done {folder}\n")
    return 0


def _output_to(path: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
