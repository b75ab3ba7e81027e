"""``hpogrid run``'s options, declared (:mod:`hpogrid.backends.declared`): :class:`CentralOptions`
is what a central search across the grid runs with; :class:`GridCommandOptions` adds what the
command itself chooses (independent or central, a dry run, the hidden 2.0 job mode).

Kept apart from the backend so ``hpogrid run --help`` imports neither the engine, SQLAlchemy
nor the PanDA client.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar, Optional, Tuple

from hpogrid.backends.declared import RunCommand, option
from hpogrid.engine.options import RunOptions
from hpogrid.search.names import ALGORITHMS

if TYPE_CHECKING:
    from hpogrid.backends.panda._submit import GridRunOptions


@dataclass
class CentralOptions(RunOptions):
    """``n_jobs``: grid jobs in flight; ``trials``: the whole search's trials."""

    trials_per_job: int = option(1, "--trials_per_job", "--trials-per-job", kind="int", low=1, show_default=True,
                                 help="central: points each grid job evaluates.")
    site: Optional[str] = option(None, "--site", metavar="SITE",
                                 help="PanDA queue to run on (overrides the grid_config site).")
    architecture: Optional[str] = option(None, "--architecture", metavar="ARCH", help=(
        "PanDA architecture request; the default asks for a GPU queue, '' asks for nothing."))

    @classmethod
    def of(cls, options: RunOptions) -> CentralOptions:
        """``options`` as central-search options (a workflow stage gives plain RunOptions: one
        point per job, the grid_config's site and architecture)."""
        if isinstance(options, cls):
            return options
        return cls(**{f.name: getattr(options, f.name) for f in fields(RunOptions)})


@dataclass
class GridCommandOptions(CentralOptions, RunCommand):
    """Every option of ``hpogrid run``: the search options every run offers are redeclared
    with what they mean in each mode (and ``--n_jobs`` defaults to one job), and
    ``search``/``dry_run``/``mode`` choose what the command does (:mod:`hpogrid.cli.run`)."""

    backend: ClassVar[str] = "grid"
    command: ClassVar[str] = "run"
    n_jobs_help: ClassVar[str] = ("independent: grid jobs in the task, each running the project's HPO with its own "
                                  "seed. central: grid jobs in flight at once.")
    #: --help's order (the redeclared RunOptions fields would otherwise keep RunOptions' places)
    help_order: ClassVar[Tuple[str, ...]] = ("n_jobs", "search", "trials_per_job", "site", "dry_run", "architecture",
                                             "mode", "seed", "trials", "algorithm", "max_failures")
    help: ClassVar[str] = """Run the HPO of PROJECT on the grid (PanDA).

    independent (default): one PanDA task of N_JOBS jobs. The project (scripts and configs)
    is packed as the task's sandbox; each job runs the project's HPO (the local backend,
    --trials trials with its own seed) in the container named by the grid_config, in
    /hpogrid/project where the sandbox and the input dataset (grid_config inDS) land, and
    hands its trials back as job metadata. The task id is recorded in the project, so
    `hpogrid report PROJECT` collects the jobs' trials and `hpogrid tasks show` follows it.

    central: this command is the searcher of one search across the grid. It asks the
    project's searcher for points, submits tasks of one job evaluating --trials_per_job
    points each (the points travel with the task), keeps --n_jobs jobs in flight, and tells
    each result to the searcher, until --trials trials are done; every trial is in the
    study as it goes. Ctrl-C stops submitting and follows the running jobs to their end; a
    second Ctrl-C kills them. A driver that died (kill -9, a reboot) is continued with
    --resume: running tasks are taken over, none is submitted twice.

    Needs PanDA access (PANDA_URL, PANDA_URL_SSL, an X509 proxy or PANDA_AUTH=oidc) and
    RUCIO_ACCOUNT for the output dataset name.
    """

    trials: Optional[int] = option(None, "--trials", kind="int", low=1, help=(
        "independent: trials per job; central: trials of the whole search (default: the hpo_config's)."))
    algorithm: Optional[str] = option(None, "--algorithm", kind="choice", choices=ALGORITHMS,
                                      help="central: search algorithm (overrides the hpo_config).")
    n_jobs: Optional[int] = option(1, "--n_jobs", "--n-jobs", kind="int", low=1, high=10000, show_default=True,
                                   help=n_jobs_help)
    seed: Optional[int] = option(None, "--seed", kind="int", low=0, help=(
        "independent: job k searches with SEED + k (default: a fresh random base per submission); central: the "
        "searcher's seed. In grid mode: this job's seed."))
    max_failures: Optional[int] = option(None, "--max_failures", "--max-failures", kind="int", low=0, help=(
        "central: failed trials tolerated before the search stops (overrides the hpo_config)."))
    search: str = option("independent", "--search", kind="choice", choices=("independent", "central"),
                         show_default=True, help=(
                             "independent: one task whose jobs search on their own (right for ASHA/PBT inside one "
                             "GPU job). central: this command drives one search, sending points to grid jobs and "
                             "learning from every result (run it in tmux/screen or as a batch job)."))
    dry_run: bool = option(False, "--dry-run", "--dry_run", kind="flag",
                           help="Print the PanDA task parameters as JSON; submit nothing.")
    mode: str = option("submit", "--mode", kind="choice", choices=("submit", "grid"), hidden=True,
                       help="grid: what grid jobs of hpogrid 2.0 run (now 'hpogrid grid_job').")

    def central(self) -> CentralOptions:
        """What the central search runs with (the grid backend's options, nothing of the command's)."""
        return CentralOptions(**{f.name: getattr(self, f.name) for f in fields(CentralOptions)})

    def independent(self) -> GridRunOptions:
        """What one task of independent searches is submitted with."""
        from hpogrid.backends.panda._submit import GridRunOptions

        return GridRunOptions(n_jobs=self.n_jobs or 1, site=self.site, architecture=self.architecture,
                              trials=self.trials, seed=self.seed)
