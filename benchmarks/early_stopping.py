"""Early stopping on a real training: FIFO vs ASHA vs synchronous Hyperband vs median stopping.

scikit-learn's ``SGDClassifier`` trained epoch by epoch (``partial_fit``) on the bundled
``load_digits`` data (fixed train/validation split), reporting the validation error after
each epoch with ``hpogrid.trial.report``; the search space is the loss, ``alpha`` and the
constant learning rate ``eta0`` (log-scale: many configurations diverge or crawl, as in real
tuning). Every scheduler gets the same budget of ``--trials`` trials of at most ``--epochs``
epochs, drawn by ``random`` with the same seed (so the same configurations), on the pool
backend with ``--n_jobs`` workers. Prints, per scheduler, the mean best validation error over
the seeds (with its standard error), the mean total epochs spent, and the epochs as a
fraction of FIFO's. Target: ASHA within noise of FIFO's best with at most 1/3 of its epochs.

Run: ``.venv/bin/python benchmarks/early_stopping.py [--seeds 3] [--trials 27] [--epochs 27] [--n_jobs 2]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODEL = '''
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

from hpogrid.trial import report

X, y = load_digits(return_X_y=True)
X = X / 16.0
Xt, Xv, yt, yv = train_test_split(X, y, test_size=0.3, random_state=0)
CLASSES = np.unique(y)


def objective(config, epochs=EPOCHS):
    model = SGDClassifier(loss=config["loss"], alpha=config["alpha"], learning_rate="constant",
                          eta0=config["eta0"], random_state=0)
    for epoch in range(1, epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(Xt, yt, classes=CLASSES)
        if report(epoch, error=1.0 - model.score(Xv, yv)):
            return
'''
SPACE = {
    "loss": {"method": "categorical", "dimension": {"categories": ["hinge", "log_loss", "modified_huber"]}},
    "alpha": {"method": "loguniform", "dimension": {"low": 1e-7, "high": 1e-1}},
    "eta0": {"method": "loguniform", "dimension": {"low": 1e-5, "high": 1.0}},
}


def schedulers(epochs):
    return {
        "fifo": ("fifo", {}),
        "asha": ("asynchyperband", {"max_t": epochs, "grace_period": 1, "reduction_factor": 3}),
        "hyperband": ("hyperband", {"max_t": epochs, "reduction_factor": 3}),
        "median": ("median", {"grace_period": 3, "min_samples_required": 3}),
    }


def run_one(home, label, scheduler, params, seed, args):
    from hpogrid.backends import RunOptions, get_backend
    from hpogrid.configs import NamedStore
    from hpogrid.project import create_project, load_project
    from hpogrid.study import StudyStore, sqlite_url
    from hpogrid import paths

    name = f"es_{label}_{seed}"
    folder = Path(home + "-src") / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sgd.py").write_text(MODEL.replace("EPOCHS", str(args.epochs)))
    hpo = {"algorithm": "random", "metric": "error", "mode": "min", "trials": args.trials, "scheduler": scheduler,
           "scheduler_param": params, "stop": {"training_iteration": args.epochs}}
    NamedStore("hpo_config").create(name, hpo)
    NamedStore("search_space").create(name, SPACE)
    NamedStore("model_config").create(name, {"script": "sgd.py", "model": "objective"})
    create_project(name, str(folder), {"hpo_config": name, "search_space": name, "model_config": name})
    get_backend("pool").run(load_project(name), RunOptions(progress=False, n_jobs=args.n_jobs, seed=seed))
    trials = StudyStore(sqlite_url(paths.study_db(name))).trials(name)
    best = min(t.metrics["error"] for t in trials if t.state == "COMPLETED")
    return best, sum(len(t.intermediate) for t in trials)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=27)
    ap.add_argument("--epochs", type=int, default=27)
    ap.add_argument("--n_jobs", type=int, default=2)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="hpogrid-es-")
    os.environ["HPOGRID_HOME"] = home
    results = {}
    for label, (scheduler, params) in schedulers(args.epochs).items():
        results[label] = [run_one(home, label, scheduler, params, seed, args) for seed in range(args.seeds)]
    fifo_epochs = statistics.mean(e for _, e in results["fifo"])
    print(f"{args.trials} trials x <= {args.epochs} epochs, {args.seeds} seeds, pool with {args.n_jobs} workers")
    print(f"{'scheduler':<10} {'best val. error':>18} {'epochs':>8} {'vs FIFO':>8}")
    for label, runs in results.items():
        bests = [b for b, _ in runs]
        se = statistics.stdev(bests) / len(bests) ** 0.5 if len(bests) > 1 else 0.0
        epochs = statistics.mean(e for _, e in runs)
        print(f"{label:<10} {statistics.mean(bests):>11.4f} ± {se:.4f} {epochs:>8.0f} {epochs / fifo_epochs:>8.2f}")
    print("per seed (best, epochs):")
    for label, runs in results.items():
        print(f"  {label:<10} " + "  ".join(f"{b:.4f}/{e}" for b, e in runs))


if __name__ == "__main__":
    main()
