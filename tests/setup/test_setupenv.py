"""setupenv.sh, both README variants, sourced: the default virtual environment and ``no-conda``.

Both run against this checkout's already installed ``.venv`` (its install stamp matches, so
nothing is reinstalled) and check what a user's shell ends up with.
"""
import os
import subprocess
from pathlib import Path

from tests.conftest import REPO

VENV = REPO / ".venv"


def _bash(script: str, **env):
    clean = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), **env}
    return subprocess.run(["bash", "-c", script], cwd=REPO, env=clean, capture_output=True, text=True,
                          timeout=600)


def test_sourced_default_activates_the_venv_and_exports_the_base_path():
    r = _bash('source setupenv.sh >/dev/null && echo "$(command -v python) $HPOGRID_BASE_PATH $VIRTUAL_ENV" '
              '&& hpogrid --version', HPOGRID_VENV=str(VENV))
    assert r.returncode == 0, r.stdout + r.stderr
    python, base, venv = r.stdout.splitlines()[0].split()
    assert Path(python) == VENV / "bin" / "python" and Path(base) == REPO and Path(venv) == VENV
    assert r.stdout.splitlines()[1].startswith("hpogrid, version ")


def test_sourced_no_conda_uses_the_active_environment(tmp_path):
    unused = tmp_path / "never-created"
    r = _bash(f'source "{VENV}/bin/activate" && source setupenv.sh no-conda >/dev/null && '
              'python -c "import sys, hpogrid; print(sys.prefix)" && echo "$HPOGRID_BASE_PATH"',
              HPOGRID_VENV=str(unused))
    assert r.returncode == 0, r.stdout + r.stderr
    prefix, base = r.stdout.split()
    assert Path(prefix) == VENV and Path(base) == REPO and not unused.exists()


def test_unknown_option_is_refused_without_leaving_the_shell():
    r = _bash('source setupenv.sh conda-please; echo "rc=$?"')
    assert "setupenv.sh: unknown option 'conda-please' (use: no-conda, test)" in r.stderr
    assert r.stdout.strip().endswith("rc=2")
