"""CSV cells that a spreadsheet shows as text instead of running them as formulas.

A spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
a tab or carriage return) as a formula, so a parameter value, a study name or an error text
written to CSV could run ``=HYPERLINK(...)`` or ``=cmd|...`` when the file is opened (OWASP
"CSV injection"). :func:`neutralise` prefixes such a cell with ``'``, which spreadsheets show
as text; a cell that already starts with ``'`` gets one more, so :func:`restore` undoes it
exactly and a file hpogrid writes still reads back to the same values. Numbers (``-1.5``,
``-2e-05``) are left alone: a spreadsheet reads them as the numbers they are.
"""
import re

#: first characters that make a spreadsheet evaluate a cell
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def is_number(text: str) -> bool:
    """Whether ``text`` is a plain decimal number (what a spreadsheet reads as one)."""
    return _NUMBER.fullmatch(text) is not None


def neutralise(text: str) -> str:
    """``text`` as a cell no spreadsheet runs as a formula (see the module docstring)."""
    if text.startswith(_QUOTE) or (text.startswith(FORMULA_START) and not is_number(text)):
        return _QUOTE + text
    return text


def restore(cell: str) -> str:
    """The text :func:`neutralise` was given (``restore(neutralise(t)) == t`` for every ``t``)."""
    return cell[1:] if cell.startswith(_QUOTE) else cell


def neutralise_row(row):
    """:func:`neutralise` every cell of ``row`` that is text (numbers and ``None`` pass)."""
    return [neutralise(c) if isinstance(c, str) else c for c in row]
