"""Trials under Ray Tune, on this machine or an existing Ray cluster (``--address``).

The engine owns the lifecycle; this backend only builds Tune's run: the trainable, the
scheduler (ASHA, PBT, HyperBand, median stopping: the schedulers that need Tune), the
searcher with its concurrency limit, and the hooks that feed the engine's trial sink
(:mod:`._callbacks`). A resumed study runs in two Tune phases: the re-runs with their exact
stored values first, then new trials. What only Tune needs of a run (the scheduler, the
trainable) is a :class:`TunePlan` of this backend, not part of the engine's search plan.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from hpogrid.engine import Backend, Run, RunOptions, SearchPlan, scoped_environ, worker_environment
from hpogrid.engine.early_stop import ENGINE_SCHEDULERS, EarlyStopper
from hpogrid.errors import BackendError, ValidationError

if TYPE_CHECKING:
    from hpogrid.project import Project
    from hpogrid.search import SchedulerAdapter


@dataclass(frozen=True)
class TunePlan:
    """What only Ray Tune needs of a run, built by :meth:`RayTuneBackend.prepare` (so a bad
    scheduler_param fails before Ray starts): the trial scheduler's adapter, a factory of fresh
    schedulers (each Tune phase needs its own), and the Ray trainable."""

    scheduler: SchedulerAdapter
    make_scheduler: Callable[[], Any]
    trainable: Any


class RayTuneBackend(Backend):
    name = "ray"
    summary = "Ray Tune on this machine, or on a Ray cluster with --address"

    _tune: Optional[TunePlan] = None

    def scheduler(self, project: Project) -> str:
        return project.hpo_config.get("scheduler") or "fifo"

    def scheduler_label(self, run: Run) -> str:
        return self._tune.scheduler.name if self._tune is not None else "fifo"

    def label_for(self, options: RunOptions) -> str:
        return "ray" if self._address(options) else "local"

    @staticmethod
    def _address(options: RunOptions) -> Optional[str]:
        return options.address or os.environ.get("RAY_ADDRESS") or None

    def prepare(self, run: Run) -> None:
        from hpogrid.objective import Model, make_trainable
        from hpogrid.search import scheduler_for

        project, plan = run.project, run.plan
        if plan.space is None:  # a define-by-run model: Tune asks a Searcher, trials send back what they used
            from hpogrid.search.define_by_run import tune_searcher

            plan.searcher = tune_searcher(plan.searcher, plan.spec.metric, plan.spec.mode)

        model = Model.of(project)
        model.check(plan.space)
        spec = plan.spec
        adapter, note = scheduler_for(plan.adapter.name, spec.scheduler)
        if note:
            plan.notes.append(note)
        if plan.space is not None and plan.space.constraints and adapter.name == "pbt":
            raise ValidationError("hpo_config.scheduler", "pbt mutates parameters by itself and cannot keep to "
                                  "search_space constraints: choose asynchyperband, median or fifo")
        if plan.space is None and adapter.name == "pbt":
            raise ValidationError("hpo_config.scheduler", "pbt mutates the parameters of a search space; a "
                                  "define-by-run model (def objective(trial)) has none: choose asynchyperband, "
                                  "median or fifo")

        def make_scheduler() -> Any:
            return adapter.build(spec.metric, spec.mode, dict(spec.scheduler_param), plan.codec,
                                 objectives=spec.objectives)

        make_scheduler()  # bad scheduler_param fails here, before Ray starts
        if EarlyStopper.for_plan(plan) is not None:  # the engine's rule decides, as on every backend
            make_scheduler = self._engine_scheduler(run)
        elif spec.scheduler in ENGINE_SCHEDULERS:  # one result per trial: nothing to act on
            make_scheduler = lambda: None  # noqa: E731  (Tune's FIFO)
        self._tune = TunePlan(adapter, make_scheduler,
                              make_trainable(model, plan.codec, spec.metric, spec.objectives.metrics,
                                             str(self.trials_root(run)), carry=spec.max_retries > 0))

    @staticmethod
    def _engine_scheduler(run: Run) -> Callable[[], Any]:
        """Schedulers answering by the engine's rule (:mod:`hpogrid.engine.early_stop`), all of
        one run sharing one stopper, which starts from the study's curves."""
        from hpogrid.backends.raytune._scheduler import EngineScheduler

        stopper = EarlyStopper.for_plan(run.plan)
        assert stopper is not None
        codec = run.plan.codec
        loaded: List[bool] = []

        def make() -> Any:
            if not loaded:  # (the study is open once the run executes)
                run.sink.flush()
                stopper.load(run.sink.store.trials(run.sink.study))
                loaded.append(True)
            return EngineScheduler(stopper, lambda trial: codec.trial_uid(trial.config, trial.trial_id))

        make.stopper = stopper  # type: ignore[attr-defined]
        return make

    def execute(self, run: Run) -> Optional[str]:
        # Ray reads its settings from the environment (some at import): set them for the run only
        with scoped_environ(worker_environment(run.project.scripts_dir)):
            return self._execute(run)

    def _execute(self, run: Run) -> Optional[str]:
        from ray import tune

        from hpogrid.backends.raytune._callbacks import DrainingChoice, RunStopper, SinkCallback
        from hpogrid.backends.raytune._processes import forget_ray_run, note_ray_run, reap_orphans
        from hpogrid.search import SeededSampler, unwrap

        project, plan, workload, control, options = run.project, run.plan, run.workload, run.control, run.options
        if self._tune is None:
            raise BackendError("the Ray backend runs only what its prepare() planned")
        tune_plan = self._tune
        spec = plan.spec
        limit = spec.max_concurrent
        seeded = isinstance(unwrap(plan.searcher), SeededSampler)
        # one Tune phase each: resumed re-runs (exact stored values) first, then new trials
        phases: List[Tuple[Dict[str, Any], Any, int, Optional[int]]] = []
        if workload.reruns:
            phases.append((_rerun_space(workload.reruns), None, 1, limit))
        if seeded and tune_plan.scheduler.name == "pbt":  # PBT allows no Searcher: Tune's own generator
            from ray.tune.search.basic_variant import BasicVariantGenerator

            # (Tune ignores max_concurrent_trials for a generator passed in: it carries the limit)
            plan.searcher, seeded = BasicVariantGenerator(random_state=options.seed, max_concurrent=limit or 0), False
        if workload.new_trials:
            if seeded:  # a Searcher: Tune asks it for every trial, it enumerates any grid itself
                plan.searcher.num_samples = -(-workload.new_trials // plan.grid_size)
                phases.append(({}, plan.searcher, workload.new_trials, limit))
            else:
                space = {} if workload.space_in_searcher else plan.codec.param_space()
                samples = workload.new_trials
                if not _is_searcher(plan.searcher):  # Tune's generator: samples per grid point
                    samples = -(-workload.new_trials // plan.grid_size)
                phases.append((space, plan.searcher, samples, limit))
        stopper = RunStopper(spec, control)
        trials_root = self.trials_root(run)
        trials_root.mkdir(parents=True, exist_ok=True)
        callback = SinkCallback(run.sink, plan.codec, stopper, trials_root,
                                getattr(tune_plan.make_scheduler, "stopper", None))
        resources = _ray_resources(spec.resource)
        trainable = tune.with_resources(tune_plan.trainable, resources)
        keep = None if tune_plan.scheduler.shares_checkpoints else 1
        storage = str(spec.log_path(project.path))
        reap_orphans(project.path)
        note_ray_run(project.path)
        self._init_ray(project, options, spec.verbose, limit)
        control.reinstall()  # ray.init makes SIGTERM exit at once: it must stop the run as everywhere
        try:
            _check_schedulable(resources)
            for space, searcher, samples, max_concurrent in phases:
                if control.ending:
                    break
                scheduler = DrainingChoice.install(tune_plan.make_scheduler(), control)
                tuner = tune.Tuner(
                    trainable, param_space=space,
                    tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=samples,
                                                reuse_actors=True, max_concurrent_trials=max_concurrent),
                    run_config=tune.RunConfig(
                        name=f"{run.study}-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=storage,
                        stop=stopper, callbacks=[callback], verbose=2 if spec.verbose else 0,
                        failure_config=tune.FailureConfig(max_failures=spec.max_retries),
                        # (a retried trial's checkpoint, carried through the storage path: the last
                        # one; PBT's exploit copies other trials' older checkpoints, so it keeps all)
                        checkpoint_config=tune.CheckpointConfig(num_to_keep=keep)))
                try:
                    tuner.fit()
                except Exception as exc:
                    raise BackendError(f"Ray Tune failed: {type(exc).__name__}: {exc}") from exc
        finally:
            import ray

            ray.shutdown()
            forget_ray_run(project.path)
        return storage

    def _init_ray(self, project: Project, options: RunOptions, verbose: bool, n_jobs: Optional[int]) -> None:
        import ray

        from hpogrid.backends.raytune._processes import ray_temp_dir

        if not verbose:  # failed trials are reported by hpogrid's summary, not Tune's tracebacks
            for name in ("ray.tune", "ray.train", "ray.air"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        kwargs: Dict[str, Any] = {"log_to_driver": verbose, "logging_level": "INFO" if verbose else "ERROR",
                                  "configure_logging": True}
        address = self._address(options)
        if address:
            ray.init(address=address, runtime_env={"working_dir": str(project.scripts_dir)}, **kwargs)
        else:
            cpus = max(os.cpu_count() or 1, n_jobs or 0)
            ray.init(num_cpus=cpus, include_dashboard=False, _temp_dir=ray_temp_dir(), **kwargs)


def _is_searcher(searcher) -> bool:
    from ray.tune.search import Searcher

    return isinstance(searcher, Searcher)


def _rerun_space(reruns) -> Dict[str, Any]:
    """Tune param_space running each re-run once, with its exact values and uid."""
    from ray import tune

    from hpogrid.search import RERUN_KEY

    return {RERUN_KEY: tune.grid_search([{"uid": uid, "values": values} for uid, values in reruns])}


def _ray_resources(resource) -> Dict[str, float]:
    """hpo_config ``resource`` as Ray's per-trial request (``custom:NAME`` is Ray's ``NAME``)."""
    from hpogrid.search.names import CUSTOM_RESOURCE_PREFIX

    out = {k.removeprefix(CUSTOM_RESOURCE_PREFIX): float(v) for k, v in resource.items() if v}
    return out or {"cpu": 1}


def _check_schedulable(resources: Dict[str, float]) -> None:
    """A trial asking for more than the whole Ray cluster has would wait forever: say so now."""
    import ray

    total = ray.cluster_resources()
    for key, amount in resources.items():
        name = {"cpu": "CPU", "gpu": "GPU"}.get(key, key)
        have = float(total.get(name, 0))
        if amount > have:
            shown = key if key in ("cpu", "gpu") else f"custom:{key}"
            raise BackendError(f"hpo_config.resource.{shown}: a trial asks for {amount:g}, but the Ray cluster "
                               f"has {have:g} in all, so no trial could ever start; lower it or use a cluster "
                               "that has it")

