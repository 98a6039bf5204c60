"""All benchmarks in turn (`make bench`): each runs in its own process and prints one JSON line.

A failed benchmark prints `{"bench": ..., "error": ...}` instead, the others still run, and the exit
status says something failed.

    .venv/bin/python bench/run.py
"""

import json
import subprocess
import sys
import time
from pathlib import Path

# Benchmark and its time cap in seconds (`make bench` ends within ~40 minutes; outage alone takes 5–10).
BENCHMARKS = {
    "catalog": 480,
    "load": 360,
    "flash_sale": 240,
    "import_codes": 120,
    "callback": 120,
    "commissions": 300,
    "api_orders": 300,
    "dashboard": 300,
    "outage": 900,
}
HERE = Path(__file__).resolve().parent


def main() -> int:
    started = time.perf_counter()
    failed = 0
    for name, time_cap in BENCHMARKS.items():
        print(f"[run] {name}", file=sys.stderr, flush=True)
        bench = subprocess.Popen([sys.executable, str(HERE / f"{name}.py")], stdout=subprocess.PIPE, text=True)
        try:
            output, _ = bench.communicate(timeout=time_cap)
            lines = output.strip().splitlines()
            error = f"exit status {bench.returncode}" if bench.returncode or not lines else ""
        except subprocess.TimeoutExpired:
            bench.terminate()  # SIGTERM lets the benchmark stop its gunicorn on the way out
            bench.communicate(timeout=60)
            lines, error = [], f"took over {time_cap} s"
        if error:
            failed += 1
            print(json.dumps({"bench": name, "error": error}), flush=True)
        else:
            print(lines[-1], flush=True)
    print(f"[run] all benchmarks in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
