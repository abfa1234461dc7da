"""Read-back through Treasure Data's own API: --readback=td through td-client, against
the reference target's emulation of the TD job endpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.contract.fields import FIELD_NAMES
from conformance.contract.value_mapping import Undecided, td_compare_fields
from conformance.readback.td import (
    MAX_STATEMENT,
    TdClient,
    TdReadback,
    TdReadbackError,
    endpoint_for_target,
    parse_readback,
    statements,
    unidentified_statement,
)
from conformance.reference.app import PostbackApp
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from conformance.reference.td_api import QueryError, TdJobApi, parse_query
from conformance.transport.redact import Redactor
from tests.mutants.auth import InvalidKeysIngested
from tests.suite_runner import SUITE, TEST_KEY, SuiteRun, run_pytest

API_KEY = "8421/td0api0key0for0the0emulation0feedface"


# -- the adapter ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host_url", "endpoint"),
    [
        ("https://us01.records.in.treasuredata.com", "https://api.treasuredata.com"),
        ("https://in.treasuredata.com", "https://api.treasuredata.com"),
        ("https://ap01.records.in.treasuredata.com", "https://api.treasuredata.co.jp"),
        ("https://eu01.records.in.treasuredata.com", "https://api.eu01.treasuredata.com"),
        ("https://ap02.records.in.treasuredata.com", "https://api.ap02.treasuredata.com"),
        ("https://ap02.in.treasuredata.com", "https://api.ap02.treasuredata.com"),
        ("https://postback.example.com", None),
        ("https://zz09.records.in.treasuredata.com", None),
    ],
)
def test_the_api_endpoint_follows_the_target_region(host_url: str, endpoint: str | None) -> None:
    assert endpoint_for_target(host_url) == endpoint


def test_td_with_an_unknown_host_or_a_bad_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="pass --readback=td:https://"):
        parse_readback("td", "https://postback.example.com")
    with pytest.raises(ValueError, match="API endpoint like"):
        parse_readback("td:https://api.example.com/prefix", None)
    assert parse_readback("td:http://127.0.0.1:8080/", None) == "td:http://127.0.0.1:8080"


def test_ids_go_in_batches_of_bounded_length_that_the_emulation_parses_back() -> None:
    ids = [f"pc2026run-{n:06d}" for n in range(3000)] + ["it's"]
    window = (1_700_000_000, 1_700_003_600)
    sqls = statements("probe", ids, window, ["conformance_id", "time", "text"])
    assert 1 < len(sqls) < 10
    assert all(len(sql) <= MAX_STATEMENT for sql in sqls)
    assert all(sql.startswith('SELECT "conformance_id", "time", "text" FROM "probe" WHERE ') for sql in sqls)
    parsed = [parse_query(sql) for sql in sqls]
    assert [cid for q in parsed for cid in q.ids or ()] == ids
    assert {(q.table, q.start, q.end, tuple(q.columns)) for q in parsed} == {
        ("probe", *window, ("conformance_id", "time", "text"))
    }


def test_the_unidentified_records_query_selects_time_only_and_the_emulation_parses_it() -> None:
    """BODY-05 on td: the records of the empty-body table without a probe ID, over the send window."""
    for has_ids, no_id in ((True, True), (False, False)):
        query = parse_query(unidentified_statement("probe_empty", (10, 20), has_ids))
        assert (query.columns, query.table, query.start, query.end) == (["time"], "probe_empty", 10, 20)
        assert query.ids is None
        assert query.no_id is no_id


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM probe WHERE conformance_id IN ('a')",
        "SELECT * FROM \"probe\" WHERE TD_TIME_RANGE(time, 1, 2) AND conformance_id IN ('a')",
        "SELECT * FROM \"probe\" WHERE TD_TIME_RANGE(time, 1, 2) AND conformance_id IN ('a'); DROP TABLE x",
        "DELETE FROM \"probe\" WHERE TD_TIME_RANGE(time, 1, 2) AND conformance_id IN ('a')",
    ],
)
def test_the_emulation_refuses_any_other_statement(sql: str) -> None:
    with pytest.raises(QueryError):
        parse_query(sql)


def test_a_td_client_failure_becomes_one_redacted_line() -> None:
    client = TdClient("http://127.0.0.1:9", API_KEY, Redactor())

    def leaky(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"GET failed\nheaders: {{'authorization': 'TD1 {API_KEY}'}}")

    client.client.query = leaky  # type: ignore[method-assign]
    with pytest.raises(TdReadbackError) as caught:
        client.run("db", "SELECT 1")
    message = str(caught.value)
    assert API_KEY not in message
    assert "$POSTBACK_TD_API_KEY" in message
    assert "\n" not in message


# -- the value mapping (BODY-01 under td) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "row", "verdict"),
    [
        ({"a": "x", "n": 1, "b": True, "f": 0.5}, {"a": "x", "n": 1, "b": True, "f": 0.5}, "match"),
        ({"nested": {"a": [1, None]}}, {"nested": '{"a":[1,null]}'}, "match"),
        ({"list": [1, "two"]}, {"list": [1, "two"]}, "match"),
        ({"Name": "x"}, {"name": "x"}, "match"),
        ({"a": "x"}, {"a": "y"}, "mismatch"),
        ({"a": "x"}, {}, "mismatch"),
        ({"n": 1}, {"n": 2}, "mismatch"),
        ({"b": False}, {"b": "true"}, "mismatch"),
        ({"nested": {"a": 1}}, {"nested": "not json"}, "mismatch"),
        ({"n": 1234}, {"n": "1234"}, "undecided"),
        ({"b": True}, {"b": "true"}, "undecided"),
        ({"nothing": None}, {}, "undecided"),
        ({"Grüße": 1}, {"_col1": 1}, "undecided"),
    ],
)
def test_the_td_mapping_decides_what_it_can_and_leaves_the_rest_undecided(
    sent: dict[str, object], row: dict[str, object], verdict: str
) -> None:
    outcome = td_compare_fields(sent, row)
    got = "match" if outcome is None else "undecided" if isinstance(outcome, Undecided) else "mismatch"
    assert got == verdict, f"Expected: {verdict} / Received: {got} ({outcome})"


# -- end to end, through td-client's own HTTP code ----------------------------------------------------------


def run_td(
    tmp_path: Path,
    *args: str,
    app_class: type[PostbackApp] = PostbackApp,
    modules: tuple[str, ...] = (),
    api_class: type[TdJobApi] = TdJobApi,
    fail_jobs: bool = False,
    readback: str = "td",
) -> tuple[SuiteRun, TdJobApi]:
    """Certify a v2 reference target (``app_class``) with ``--readback=td:<its TD API emulation>``."""
    app = app_class("v2", [TEST_KEY], Store())
    app.td_api = api_class(app.store, [API_KEY], fail_jobs)
    targets = [str(SUITE / m) for m in modules] or [str(SUITE)]
    with ExitStack() as stack:
        server = stack.enter_context(ReferenceServer("v2", app=app))
        value = f"td:{server.url}" if readback == "td" else server.readback_url
        env = {"POSTBACK_WRITE_KEY": TEST_KEY, "POSTBACK_TD_API_KEY": API_KEY}
        run = run_pytest(
            [*targets, f"--target={server.url}", "--api-version=v2", f"--readback={value}", *args],
            tmp_path,
            env=env,
        )
    return run, app.td_api


@pytest.fixture(scope="module")
def certified(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, TdJobApi, SuiteRun]:
    """The whole suite against the v2 reference, read back through the TD API emulation and through v1."""
    # --settle 10: the wait ends at the barriers' arrival plus the margin, not at the settle period.
    run, api = run_td(tmp_path_factory.mktemp("td"), "--log-level=DEBUG", "--settle=10")
    protocol_v1, _ = run_td(tmp_path_factory.mktemp("v1"), readback="v1")
    for name, suite_run in (("td", run), ("v1", protocol_v1)):
        (suite_run.report_dir / f"{name}-stdout.txt").write_text(suite_run.stdout + suite_run.stderr)
    return run, api, protocol_v1


def test_the_v2_reference_is_certified_through_the_td_api_with_the_verdicts_of_protocol_v1(
    certified: tuple[SuiteRun, TdJobApi, SuiteRun],
) -> None:
    """Both runs reach the same verdict clause by clause, BODY-05's "never ingested" part included (the
    empty-body table queried for records without a probe ID). Both are ``incomplete`` on a given target for
    one reason only: NAME-02's "never ingested" part for forbidden *database* names."""
    run, _, protocol_v1 = certified
    assert run.exit_code == 0, run.stdout[-3000:]
    assert run.results["verdict"] == protocol_v1.results["verdict"] == "incomplete"
    td = {(e["id"], e["target"]): e["status"] for e in run.results["clauses"]}
    v1 = {(e["id"], e["target"]): e["status"] for e in protocol_v1.results["clauses"]}
    assert not {k: status for k, status in td.items() if status in ("fail", "error")}
    differ = {k: (td.get(k), v1.get(k)) for k in td.keys() | v1.keys() if td.get(k) != v1.get(k)}
    assert differ == {}, f"Expected: the verdicts of protocol v1 / Received: (td, v1) {differ}"
    assert td[("BODY-05", "v2")] == "pass"
    for suite_run in (run, protocol_v1):
        undecided = suite_run.results["undecided"]
        assert [(e["id"], e["target"]) for e in undecided] == [("NAME-02", "v2")], undecided
        assert "database names" in undecided[0]["reason"], undecided[0]["reason"]


