"""``slurm_run``: the run engine with Slurm as its executor (one job per trial, or with
``--pool K`` K long-lived worker jobs, :mod:`._pool`).

Job options come from the project's slurm_config (see :mod:`._sbatch`); ``--workers`` and
``--poll_interval`` override it. hpo_config ``max_failures`` applies as on every backend; an
old slurm_config that still carries ``max_failures`` loads, with a note of where it went.
A driver killed with -9 cannot cancel anything: ``--resume`` finds its jobs through the job
ids the study stores (:mod:`._resume`), scancels those still in Slurm, records those that
ended on their own, and re-runs the interrupted trials with their uid and values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from hpogrid.backends.slurm._sbatch import SlurmClient, require
from hpogrid.backends.slurm.options import SlurmOptions
from hpogrid.engine import AskTellBackend, Executor, RunOptions, worker_environment


def slurm_settings(project, options: RunOptions):
    """The slurm_config with ``--workers`` / ``--poll_interval`` applied (validated)."""
    from hpogrid.configs import get_kind

    kind = get_kind("slurm_config")
    slurm = kind.validate(dict(project.slurm_config or {}))
    overrides = {key: getattr(options, key, None) for key in ("workers", "poll_interval", "pool")}
    return kind.validate({**slurm, **{k: v for k, v in overrides.items() if v is not None}})


class SlurmBackend(AskTellBackend):
    name = "slurm"
    summary = "one Slurm job per trial (sbatch), states read from Slurm"

    _pool_configured = False

    def prepare(self, project, plan, options, target) -> None:
        self._target = target
        self._pool_configured = bool(slurm_settings(project, options)["pool"])
        require("sbatch")
        super().prepare(project, plan, options, target)
        if "max_failures" in (project.slurm_config or {}):
            plan.notes.append("slurm_config max_failures is no longer read: the run stops after hpo_config "
                              "max_failures failed trials on every backend (slurm_run --max_failures sets it)")

    def executor(self, project, plan, options, run_dir: Path, study: str) -> Executor:
        slurm = slurm_settings(project, options)
        env = worker_environment(project.scripts_dir)
        if slurm["pool"]:  # long-lived workers claiming queued trials from the study
            from hpogrid.backends.slurm._pool import SlurmPoolExecutor

            settings = options.resolved_settings()
            return SlurmPoolExecutor(slurm, run_dir, study, env, self._target.url, self.label_for(options),
                                     slurm["pool"], settings.stale_after_s)
        from hpogrid.backends.slurm._executor import SlurmExecutor

        return SlurmExecutor(slurm, run_dir, study, env)

    def label_for(self, options) -> str:
        """``slurm-pool`` for a worker pool: its workers claim trials of that backend."""
        return "slurm-pool" if getattr(options, "pool", None) or self._pool_configured else "slurm"

    def trials_root(self, project, target, run_dir=None) -> Path:
        """Trial folders (trial.json, result.json, the job's stdout.log / stderr.log) under the
        hpo_config log_dir, in ``slurm/<study>-<tag>/``, next to the run's job script."""
        return run_dir

    def settle_orphans(self, store, study, plan):
        from hpogrid.backends.slurm._resume import settle_orphans

        return lambda: settle_orphans(store, study, SlurmClient(), plan.spec.objectives)


def run_slurm(project, options: Optional[SlurmOptions] = None):
    """Run the project's HPO as Slurm jobs; every trial lands in the study store."""
    return SlurmBackend().run(project, options or SlurmOptions())
