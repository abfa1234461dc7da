"""Peak memory of a run on the embedded targets: the default run and the thorough profile. By hand, not in CI.

    python benchmarks/memory_bench.py [--profiles default,thorough] [--runs 1]

Runs the suite (``pytest -q`` from the checkout, embedded legacy and v2 targets and the cutover) once per
profile and run, and prints the wall time, the requests sent, the size of traffic.har and the peak resident
set size of the pytest process (its own ``wait4`` accounting). Goal: under 300 MB for both profiles. A run's
traffic is spooled to disk as it happens, bodies over 64 KiB and big read-back records are kept compressed,
so memory follows the clauses rather than the requests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILES = {"default": [], "thorough": [f"--conformance-profile={ROOT / 'profiles' / 'thorough.toml'}"]}


def measure(profile: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--report-dir={reports}"]
        started = time.monotonic()
        child = subprocess.Popen(
            [*command, *PROFILES[profile]], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        results = json.loads((Path(reports) / "results.json").read_text())
        har = (Path(reports) / "traffic.har").stat().st_size
    return {
        "wall": wall,
        "requests": results["requests_sent"],
        "har_mb": har / 1e6,
        "peak_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "exit": child.returncode,
    }


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--profiles", default="default,thorough")
    parser.add_argument("--runs", type=int, default=1)
    options = parser.parse_args()
    print(f"{'profile':<10} {'requests':>9} {'wall s':>7} {'traffic.har MB':>15} {'peak MB':>8} exit")
    for profile in options.profiles.split(","):
        for _ in range(options.runs):
            m = measure(profile)
            print(
                f"{profile:<10} {m['requests']:>9,} {m['wall']:>7.1f} {m['har_mb']:>15.1f} "
                f"{m['peak_mb']:>8.0f} {m['exit']:>4}"
            )


if __name__ == "__main__":
    main()