def test_a_disposable_account_on_td_certifies_the_reference_conformant_and_complete(tmp_path: Path) -> None:
    """With --disposable-account (forbidden database names get the valid key) every clause is decided
    through the TD API emulation: conformant, and --require-complete exits 0."""
    run, _ = run_td(tmp_path, "--disposable-account", "--require-complete")
    assert run.exit_code == 0, run.stdout[-3000:]
    assert run.results["verdict"] == "conformant"
    assert run.results["undecided"] == []


def test_a_target_that_ingests_invalid_key_records_fails_auth_08_through_td(tmp_path: Path) -> None:
    """ "Never ingested" is decided on td: a target that stores records whatever their key fails AUTH-08."""
    run, _ = run_td(tmp_path, "-k", "AUTH-08", app_class=InvalidKeysIngested.app, modules=("test_auth.py",))
    assert run.exit_code == 1, run.stdout[-3000:]
    assert entry_status(run, "AUTH-08") == "fail"


def entry_status(run: SuiteRun, cid: str) -> str:
    return next(e["status"] for e in run.results["clauses"] if e["id"] == cid and e["target"] == "v2")


def test_a_td_read_back_costs_a_dozen_jobs_each_restricted_in_time_and_columns(
    certified: tuple[SuiteRun, TdJobApi, SuiteRun],
) -> None:
    """One job for the preflight's canary, one per probe table per poll over the run's window, one per
    explicit ``time`` sent outside it (1 s each), one per empty-body table for records without an ID:
    about a dozen (each a billed query on the user's account), each over a window around the run, none
    selecting ``*``, each naming only documented columns. results.json says how many and why the wait
    stopped."""
    run, api, _ = certified
    assert 6 <= len(api.issued) <= 16, f"Expected: about a dozen query jobs / Received: {len(api.issued)}"
    stats = run.results["readback"]["v2"]
    assert stats["jobs"] == len(api.issued), stats
    assert stats["stopped"] == "barrier + margin", stats
    assert set(stats["barriers"]) == {f"conformance.probe{s}" for s in ("", "_empty", "_empty_chunked")}
    now = int(time.time())
    canary, *rest = [parse_query(sql) for sql in api.issued]
    assert canary.ids is not None, "Expected: the preflight's canary first, alone"
    assert len(canary.ids) == 1, "Expected: the preflight's canary first, alone"
    for query in (canary, *rest):
        assert set(query.columns) <= FIELD_NAMES, query.columns  # "*" is none of them
        if query.end - query.start > 1:
            assert now - 4 * 3600 <= query.start <= now - 60
            assert now <= query.end <= now + 2 * 3600
    assert sum(1 for q in rest if q.no_id) == 2, "Expected: one unidentified-records job per empty-body table"


