"""Thin wrappers over the grid services hpogrid talks to: PanDA (panda-client), Rucio (rucio-clients), CRIC.

Nothing here imports panda-client or rucio at module import time.
"""
