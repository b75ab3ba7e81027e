"""What a scripts folder may hold before hpogrid copies it into a project (and from there into
every grid sandbox): checked in full before anything is copied.

Refused, each with one line naming the first offender: a folder that contains the hpogrid home
(the project would copy itself) or is inside it (``$HPOGRID_HOME/projects``: the store would be
copied into itself), a link to a folder that contains the link (a loop: the copy, which follows
links, would never end), a file name that is not UTF-8, a link pointing outside the scripts
folder (its target would be packed and shipped: ``/etc/passwd`` must never reach the grid; a
link inside the folder is copied as the file it points at), a dangling link, a FIFO, socket or
device, a file that cannot be read. A folder larger than the grid sandbox limit is a warning:
local runs do not care.
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
#: the deepest folder nesting copied (the copy recurses once per level; scripts are a few deep)
MAX_DEPTH = 100


def _ignored(name: str) -> bool:
    import fnmatch

    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _shown(rel: Path) -> str:
    """A relative path as text that can always be printed (non-UTF-8 bytes as ``\\xNN``)."""
    return os.fsencode(str(rel)).decode("utf-8", "backslashreplace")


def _check_name(rel: Path) -> None:
    """File names travel in JSON, hashes and grid sandboxes: they must be UTF-8."""
    try:
        str(rel).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(_FIELD, f"the file name '{_shown(rel)}' is not UTF-8; rename it or move it out of "
                                      "the scripts folder") from None


def _entries(src: Path) -> List[Path]:
    """Everything a copy of ``src`` would hold, walking into linked folders as the copy does.

    A link to a folder the walk is already inside (``loop -> .``, ``sub/up -> ..``, or two
    links pointing at each other's folders) would make the copy endless: refused, naming it. So
    is a folder nested deeper than :data:`MAX_DEPTH` (the copy recurses once per level)."""
    found: List[Path] = []
    stack: List[Tuple[Path, Tuple[str, ...]]] = [(src, (os.path.realpath(src),))]
    while stack:
        folder, chain = stack.pop()
        if len(chain) > MAX_DEPTH:
            raise ValidationError(_FIELD, f"{_shown(folder.relative_to(src))[:80]!r}... is nested more than "
                                          f"{MAX_DEPTH} folders deep; keep the scripts folder shallower")
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            raise ValidationError(_FIELD, f"cannot read {_shown(folder.relative_to(src))!r}: {exc.strerror}") from None
        for name in names:
            if _ignored(name):
                continue
            path = folder / name
            found.append(path)
            _check_name(path.relative_to(src))
            if not path.is_dir():
                continue
            if not path.is_symlink():  # a real folder: its real path without resolving the whole path again
                stack.append((path, chain + (os.path.join(chain[-1], name),)))
                continue
            real = os.path.realpath(path)
            if not _inside(Path(real), Path(chain[0])):
                continue  # a link out of the folder: refused below, never walked
            if real in chain:
                raise ValidationError(_FIELD, f"link {_shown(path.relative_to(src))!r} points at a folder that "
                                              f"contains it ({os.readlink(path)!r}): copying it would never end; "
                                              "remove the link")
            stack.append((path, chain + (real,)))
    return found


def check_scripts_folder(src: Path) -> Tuple[int, List[str]]:
    """(total bytes, warnings) of the scripts at ``src`` (resolved), or one ValidationError."""
    home = paths.home().resolve()
    if src.is_dir() and _inside(home, src):
        raise ValidationError(_FIELD, f"{str(src)!r} contains the hpogrid home {str(home)!r}: the project would "
                                      "copy itself; point at the folder of your training scripts")
    if _inside(src, home):
        raise ValidationError(_FIELD, f"{str(src)!r} is inside the hpogrid home {str(home)!r}, where hpogrid keeps "
                                      "its own files; point at the folder of your training scripts")
    if src.is_dir():
        files = _entries(src)
    else:
        _check_name(Path(src.name))
        files = [src]
    total = 0
    for path in files:
        rel = _shown(path.relative_to(src) if path != src else Path(path.name))
        if path.is_symlink():
            target = Path(os.path.realpath(path))
            if not target.exists():
                raise ValidationError(_FIELD, f"link {rel!r} points at {os.readlink(path)!r}, which does not "
                                              "exist; remove the link")
            if src.is_dir() and not _inside(target, src):
                raise ValidationError(_FIELD, f"link {rel!r} points outside the scripts folder (to "
                                              f"{str(target)!r}); hpogrid does not pack what links point at "
                                              "outside it: copy the file in or remove the link")
        try:
            info = path.stat()
        except OSError as exc:
            raise ValidationError(_FIELD, f"cannot read {rel!r}: {exc.strerror}") from None
        if stat.S_ISDIR(info.st_mode):
            continue
        if not stat.S_ISREG(info.st_mode):
            raise ValidationError(_FIELD, f"{rel!r} is not a regular file (a pipe, socket or device); "
                                          "move it out of the scripts folder")
        if not os.access(path, os.R_OK):
            raise ValidationError(_FIELD, f"{rel!r} cannot be read (permissions); make it readable or move "
                                          "it out of the scripts folder")
        total += info.st_size
    warnings = []
    if total > SANDBOX_LIMIT:
        warnings.append(f"the scripts are {total / 2 ** 20:.1f} MB; a grid sandbox takes at most "
                        f"{SANDBOX_LIMIT // 2 ** 20} MB compressed, so 'hpogrid run' may refuse this project: "
                        "keep data out of the scripts folder (hpogrid dataset upload)")
    return total, warnings
