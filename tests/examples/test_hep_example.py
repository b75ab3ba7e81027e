"""README Example 4 (LightGBM on a ROOT TTree written and read with uproot) through the CLI."""
import json
import subprocess
import sys

import pytest

from hpogrid import paths
from hpogrid.study import StudyStore, sqlite_url
from tests.conftest import EXAMPLE_SCRIPTS

pytestmark = pytest.mark.slow

HEP_SPACE = {
    "num_leaves": {"method": "uniformint", "dimension": {"low": 4, "high": 32}},
    "learning_rate": {"method": "loguniform", "dimension": {"low": 0.02, "high": 0.3}},
    "n_estimators": {"method": "uniformint", "dimension": {"low": 20, "high": 60}},
    "min_child_samples": {"method": "uniformint", "dimension": {"low": 5, "high": 50}},
}


def test_the_toy_ntuple_is_a_root_ttree_with_the_physics_branches(tmp_path):
    import uproot

    out = tmp_path / "toy.root"
    r = subprocess.run([sys.executable, str(EXAMPLE_SCRIPTS / "hep_classifier.py"), str(out), "--events", "2000"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with uproot.open(out) as f:
        tree = f["events"]
        assert tree.num_entries == 2000
        data = tree.arrays(library="np")
    assert {"m_jj", "pt1", "pt2", "eta1", "eta2", "delta_eta", "delta_phi", "met", "n_jets", "label"} <= set(data)
    assert data["label"].sum() == 1000  # half signal
    sig = data["m_jj"][data["label"] == 1]
    assert 110 < float(sorted(sig)[len(sig) // 2]) < 140  # the resonance sits near 125 GeV
    again = tmp_path / "again.root"
    subprocess.run([sys.executable, str(EXAMPLE_SCRIPTS / "hep_classifier.py"), str(again), "--events", "2000"],
                   check=True, capture_output=True, timeout=120)
    with uproot.open(again) as f:  # fixed seed: the same events
        assert (f["events"].arrays(library="np")["m_jj"] == data["m_jj"]).all()


def test_readme_example4_hep_classifier_through_the_cli(run_cli, tmp_path):
    ntuple = tmp_path / "hep_toy.root"
    subprocess.run([sys.executable, str(EXAMPLE_SCRIPTS / "hep_classifier.py"), str(ntuple), "--events", "6000"],
                   check=True, capture_output=True, timeout=120)
    steps = [
        ("model_config", "create", "hep_bdt", "--script", "hep_classifier.py", "--model", "hep_classifier",
         "--param", json.dumps({"ntuple": str(ntuple)})),
        ("search_space", "create", "hep_bdt_space", json.dumps(HEP_SPACE)),
        ("hpo_config", "create", "hep_max_auc", "--algorithm", "random", "--metric", "auc", "--mode", "max",
         "--extra_metrics", "bkg_rejection_50", "--trials", "50"),
        ("project", "create", "hep_classifier", "--scripts_path", EXAMPLE_SCRIPTS / "hep_classifier.py",
         "--model_config", "hep_bdt", "--search_space", "hep_bdt_space", "--hpo_config", "hep_max_auc"),
    ]
    for args in steps:
        r = run_cli(*args)
        assert r.exit_code == 0, (args, r.output)

    r = run_cli("local_run", "hep_classifier", "--trials", "3", "--seed", "1")
    assert r.exit_code == 0, r.output
    assert "3 completed, 0 failed" in r.output
    assert "bkg_rejection_50" in r.output  # the extra metric sits in the final table

    trials = StudyStore(sqlite_url(paths.study_db("hep_classifier"))).trials("hep_classifier")
    assert len(trials) == 3 and {t.state for t in trials} == {"COMPLETED"}, [t.error for t in trials]
    for t in trials:
        auc, rejection = t.metrics["auc"], t.metrics["bkg_rejection_50"]
        assert 0.8 < auc <= 1.0  # the toy signal is well separated by mass and angles
        assert rejection > 2.0  # far better than no cut (rejection 2 at 50 % efficiency by chance)
        assert t.metrics["n_test"] == 1800  # 30 % of 6000 held out
        assert t.value == pytest.approx(auc)

    r = run_cli("report", "hep_classifier", "--to_html", "--outdir", tmp_path, "--no-sync")
    assert r.exit_code == 0, r.output
    assert "bkg_rejection_50" in r.output
    best = max(trials, key=lambda t: t.metrics["auc"])
    assert f"{best.metrics['auc']:.6g}"[:6] in r.output
    page = (tmp_path / "hpo_result.html").read_text()
    assert "bkg_rejection_50" in page and 'id="plot-pairs"' in page
