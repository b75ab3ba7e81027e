"""Writing report files: ``<outname>.csv/.json/.html`` and ``<outname>_pcp.html/.png``.

Files are written atomically (a reader never sees half a report). The PNG needs the
optional ``kaleido`` package and a Chrome/Chromium; without them only the HTML is written
and a note says why.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List, Tuple

from hpogrid.errors import ValidationError
from hpogrid.fileio import write_atomic
from hpogrid.report._frame import Report

#: output kinds in the order they are written
KINDS = ("csv", "json", "html", "pcp")
#: what hpogrid adds to --outname: a name already ending in one would get it twice
OUTPUT_EXTENSIONS = (".csv", ".json", ".html", ".png")


def output_base(outname: str, outdir: str = ".") -> Path:
    """``--outname`` (a plain file name: no folders, ``..``, NUL or leading ``-``/``.``) in the
    existing folder ``--outdir``."""
    from hpogrid.names import check_name

    name = check_name(str(outname), "--outname")
    ext = next((e for e in OUTPUT_EXTENSIONS if name.lower().endswith(e)), None)
    if ext is not None:  # hpogrid adds it: 'x.html' would write x.html.html
        raise ValidationError("--outname", f"{name!r} ends in {ext}: give the name without extension "
                                           f"(hpogrid adds {', '.join(OUTPUT_EXTENSIONS)})")
    if "\x00" in str(outdir):
        raise ValidationError("--outdir", "must not contain a NUL character")
    folder = Path(os.path.expanduser(str(outdir)))
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ValidationError("--outdir", f"{str(folder)!r} {what} (create it first)")
    return folder / name


def output_path(base: Path, suffix: str) -> Path:
    """``base`` + ``suffix`` (not ``with_suffix``: ``run.v2`` must not become ``run.csv``)."""
    return base.with_name(base.name + suffix)


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would race other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_png(figure: dict, path: Path) -> str:
    """Write ``figure`` as PNG with kaleido; returns '' or the reason it was not written."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return "no PNG: the optional package kaleido is not installed (pip install kaleido)"
    import plotly.graph_objects as go

    from hpogrid.engine import scoped_environ

    browser = shutil.which("chromium") or shutil.which("google-chrome")
    use = {"BROWSER_PATH": browser} if browser and not os.environ.get("BROWSER_PATH") else {}
    error = None
    for _ in range(2):  # kaleido's headless page sometimes loses a race on a busy machine: once more
        try:
            with scoped_environ(use):  # kaleido >= 1 drives this browser
                go.Figure(figure).write_image(str(path), format="png", width=1400, height=600)
            return ""
        except Exception as exc:  # noqa: BLE001 - kaleido's failures are many and all optional
            error = exc
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"no PNG: kaleido failed: {first}"


def write(report: Report, outname: str, kinds: List[str], outdir: str = ".") -> Tuple[List[Path], List[str]]:
    """Write the requested ``kinds`` (see :data:`KINDS`); returns (paths written, notes)."""
    from hpogrid.report._source import gc_paused

    base = output_base(outname, outdir)
    with gc_paused():
        return _write(report, base, kinds)


def _write(report: Report, base: Path, kinds: List[str]) -> Tuple[List[Path], List[str]]:
    from hpogrid.report import _html, _table

    written: List[Path] = []
    notes: List[str] = []
    for kind in KINDS:
        if kind not in kinds:
            continue
        if kind == "csv":
            text = _table.to_csv(report)
        elif kind == "json":
            text = _table.to_json(report)
        elif kind == "html":
            text, page_notes = _html.render(report)
            notes += page_notes
        else:
            text, figure, pcp_notes = _html.render_pcp(report)
            notes += [n for n in pcp_notes if n not in notes]
        path = output_path(base, "_pcp.html" if kind == "pcp" else f".{kind}")
        write_atomic(path, text)
        os.chmod(path, 0o666 & ~_umask())  # the temp file was private; a report is a normal file
        written.append(path)
        if kind == "pcp":
            png = output_path(base, "_pcp.png")
            why = write_png(figure, png)
            if why:
                notes.append(why)
            else:
                written.append(png)
    return written, list(dict.fromkeys(notes))
