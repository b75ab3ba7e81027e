"""hpogrid.progress: a rich bar at a terminal, plain greppable lines elsewhere."""
import io

from rich.console import Console

from hpogrid.progress import Progress


def _terminal():
    buf = io.StringIO()
    return buf, Console(file=buf, force_terminal=True, width=150)


def test_a_terminal_gets_a_rich_bar_with_counts_and_status():
    buf, console = _terminal()
    with Progress("upload", 4, "files", console=console) as p:
        assert p.is_bar
        p.update(advance=1, status="a.root")
        p.update(advance=3, status="[b] c.root")  # brackets are text, not rich markup
    out = buf.getvalue()
    assert "━" in out and "4/4" in out and "files" in out
    assert "[hpogrid] upload" in out and "[b] c.root" in out


def test_elsewhere_plain_lines_rate_limited_and_the_end_once():
    stream = io.StringIO()
    p = Progress("download", 3, "files", console=Console(file=io.StringIO()), stream=stream, plain_every_s=3600)
    assert not p.is_bar
    p.update(advance=1, status="x")   # the first line comes at once
    p.update(advance=1, status="y")   # within the interval: not written
    p.update(advance=1, status="z")
    p.close()
    p.close()
    assert stream.getvalue().splitlines() == ["[hpogrid] download: 1/3 files x", "[hpogrid] download: 3/3 files z"]


def test_short_work_stays_silent_in_plain_mode():
    stream = io.StringIO()
    with Progress("report", 3, "steps", console=Console(file=io.StringIO()), stream=stream,
                  plain_first_after_s=3600) as p:
        p.update(advance=3, status="done")
    assert stream.getvalue() == ""


def test_disabled_draws_nothing_and_imports_nothing(capsys):
    p = Progress("x", 1, enabled=False, stream=io.StringIO())
    p.update(advance=1)
    p.close()
    assert not p.is_bar and capsys.readouterr() == ("", "")
    # and in a fresh interpreter, a disabled progress never loads rich
    import subprocess
    import sys

    code = ("import io, sys; from hpogrid.progress import Progress; "
            "p = Progress('x', 1, enabled=False, stream=io.StringIO()); p.update(advance=1); p.close(); "
            "print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_tty_compatible_env_turns_the_bar_on(monkeypatch, capsys):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with Progress("trials", 2, "trials") as p:
        p.update(advance=2)
    assert p.is_bar and "━" in capsys.readouterr().err
