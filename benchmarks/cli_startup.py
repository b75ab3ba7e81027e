"""Start-up cost of a config command: ``hpogrid hpo_config list`` vs ``python -c pass``.

Prints the median wall time of each (>= 10 runs, interleaved, measured in this one run) and
their ratio. Target: <= 3x. Run: ``.venv/bin/python benchmarks/cli_startup.py [--runs N]``.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _time(cmd, env) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("hpogrid", path=os.path.dirname(sys.executable)) or shutil.which("hpogrid")
    home = tempfile.mkdtemp(prefix="hpogrid-bench-")
    env = {**os.environ, "HPOGRID_HOME": home}
    for i in range(5):
        subprocess.run([exe, "hpo_config", "create", f"h{i}", "--trials", str(i + 1)], env=env,
                       stdout=subprocess.DEVNULL, check=True)
    cmd, base = [exe, "hpo_config", "list"], [sys.executable, "-c", "pass"]
    _time(cmd, env), _time(base, env)  # warm the file cache and .pyc files
    ours, ref = [], []
    for _ in range(args.runs):
        ours.append(_time(cmd, env))
        ref.append(_time(base, env))
    m_ours, m_ref = statistics.median(ours), statistics.median(ref)
    print(f"hpogrid hpo_config list: median {m_ours * 1000:.1f} ms over {args.runs} runs")
    print(f"python -c pass:          median {m_ref * 1000:.1f} ms over {args.runs} runs")
    print(f"ratio: {m_ours / m_ref:.2f}x (target <= 3x)")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
