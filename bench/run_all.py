"""Run every benchmark (`bench/bench_*.py`), one after another, each in its own process.

`bench/run_all.py seed` runs only those whose file name contains "seed". A benchmark that
crashes is reported and the others still run; the exit status says whether any crashed.
"""

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def bench_files(name_filter=""):
    return [path for path in sorted(BENCH_DIR.glob("bench_*.py")) if name_filter in path.stem]


def run(path):
    """Run one benchmark with this interpreter; return its exit status."""
    print(f"\n=== {path.name} ===", flush=True)
    started = time.perf_counter()
    status = subprocess.run([sys.executable, str(path)], cwd=BENCH_DIR.parent, check=False).returncode
    outcome = "ok" if status == 0 else f"FAILED (exit {status})"
    print(f"--- {path.name}: {outcome} in {time.perf_counter() - started:.1f} s", flush=True)
    return status


def main(argv):
    name_filter = argv[1] if len(argv) > 1 else ""
    files = bench_files(name_filter)
    if not files:
        print(f"No benchmark matches {name_filter!r}.", file=sys.stderr)
        return 2
    failed = [path.name for path in files if run(path) != 0]
    if failed:
        print(f"\nFailed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
