"""Reports of a project's study: terminal table, CSV, JSON and a self-contained HTML page.

    from hpogrid.report import Filters, build_report, table, summary, write

    report = build_report("mnist", filters=Filters(days=7))   # reads the study store only
    headers, rows = table(report, extra=("site", "time_s"), top=10)
    paths, notes = write(report, "out/hpo_result", ["csv", "html"])

    # several studies side by side: one summary row each, overlaid figures
    cmp = build_comparison("mnist", ["mnist", "mnist_tpe"])
    headers, rows = compare_table(cmp)
    paths, notes = write_comparison(cmp, "compare", ["json", "html"], outdir="out")

    # the figures of the HTML report (and of ``hpogrid dashboard``) as plotly figure dicts
    figs = build_figures(report)                 # .panels: key, title, figure
    digest = failure_digest(report.trials)       # what failed where: by site/node/host, by error class
    fig = loss_feature_history(report)           # o2tuner's plot_loss_feature_history()
    plotly.graph_objects.Figure(fig).show()

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
from hpogrid.report._compare import COLOURS as COMPARE_COLOURS
from hpogrid.report._compare import Comparison, build_comparison, parse_studies
from hpogrid.report._compare import figures as compare_figures
from hpogrid.report._compare import summary_rows as compare_table
from hpogrid.report._compare import write as write_comparison
from hpogrid.report._curves import Curve, learning_curves, read_curves
from hpogrid.report._failures import (ERROR_HEADERS, PLACE_HEADERS, Digest, digest_tables, error_class,
                                      failure_digest)
from hpogrid.report._figures import Figures, Panel, build_figures
from hpogrid.report._output import KINDS, output_base, output_path, write
from hpogrid.report._pairs import loss_feature_history, pairs
from hpogrid.report._plots import best_by_time
from hpogrid.report._table import fit, records, summary, table, to_csv, to_json

__all__ = [
    "COMPARE_COLOURS", "Digest", "ERROR_HEADERS", "EXTRA_COLUMNS", "PLACE_HEADERS", "digest_tables", "error_class",
    "failure_digest", "KINDS", "Axis", "Comparison", "Curve", "Figures", "Filters", "Panel", "Report", "apply_filters",
    "best_by_time", "build_comparison", "build_figures", "build_report", "compare_figures", "compare_table", "fit", "learning_curves", "loss_feature_history",
    "output_base", "output_path", "pairs", "parse_extra", "parse_range", "read_curves", "records",
    "parse_studies", "summary", "table", "to_csv", "to_json", "write", "write_comparison",
]
