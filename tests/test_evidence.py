"""Evidence people can act on: traffic.har, replay, summary.md, CI annotations.

One run of the AUTH module against a legacy target that ignores ``?td_write_key`` (AUTH-03 fails) as GitHub
Actions would start it, and in-process checks of the pieces.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.contract.model import Cred
from conformance.engine import traffic
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from conformance.report import har
from conformance.report.summary import escape_data, escape_property
from conformance.transport.client import ProbeIds, TargetSpec, Transport
from conformance.transport.credentials import Credentials, Keyring
from conformance.transport.redact import Redactor
from tests.mutants.auth import LegacyIgnoresQueryKey
from tests.netservers import SilentCloser
from tests.suite_runner import ROOT, TEST_KEY, SuiteRun, run_against
from tests.test_reports import synthetic_run

PLACEHOLDER = "$POSTBACK_WRITE_KEY"


def validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(har.schema()).validate(data)


def cli(*args: str, key: str | None = TEST_KEY) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}
    if key is not None:
        env["POSTBACK_WRITE_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "conformance.__main__", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, Path]:
    """The AUTH module against a legacy target that ignores ?td_write_key, run as in GitHub Actions."""
    tmp = tmp_path_factory.mktemp("evidence")
    step_summary = tmp / "step-summary.md"
    step_summary.write_text("earlier step\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:  # run_pytest hands the environment on
        env.setenv("GITHUB_ACTIONS", "true")
        env.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
        run = run_against(LegacyIgnoresQueryKey.app, "legacy", tmp, modules=("test_auth.py",))
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.status("AUTH-03", "legacy") == "fail"
    return run, step_summary


def entries(run: SuiteRun) -> list[dict[str, Any]]:
    data = json.loads((run.report_dir / "traffic.har").read_text(encoding="utf-8"))
    validate(data)
    return list(data["log"]["entries"])


# ------------------------------------------------------------------------------------------- traffic.har


def test_the_har_schema_is_valid_and_rejects_what_har_1_2_rules_out() -> None:
    jsonschema.Draft202012Validator.check_schema(har.schema())
    good = {
        "log": {
            "version": "1.2",
            "creator": {"name": "x", "version": "1"},
            "entries": [],
            "_custom": 1,
        }
    }
    validate(good)
    for bad in (
        {"log": {"version": "1.2", "entries": []}},  # no creator
        {"log": {**good["log"], "custom": 1}},  # a custom field without its underscore
        {"log": {**good["log"], "entries": [{"startedDateTime": "yesterday"}]}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


def test_every_exchange_of_a_run_is_in_the_har_with_its_test_and_clauses(
    failing: tuple[SuiteRun, Path],
) -> None:
    run, _ = failing
    everything = entries(run)
    assert len(everything) == run.results["requests_sent"]
    # The preflight's canary (one per target) comes before any test and judges no clause.
    (canary,) = [e for e in everything if e["_postback"]["test"] == "preflight"]
    assert canary["_postback"]["clauses"] == []
    assert '"conformance_canary":true' in canary["request"]["postData"]["text"]
    # The read-back barriers (one per probe table "never ingested" probes went to) come after every test.
    barriers = [e for e in everything if e["_postback"]["test"] == "read-back barrier"]
    assert barriers, "the auth tests' 'never ingested' probes are followed by a barrier"
    assert all(b["_postback"]["clauses"] == [] for b in barriers)
    assert all('"conformance_barrier":true' in b["request"]["postData"]["text"] for b in barriers)
    found = [e for e in everything if e is not canary and e not in barriers]
    assert all(e["_postback"]["test"].startswith("conformance/test_auth.py::") for e in found)
    assert all(
        e["_postback"]["clauses"] and e["comment"].startswith(e["_postback"]["clauses"][0]) for e in found
    )
    query_keys = [
        e for e in found if {"name": "td_write_key", "value": PLACEHOLDER} in e["request"]["queryString"]
    ]
    header_keys = [
        e for e in found if {"name": "X-TD-Write-Key", "value": PLACEHOLDER} in e["request"]["headers"]
    ]
    assert query_keys, "the query key is a recognisable placeholder"
    assert header_keys, "the header key is a recognisable placeholder"
    assert TEST_KEY not in (run.report_dir / "traffic.har").read_text(encoding="utf-8")


def test_todays_audit_reads_the_har(failing: tuple[SuiteRun, Path], tmp_path: Path) -> None:
    run, _ = failing
    proc = cli("audit", str(run.report_dir / "traffic.har"), "--json", str(tmp_path / "audit.json"))
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    audited = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert audited["requests"] == len(entries(run))
    assert audited["unreadable"]["lines"] == 0


def test_a_large_body_is_kept_in_part_with_its_length_and_digest() -> None:
    body = ("é" * 40_000).encode()  # 80,000 bytes, cut inside a character
    record = traffic.body_record(body)
    assert record["truncated"]
    assert record["size"] == 80_000
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert body.startswith(record["text"].encode())
    assert len(record["text"].encode()) <= traffic.MAX_BODY_RECORDED
    binary = traffic.body_record(b"\xff\x00abc")
    assert binary["encoding"] == "base64"
    assert base64.b64decode(binary["text"]) == b"\xff\x00abc"
    assert not binary["truncated"]


def test_an_exchange_with_no_answer_is_an_entry_with_status_0_and_its_error(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    with SilentCloser() as server:  # reads the request, then closes the connection without an answer
        transport = Transport(
            TargetSpec("v2", server.url, "v2"), Keyring(TEST_KEY, 1), Redactor(), ProbeIds("pc1"), timeout=5
        )
        transport.recorder = run.record_exchange
        run.current.set("m::t[v2]", ("EP-01",))
        try:
            exchange = transport.post()
        finally:
            run.current.clear()
            transport.close()
    assert server.requests, "the request was sent"
    assert exchange.response is None
    assert exchange.error
    data = har.build(run)
    validate(data)
    (entry,) = data["log"]["entries"]
    assert entry["response"]["status"] == 0
    assert entry["response"]["_error"] == exchange.error
    assert entry["_postback"]["test"] == "m::t[v2]"
    assert entry["_postback"]["clauses"] == ["EP-01"]


def test_requests_from_a_tests_worker_threads_are_the_tests(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    run.current.set("m::concurrent[v2]", ("EP-03",))
    try:
        from conformance.transport.exchange import Exchange, SentRequest

        exchange = Exchange("v2", SentRequest("POST", "http://x/", ()), error="none")
        worker = threading.Thread(target=run.record_exchange, args=(exchange, datetime.now(UTC), 0.001))
        worker.start()
        worker.join()
    finally:
        run.current.clear()
    assert run.traffic[0]["test"] == "m::concurrent[v2]"


def test_the_traffic_log_keeps_entries_on_disk_and_gives_them_back_in_order() -> None:
    """docs/running.md (Certification: bounded memory), docs/reports.md (traffic.har): its entries are spooled
    to one temporary file (memory holds an index only); they come back as appended and by start time;
    another log absorbs a worker's spool and removes it; closing drops the file."""
    log, worker = traffic.TrafficLog(), traffic.TrafficLog()
    assert log.path is None  # no file until the first entry
    log.append({"started": "2026-01-01T00:00:02Z", "n": 1})
    log.append({"started": "2026-01-01T00:00:01Z", "n": 2})
    worker.append({"started": "2026-01-01T00:00:00Z", "n": 3, "body": "\u00e9" * 10_000})
    spool = worker.hand_over()
    assert spool is not None
    assert spool.exists()
    log.absorb(spool)
    assert not spool.exists()
    assert [e["n"] for e in log] == [1, 2, 3]
    assert [e["n"] for e in log.by_time()] == [3, 2, 1]
    assert log[2]["body"] == "\u00e9" * 10_000
    assert len(log) == 3
    path = log.path
    assert path is not None
    assert path.exists()
    log.close()
    assert not path.exists()
    assert len(log) == 0
    assert list(log) == []


