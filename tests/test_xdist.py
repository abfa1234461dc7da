"""pytest-xdist: `pytest -n N` gives the verdicts of a serial run and one set of reports (docs/contract.md).

Every run here is a real suite run in a subprocess, as a user would start it.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conformance.engine.run import Run
from conformance.reference.app import PostbackApp
from conformance.transport.client import TargetSpec
from tests.mutants import all_mutants
from tests.suite_runner import SuiteRun, run_against, run_pytest
from tests.test_reports import synthetic_run

SEED = "4242"


def har_entries(run: SuiteRun) -> list[dict[str, Any]]:
    har = json.loads((run.report_dir / "traffic.har").read_text(encoding="utf-8"))
    entries: list[dict[str, Any]] = har["log"]["entries"]
    return entries


def clause_statuses(run: SuiteRun) -> dict[tuple[str, str], str]:
    return {(e["id"], e["target"]): e["status"] for e in run.results["clauses"]}


@pytest.fixture(scope="module")
def serial_and_parallel(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, SuiteRun]:
    """The embedded run (both versions and the cutover), serially and on two workers, with one seed."""
    args = [f"--seed={SEED}", "--run-id=xdist"]
    serial = run_pytest(args, tmp_path_factory.mktemp("serial"))
    parallel = run_pytest([*args, "-n", "2"], tmp_path_factory.mktemp("parallel"))
    return serial, parallel


def test_two_workers_give_the_clause_verdicts_of_a_serial_run_with_the_same_seed(
    serial_and_parallel: tuple[SuiteRun, SuiteRun],
) -> None:
    """docs/contract.md: `pytest -n N` gives the same verdicts; every clause decided as serially."""
    serial, parallel = serial_and_parallel
    assert serial.exit_code == 0, serial.stdout[-3000:]
    assert parallel.exit_code == 0, parallel.stdout[-3000:]
    expected, received = clause_statuses(serial), clause_statuses(parallel)
    differing = {k: (expected[k], received.get(k)) for k in expected if expected[k] != received.get(k)}
    assert not differing, f"Expected: the serial run's statuses / Received: differences {differing}"
    assert parallel.results["verdict"] == serial.results["verdict"] == "conformant"
    assert parallel.results["parallel"]["workers"] == 2


def test_the_merged_report_counts_every_workers_requests(
    serial_and_parallel: tuple[SuiteRun, SuiteRun],
) -> None:
    """requests_sent is the sum over the workers, and traffic.har holds each of them: with one seed, every
    test sends as many requests as serially; only each worker's own preflight and barriers come on top."""
    serial, parallel = serial_and_parallel
    per_worker = {"preflight", "read-back barrier"}

    def per_test(run: SuiteRun) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in har_entries(run):
            test = entry["_postback"]["test"]
            counts[test] = counts.get(test, 0) + 1
        return counts

    expected, received = per_test(serial), per_test(parallel)
    assert {t: n for t, n in received.items() if t not in per_worker} == {
        t: n for t, n in expected.items() if t not in per_worker
    }
    assert sum(received.values()) == parallel.results["requests_sent"]
    assert sum(expected.values()) == serial.results["requests_sent"]


def test_the_controller_starts_the_embedded_targets_once_for_every_worker(
    serial_and_parallel: tuple[SuiteRun, SuiteRun],
) -> None:
    """Every worker sends to the same two embedded targets (one legacy, one v2), started by the controller."""
    _, parallel = serial_and_parallel
    hosts: dict[str, set[str]] = {}
    for entry in har_entries(parallel):
        host = re.match(r"https?://[^/]+", entry["request"]["url"])
        assert host is not None
        hosts.setdefault(entry["_postback"]["target"], set()).add(host.group(0))
    assert {name: len(found) for name, found in hosts.items()} == {"legacy": 1, "v2": 1}
    targets = {t["name"]: t["url"] for t in parallel.results["targets"]}
    assert hosts == {name: {url} for name, url in targets.items()}


