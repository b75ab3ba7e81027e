"""Resolve the search of a run once, for every backend: overrides, space, algorithm, searcher.

Everything that can be wrong with the project (algorithm vs. space, algorithm_param, the
model) is found here, before a backend starts anything, so a bad config costs no trial.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, List, Optional

from hpogrid.engine.options import RunOptions, RunSpec
from hpogrid.errors import ValidationError

if TYPE_CHECKING:
    from hpogrid.project import Project


@dataclass
class SearchPlan:
    spec: RunSpec
    space: Any           # hpogrid.space.SearchSpace
    adapter: Any         # hpogrid.search.SearcherAdapter (concrete, 'auto' resolved)
    searcher: Any        # the library's searcher (a Ray Searcher)
    codec: Any           # hpogrid.search.Codec
    notes: List[str] = field(default_factory=list)

    @property
    def algorithm(self) -> str:
        return self.adapter.name

    @property
    def grid_size(self) -> int:
        return self.codec.grid_size

    @property
    def total(self) -> int:
        """Trials of a fresh run: ``trials`` rounded up to whole grids (grid search)."""
        return samples_per_grid_point(self.spec.trials, self.grid_size) * self.grid_size


def samples_per_grid_point(trials: int, grid_size: int) -> int:
    return max(1, -(-trials // max(1, grid_size)))


def resolve_search(project: Project, options: RunOptions, scheduler: Optional[str] = None):
    """(run spec, search space, concrete adapter, notes). ``scheduler`` is the one the
    backend will run (None: the hpo_config's); 'auto' chooses with it."""
    from hpogrid.search import get_adapter
    from hpogrid.search import AutoAdapter
    from hpogrid.space import SearchSpace

    spec = RunSpec.from_hpo(project.hpo_config, options)
    space = SearchSpace.from_dict(project.search_space)
    notes = []
    adapter = get_adapter(spec.algorithm)
    if isinstance(adapter, AutoAdapter):
        choice = AutoAdapter.choose(space, spec.trials, scheduler or spec.scheduler, spec.max_concurrent or 1,
                                    objectives=spec.objectives)
        adapter = choice.adapter
        spec = replace(spec, algorithm_param={**choice.params, **spec.algorithm_param})
        notes.append(f"algorithm 'auto' chose {choice.label}: {choice.why}")
    return spec, space, adapter, notes


def is_define_by_run(project: Project) -> bool:
    """Does the project's model take a trial (``def objective(trial)``)? Imports the script."""
    from hpogrid.objective import Model, ModelKind

    return Model.of(project).kind is ModelKind.DEFINE_BY_RUN


@dataclass(frozen=True)
class _DefineByRunAdapter:
    """What a plan needs of an adapter for a define-by-run search: its name."""

    name: str


def plan_define_by_run(project: Project, options: RunOptions) -> SearchPlan:
    """A define-by-run search (:mod:`hpogrid.search.define_by_run`): no search space, optuna or
    random search; a project's search_space, if it has one, is not used."""
    from hpogrid.search.define_by_run import build

    spec = RunSpec.from_hpo(project.hpo_config, options)
    if spec.objectives.is_multi:
        raise ValidationError("hpo_config.metric", "a model that defines its parameters as it runs (def "
                              "objective(trial)) optimises one metric; give a search_space for several objectives")
    searcher, codec, algorithm = build(spec.algorithm, spec.metric, spec.mode, options.seed,
                                       dict(spec.algorithm_param))
    notes = [f"algorithm 'auto' chose '{algorithm}'"] if spec.algorithm == "auto" else []
    if project.search_space:
        notes.append("the model defines its parameters as it runs (def objective(trial)): the project's "
                     "search_space is not used")
    return SearchPlan(spec, None, _DefineByRunAdapter(algorithm), searcher, codec, notes)


def plan_search(project: Project, options: RunOptions, scheduler: Optional[str] = None,
                native: bool = False) -> SearchPlan:
    """Resolve and build the searcher (random search gets its number of samples). ``native``:
    the library's own ask/tell where hpogrid has one, so the run never imports Ray."""
    from hpogrid.search import as_core

    if is_define_by_run(project):
        return plan_define_by_run(project, options)
    if not project.search_space:
        raise ValidationError("project.search_space", "the project has none; only a model that takes a trial "
                              "(def objective(trial): trial.suggest_float(...)) goes without one")
    spec, space, adapter, notes = resolve_search(project, options, scheduler)
    from hpogrid.search import RunShape

    shape = RunShape(spec.trials, spec.max_concurrent or 1)
    searcher, codec = adapter.build(space, spec.metric, spec.mode, options.seed, dict(spec.algorithm_param),
                                    native=native, shape=shape, objectives=spec.objectives)
    if space.constraints:  # no proposal that breaks a search_space constraint is ever run
        from hpogrid.search import constrain

        searcher = constrain(searcher, codec, ray=not native, seed=options.seed, name=adapter.name)
    plan = SearchPlan(spec, space, adapter, searcher, codec, notes)
    core = as_core(searcher)
    if core.budgeted:  # random search: a fixed budget
        core.num_samples = samples_per_grid_point(spec.trials, codec.grid_size)
    if plan.total != spec.trials:
        notes.append(f"grid search of {codec.grid_size} points: running {plan.total} trials "
                     f"({plan.total // codec.grid_size} per grid point)")
    return plan


def check_model(project: Project, space) -> None:
    """Import the script (or parse the command) here: a broken model costs no trial."""
    from hpogrid.objective import Model

    Model.of(project).check(space)
