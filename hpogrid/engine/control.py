"""How a run is stopped: one meaning of every signal, on every backend.

* Ctrl-C (SIGINT) or SIGTERM: stop now. No new trial starts; running trials are stopped and
  recorded INTERRUPTED; finished ones are kept.
* Ctrl-\\ (SIGQUIT): drain. No new trial starts; running trials run to their end.
* A second signal escalates: draining becomes stopping, and a signal while stopping gives up
  waiting (the backend records what is left as INTERRUPTED without waiting for it).
* A backend whose trials run on elsewhere (grid tasks) makes Ctrl-C and SIGTERM drain too: the
  first stops new trials and follows the running ones, the second stops them.
* ``max_failures`` exceeded (or a backend that cannot go on) aborts: like stopping, and the
  run then ends with a one-line error naming the reason.
* A stop rule (:mod:`hpogrid.engine.budget`: timeout, max_cost, target, patience) ends the run
  by :meth:`RunControl.end_by_rule`: it drains or stops as a signal would, but the run ends
  normally (exit 0) and says which rule ended it; a later signal escalates as usual.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Optional


class RunControl:
    """Shared by the engine, the trial sink and the backend's execution loop."""

    def __init__(self, interrupt_drains: bool = False):
        #: Ctrl-C / SIGTERM drain first (a backend whose trials run on elsewhere, e.g. grid tasks)
        self.interrupt_drains = interrupt_drains
        self.stop_event = threading.Event()
        self.drain_event = threading.Event()
        #: a signal arrived while stopping: do not wait for running trials any more
        self.hurry = False
        #: why the run was aborted (max_failures, a backend failure), None while it goes on
        self.abort_reason: Optional[str] = None
        #: the stop rule that ended the run (hpogrid.budgets.RULES) and why; None while none did
        self.rule: Optional[str] = None
        self.rule_reason: Optional[str] = None
        #: the rule stops running trials (else they drain)
        self.rule_stops = False
        #: set on every change, so a backend loop waiting between polls wakes at once
        self.wake = threading.Event()

    # Ray Tune pickles its run config (with the stopper and scheduler holding this control)
    # into the experiment folder: a copy keeps the flags, not the events
    def __getstate__(self):
        return {"stop": self.stop_event.is_set(), "drain": self.drain_event.is_set(),
                "abort_reason": self.abort_reason, "hurry": self.hurry, "interrupt_drains": self.interrupt_drains,
                "rule": (self.rule, self.rule_reason, self.rule_stops)}

    def __setstate__(self, state):
        RunControl.__init__(self, state.get("interrupt_drains", False))
        if state["stop"]:
            self.stop_event.set()
        if state["drain"]:
            self.drain_event.set()
        self.abort_reason, self.hurry = state["abort_reason"], state["hurry"]
        self.rule, self.rule_reason, self.rule_stops = state.get("rule") or (None, None, False)

    # -- what the loop asks --------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        """Running trials are being stopped (they end INTERRUPTED)."""
        return self.stop_event.is_set() or self.abort_reason is not None or (self.rule is not None and self.rule_stops)

    @property
    def draining(self) -> bool:
        return self.drain_event.is_set() or (self.rule is not None and not self.rule_stops)

    @property
    def ending(self) -> bool:
        """No new trial may start."""
        return self.stopping or self.draining

    @property
    def interrupted(self) -> bool:
        """The user (a signal) ended the run early."""
        return self.stop_event.is_set() or self.drain_event.is_set()

    @property
    def why_stopped(self) -> str:
        """What a trial cut short by this run's end is told (its error)."""
        if self.stop_event.is_set():
            return "interrupted by the user"
        if self.abort_reason:
            return f"run stopped: {self.abort_reason}"
        if self.rule_reason and self.rule_stops:
            return f"run stopped: {self.rule_reason}"
        return "run ended before the trial finished"

    def wait(self, seconds: float) -> None:
        self.wake.wait(seconds)
        self.wake.clear()

    # -- what changes it -----------------------------------------------------------------
    def stop(self) -> None:
        if self.hurry:  # a third signal: give up at once
            raise KeyboardInterrupt("stopped without waiting for the running trials")
        if self.stop_event.is_set():
            self.hurry = True
        self.stop_event.set()
        self.wake.set()

    def drain(self) -> None:
        if self.drain_event.is_set() or self.stop_event.is_set() or self.rule is not None:
            self.stop()
            return
        self.drain_event.set()
        self.wake.set()

    def end_by_rule(self, rule: str, reason: str, stop: bool = False) -> None:
        """Stop rule ``rule`` ended the run (``reason``: one line saying so): no new trial; running
        ones drain, or are stopped with ``stop``. The first rule to fire is the one recorded."""
        if self.rule is None and not self.ending:
            self.rule, self.rule_reason, self.rule_stops = rule, reason, stop
            self.wake.set()

    def abort(self, reason: str) -> None:
        if self.abort_reason is None:
            self.abort_reason = reason
        self.wake.set()

    def on_signal(self, signum, frame=None) -> None:
        if signum == signal.SIGQUIT or self.interrupt_drains:
            self.drain()
        else:
            self.stop()

    def reinstall(self) -> None:
        """Take the signals back from a library that installed its own (``ray.init`` makes
        SIGTERM exit the process); :meth:`signals` still restores the caller's afterwards."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
                signal.signal(sig, self.on_signal)

    @contextmanager
    def signals(self) -> Iterator["RunControl"]:
        """SIGINT, SIGTERM and SIGQUIT handled as above while the block runs (main thread only;
        elsewhere the caller's handlers stay)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
