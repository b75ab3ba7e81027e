"""Example 4: a physics classifier on ROOT data - gradient-boosted trees (LightGBM) on a TTree.

Two parts in one file:

* ``python hep_classifier.py hep_toy.root [--events N] [--seed S]`` writes a toy ntuple with
  uproot: a TTree ``events`` of di-jet-like events, half signal (a narrow resonance at 125 GeV
  decaying to two back-to-back objects) and half background (a falling QCD-like spectrum),
  with the branches ``m_jj`` (invariant mass), ``pt1``, ``pt2`` (transverse momenta),
  ``eta1``, ``eta2``, ``delta_eta``, ``delta_phi`` (angles), ``met`` (missing transverse
  energy), ``n_jets`` and ``label`` (1 = signal). Fixed seed: the same file every time;
  100,000 events are about 4 MB. Nothing is downloaded.
* ``hep_classifier(config)`` is the hpogrid model: it reads the TTree with uproot, trains
  LightGBM with the trial's hyperparameters on 70 % of the events and returns the ROC AUC on
  the held-out 30 % (``auc``, the metric to maximise) and the background rejection at 50 %
  signal efficiency (``bkg_rejection_50`` = 1 / background efficiency where half the signal
  passes; an extra metric). ``config["ntuple"]`` is the file: an absolute path, or a name in
  the project's scripts folder (``$HPOGRID_SCRIPTS_DIR``: a grid job finds its input dataset's
  files there, in the job's working directory; a trial itself runs in its trial folder).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

TREE = "events"
FEATURES = ("m_jj", "pt1", "pt2", "eta1", "eta2", "delta_eta", "delta_phi", "met", "n_jets")
#: trees the model uses at most per trial, so a trial stays seconds long on a laptop core
TRAIN_THREADS = 1


def make_events(n: int, seed: int = 42) -> dict:
    """``n`` toy events (half signal) as numpy arrays, one per branch."""
    rng = np.random.default_rng(seed)
    n_sig = n // 2
    n_bkg = n - n_sig

    def kinematics(m, ratio, deta, dphi):
        # m^2 = 2 pt1 pt2 (cosh(deta) - cos(dphi)) with pt2 = ratio * pt1
        pt1 = m / np.sqrt(2 * ratio * (np.cosh(deta) - np.cos(dphi)))
        return pt1, ratio * pt1

    # signal: a resonance (125 GeV, 8 % resolution), balanced and back to back, central
    m_s = rng.normal(125.0, 10.0, n_sig)
    deta_s = rng.normal(0.0, 0.9, n_sig)
    dphi_s = np.pi - np.abs(rng.normal(0.0, 0.35, n_sig))
    pt1_s, pt2_s = kinematics(m_s, rng.uniform(0.55, 1.0, n_sig), deta_s, dphi_s)
    # background: a falling mass spectrum, less balanced, wider in eta and phi
    m_b = 60.0 + rng.exponential(55.0, n_bkg)
    deta_b = rng.normal(0.0, 1.6, n_bkg)
    dphi_b = np.clip(np.pi - np.abs(rng.normal(0.0, 0.9, n_bkg)), 0.05, np.pi)
    pt1_b, pt2_b = kinematics(m_b, rng.uniform(0.25, 1.0, n_bkg), deta_b, dphi_b)

    label = np.concatenate([np.ones(n_sig), np.zeros(n_bkg)]).astype(np.int32)
    pt1 = np.concatenate([pt1_s, pt1_b])
    pt2 = np.concatenate([pt2_s, pt2_b])
    deta = np.concatenate([deta_s, deta_b])
    dphi = np.concatenate([dphi_s, dphi_b])
    eta1 = rng.normal(0.0, 1.2, n)
    eta2 = eta1 + deta
    # detector resolution on the measured mass
    m_jj = np.sqrt(2 * pt1 * pt2 * (np.cosh(deta) - np.cos(dphi))) * rng.normal(1.0, 0.05, n)
    met = np.where(label == 1, rng.exponential(12.0, n), rng.exponential(22.0, n))
    n_jets = 2 + np.where(label == 1, rng.poisson(0.6, n), rng.poisson(1.4, n))
    order = rng.permutation(n)
    columns = {"m_jj": m_jj, "pt1": pt1, "pt2": pt2, "eta1": eta1, "eta2": eta2, "delta_eta": deta,
               "delta_phi": dphi, "met": met, "n_jets": n_jets.astype(np.int32), "label": label}
    return {k: (v[order].astype(np.float32) if v.dtype.kind == "f" else v[order]) for k, v in columns.items()}


def write_ntuple(path: str, n: int = 100_000, seed: int = 42) -> Path:
    """Write :func:`make_events` as TTree ``events`` of a new ROOT file at ``path``."""
    import uproot

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(out) as f:
        f[TREE] = make_events(n, seed)
    return out


def read_ntuple(path: str) -> tuple:
    """(features as an (n, k) float array, labels) from the TTree."""
    import uproot

    with uproot.open(path) as f:
        arrays = f[TREE].arrays([*FEATURES, "label"], library="np")
    x = np.column_stack([arrays[k].astype(np.float64) for k in FEATURES])
    return x, arrays["label"].astype(np.int32)


def background_rejection(y_true, score, signal_efficiency: float = 0.5) -> float:
    """1 / (background efficiency) at the cut that keeps ``signal_efficiency`` of the signal."""
    cut = np.quantile(score[y_true == 1], 1.0 - signal_efficiency)
    eff_bkg = float(np.mean(score[y_true == 0] >= cut))
    n_bkg = int(np.sum(y_true == 0))
    return 1.0 / max(eff_bkg, 1.0 / n_bkg)  # no background left: bounded by the sample size


def _find(ntuple: str) -> Path:
    path = Path(os.path.expandvars(os.path.expanduser(ntuple)))
    if path.is_file():
        return path
    scripts = os.environ.get("HPOGRID_SCRIPTS_DIR")  # (a trial runs in its own folder)
    if scripts and not path.is_absolute() and (Path(scripts) / path).is_file():
        return Path(scripts) / path
    raise FileNotFoundError(f"ntuple {ntuple!r} not found (working directory {os.getcwd()}); write it with "
                            f"'python hep_classifier.py {ntuple}' or pass an absolute path in model_config param")


def hep_classifier(config: dict) -> dict:
    """One trial: train on 70 % of the events, score the other 30 % (see the module docstring)."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x, y = read_ntuple(str(_find(config["ntuple"])))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=7, stratify=y)
    model = lgb.LGBMClassifier(
        n_estimators=int(config.get("n_estimators", 200)), learning_rate=float(config.get("learning_rate", 0.1)),
        num_leaves=int(config.get("num_leaves", 31)), min_child_samples=int(config.get("min_child_samples", 20)),
        subsample=float(config.get("subsample", 1.0)), subsample_freq=1,
        colsample_bytree=float(config.get("colsample_bytree", 1.0)),
        reg_lambda=float(config.get("reg_lambda", 0.0)), n_jobs=TRAIN_THREADS, random_state=0, verbose=-1)
    model.fit(x_train, y_train)
    score = model.predict_proba(x_test)[:, 1]
    return {"auc": float(roc_auc_score(y_test, score)),
            "bkg_rejection_50": background_rejection(y_test, score, 0.5),
            "n_test": int(len(y_test))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the toy ntuple of hpogrid's Example 4.")
    parser.add_argument("path", help="ROOT file to write, e.g. hep_toy.root")
    parser.add_argument("--events", type=int, default=100_000, help="events (half signal; default 100000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.events < 100:
        parser.error("--events: at least 100")
    out = write_ntuple(args.path, args.events, args.seed)
    print(f"Wrote {out} ({args.events} events, TTree '{TREE}', {out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