def test_the_td_api_key_appears_nowhere(certified: tuple[SuiteRun, TdJobApi, SuiteRun]) -> None:
    run, _, _ = certified
    assert API_KEY not in run.stdout + run.stderr
    for path in run.report_dir.rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path.name


def preflight_stopped(run: SuiteRun, says: str) -> None:
    """The run stopped at the preflight: exit 4, one line saying ``says``, no test run, no report, no key."""
    assert run.exit_code == pytest.ExitCode.USAGE_ERROR, run.stdout[-2000:] + run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"Expected: one line / Received: {run.stderr}"
    assert "preflight" in lines[0]
    assert says in lines[0], f"Expected: {says!r} / Received: {lines[0]}"
    assert not (run.report_dir / "results.json").exists()
    assert API_KEY not in run.stdout + run.stderr


def test_query_jobs_failing_from_the_start_stop_the_run_at_the_preflight_in_one_line(tmp_path: Path) -> None:
    """Read-back that sees nothing (even the canary's job fails) is a failed preflight (docs/contract.md, exit
    status 4), not a run of read-back errors."""
    run, api = run_td(tmp_path, "--log-level=DEBUG", modules=("test_endpoint.py",), fail_jobs=True)
    preflight_stopped(run, "ended error")
    assert len(api.issued) == 1


class FailsAfterPreflight(TdJobApi):
    """A TD API whose query jobs end ``error`` from the second on: the canary is read back, the run's not."""

    def issue(self, engine: str, database: str, content_type: str | None, body: bytes) -> Any:
        self.fail_jobs = len(self.issued) >= 1
        return super().issue(engine, database, content_type, body)


