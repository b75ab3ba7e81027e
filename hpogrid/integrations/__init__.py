"""Callbacks that connect training libraries to :mod:`hpogrid.trial` (``report``/``should_stop``).

    from hpogrid.integrations.lightning import ReportCallback   # PyTorch Lightning
    from hpogrid.integrations.keras import ReportCallback       # Keras 3

Each module imports its library when it is imported itself (never by hpogrid), so hpogrid
runs without them; each is a few lines over :func:`hpogrid.trial.report`.
"""
