"""Shared by the hostile-input tests of issue #34: the shape every refusal must have."""
import re

from tests.conftest import tree_snapshot

SPACE = {"x": {"method": "uniform", "dimension": {"low": 0, "high": 1}}}


def refused(result, home_before, home, pattern):
    """One line ``Error: ...`` matching ``pattern``, exit != 0, nothing in the store changed."""
    lines = result.output.strip().splitlines()
    assert result.exit_code not in (0, None), result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert re.search(pattern, lines[0]), lines[0]
    if home_before is not None:
        assert tree_snapshot(home) == home_before
