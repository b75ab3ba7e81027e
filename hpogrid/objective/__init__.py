"""How a model runs inside a trial: the model decided once (:class:`Model`), a trial as a
typed spec (:class:`TrialSpec`), one runner for every kind and backend (:class:`TrialRunner`)
with a reporter seam (:class:`Reporter`: the trial folder, or Ray Tune)."""
from hpogrid.objective._define_by_run import DefineByRunTrial
from hpogrid.objective._loader import load_model, load_module
from hpogrid.objective._substitute import apply_values, check_paths, trial_config
from hpogrid.objective._tune import ANNOTATIONS_KEY, make_trainable
from hpogrid.objective.model import Model, ModelKind
from hpogrid.objective.runner import Decision, Reporter, Step, StopTrial, TrialRunner
from hpogrid.objective.trial_spec import TrialSpec

__all__ = ["ANNOTATIONS_KEY", "Decision", "DefineByRunTrial", "Model", "ModelKind", "Reporter", "Step", "StopTrial",
           "TrialRunner", "TrialSpec", "apply_values", "check_paths", "load_model", "load_module", "make_trainable",
           "trial_config"]
