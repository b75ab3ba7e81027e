"""Hyperparameter importance: permutation importance of a random forest on held-out trials.

Why this estimator:

* A random forest fits the mixed, non-linear, interacting response surfaces HPO produces
  with no tuning, handles categorical parameters as integer codes and log parameters in
  log space, and is in scikit-learn (already a dependency).
* *Permutation* importance (drop in held-out R² when one parameter's column is shuffled)
  rather than the forest's mean decrease in impurity: impurity importance is computed on
  the training trials and favours parameters with many distinct values, so a two-valued
  categorical like the optimiser looks unimportant even when it decides everything.
* Not fANOVA (Hutter et al. 2014; optuna's default): it marginalises the same kind of
  forest over every partition and needs a few hundred lines of its own; on typical HPO
  studies both rank parameters the same, and permutation importance also charges a
  parameter for its interactions, which is what "does it matter" means to a user.
* The target is the metric's *rank*, so a few diverged trials (loss 1e9) cannot dominate
  the fit; the held-out R² is reported so a poor fit (too few trials, pure noise) is
  visible instead of looking like a confident ranking.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

#: fewer completed trials than this give no importance (a note says why)
MIN_TRIALS = 12
#: trials the forest is fitted on at most (a uniform sample above that keeps it < 1 s)
MAX_TRIALS = 4000


@dataclass(frozen=True)
class Importance:
    scores: Dict[str, float]  # parameter -> share of the total importance (sums to 1)
    r2: float  # held-out R² of the forest on the metric's ranks
    n: int  # trials used


def importance(columns: Dict[str, Sequence[float]], values: Sequence[float],
               seed: int = 0) -> "tuple[Optional[Importance], Optional[str]]":
    """(importance, None) or (None, reason). ``columns`` are numeric encodings of the
    parameters (codes for categoricals, log10 for log parameters), aligned with ``values``."""
    import numpy as np
    from scipy.stats import rankdata
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split

    n = len(values)
    if n < MIN_TRIALS:
        return None, f"needs at least {MIN_TRIALS} completed trials with a value (have {n})"
    names = [k for k, col in columns.items() if len(set(col)) > 1]
    if not names:
        return None, "every parameter has a single value"
    X = np.column_stack([np.asarray(columns[k], dtype=float) for k in names])
    y = rankdata(np.asarray(values, dtype=float)) / n
    if np.ptp(y) == 0:
        return None, "the metric has the same value in every trial"
    rng = np.random.default_rng(seed)
    if n > MAX_TRIALS:
        pick = rng.choice(n, MAX_TRIALS, replace=False)
        X, y = X[pick], y[pick]
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed)
    forest = RandomForestRegressor(n_estimators=32, min_samples_leaf=5, max_features=None,
                                   random_state=seed, n_jobs=1).fit(X_tr, y_tr)
    r2 = float(forest.score(X_te, y_te))
    perm = permutation_importance(forest, X_te, y_te, n_repeats=5, random_state=seed, n_jobs=1)
    raw = np.clip(perm.importances_mean, 0, None)
    total = float(raw.sum())
    if total <= 0:
        return None, f"no parameter explains the metric (held-out R² {r2:.2f})"
    scores = {k: float(v) / total for k, v in zip(names, raw)}
    scores.update({k: 0.0 for k in columns if k not in scores})
    return Importance(dict(sorted(scores.items(), key=lambda kv: -kv[1])), r2, len(y)), None
