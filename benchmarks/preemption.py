"""Preempted trials: checkpoints + retries vs re-running from scratch, on the pool backend.

``--trials`` trials (a grid over ``i``) of ``--epochs`` epochs of ``--epoch_s`` seconds each
(a sleep: the work), checkpointing after every epoch (``hpogrid.trial.checkpoint_dir``).
``--killed`` of the trials (chosen by ``--seed``) are killed once, by SIGKILL to their own
worker process half-way through a random epoch, as a preempted or out-of-memory process is.
Three runs: no failure at all (the reference); the failures with ``max_retries 1`` (each
killed trial is retried at once and resumes from its checkpoint); and the failures as today
without checkpoints: the trials fail and a second run, ``--resume --rerun-failed``, runs them
again from epoch 1. Prints the epoch-seconds spent (the work done, lost work included) and the
wall time of each, as ratios to the reference. Target: checkpoints + retries <= 1.10.

Run: ``.venv/bin/python benchmarks/preemption.py [--trials 20] [--epochs 20] [--epoch_s 1.0]
[--killed 0.3] [--n_jobs 2] [--seed 0]``.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODEL = '''
import json, os, signal, time
from hpogrid import trial

EPOCHS, EPOCH_S, VICTIMS, CHECKPOINTS = {epochs}, {epoch_s}, {victims!r}, {checkpoints}


def objective(config):
    folder = trial.trial_dir()
    last = trial.last_checkpoint() if CHECKPOINTS else None
    start = json.loads((last / "state.json").read_text())["epoch"] + 1 if last else 1
    kill_at = VICTIMS.get(str(config["i"]))
    with open(folder / "work", "a") as work:
        for epoch in range(start, EPOCHS + 1):
            if epoch == kill_at and not (folder / "killed").exists():
                time.sleep(EPOCH_S / 2)
                work.write(f"{{EPOCH_S / 2}}\\n")
                work.flush()
                (folder / "killed").touch()
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(EPOCH_S)
            work.write(f"{{EPOCH_S}}\\n")
            work.flush()
            if CHECKPOINTS:
                (trial.checkpoint_dir() / "state.json").write_text(json.dumps({{"epoch": epoch}}))
            trial.report(epoch, loss=1.0 / epoch + config["i"] * 1e-3)
    return {{"loss": 1.0 / EPOCHS + config["i"] * 1e-3}}
'''


def run(label, args, victims, checkpoints, retries):
    from hpogrid import paths
    from hpogrid.backends import RunOptions, get_backend
    from hpogrid.configs import NamedStore
    from hpogrid.errors import HpogridError
    from hpogrid.project import create_project, load_project
    from hpogrid.study import StudyStore, sqlite_url

    name = f"pre_{label}"
    folder = Path(os.environ["HPOGRID_HOME"] + "-src") / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(MODEL.format(epochs=args.epochs, epoch_s=args.epoch_s, victims=victims,
                                                  checkpoints=checkpoints))
    space = {"i": {"method": "categorical", "dimension": {"categories": list(range(args.trials)), "grid_search": 1}}}
    NamedStore("hpo_config").create(name, {"algorithm": "tune", "metric": "loss", "mode": "min",
                                           "trials": args.trials, "max_retries": retries,
                                           "stop": {"training_iteration": args.epochs + 1}})
    NamedStore("search_space").create(name, space)
    NamedStore("model_config").create(name, {"script": "train.py", "model": "objective"})
    create_project(name, str(folder), {"hpo_config": name, "search_space": name, "model_config": name})
    started = time.monotonic()
    backend = get_backend("pool")
    backend.run(load_project(name), RunOptions(progress=False, n_jobs=args.n_jobs))
    store = StudyStore(sqlite_url(paths.study_db(name)))
    if any(t.state != "COMPLETED" for t in store.trials(name)):  # today: re-run the failed ones by hand
        try:
            get_backend("pool").run(load_project(name), RunOptions(progress=False, n_jobs=args.n_jobs, resume=True,
                                                                    rerun_failed=True, backup=False))
        except HpogridError as exc:
            print(f"{label}: {exc}")
    wall = time.monotonic() - started
    trials = store.trials(name)
    done = sum(t.state == "COMPLETED" for t in trials)
    work = 0.0
    for t in trials:
        path = Path(t.annotations["trial_dir"]) / "work"
        if path.exists():
            work += sum(float(x) for x in path.read_text().split())
    return work, wall, done


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--epoch_s", type=float, default=1.0)
    ap.add_argument("--killed", type=float, default=0.3)
    ap.add_argument("--n_jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ["HPOGRID_HOME"] = tempfile.mkdtemp(prefix="hpogrid-pre-")
    rng = random.Random(args.seed)
    chosen = rng.sample(range(args.trials), round(args.killed * args.trials))
    victims = {str(i): rng.randint(1, args.epochs) for i in chosen}
    ref = run("none", args, {}, True, 0)
    retried = run("retries", args, victims, True, 1)
    scratch = run("scratch", args, victims, False, 0)
    print(f"{args.trials} trials x {args.epochs} epochs x {args.epoch_s:g} s, {len(victims)} killed once "
          f"(at epochs {sorted(victims.values())}), pool with {args.n_jobs} workers")
    print(f"{'run':<34} {'completed':>9} {'epoch-s':>9} {'ratio':>6} {'wall s':>8} {'ratio':>6}")
    for label, (work, wall, done) in (("no failure", ref), ("killed, checkpoints + max_retries 1", retried),
                                      ("killed, from scratch (--resume)", scratch)):
        print(f"{label:<34} {done:>9} {work:>9.1f} {work / ref[0]:>6.3f} {wall:>8.1f} {wall / ref[1]:>6.3f}")


if __name__ == "__main__":
    main()
