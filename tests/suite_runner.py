"""Run the conformance suite (in a subprocess, as a user would) against a target served in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.reference.app import PostbackApp
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance"
TEST_KEY = "4242/feedfacecafebeef0123456789abcdef01234567"


@dataclass
class SuiteRun:
    exit_code: int
    stdout: str
    stderr: str
    report_dir: Path

    @property
    def results(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report_dir / "results.json").read_text())
        return data

    def status(self, clause_id: str, target: str | None = None) -> str:
        for entry in self.results["clauses"]:
            if entry["id"] == clause_id and (target is None or entry["target"] == target):
                return str(entry["status"])
        raise KeyError(f"{clause_id} not in results.json")

    def statuses(self, status: str) -> set[str]:
        return {entry["id"] for entry in self.results["clauses"] if entry["status"] == status}


def run_pytest(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> SuiteRun:
    report_dir = tmp_path / "reports"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTBACK_")}
    environ.update(env or {})
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--report-dir",
        str(report_dir),
        *args,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout)
    return SuiteRun(proc.returncode, proc.stdout, proc.stderr, report_dir)


def run_against(
    app_class: type[PostbackApp],
    version: str,
    tmp_path: Path,
    *args: str,
    modules: tuple[str, ...] = (),
    lag: float = 0.0,
) -> SuiteRun:
    """Serve ``app_class`` as ``version`` on loopback and run the suite (or ``modules`` of it) against it."""
    app = app_class(version, [TEST_KEY], Store(lag=lag))  # type: ignore[arg-type]
    with ReferenceServer(version, app=app) as server:  # type: ignore[arg-type]
        targets = [str(SUITE / m) for m in modules] or [str(SUITE)]
        return run_pytest(
            [
                *targets,
                "--target",
                server.url,
                "--api-version",
                version,
                "--readback",
                server.readback_url,
                *args,
            ],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
        )
