"""Reports of a project's study: terminal table, CSV, JSON and a self-contained HTML page.

    from hpogrid.report import Filters, build_report, table, summary, write

    report = build_report("mnist", filters=Filters(days=7))   # reads the study store only
    headers, rows = table(report, extra=("site", "time_s"), top=10)
    paths, notes = write(report, "out/hpo_result", ["csv", "html"])

Importing this package is light: pandas is not used, and plotly, numpy and scikit-learn
are imported only while an HTML page or the importance is built. Nothing here prints.
"""
from hpogrid.report._frame import (
    EXTRA_COLUMNS,
    Axis,
    Filters,
    Report,
    apply_filters,
    build_report,
    parse_extra,
    parse_range,
)
from hpogrid.report._output import KINDS, output_base, output_path, write
from hpogrid.report._table import fit, records, summary, table, to_csv, to_json

__all__ = [
    "EXTRA_COLUMNS", "KINDS", "Axis", "Filters", "Report", "apply_filters", "build_report", "fit",
    "output_base", "output_path", "parse_extra", "parse_range", "records", "summary", "table",
    "to_csv", "to_json", "write",
]