# -------------------------------------------------------------------------------------------------- replay


def _served_har(tmp_path: Path) -> Path:
    """A HAR of four requests to a correct legacy target: header key, query key, binary body, a huge body."""
    run = synthetic_run(tmp_path)
    redactor = Redactor()
    redactor.add(TEST_KEY, "POSTBACK_WRITE_KEY")
    with ReferenceServer("legacy", [TEST_KEY]) as server:
        transport = Transport(
            TargetSpec("legacy", server.url, "legacy"), Keyring(TEST_KEY, 1), redactor, ProbeIds("pc1")
        )
        transport.recorder = run.record_exchange
        run.urls["legacy"] = server.url
        try:
            run.current.set("m::header[legacy]", ("AUTH-01",))
            transport.post()
            run.current.set("m::query[legacy]", ("AUTH-03",))
            transport.post(credentials=Credentials(header=None, query=Cred.VALID))
            run.current.set("m::binary[legacy]", ("BODY-02",))
            transport.post(body=b"\xff\xfe{", conformance_id=None)
            run.current.set("m::huge[legacy]", ("SIZE-01",))
            transport.post(fields={"pad": "x" * 100_000})
        finally:
            run.current.clear()
            transport.close()
    path = tmp_path / "traffic.har"
    har.write(run, path)
    validate(json.loads(path.read_text(encoding="utf-8")))
    return path


