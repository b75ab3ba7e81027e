"""Tables: ASCII ones start fast (no wcwidth import), wide characters still line up."""
import subprocess
import sys

PROBE = """
import sys
from hpogrid.cli._base import echo_table
echo_table([["h1", 3]], ["name", "trials"])
print("wcwidth loaded:", "wcwidth" in sys.modules)
echo_table([["学習率", 1], ["lr", 22]], ["name", "n"])
print("wcwidth loaded:", "wcwidth" in sys.modules)
"""


def test_ascii_table_skips_wcwidth_and_wide_table_aligns_by_display_width():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[3] == "wcwidth loaded: False" and lines[-1] == "wcwidth loaded: True"
    wide = lines[4:8]
    assert wide[2].startswith("学習率") and wide[3].startswith("lr ")
    # the number column ends at the same display column in every row (3 CJK chars = 6 columns)
    assert [len(line) + sum(1 for c in line if ord(c) > 0x3000) for line in wide] == [len(wide[0])] * 4
