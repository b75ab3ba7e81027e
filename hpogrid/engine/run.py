"""One run, as one value: what :meth:`~hpogrid.engine.backend.Backend.run` hands a backend's hooks.

A backend's hooks (``prepare``, ``settle_orphans``, ``adopt_orphans``, ``execute``, an
executor's factory) each need a different part of the run: the project, what the command line
asked, the settings, the study, the resolved search, and, once the study is open, the store,
what the run has to do, the trial sink and the run control. Passing them one by one made
every hook take seven positional parameters in an order each backend had to repeat. A
:class:`Run` carries them all; :meth:`Backend.run` builds it and fills in the later parts as
the run gets there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpogrid.engine.control import RunControl
    from hpogrid.engine.options import RunOptions
    from hpogrid.engine.plan import SearchPlan
    from hpogrid.engine.resume import Workload
    from hpogrid.engine.sink import TrialSink
    from hpogrid.project import Project
    from hpogrid.settings import Settings
    from hpogrid.study import StudyStore, StudyTarget


@dataclass(eq=False)
class Run:
    """The parts of one run. The first five exist from ``prepare`` on; the others are set by
    :meth:`Backend.run` as the run reaches them (reading one earlier is an ``AttributeError``):

    - ``store``: the open study store, from ``settle_orphans`` / ``adopt_orphans`` on;
    - ``workload``: what the run has to do (re-runs, adopted trials, new trials);
    - ``control`` and ``sink``: the run control and the one trial sink, in ``execute``.
    """

    project: Project
    options: RunOptions
    #: the HPOGRID_* settings, read once
    settings: Settings
    #: the study this run records into
    target: StudyTarget
    #: the resolved search (searcher, codec, run spec); backends may adjust it in ``prepare``
    plan: SearchPlan
    store: StudyStore = field(init=False, repr=False)
    workload: Workload = field(init=False, repr=False)
    control: RunControl = field(init=False, repr=False)
    sink: TrialSink = field(init=False, repr=False)

    @property
    def study(self) -> str:
        """The study's name."""
        return self.target.name
