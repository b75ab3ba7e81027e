"""``slurm_run --pool K``: K long-lived Slurm jobs run the trials (see :mod:`._worker`).

A trial then waits in no Slurm queue and a GPU job is not scheduled again per trial. The
driver asks and tells as with one job per trial; a started trial is queued in the study store
(PENDING), a worker claims it (RUNNING, with the worker's job id), and its ``result.json``
ends it. A worker that dies (scancel, node failure, time limit) is replaced while work remains; its
claimed trial was lost (INTERRUPTED, with Slurm's state as the reason): the engine queues it
again, from its checkpoint, as hpo_config ``max_retries`` allows.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from hpogrid.backends.container_run import ContainerPlan, job_script
from hpogrid.backends.slurm._executor import SlurmThrottle, payload
from hpogrid.backends.slurm._sbatch import JobState, SlurmClient, SlurmError, cancel, sbatch_argv, submit
from hpogrid.backends.slurm._worker import ALIVE_FILE, POOL_FILE, STOP_FILE
from hpogrid.engine import Ended, Executor, Started, TrialRun, ended_from_result
from hpogrid.errors import BackendError
from hpogrid.objective import standalone
from hpogrid.study.records import INTERRUPTED, RUNNING

#: how many workers a pool may start in all, per worker asked for (replacements included)
RESPAWNS_PER_WORKER = 3


class SlurmPoolExecutor(Executor):
    queues = True
    records_before_flush = True  # workers claim trials from the study: it must hold them first
    program_subdir = True

    def __init__(self, slurm: Dict[str, Any], run_dir: Path, study: str, env: Dict[str, str], store_url: str,
                 backend: str, size: int, stale_after_s: float, judge_s: Optional[float] = None,
                 container: Optional[ContainerPlan] = None, scripts_dir: Optional[Path] = None):
        from hpogrid.study import StudyStore

        self.slurm, self.run_dir, self.study, self.env, self.size = slurm, run_dir, study, env, size
        self.capacity = size
        self.throttle = SlurmThrottle(slurm["poll_interval"], judge_s)
        self.poll_interval = self.throttle.wake_s
        self.client = SlurmClient()
        self.store = StudyStore(store_url)
        self.live: Dict[str, TrialRun] = {}
        self.claimed: Dict[str, str] = {}   # uid -> worker job id
        #: nodes later worker jobs must avoid (a failure rule's ``exclude_node``)
        self.excluded: List[str] = []
        self.workers: List[str] = []
        self.started = 0
        #: the image the workers (and so their trials) run in; None: the driver's own Python
        self.container, self.scripts_dir = container, scripts_dir
        self.script = job_script(run_dir / "worker.sh", slurm.get("setup") or [], "slurm_run --pool, setup lines "
                                 "then a worker running trial after trial")
        pool = run_dir / POOL_FILE
        pool.write_text(json.dumps({"run_dir": str(run_dir), "trials_root": str(run_dir), "study": study,
                                    "store_url": store_url, "backend": backend, "stale_after_s": stale_after_s,
                                    "poll_interval": min(1.0, slurm["poll_interval"])}))
        pool.chmod(0o600)  # a database URL may hold a password
        self._touch()
        self._fill()

    def _touch(self) -> None:
        (self.run_dir / ALIVE_FILE).touch()

    def _fill(self) -> None:
        """As many workers as the pool has places (a lost one is replaced while work remains)."""
        while len(self.workers) < self.size:
            self._spawn()

    def _spawn(self) -> None:
        if self.started >= self.size * RESPAWNS_PER_WORKER:
            raise BackendError(f"the Slurm worker pool lost {self.started} workers; see {self.run_dir}/worker-*/")
        self.started += 1
        folder = self.run_dir / f"worker-{self.started}"
        folder.mkdir(exist_ok=True)
        argv = sbatch_argv(self.slurm, job_name=f"hpogrid-pool-{self.study}-{self.started}", workdir=folder,
                           script=self.script, args=payload(self.slurm, self.container, self.scripts_dir,
                                                            ["-m", "hpogrid.backends.slurm._worker",
                                                             str(self.run_dir / POOL_FILE)], folder),
                           exclude=self.excluded)
        self.workers.append(submit(argv, env=self.env))

    def start(self, run: TrialRun) -> Dict[str, Any]:
        self.live[run.uid] = run
        self._fill()
        return {}

    def poll(self) -> List:
        if not self.throttle.due():
            return []
        self._touch()
        events: List = []
        # claims first: a trial claimed and cut short by SIGTERM since the last poll is known
        # as its worker's before its result is read (else the SIGTERM would be its own end)
        running = {t.uid: t for t in self.store.trials(self.study, states=[RUNNING]) if t.uid in self.live}
        for uid, t in running.items():  # claimed by a worker since the last poll
            if uid not in self.claimed and t.job_id:
                self.claimed[uid] = t.job_id
                events.append(Started(uid, {"host": t.host, "job_id": t.job_id}))
        for uid, run in list(self.live.items()):  # finished: the payload wrote its result
            result = standalone.read_result(run.folder)
            if result is not None and result.get("terminated") and uid in self.claimed:
                continue  # SIGTERM: its worker's job was cancelled or preempted (_check_workers decides)
            if result is not None:
                ended = ended_from_result(uid, result)  # (the claim already recorded its worker's job id)
                self.claimed.pop(uid, None)
                events.append(ended)
                del self.live[uid]
        events += self._check_workers()
        return events

    def _check_workers(self) -> List:
        try:
            states = self.client.states(self.workers)
        except SlurmError:
            return []  # Slurm busy: ask again at the next poll
        events: List = []
        for job_id in list(self.workers):
            info = states.get(job_id) or JobState(job_id, "UNKNOWN")
            if not (info.finished or info.state == "UNKNOWN"):
                continue
            self.workers.remove(job_id)
            for uid in [u for u, owner in self.claimed.items() if owner == job_id and u in self.live]:
                result = standalone.read_result(self.live[uid].folder)
                if result is not None and not result.get("terminated"):
                    continue  # it finished just before its worker: the next poll ends it
                standalone.clear_result(self.live[uid].folder)  # (the lost attempt's, if it wrote one)
                del self.claimed[uid]
                del self.live[uid]
                events.append(Ended(uid, INTERRUPTED, lost=info.state, node=info.node, fields={"host": info.node},
                                    error=f"its worker (Slurm job {job_id}) ended {info.state} while running it"))
        if self.live:
            self._fill()
        return events

    def exclude_node(self, node: str) -> None:
        if node not in self.excluded:
            self.excluded.append(node)

    def cancel(self, uids: List[str], why: str, hurry: bool = False) -> List[Ended]:
        self._stop()
        why = f"{why} (Slurm worker pool stopped)"
        out = [Ended(uid, INTERRUPTED, error=why) for uid in uids if uid in self.live]
        for uid in uids:
            self.live.pop(uid, None)
        return out

    def _stop(self) -> None:
        (self.run_dir / STOP_FILE).touch()
        try:
            cancel(self.workers)
        except SlurmError:
            pass
        self.workers = []

    def close(self) -> None:
        self._stop()
        self.store.close()


def pool_size(options, slurm: Dict[str, Any]) -> int:
    return int(getattr(options, "pool", None) or slurm.get("pool") or 0)

