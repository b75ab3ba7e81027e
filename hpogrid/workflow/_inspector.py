"""Inspectors hand an evaluation stage the results of an optimisation stage (o2tuner-style)."""
from typing import Any, Dict, List, Optional


class StudyInspector:
    """Read-only view of one study: losses, annotations, parameter/metric history."""

    def __init__(self, store, study: str):
        self.store, self.study = store, study
        self.info = store.get_study(study)

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
        """One record per completed trial: its number, parameters, metric and best-so-far."""
        best: Optional[float] = None
        history = []
        for t in self.trials:
            better = best is None or (t.value < best if self.info.mode == "min" else t.value > best)
            best = t.value if better else best
            history.append({"number": t.number, "params": dict(t.params), "value": t.value, "best": best})
        return history

    @property
    def best_trial(self):
        return self.store.best_trial(self.study)

    def to_dataframe(self):
        from hpogrid.study import StudyView

        return StudyView(self.store, self.study).to_dataframe()