def test_probe_ids_stay_unique_across_workers(serial_and_parallel: tuple[SuiteRun, SuiteRun]) -> None:
    """docs/contract.md, Probe records: each conformance_id is unique and starts with the run ID (and the
    worker's name where a worker sent it)."""
    _, parallel = serial_and_parallel
    entries = [e for e in har_entries(parallel) if e["request"].get("postData", {}).get("text")]
    cids = [
        m[1]
        for e in entries
        for m in [re.search(r'"conformance_id":"([^"]+)"', e["request"]["postData"]["text"])]
        if m
    ]
    assert len(cids) == len(set(cids)), "Expected: no conformance_id sent twice"
    assert all(re.fullmatch(r"xdist(-gw[01])?-[0-9]{6}", c) for c in cids), "the run ID, the worker, a number"
    assert {c.split("-")[1] for c in cids if "-gw" in c} == {"gw0", "gw1"}, "both workers sent probe records"
    junit = (parallel.report_dir / "junit.xml").read_text(encoding="utf-8")
    html = (parallel.report_dir / "report.html").read_text(encoding="utf-8")
    assert set(re.findall(r"xdist-gw[0-9]+-[0-9]{6}", junit + html)) <= set(cids), "reports show sent IDs"


def test_only_the_controller_writes_reports(serial_and_parallel: tuple[SuiteRun, SuiteRun]) -> None:
    """One results.json, junit.xml and report.html, with every test of every worker in them."""
    serial, parallel = serial_and_parallel
    serial_cases = (serial.report_dir / "junit.xml").read_text(encoding="utf-8").count("<testcase ")
    parallel_cases = (parallel.report_dir / "junit.xml").read_text(encoding="utf-8").count("<testcase ")
    assert parallel_cases == serial_cases
    assert "postback conformance" in parallel.stdout
    assert parallel.stdout.count("verdict: CONFORMANT") == 1
    # Passing read-back checks run unscheduled on the workers: progress must not pass 100 %.
    assert not re.search(r"\[1[0-9][0-9]%\]", parallel.stdout.replace("[100%]", "")), parallel.stdout[-2000:]


def test_workers_wait_out_the_settle_period_at_the_same_time(tmp_path: Path) -> None:
    """One settle period per run in wall time, whatever N: the workers' read-back waits overlap."""
    run = run_against(
        PostbackApp, "legacy", tmp_path, "-n", "2", "--settle=3", modules=("test_auth.py", "test_body.py")
    )
    assert run.exit_code == 0, run.stdout[-3000:]
    waits = run.results["parallel"]["readback_waits"]
    assert len(waits) == 2, waits
    latest_start = max(start for start, _ in waits)
    earliest_end = min(end for _, end in waits)
    assert latest_start < earliest_end, f"Expected: overlapping waits / Received: {waits}"


def test_a_read_back_mutant_is_still_caught_on_two_workers(tmp_path: Path) -> None:
    """AUTH-04 is decided by read-back, on the worker that sent the probes: still `fail` under -n 2."""
    wrong = next(m for m in all_mutants() if m.name == "legacy-query-wins")
    run = run_against(wrong.app, "legacy", tmp_path, "-n", "2", modules=("test_auth.py",))
    assert run.exit_code == 1, run.stdout[-3000:]
    assert run.status("AUTH-04", "legacy") == "fail"
    assert "AUTH-04" in run.stdout  # the read-back failure is shown by the controller too
    failing = {e["id"] for e in run.results["clauses"] if e["status"] in ("fail", "error")}
    assert failing == {"AUTH-04"}


def test_each_worker_takes_its_share_of_the_rate_cap(tmp_path: Path) -> None:
    """docs/contract.md: --max-rps is for the whole run; N workers each send at most max-rps / N."""
    run: Run = synthetic_run(tmp_path)
    run.settings = replace(run.settings, max_rps=10.0)
    run.rate_share = 2
    run.connect([(TargetSpec("v2", "http://127.0.0.1:9", "v2"), "1/" + "ab" * 20)], check=False)
    try:
        assert run.transports["v2"].limiter.interval == pytest.approx(0.2)
    finally:
        run.stop()


def test_a_serial_run_reports_no_workers(serial_and_parallel: tuple[SuiteRun, SuiteRun]) -> None:
    serial, _ = serial_and_parallel
    assert "parallel" not in serial.results
