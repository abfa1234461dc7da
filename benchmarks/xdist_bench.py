"""How much pytest-xdist helps against a far-away target. Run by hand, not in CI.

    python benchmarks/xdist_bench.py [--delay 0.05] [--workers 0,2,4,8] [--version v2]

Serves a reference target on loopback that answers every request ``--delay`` seconds late (a target that
far away), certifies it with the whole suite serially and with ``-n N``, and prints per run the wall time,
the requests sent and the ratio to the latency bound (requests x delay / workers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.reference.app import PostbackApp  # noqa: E402
from conformance.reference.server import ReferenceServer  # noqa: E402
from conformance.reference.store import Store  # noqa: E402

KEY = "4242/feedfacecafebeef0123456789abcdef01234567"


class FarAway(PostbackApp):
    """The reference target, every answer ``delay`` seconds late (read-back included)."""

    delay = 0.05

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            await asyncio.sleep(self.delay)
        await super().__call__(scope, receive, send)


def run_suite(server: ReferenceServer, version: str, workers: int, seed: int, dist: str) -> dict[str, Any]:
    reports = Path(tempfile.mkdtemp(prefix="xdist-bench-"))
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "conformance"),
        f"--target={server.url}", f"--api-version={version}", f"--readback={server.readback_url}",
        f"--seed={seed}", f"--report-dir={reports}",
    ]  # fmt: skip
    if workers:
        command += ["-n", str(workers), f"--dist={dist}"]
    # Bytecode caching as on most machines: with PYTHONDONTWRITEBYTECODE set, every pytest process (each
    # xdist worker) compiles its assertion-rewritten plugin modules again, about 2.5 s of CPU each.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["POSTBACK_WRITE_KEY"] = KEY
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    results = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    return {"workers": workers, "exit": done.returncode, "wall": wall, "requests": results["requests_sent"]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--delay", type=float, default=0.05, help="seconds every answer is late (default 0.05)"
    )
    parser.add_argument("--workers", default="0,2,4,8", help="comma-separated -n values; 0 is serial")
    parser.add_argument("--version", choices=("legacy", "v2"), default="v2")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--dist", default="load", help="pytest-xdist distribution mode (default load)")
    options = parser.parse_args()
    FarAway.delay = options.delay
    app = FarAway(options.version, [KEY], Store())
    print(
        f"target: reference {options.version}, every answer {options.delay * 1000:g} ms late; "
        f"seed {options.seed}"
    )
    print(
        f"rerun: python benchmarks/xdist_bench.py --delay {options.delay} --workers {options.workers} "
        f"--dist {options.dist}"
    )
    print(f"{'-n':>4} {'wall s':>8} {'requests':>9} {'bound s':>8} {'wall/bound':>10} {'vs serial':>9}")
    serial_wall = None
    with ReferenceServer(options.version, app=app) as server:
        for workers in (int(n) for n in options.workers.split(",")):
            row = run_suite(server, options.version, workers, options.seed, options.dist)
            bound = row["requests"] * options.delay / max(1, workers)
            serial_wall = serial_wall or row["wall"]
            print(
                f"{workers or 'off':>4} {row['wall']:8.1f} {row['requests']:9d} {bound:8.1f} "
                f"{row['wall'] / bound:10.2f} {row['wall'] / serial_wall:9.2f}"
                + ("" if row["exit"] == 0 else f"  (exit {row['exit']})")
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