def test_replay_against_an_unchanged_target_reports_no_change(tmp_path: Path) -> None:
    path = _served_har(tmp_path)
    with ReferenceServer("legacy", [TEST_KEY]) as server:
        proc = cli("replay", str(path), f"--target={server.url}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("=> same status (200)") == 2
    assert proc.stdout.count("=> same status (400)") == 1  # the binary body
    assert "not replayed: the HAR keeps only the first 65,536 of the body's" in proc.stdout
    assert "replayed 3 of 4 chosen entries; 0 changed" in proc.stdout
    assert TEST_KEY not in proc.stdout + proc.stderr


def test_replay_shows_what_changed_side_by_side_and_says_so_in_its_status(tmp_path: Path) -> None:
    """The vendor's loop: the target now ignores ?td_write_key; the AUTH-03 entry changed from 200."""
    path = _served_har(tmp_path)
    app = LegacyIgnoresQueryKey.app("legacy", [TEST_KEY], Store())
    with ReferenceServer("legacy", app=app) as server:
        proc = cli("replay", str(path), f"--target={server.url}", "--clause", "AUTH-03")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "#1 AUTH-03 m::query[legacy]" in proc.stdout
    assert "recorded" in proc.stdout
    assert "| now" in proc.stdout
    assert "=> CHANGED: 200 -> 401" in proc.stdout or "=> CHANGED: 200 -> 403" in proc.stdout
    assert "replayed 1 of 1 chosen entries; 1 changed" in proc.stdout


def test_replay_needs_the_key_and_refuses_what_it_cannot_send(tmp_path: Path) -> None:
    path = _served_har(tmp_path)
    no_key = cli("replay", str(path), "--target=http://127.0.0.1:9", "--entry", "0", key=None)
    assert no_key.returncode == 2
    assert "set $POSTBACK_WRITE_KEY" in no_key.stderr
    truncated = cli("replay", str(path), "--target=http://127.0.0.1:9", "--clause", "SIZE-01")
    assert truncated.returncode == 2
    assert "a truncated body is not replayed" in truncated.stdout
    plain = cli("replay", str(path), "--target=http://192.0.2.1", "--entry", "0")
    assert plain.returncode == 2
    assert "plain http" in plain.stderr
    missing = cli("replay", str(path), "--target=http://127.0.0.1:9", "--entry", "9")
    assert missing.returncode == 2
    assert "no entry 9" in missing.stderr
    not_har = cli("replay", str(ROOT / "pyproject.toml"), "--target=http://127.0.0.1:9")
    assert not_har.returncode == 2
    assert "not a HAR file" in not_har.stderr


def test_replay_of_a_suite_run_puts_the_key_back_into_the_query(failing: tuple[SuiteRun, Path]) -> None:
    """Every AUTH-03 entry of the failing run, replayed on a correct target: the query-key ones change."""
    run, _ = failing
    with ReferenceServer("legacy", [TEST_KEY]) as server:
        proc = cli(
            "replay", str(run.report_dir / "traffic.har"), f"--target={server.url}", "--clause", "AUTH-03"
        )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "-> 200" in proc.stdout
    assert TEST_KEY not in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------- summary.md and CI


def test_summary_md_gives_verdict_matrix_and_each_failure_with_a_curl_line(
    failing: tuple[SuiteRun, Path],
) -> None:
    run, step_summary = failing
    text = (run.report_dir / "summary.md").read_text(encoding="utf-8")
    assert "## Postback conformance: ❌ not conformant" in text
    assert "| clause | legacy |" in text
    assert "| AUTH-03 | ❌ |" in text
    section = text.split("### ❌ AUTH-03 [MUST] on legacy", 1)[1].split("###", 1)[0]
    assert "Expected: `status 200 (valid key in query)`" in section
    assert "Received:" in section
    assert "curl -sS -i -X POST" in section
    assert "td_write_key=$POSTBACK_WRITE_KEY" in section
    assert step_summary.read_text(encoding="utf-8") == "earlier step\n" + text + "\n"
    assert TEST_KEY not in text


def test_github_actions_gets_one_error_per_failing_must_clause_and_target(
    failing: tuple[SuiteRun, Path],
) -> None:
    run, _ = failing
    commands = [line for line in run.stdout.splitlines() if line.startswith(("::error", "::warning"))]
    failing_clauses = {
        (c["id"], c["target"]) for c in run.results["clauses"] if c["status"] in ("fail", "error")
    }
    assert len([c for c in commands if c.startswith("::error")]) == len(failing_clauses)
    assert any(c.startswith("::error title=AUTH-03 (legacy)::AUTH-03 [MUST] on legacy") for c in commands)
    assert all("\n" not in c for c in commands)


def test_workflow_command_texts_are_escaped_as_github_says() -> None:
    assert escape_data("50% of\r\nit") == "50%25 of%0D%0Ait"
    assert escape_property("AUTH-03 (a, b: c)") == "AUTH-03 (a%2C b%3A c)"
