"""Option types shared by commands: numbers whose every accepted value works downstream.

``click.FloatRange`` lets ``nan`` through (every comparison with it is false) and ``inf`` when a
side is open, and leaves a side without a bound: ``--days 1e10`` then overflows the date
arithmetic as an internal error. :class:`FiniteFloatRange` refuses non-finite numbers; give
it a ``max`` that the code behind the option can take (:data:`DAYS` for a look-back window).
Integers get both bounds too (:func:`count`, :data:`SEED`, :data:`ID`): every numeric option of
every command is finite and in range (``tests/hostile/test_option_ranges.py`` walks them all).
"""
import math

import click


class FiniteFloatRange(click.FloatRange):
    """A ``click.FloatRange`` that refuses ``nan``, ``inf`` and ``-inf`` with one usage line."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)  # inf fails the range; nan passes it
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: a look-back window in days: at most a century (``now - days`` must stay a date)
DAYS = FiniteFloatRange(min=0, min_open=True, max=36500)

#: the most of anything a count option (trials, jobs, workers, rows shown) may ask for: more is
#: a typo, and an unbounded integer reaches code (sizes, seeds, SQL) that cannot take it
COUNT_MAX = 10 ** 9
#: a seed: what every searcher's random generator takes (numpy's 32 bits)
SEED = click.IntRange(0, 2 ** 32 - 1)
#: an identifier such as a PanDA jeditaskid (a 64-bit integer)
ID = click.IntRange(1, 2 ** 63 - 1)


def count(min: int = 0, max: int = COUNT_MAX) -> click.IntRange:
    """An integer option with both sides bounded (``max`` at most :data:`COUNT_MAX` by default)."""
    return click.IntRange(min, max)


class StudyUrl(click.ParamType):
    """A study store URL (``--study-url``, ``--to-url``, ``--from-url``): refused with one usage
    line when it does not parse, names an in-memory SQLite database or a SQLite file in a
    missing folder (:func:`hpogrid.study.engine.check_user_url`); SQLAlchemy is imported only
    when the option is given."""

    name = "url"

    def convert(self, value, param, ctx):
        from hpogrid.errors import HpogridError
        from hpogrid.study.engine import check_user_url

        try:
            check_user_url(str(value), param.opts[0] if param is not None else "--study-url")
        except HpogridError as exc:
            self.fail(getattr(exc, "message", str(exc)), param, ctx)
        return value


#: the one instance every URL option uses
STUDY_URL = StudyUrl()
