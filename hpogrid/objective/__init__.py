"""Objectives: the user's function or Trainable class, wrapped for the searchers."""
from hpogrid.objective._loader import load_model
from hpogrid.objective._wrap import make_trainable, trial_config

__all__ = ["load_model", "make_trainable", "trial_config"]