def test_a_query_job_failing_after_the_preflight_makes_the_read_back_an_error_with_one_clear_line(
    tmp_path: Path,
) -> None:
    run, api = run_td(
        tmp_path, "--log-level=DEBUG", modules=("test_endpoint.py",), api_class=FailsAfterPreflight
    )
    assert len(api.issued) >= 2
    errors = [e for e in run.results["clauses"] if e["status"] == "error"]
    assert errors, run.stdout[-3000:]
    assert not run.statuses("fail")
    for entry in errors:
        assert "ended error" in entry["detail"]
        assert "\n" not in entry["detail"].strip()
    assert run.exit_code == 1
    assert API_KEY not in run.stdout + run.stderr


def test_a_refused_api_key_stops_the_run_at_the_preflight_without_showing_the_key(tmp_path: Path) -> None:
    app = PostbackApp("v2", [TEST_KEY], Store())
    app.td_api = TdJobApi(app.store, ["another/key"])
    with ReferenceServer("v2", app=app) as server:
        env = {"POSTBACK_WRITE_KEY": TEST_KEY, "POSTBACK_TD_API_KEY": API_KEY}
        args = [str(SUITE / "test_endpoint.py"), f"--target={server.url}", "--api-version=v2"]
        run = run_pytest([*args, f"--readback=td:{server.url}"], tmp_path, env=env)
    preflight_stopped(run, "AuthError")
    assert not app.td_api.issued


class NonAsciiMangled(PostbackApp):
    """Stores strings through Latin-1 with replacement: "東京" becomes "??" (a BODY-01 violation)."""

    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        record = super().build_record(document, received_at)
        return {
            k: v.encode("latin-1", "replace").decode("latin-1") if isinstance(v, str) else v
            for k, v in record.items()
        }


def test_a_value_changed_on_ingestion_fails_body_01_through_the_td_read_back(tmp_path: Path) -> None:
    run, _ = run_td(tmp_path, app_class=NonAsciiMangled, modules=("test_body.py",))
    assert run.status("BODY-01") == "fail", run.stdout[-3000:]
    assert run.statuses("fail") == {"BODY-01"}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--target=https://postback.example.com", "--api-version=v2", "--readback=td"], True, "cannot tell"),
        (["--target=https://us01.records.in.treasuredata.com", "--readback=td"], False, "TD_API_KEY"),
    ],
    ids=["unknown-host", "no-api-key"],
)
def test_td_read_back_usage_errors_are_one_line(
    tmp_path: Path, args: list[str], env: bool, message: str
) -> None:
    environ = {"POSTBACK_WRITE_KEY": TEST_KEY, **({"POSTBACK_TD_API_KEY": API_KEY} if env else {})}
    run = run_pytest([str(SUITE / "test_endpoint.py"), *args], tmp_path, env=environ)
    assert run.exit_code == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, run.stderr
    assert message in errors[0]


class GarbageRows(TdJobApi):
    """A TD API whose result rows do not match the result schema it announces."""

    def show(self, job: Any) -> dict[str, Any]:
        shown = super().show(job)
        shown["hive_result_schema"] = '[["only_one_column", "varchar"]]'
        return shown


def test_a_td_api_answering_garbage_is_an_error_not_an_empty_read_back() -> None:
    app = PostbackApp("v2", [TEST_KEY], Store())
    app.td_api = GarbageRows(app.store, [API_KEY])
    app.store.add("conformance", "probe", {"conformance_id": "x-1", "a": 1, "time": int(time.time())})
    with ReferenceServer("v2", app=app) as server:
        readback = TdReadback(f"td:{server.url}", API_KEY, Redactor())
        now = int(time.time())
        with pytest.raises(TdReadbackError, match="does not match the result schema"):
            readback.records("conformance", "probe", ["x-1"], (now - 60, now + 60))


def test_postback_reference_serves_the_td_api_emulation_with_the_key_it_is_given(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTBACK_")}
    env["PYTHONPATH"] = str(SUITE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "conformance.reference.cli", "--api-version", "v2", "--port", "0"]
    command += ["--write-key", TEST_KEY, "--td-api-key", API_KEY]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path) as process:
        try:
            assert process.stdout is not None
            first, second = process.stdout.readline(), process.stdout.readline()
            assert "--readback=td:http://127.0.0.1:" in second, first + second
            endpoint = second.split("--readback=")[1].strip()
            cid = "cli-1"
            httpx.post(
                f"{endpoint.removeprefix('td:')}/postback/v3/event/conformance/probe",
                json={"conformance_id": cid},
                headers={"X-TD-Write-Key": TEST_KEY},
            ).raise_for_status()
            now = int(time.time())
            records = TdReadback(endpoint, API_KEY, Redactor()).records(
                "conformance", "probe", [cid], (now - 60, now + 60)
            )
            assert [r["conformance_id"] for r in records] == [cid]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
    assert API_KEY not in first + second
