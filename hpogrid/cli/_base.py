"""Click plumbing shared by every command: lazy loading, one-line errors, output helpers.

Only the CLI prints or exits. Library errors (:class:`HpogridError`) become ``Error: ...``
with exit code 1, usage errors ``Error: ...`` with exit code 2, Ctrl-C exit code 130;
``--debug`` shows tracebacks instead.
"""
import errno
import importlib
import json
import os
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence

import click

from hpogrid.errors import HpogridError


def debug_enabled() -> bool:
    return os.environ.get("HPOGRID_DEBUG", "") not in ("", "0")


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used (``name -> "module:attr"``)."""

    def __init__(self, *args, lazy: Optional[Dict[str, str]] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


class RootGroup(LazyGroup):
    """The ``hpogrid`` group: converts errors to one line in exactly one place."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HpogridError as exc:
            if debug_enabled():
                raise
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:  # the file system refused (read-only, full, not a folder): not a bug
            if debug_enabled() or not (exc.filename or exc.errno in _FILESYSTEM_ERRNOS):
                raise
            raise click.ClickException(_filesystem_problem(exc)) from exc

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        problem = non_utf8_argument(self, list(sys.argv[1:] if args is None else args))
        if problem:  # before any command sees it: every option and argument at once
            click.echo(f"Error: {problem}", err=True)
            sys.exit(2)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except KeyboardInterrupt as exc:
            click.echo(f"Interrupted: {exc}" if str(exc) else "Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug: still one line unless --debug
            if debug_enabled():
                raise
            click.echo(f"Error: internal error {type(exc).__name__}: {exc} "
                       "(run with --debug for the traceback and please report it)", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def non_utf8_argument(root: click.Command, args: List[str]) -> Optional[str]:
    """One usage line for the first command-line word that is not UTF-8 text (bytes the shell
    passed through, which Python keeps as surrogate escapes), naming its option or argument:
    such a value cannot be stored in a config, a study or a log, so no command takes it."""
    for i, arg in enumerate(args):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            char = ord(arg[exc.start])
            byte = f"byte 0x{char - 0xDC00:02x}" if 0xDC80 <= char <= 0xDCFF else f"U+{char:04X}"
            return (f"{_which_parameter(root, args, i)}: {_shown(arg)} is not UTF-8 text ({byte} at "
                    f"offset {len(arg[:exc.start].encode('utf-8', 'surrogateescape'))}); give it in UTF-8")
    return None


def _shown(arg: str) -> str:
    """``arg`` quoted on one line: bytes that are not UTF-8 as ``\\xNN``, control characters escaped."""
    raw = arg.encode("utf-8", "surrogateescape" if all(
        not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in arg) else "backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in raw.decode("utf-8", "backslashreplace"))
    return f"'{text}'" if len(text) <= 80 else f"'{text[:79]}…'"


def _which_parameter(root: click.Command, args: List[str], index: int) -> str:
    """``--option``, ``argument NAME`` or ``option name`` for ``args[index]``, from the
    parameters of the command the words before it reach (as click will parse them)."""
    command, start = root, 0
    for i in range(index):
        if isinstance(command, click.Group) and not args[i].startswith("-"):
            sub = command.get_command(None, args[i])  # type: ignore[arg-type]  # (ctx unused)
            if sub is None:
                break
            command, start = sub, i + 1
    word = args[index]
    if word.startswith("--") and "=" in word and _is_text(word.split("=", 1)[0]):
        return word.split("=", 1)[0]

    def takes_value(token: str) -> bool:
        for p in command.params:
            if isinstance(p, click.Option) and token in (*p.opts, *p.secondary_opts):
                return not (p.is_flag or p.count)
        return False

    positionals, i = 0, start
    while i < index:
        token = args[i]
        if token == "--":
            positionals += index - i - 1
            break
        if token.startswith("-") and len(token) > 1:
            i += 2 if "=" not in token and takes_value(token) and i + 1 <= index else 1
            if i > index:  # (the word is this option's value)
                return token
            continue
        positionals += 1
        i += 1
    if word.startswith("-") and len(word) > 1 and "--" not in args[start:index]:
        return "option name"
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if isinstance(command, click.Group) or not arguments:
        return "command name" if isinstance(command, click.Group) else "argument"
    taken = 0
    for p in arguments:
        if p.nargs < 0 or positionals < taken + p.nargs:
            return f"argument {p.human_readable_name}"
        taken += p.nargs
    return "argument"


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_FILESYSTEM_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EDQUOT,
                      errno.EISDIR, errno.ENAMETOOLONG}


def _filesystem_problem(exc: OSError) -> str:
    """One line: which path, what is wrong, and HPOGRID_HOME when the path is in it."""
    from hpogrid import paths

    where = f"{exc.filename}: " if exc.filename else ""
    line = f"{where}{exc.strerror or exc}"
    home = str(paths.home())
    if exc.filename and str(exc.filename).startswith(home):
        line += f" (hpogrid keeps its files in HPOGRID_HOME={home}: it must be a folder you can write)"
    return line


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _cell(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _tabulate_module(wide: bool):
    """tabulate, importing its optional wide-character helper (wcwidth) only for tables that
    need it: wcwidth's import alone costs ~30 ms, a third of a config command's start-up,
    and plain ASCII widths are just ``len``."""
    if "tabulate" not in sys.modules and not wide:
        missing = object()
        saved = sys.modules.get("wcwidth", missing)
        sys.modules["wcwidth"] = None  # makes tabulate's optional import fail
        try:
            importlib.import_module("tabulate")
        finally:
            if saved is missing:
                del sys.modules["wcwidth"]
            else:
                sys.modules["wcwidth"] = saved
    import tabulate

    if wide and tabulate.wcwidth is None:
        try:
            import wcwidth
        except ImportError:
            return tabulate
        tabulate.wcwidth, tabulate.WIDE_CHARS_MODE = wcwidth, True
    return tabulate


def echo_table(rows: Iterable[Sequence[Any]], headers: List[str], width: int = 60) -> None:
    """Print a table; long cells are cut to ``width`` characters so rows stay on one line."""
    cells = [[_cell("" if v is None else v, width) for v in row] for row in rows]
    wide = not all(c.isascii() for row in cells for c in row) or not all(h.isascii() for h in headers)
    click.echo(_tabulate_module(wide).tabulate(cells, headers=headers, tablefmt="simple",
                                               disable_numparse=_mixed_bool_columns(cells)))


def _mixed_bool_columns(cells: List[List[str]]) -> List[int]:
    """Columns mixing ``True``/``False`` with other values (a categorical of ``[1.5, true]``):
    tabulate would read the column as numbers and fail on ``float("True")``, so those columns
    are shown as the text they are."""
    mixed = []
    for j, column in enumerate(zip(*cells)):
        flags = [c in ("True", "False") for c in column if c != ""]
        if any(flags) and not all(flags):
            mixed.append(j)
    return mixed


def confirm_if_interactive(message: str, yes: bool) -> None:
    """Ask only when a person is at the terminal; scripts and CI are never blocked."""
    if yes or not sys.stdin.isatty():
        return
    click.confirm(message, abort=True)
