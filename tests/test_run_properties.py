"""Run-level promises: determinism from a seed, and one settle period per run (not per test)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path

from conformance.reference.app import PostbackApp
from tests.suite_runner import SuiteRun, run_against, run_pytest

SEED = "424242"


_UNIX_TIME = re.compile(rb"(?<![0-9])1[0-9]{9}(?![0-9])")  # seconds since 1970, 2001 to 2286


def _normalised_requests(run: SuiteRun) -> list[str]:
    """traffic.har's entries with what legitimately differs between runs masked: ports, the run ID, times
    (clock, durations, UNIX times in bodies, Date headers); each kept with its test, clauses and status."""
    run_id = run.results["run_id"]
    har = json.loads((run.report_dir / "traffic.har").read_text(encoding="utf-8"))
    lines = []
    for entry in har["log"]["entries"]:
        request = entry["request"]
        post = request.get("postData") or {}
        body = post.get("text", "").encode("utf-8")
        if post.get("_encoding") == "base64":
            body = base64.b64decode(body)
        body = _UNIX_TIME.sub(b"TIME", body.replace(run_id.encode(), b"RUN"))
        line = json.dumps(
            [
                request["method"],
                request["url"],
                request["headers"],
                request["bodySize"],
                hashlib.sha256(body).hexdigest(),
                entry["response"]["status"],
                entry["_postback"]["test"],
                entry["_postback"]["clauses"],
            ]
        )
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
        lines.append(line.replace(run_id, "RUN"))
    return sorted(lines)


def _verdicts(run: SuiteRun) -> list[tuple[str, str, str, str]]:
    def mask(detail: str) -> str:
        detail = re.sub(r"(?<![0-9])1[0-9]{9}(?![0-9])", "TIME", detail)  # UNIX times differ between runs
        return re.sub(r"127\.0\.0\.1:\d+", "PORT", detail.replace(run.results["run_id"], "RUN"))

    return [(c["id"], c["target"], c["status"], mask(c["detail"])) for c in run.results["clauses"]]


def test_the_same_seed_sends_the_same_requests_and_gives_the_same_results(tmp_path: Path) -> None:
    """Determinism (docs/requirements.md, "What the suite must prove about itself"): same seed, same run.

    Two run IDs of one length: fuzzed byte edits never land inside the conformance_id (and are placed
    by the same positions whatever it holds), so the requests differ only by the run ID, which is masked."""
    first = run_pytest(["--seed", SEED, "--run-id", "determinism1"], tmp_path / "first")
    second = run_pytest(["--seed", SEED, "--run-id", "determinism2"], tmp_path / "second")
    assert first.exit_code == second.exit_code == 0, first.stdout[-2000:]
    assert first.results["seed"] == second.results["seed"] == int(SEED)
    assert _normalised_requests(first) == _normalised_requests(second)
    assert _verdicts(first) == _verdicts(second)
    assert json.loads(json.dumps(first.results["profile_overrides"])) == second.results["profile_overrides"]


def _timed(tmp_path: Path, lag: float, settle: float) -> tuple[SuiteRun, float]:
    started = time.monotonic()
    run = run_against(
        PostbackApp,
        "v2",
        tmp_path,
        "--settle",
        str(settle),
        "--seed",
        SEED,
        modules=("test_auth.py",),
        lag=lag,
    )
    return run, time.monotonic() - started


def test_a_lagging_read_back_costs_one_settle_period_per_run(tmp_path: Path) -> None:
    """Read-back waits once for --settle, not once per test: with a target whose read-back lags 2 s,
    --settle 3 passes and takes about 3 s longer than --settle 0 on a prompt target, though the module holds
    many read-back tests."""
    prompt, prompt_time = _timed(tmp_path / "prompt", lag=0, settle=0)
    lagging, lagging_time = _timed(tmp_path / "lagging", lag=2, settle=3)
    assert prompt.exit_code == 0, prompt.stdout[-2000:]
    assert lagging.exit_code == 0, lagging.stdout[-3000:]
    readback_tests = sum("::read-back" in t for c in lagging.results["clauses"] for t in c["tests"])
    assert readback_tests > 5
    assert 2.5 < lagging_time - prompt_time < 3 + 6, (prompt_time, lagging_time)


def test_a_settle_period_shorter_than_the_lag_reports_records_as_missing(tmp_path: Path) -> None:
    """The read-back really waits for nothing more than --settle: with a 3 s lag and --settle 0 the
    preflight canary is missing, and the run stops there (exit 4, one line saying so)."""
    run = run_against(PostbackApp, "v2", tmp_path, "--settle", "0", modules=("test_endpoint.py",), lag=3)
    assert run.exit_code == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert "not read back within --settle 0 s" in run.stderr
