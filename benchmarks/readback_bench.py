"""What an ingestion lag costs a run: the read-back waits once, until the target has caught up. By hand.

    python benchmarks/readback_bench.py [--lag 3] [--settle 20] [--version v2] [--repeat 3] [--only LAG]

Serves the reference target on loopback twice, once with records readable at once and once with every record
readable ``--lag`` seconds after it was ingested (an ingestion pipeline), certifies each with the whole suite
and ``--settle``, and prints the median wall time of each, their difference, and what results.json says of
the wait (seconds, why it stopped, polls). The goal: the lag costs at most lag + margin + 5 s, where the
margin is the read-back's (max(1 s, half the slowest arrival): conformance/readback). ``--only LAG``: one
run with that lag and nothing compared (for timing whole processes with an external harness).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.readback.ledger import MARGIN_FRACTION, MIN_MARGIN  # noqa: E402
from conformance.reference.app import PostbackApp  # noqa: E402
from conformance.reference.server import ReferenceServer  # noqa: E402
from conformance.reference.store import Store  # noqa: E402

KEY = "4242/feedfacecafebeef0123456789abcdef01234567"


def run_suite(version: str, lag: float, settle: float, seed: int) -> dict[str, Any]:
    app = PostbackApp(version, [KEY], Store(lag=lag))  # type: ignore[arg-type]
    reports = Path(tempfile.mkdtemp(prefix="readback-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["POSTBACK_WRITE_KEY"] = KEY
    with ReferenceServer(version, app=app) as server:
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "conformance"),
            f"--target={server.url}", f"--api-version={version}", f"--readback={server.readback_url}",
            f"--settle={settle}", f"--seed={seed}", f"--report-dir={reports}",
        ]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
    results = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    return {"exit": done.returncode, "wall": wall, "readback": results["readback"][version]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--lag", type=float, default=3.0, help="seconds until a record is readable (default 3)"
    )
    parser.add_argument("--settle", type=float, default=20.0, help="--settle of both runs (default 20)")
    parser.add_argument("--version", choices=("legacy", "v2"), default="v2")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the median is shown (default 3)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--only", type=float, default=None, help="one run with this lag, nothing compared")
    options = parser.parse_args()
    if options.only is not None:
        row = run_suite(options.version, options.only, options.settle, options.seed)
        print(f"lag {options.only:g} s: wall {row['wall']:.1f} s; read-back {row['readback']}")
        return row["exit"]
    lag, settle = options.lag, options.settle
    print(f"reference {options.version}, --settle {settle:g}, lag {lag:g} s; seed {options.seed}")
    medians = {}
    for run_lag in (0.0, lag):
        rows = [run_suite(options.version, run_lag, settle, options.seed) for _ in range(options.repeat)]
        medians[run_lag] = statistics.median(r["wall"] for r in rows)
        wait = rows[-1]["readback"]
        exits = sorted({r["exit"] for r in rows})
        print(
            f"lag {run_lag:4.1f} s: median wall {medians[run_lag]:6.1f} s over {options.repeat} run(s); "
            f"read-back waited {wait['waited_s']:.1f} s, stopped: {wait['stopped']}, "
            f"{wait['polls']} poll(s); exit {exits}"
        )
    margin = max(MIN_MARGIN, MARGIN_FRACTION * lag)
    cost = medians[lag] - medians[0.0]
    goal = lag + margin + 5
    verdict = "met" if cost <= goal else "MISSED"
    print(f"the lag cost {cost:.1f} s; goal: at most lag + margin + 5 s = {goal:.1f} s: {verdict}")
    return 0 if cost <= goal else 1


if __name__ == "__main__":
    raise SystemExit(main())
