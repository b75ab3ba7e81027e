"""What a grid job starts with: run the job with an hpogrid that can run it, whatever the image.

Standard library only: this file travels in the sandbox (``.hpogrid-project/bootstrap.py``) with
the submitting hpogrid's own package (``.hpogrid-project/lib/hpogrid``) and runs with the image's
``python3`` before anything of hpogrid is imported. When the image's hpogrid is at least the
submitting one's version, the job runs with it; when it is missing or older, the job runs the
sandbox's copy on the image's Python, which then needs hpogrid's core dependencies (CORE); if
some are missing the job fails at once with one line naming the image and the missing packages.

    python3 .hpogrid-project/bootstrap.py IMAGE VERSION grid_job PROJECT --seed N ...
"""
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

#: (import name, package) that the CLI and a grid job of the built-in algorithms import
CORE = (("click", "click"), ("pydantic", "pydantic"), ("sqlalchemy", "sqlalchemy"), ("tabulate", "tabulate"),
        ("yaml", "pyyaml"), ("filelock", "filelock"), ("tenacity", "tenacity"), ("numpy", "numpy"),
        ("rich", "rich"))
#: the pilot's name for it (as ._job.METADATA_FILE; this file imports nothing of hpogrid)
METADATA_FILE = "userJobMetadata.json"
_PRE = {"dev": -4, "a": -3, "b": -2, "rc": -1}


def version_key(version):
    """Orders versions the PEP 440 way for plain releases, dev, a, b and rc (enough for hpogrid's)."""
    match = re.match(r"(\d+(?:\.\d+)*)(?:[.-]?(dev|a|b|rc)(\d*))?", version or "")
    if not match:
        return ((), 0, 0)
    release = tuple(int(p) for p in match.group(1).split("."))
    release += (0,) * (4 - len(release))
    return (release, _PRE.get(match.group(2) or "", 0), int(match.group(3) or 0))


def installed_version():
    """The image's hpogrid version for this Python, None where it has none."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python < 3.8
        return None
    try:
        return version("hpogrid")
    except PackageNotFoundError:
        return None


def main(argv):
    image, need, args = argv[0], argv[1], argv[2:]
    have = installed_version()
    if have is not None and version_key(have) >= version_key(need):
        os.execv(sys.executable, [sys.executable, "-m", "hpogrid", *args])
    missing = [package for module, package in CORE if importlib.util.find_spec(module) is None]
    if missing:
        found = f"hpogrid {have}" if have else "no hpogrid"
        line = (f"hpogrid bootstrap: the image {image} has {found} and its Python lacks {', '.join(missing)}, "
                f"needed to run this job's hpogrid {need}: use an image with hpogrid>={need} (docker/Dockerfile)")
        sys.stderr.write(line + "\n")
        # the job's metadata (the pilot attaches it to the failed job): `tasks show` and `report` say why
        project = args[1] if len(args) > 1 else None
        Path(METADATA_FILE).write_text(json.dumps({"hpogrid": need, "project": project, "error": line, "trials": []}))
        return 1
    lib = str(Path(__file__).resolve().parent / "lib")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (lib, os.environ.get("PYTHONPATH")) if p)
    os.execv(sys.executable, [sys.executable, "-m", "hpogrid", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
