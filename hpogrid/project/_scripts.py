"""What a scripts folder may hold before hpogrid copies it into a project (and from there
into every grid sandbox): checked in full before anything is copied.

Refused, each with one line naming the first offender: a folder that contains the hpogrid
home (the project would copy itself), a link pointing outside the scripts folder (its target
would be packed and shipped: ``/etc/passwd`` must never reach the grid; a link inside the
folder is copied as the file it points at), a dangling link, a FIFO, socket or device, a
file that cannot be read. A folder larger than the grid sandbox limit is a warning: local
runs do not care.
"""
import os
import stat
from pathlib import Path
from typing import List, Tuple

from hpogrid import paths
from hpogrid.errors import ValidationError

#: panda-client refuses non-build sandbox uploads above 10 MB (the packer checks the real archive)
SANDBOX_LIMIT = 10 * 1024 * 1024
#: names never copied (caches, version control)
IGNORED = ("__pycache__", "*.pyc", ".git", ".ipynb_checkpoints")

_FIELD = "project.scripts_path"


def _ignored(name: str) -> bool:
    import fnmatch

    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_scripts_folder(src: Path) -> Tuple[int, List[str]]:
    """(total bytes, warnings) of the scripts at ``src`` (resolved), or one ValidationError."""
    home = paths.home().resolve()
    if src.is_dir() and _inside(home, src):
        raise ValidationError(_FIELD, f"{str(src)!r} contains the hpogrid home {str(home)!r}: the project would "
                                      "copy itself; point at the folder of your training scripts")
    files = [src] if not src.is_dir() else None
    total = 0
    if files is None:
        files = []
        for folder, dirs, names in os.walk(src):
            dirs[:] = [d for d in dirs if not _ignored(d)]
            for name in [*dirs, *names]:
                if not _ignored(name):
                    files.append(Path(folder) / name)
    for path in files:
        rel = path.relative_to(src) if path != src else Path(path.name)
        if path.is_symlink():
            target = Path(os.path.realpath(path))
            if not target.exists():
                raise ValidationError(_FIELD, f"link {str(rel)!r} points at {os.readlink(path)!r}, which does not "
                                              "exist; remove the link")
            if src.is_dir() and not _inside(target, src):
                raise ValidationError(_FIELD, f"link {str(rel)!r} points outside the scripts folder (to "
                                              f"{str(target)!r}); hpogrid does not pack what links point at "
                                              "outside it: copy the file in or remove the link")
        try:
            info = path.stat()
        except OSError as exc:
            raise ValidationError(_FIELD, f"cannot read {str(rel)!r}: {exc.strerror}") from None
        if stat.S_ISDIR(info.st_mode):
            continue
        if not stat.S_ISREG(info.st_mode):
            raise ValidationError(_FIELD, f"{str(rel)!r} is not a regular file (a pipe, socket or device); "
                                          "move it out of the scripts folder")
        if not os.access(path, os.R_OK):
            raise ValidationError(_FIELD, f"{str(rel)!r} cannot be read (permissions); make it readable or move "
                                          "it out of the scripts folder")
        total += info.st_size
    warnings = []
    if total > SANDBOX_LIMIT:
        warnings.append(f"the scripts are {total / 2 ** 20:.1f} MB; a grid sandbox takes at most "
                        f"{SANDBOX_LIMIT // 2 ** 20} MB compressed, so 'hpogrid run' may refuse this project: "
                        "keep data out of the scripts folder (hpogrid dataset upload)")
    return total, warnings
