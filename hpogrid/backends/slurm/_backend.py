"""``slurm_run``: the run engine with Slurm as its executor (one job per trial, or with
``--pool K`` K long-lived worker jobs, :mod:`._pool`).

Job options come from the project's slurm_config (see :mod:`._sbatch`); ``--workers`` and
``--poll_interval`` override it. hpo_config ``max_failures`` applies as on every backend; an
old slurm_config that still carries ``max_failures`` loads, with a note of where it went.
A driver killed with -9 cannot cancel anything: ``--resume`` finds its jobs through the job
ids the study stores (:mod:`._resume`), scancels those still in Slurm, records those that
ended on their own, and re-runs the interrupted trials with their uid and values.
ASHA and median stopping apply as on the pool (:mod:`hpogrid.engine.early_stop`): the trial
folders are on the shared file system, so the engine reads each job's reports there and
answers in its ``decision.json``; a stopped trial's job returns and frees its allocation.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from hpogrid.backends.container_run import ContainerPlan, plan
from hpogrid.backends.slurm._sbatch import SlurmClient, require
from hpogrid.backends.slurm.options import SlurmOptions
from hpogrid.engine import AskTellBackend, Executor, Run, RunOptions, RunSummary, worker_environment

if TYPE_CHECKING:
    from hpogrid.project import Project

#: seconds between reads of the trials' progress.jsonl under an early-stopping scheduler (at
#: most slurm_config poll_interval): a trial waits for its answer after each report
JUDGE_INTERVAL_S = 0.5


def slurm_settings(project: Project, options: RunOptions) -> Dict[str, Any]:
    """The slurm_config with ``--workers`` / ``--poll_interval`` applied (validated)."""
    from hpogrid.configs import get_kind

    kind = get_kind("slurm_config")
    slurm = kind.validate(dict(project.slurm_config or {}))
    overrides = {key: getattr(options, key, None) for key in ("workers", "poll_interval", "pool")}
    return kind.validate({**slurm, **{k: v for k, v in overrides.items() if v is not None}})


def container_plan(run: Run, run_dir: Path) -> Optional[ContainerPlan]:
    """The slurm_config's container for this run (None: none), checked on this host: the runtime
    must be installed here unless setup lines may load it on the node (``module load apptainer``)."""
    slurm = slurm_settings(run.project, run.options)
    return plan(slurm, run.project.path, run_dir, run.target.url, "slurm_config.", installed=not slurm["setup"])


class SlurmBackend(AskTellBackend):
    name = "slurm"
    summary = "one Slurm job per trial (sbatch), states read from Slurm"
    #: ASHA and median stopping: the driver tails each trial's progress.jsonl on the shared file
    #: system and answers in its decision.json; a stopped trial's job returns, freeing its allocation
    early_stopping = True

    _pool_configured = False

    def prepare(self, run: Run) -> None:
        self._pool_configured = bool(slurm_settings(run.project, run.options)["pool"])
        require("sbatch")
        container_plan(run, run.project.path)  # a container that cannot work: one line before any job
        super().prepare(run)
        if "max_failures" in (run.project.slurm_config or {}):
            run.plan.notes.append("slurm_config max_failures is no longer read: the run stops after hpo_config "
                              "max_failures failed trials on every backend (slurm_run --max_failures sets it)")

    def executor(self, run: Run, run_dir: Path) -> Executor:
        from hpogrid.engine.early_stop import applies

        slurm = slurm_settings(run.project, run.options)
        env = worker_environment(run.project.scripts_dir)
        # trials that await the engine's decision after each report are answered this often
        # (Slurm itself is still asked every poll_interval)
        judged = JUDGE_INTERVAL_S if applies(run.plan.spec) else None
        if slurm["pool"]:  # long-lived workers claiming queued trials from the study
            from hpogrid.backends.slurm._pool import SlurmPoolExecutor

            return SlurmPoolExecutor(slurm, run_dir, run.study, env, run.target.url, self.label_for(run.options),
                                     slurm["pool"], run.settings.stale_after_s, judge_s=judged,
                                     container=container_plan(run, run_dir), scripts_dir=run.project.scripts_dir)
        from hpogrid.backends.slurm._executor import SlurmExecutor

        return SlurmExecutor(slurm, run_dir, run.study, env, judge_s=judged, container=container_plan(run, run_dir),
                             scripts_dir=run.project.scripts_dir)

    def trial_resources(self, run: Run) -> Dict[str, float]:
        """A trial's job holds slurm_config ``cpus`` (--cpus-per-task) and the GPUs of its ``gres``."""
        from hpogrid.budgets import gres_gpus

        slurm = slurm_settings(run.project, run.options)
        return {"cpu": float(slurm["cpus"]), "gpu": gres_gpus(slurm.get("gres"))}

    def label_for(self, options: RunOptions) -> str:
        """``slurm-pool`` for a worker pool: its workers claim trials of that backend."""
        return "slurm-pool" if getattr(options, "pool", None) or self._pool_configured else "slurm"

    def trials_root(self, run: Run, run_dir: Optional[Path] = None) -> Path:
        """Trial folders (trial.json, result.json, the job's stdout.log / stderr.log) under the
        hpo_config log_dir, in ``slurm/<study>-<tag>/``, next to the run's job script."""
        if run_dir is None:  # (the engine always names it for an ask/tell backend)
            raise ValueError("a Slurm run's trial folders are in its run folder: name it")
        return run_dir

    def settle_orphans(self, run: Run) -> Optional[Callable[[], List[str]]]:
        from hpogrid.backends.slurm._resume import settle_orphans

        store, study, objectives = run.store, run.study, run.plan.spec.objectives
        return lambda: settle_orphans(store, study, SlurmClient(), objectives)


def run_slurm(project: Project, options: Optional[SlurmOptions] = None) -> RunSummary:
    """Run the project's HPO as Slurm jobs; every trial lands in the study store."""
    return SlurmBackend().run(project, options or SlurmOptions())
