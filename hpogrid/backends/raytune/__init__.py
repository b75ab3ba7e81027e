"""The Ray Tune backend (``local_run``): this machine, or a Ray cluster with ``--address``."""
from hpogrid.backends.raytune._backend import RayTuneBackend

__all__ = ["RayTuneBackend"]
