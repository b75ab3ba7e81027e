"""Inspectors hand an evaluation stage the results of an optimisation stage (o2tuner-style)."""
from typing import Any, Dict, List, Optional


class StudyInspector:
    """Read-only view of one study: losses, annotations, parameter/metric history.

    For a study with several objectives or outcome constraints, ``best_trial`` follows
    :class:`hpogrid.study.StudyView`: infeasible trials are never best, and a multi-objective
    study has ``best_trials`` (its Pareto front) instead of one best trial.
    """

    def __init__(self, store, study: str):
        self.store, self.study = store, study
        self.info = store.get_study(study)

    def _view(self):
        from hpogrid.study import StudyView

        return StudyView(self.store, self.study)

    @property
    def objectives(self):
        """The study's :class:`hpogrid.objectives.Objectives` (metrics, modes, constraints)."""
        from hpogrid.study.standing import study_objectives

        return study_objectives(self.info)

    @property
    def trials(self):
        """Completed trials, in trial order."""
        return [t for t in self.store.trials(self.study, states=["COMPLETED"]) if t.value is not None]

    def get_losses(self) -> List[float]:
        """The study metric of every completed trial."""
        return [t.value for t in self.trials]

    def get_annotation_per_trial(self, key: str, default: Any = None) -> List[Any]:
        return [t.annotations.get(key, default) for t in self.trials]

    def get_history(self) -> List[Dict[str, Any]]:
        """One record per completed trial: its number, parameters, metric and the best-so-far (of
        the feasible trials; the primary objective of several); ``feasible`` too when the study
        has constraints."""
        objectives = self.objectives
        best: Optional[float] = None
        history = []
        for t in self.trials:
            feasible = objectives.feasible(t.metrics)
            better = feasible and objectives.primary.better(t.value, best)
            best = t.value if better else best
            record = {"number": t.number, "params": dict(t.params), "value": t.value, "best": best}
            if objectives.constraints:
                record["feasible"] = feasible
            history.append(record)
        return history

    @property
    def best_trial(self):
        """The best feasible trial of a single-objective study (an error for several objectives)."""
        return self._view().best_trial

    @property
    def best_trials(self):
        """The Pareto front (one objective: the best trial and any tied with it)."""
        return self._view().best_trials

    def to_dataframe(self):
        return self._view().to_dataframe()

    def plot_loss_feature_history(self, figsize=None):
        """o2tuner's figure: the loss (and the best so far), then each numeric parameter, against
        the trial number, one axis each sharing the x axis. Returns matplotlib's ``(fig, axes)``;
        ``fig.savefig(path)`` writes it (no display needed: the figure has no GUI backend)."""
        from matplotlib.figure import Figure

        history = self.get_history()
        names = list(dict.fromkeys(n for h in history for n, v in h["params"].items()
                                   if isinstance(v, (int, float)) and not isinstance(v, bool)))
        fig = Figure(figsize=figsize or (8, 2.2 * (1 + len(names))))
        axes = fig.subplots(1 + len(names), 1, sharex=True, squeeze=False)[:, 0]
        numbers = [h["number"] for h in history]
        metric = self.objectives.primary.metric
        axes[0].plot(numbers, [h["value"] for h in history], "o", label=metric)
        axes[0].plot(numbers, [h["best"] for h in history], "-", label="best so far")
        axes[0].set_ylabel(metric)
        axes[0].legend()
        for ax, name in zip(axes[1:], names):
            points = [(h["number"], h["params"][name]) for h in history if name in h["params"]]
            ax.plot([p[0] for p in points], [p[1] for p in points], "o")
            ax.set_ylabel(name)
        axes[-1].set_xlabel("trial")
        fig.tight_layout()
        return fig, axes
