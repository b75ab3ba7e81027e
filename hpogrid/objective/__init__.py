"""Objectives: the user's function or Trainable class, wrapped for the searchers."""
from hpogrid.objective._define_by_run import DefineByRunTrial, is_define_by_run
from hpogrid.objective._loader import load_model, load_module
from hpogrid.objective._substitute import apply_values, check_paths
from hpogrid.objective._wrap import (ANNOTATIONS_KEY, make_define_by_run_trainable, make_program_trainable,
                                    make_trainable, trial_config)

__all__ = ["ANNOTATIONS_KEY", "DefineByRunTrial", "apply_values", "check_paths", "is_define_by_run", "load_model",
           "load_module", "make_define_by_run_trainable", "make_program_trainable", "make_trainable", "trial_config"]
