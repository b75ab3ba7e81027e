"""Backends for the contract suite: every behaviour once, for every backend."""
import pytest

#: backends whose trials run outside this test process need real services and time
SLOW = {"ray", "slurm"}


def backend_params(*names):
    return [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else [], id=n) for n in names]


@pytest.fixture
def backend(request):
    """The backend's name; Slurm skips (with the reason) where no Slurm can be started."""
    name = request.param
    if name == "slurm":
        request.getfixturevalue("slurm_cluster")
    return name
