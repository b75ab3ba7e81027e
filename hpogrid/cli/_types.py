"""Option types shared by commands: numbers whose every accepted value works downstream.

``click.FloatRange`` lets ``nan`` through (every comparison with it is false) and ``inf`` when a
side is open, and leaves a side without a bound: ``--days 1e10`` then overflows the date
arithmetic as an internal error. :class:`FiniteFloatRange` refuses non-finite numbers; give
it a ``max`` that the code behind the option can take (:data:`DAYS` for a look-back window).
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
