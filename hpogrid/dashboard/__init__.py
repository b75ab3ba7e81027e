"""``hpogrid dashboard``: a local web page that follows a study while any backend writes it.

    from hpogrid.dashboard import Source, create_app, serve
    serve(Source("mnist"), host="127.0.0.1", port=8080)      # until Ctrl-C

The page polls a JSON snapshot of the study (trials, counts, failed trials, grid task and job
states, and the HTML report's own figures from :func:`hpogrid.report.build_figures`) and
redraws without reloading. It reads only; the grid sync button runs ``report``'s sync on
request. Importing this package imports neither Flask nor plotly (the CLI's start-up stays
light); they load when an app is created.
"""
from hpogrid.lazy import lazy_exports

_EXPORTS = {
    "Source": "hpogrid.dashboard._snapshot",
    "Snapshots": "hpogrid.dashboard._snapshot",
    "build": "hpogrid.dashboard._snapshot",
    "create_app": "hpogrid.dashboard._app",
    "serve": "hpogrid.dashboard._app",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
