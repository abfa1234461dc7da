"""Safe on a real account: where the valid key goes, the preflight, cleanup, run bounds."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from conformance.contract.fields import FIELD_NAMES
from conformance.contract.model import Cred, is_valid_name
from conformance.readback.cleanup import main as cleanup_main
from conformance.readback.cleanup import statements
from conformance.reference.app import PostbackApp, Rejection
from conformance.reference.asgi import Request, Response
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from conformance.transport.client import (
    EVENT_PATH,
    NoConnection,
    ProbeIds,
    TargetSpec,
    Transport,
    UnsafeRequest,
    probe_tables,
)
from conformance.transport.credentials import Credentials, Keyring
from conformance.transport.redact import Redactor
from tests.suite_runner import SUITE, TEST_KEY, SuiteRun, run_against, run_pytest

VALID_KEY_MARK = "$POSTBACK_WRITE_KEY"


def valid_key_requests(run: SuiteRun) -> list[dict[str, Any]]:
    """Every request in traffic.har that carried the valid key (redacted to its placeholder) to the endpoint,
    as {"method", "url", "headers": ["Name: value", ...]}."""
    har = json.loads((run.report_dir / "traffic.har").read_text())
    entries = [
        {
            "method": e["request"]["method"],
            "url": e["request"]["url"],
            "headers": [f"{h['name']}: {h['value']}" for h in e["request"]["headers"]],
        }
        for e in har["log"]["entries"]
    ]
    return [
        e for e in entries if VALID_KEY_MARK in e["url"] or any(VALID_KEY_MARK in h for h in e["headers"])
    ]


def names_of(url: str) -> tuple[str, str]:
    path = urlsplit(url).path
    if not path.startswith(EVENT_PATH + "/"):
        return "", ""
    segments = path[len(EVENT_PATH) + 1 :].split("/")
    return unquote(segments[0]), unquote(segments[1]) if len(segments) > 1 else ""


def test_valid_key_goes_only_to_the_probe_database_and_tables_and_creates_only_documented_fields(
    tmp_path: Path,
) -> None:
    """Every request with the valid key in a whole run (both versions and the cutover comparison, read-back
    on, no --disposable-account) names --database and --table (an allowed <table>_<suffix>, or a forbidden
    table name there: NAME-02); the report counts records per table; and the union of field names of every
    record the target ingested is within the documented set (conformance/contract/fields.py: on Treasure
    Data each would be a column for good)."""
    store = Store()
    run = run_against(
        PostbackApp, "cutover", tmp_path, "--database=mydb", "--table=mytable", disposable=False, store=store
    )
    assert run.exit_code == 0, run.stdout[-3000:]
    sent = valid_key_requests(run)
    assert len(sent) > 100
    own = ("", *probe_tables("mytable"))
    wrong = [
        (e["method"], e["url"])
        for e in sent
        if names_of(e["url"])[0] not in ("", "mydb")
        or (names_of(e["url"])[1] not in own and is_valid_name(names_of(e["url"])[1]))
    ]
    assert not wrong, wrong[:10]
    assert any(not is_valid_name(names_of(e["url"])[1]) for e in sent), (
        "NAME-02 table names got the valid key"
    )
    by_table = run.results["records_by_table"]
    assert set(by_table) == {"legacy", "v2"}
    for counts in by_table.values():
        assert counts["mydb.mytable"] > 0
        assert all(t.startswith("mydb.") and (t[5:] in own or not is_valid_name(t[5:])) for t in counts), (
            counts
        )
    assert not run.statuses("error")
    ingested = store.every_record()
    assert len(ingested) > 200
    assert {db for db, _, _ in ingested} == {"mydb"}
    names = {name for _, _, record in ingested for name in record}
    assert names <= FIELD_NAMES, sorted(names - FIELD_NAMES)[:20]


def test_a_valid_key_record_with_an_undocumented_field_is_refused_before_sending() -> None:
    """A suite bug sending a field outside the documented set with the valid key stops at the transport,
    even when the name hides behind an escape or the body is no valid JSON; an unknown key may send it."""
    t = guarded_transport()
    for body in (b'{"conformance_id":"x","colour":1}', b'{"conformance_id":"x","\\u0063olour":1', b'{"a":'):
        with pytest.raises(UnsafeRequest, match="documented set"):
            t.post(body=body)
    assert t.sent == 0
    with pytest.raises(NoConnection):  # not refused as unsafe: sent, and nothing listens on port 1
        t.post(body=b'{"conformance_id":"x","colour":1}', credentials=Credentials(header=Cred.UNKNOWN))
    assert t.sent == 1
    t.close()


def guarded_transport(embedded: bool = False) -> Transport:
    spec = TargetSpec("v2", "http://127.0.0.1:1", "v2", "mydb", "mytable", embedded=embedded)
    return Transport(spec, Keyring(TEST_KEY, 1), Redactor(), ProbeIds("pctest"))


def test_valid_key_to_another_table_is_refused_before_sending() -> None:
    """A suite bug sending the valid key elsewhere stops at the transport (nothing sent)."""
    t = guarded_transport()
    with pytest.raises(UnsafeRequest, match="suite bug"):
        t.post(table="other")
    with pytest.raises(UnsafeRequest):
        t.post(credentials=Credentials(header=None, query=Cred.VALID), database="other")
    assert t.sent == 0
    t.close()


# -- the preflight -------------------------------------------------------------------------------------------


class OnlyDatabase(PostbackApp):
    """A target that knows one database: any other is answered 404."""

    def check_name(self, segment: bytes) -> str:
        name = super().check_name(segment)
        if name not in ("known", "probe"):
            raise Rejection(404, "database not found")
        return name


class RefusesKeys(PostbackApp):
    """A target that refuses every write key with 403."""

    def credential(self, request: Any) -> str | None:
        raise Rejection(403, "write key refused")


class StoresNothing(PostbackApp):
    """Answers 200 and stores nothing (a database that does not exist, validated asynchronously)."""

    def store_record(self, database: str, table: str, record: dict[str, Any]) -> None:
        return None


def preflight_run(app: PostbackApp, tmp_path: Path, *args: str) -> SuiteRun:
    with ReferenceServer("v2", app=app) as server:
        return run_pytest(
            [str(SUITE / "test_endpoint.py"), f"--target={server.url}", "--api-version=v2", *args],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
            timeout=120,
        )


@pytest.mark.parametrize(
    ("app_class", "args", "says"),
    [
        pytest.param(OnlyDatabase, ["--database=nowhere"], "does not exist", id="unknown-database-404"),
        pytest.param(RefusesKeys, [], "not accepted", id="refused-key-403"),
        pytest.param(StoresNothing, ["--settle=1", "READBACK"], "not read back within", id="never-arrives"),
    ],
)
def test_failed_preflight_stops_the_run_with_one_line_and_exit_4(
    app_class: type[PostbackApp], args: list[str], says: str, tmp_path: Path
) -> None:
    """Unknown database, refused key, canary never read back: exit 4, one line, no test run."""
    app = app_class("v2", [TEST_KEY], Store())
    with ReferenceServer("v2", app=app) as server:
        args = [f"--readback={server.readback_url}" if a == "READBACK" else a for a in args]
        run = run_pytest(
            [str(SUITE / "test_endpoint.py"), f"--target={server.url}", "--api-version=v2", *args],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
            timeout=120,
        )
    assert run.exit_code == 4, run.stdout[-2000:] + run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "preflight" in lines[0]
    assert says in lines[0]
    assert TEST_KEY not in run.stderr + run.stdout
    assert not (run.report_dir / "results.json").exists()


class Redirects(PostbackApp):
    """Every event request is redirected to the same path on another host (a moved endpoint)."""

    async def handle_event(self, request: Request, database_segment: bytes, table_segment: bytes) -> Response:
        await self.drain_body(request)
        location = "https://postback.example.com/api" + request.raw_path.decode("latin-1")
        return Response(308, b"", (("location", location),))


def test_a_redirected_canary_stops_the_run_and_says_which_target_to_use(tmp_path: Path) -> None:
    """A redirect (the endpoint moved): exit 4, one line naming the --target to use instead."""
    run = preflight_run(Redirects("v2", [TEST_KEY], Store()), tmp_path)
    assert run.exit_code == 4, run.stdout[-2000:] + run.stderr[-2000:]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "redirected (308)" in lines[0]
    assert "use --target=https://postback.example.com/api" in lines[0], lines[0]


class Created201(PostbackApp):
    """Ingests valid records and answers them 201 Created (with the {} body): a response-code violation."""

    def success_response(self) -> Response:
        ok = super().success_response()
        return Response(201, ok.body, ok.headers)


def test_a_target_answering_201_is_judged_by_the_tests_and_the_canary_answer_is_shown_once(
    tmp_path: Path,
) -> None:
    """The preflight lets a 201 canary through: the tests run and fail the response-code clauses (EP-01,
    RESP-01: a status the contract does not have), exit 1; the canary's answer is one notice at the top of
    the terminal summary, summary.md, report.html and results.json."""
    app = Created201("v2", [TEST_KEY], Store())
    with ReferenceServer("v2", app=app) as server:
        run = run_pytest(
            [
                str(SUITE / "test_endpoint.py"),
                str(SUITE / "test_responses.py"),
                f"--target={server.url}",
                "--api-version=v2",
                f"--readback={server.readback_url}",
            ],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
            timeout=120,
        )
    assert run.exit_code == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.results["verdict"] == "not-conformant"
    assert {"EP-01", "RESP-01"} <= run.statuses("fail"), run.statuses("fail")
    notice = "was answered 201, not 200"
    assert [n for n in run.results["notices"] if notice in n] == run.results["notices"], run.results[
        "notices"
    ]
    assert len(run.results["notices"]) == 1
    assert run.stdout.count(notice) == 1, run.stdout[-2000:]
    assert (run.report_dir / "summary.md").read_text().count(notice) == 1
    assert (run.report_dir / "report.html").read_text().count(notice) == 1


def test_preflight_passes_and_the_run_goes_on(tmp_path: Path) -> None:
    """A target that knows the probe database: the canary passes, the tests run."""
    run = preflight_run(OnlyDatabase("v2", [TEST_KEY], Store()), tmp_path, "--database=known", "-k", "EP-05")
    assert run.exit_code == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.status("EP-05") == "pass"


# -- --max-duration ------------------------------------------------------------------------------------------


class SlowAnswers(PostbackApp):
    """A correct target that takes 50 ms over each event request (~150 of them for test_names.py)."""

    async def handle_event(self, request: Request, database_segment: bytes, table_segment: bytes) -> Response:
        await asyncio.sleep(0.05)
        return await super().handle_event(request, database_segment, table_segment)


def test_tests_not_started_within_max_duration_are_skipped_with_that_reason(tmp_path: Path) -> None:
    """--max-duration: the tests due after it are skipped, and their clauses say why.

    The target is slow so that the module outlasts the 1 s budget however fast the machine is.
    """
    with ReferenceServer("v2", [TEST_KEY], app=SlowAnswers("v2", [TEST_KEY], Store())) as server:
        run = run_pytest(
            [str(SUITE / "test_names.py"), f"--target={server.url}", "--api-version=v2"],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY, "POSTBACK_MAX_DURATION": "1"},
        )
    assert run.exit_code == 0, run.stdout[-2000:]
    skipped = [e for e in run.results["clauses"] if e["status"] == "skip"]
    assert any("--max-duration" in e["detail"] for e in skipped), skipped


# -- cleanup -------------------------------------------------------------------------------------------------


def test_cleanup_prints_one_delete_per_probe_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --yes, the statements are printed (LIKE wildcards in the run ID escaped), nothing runs."""
    assert cleanup_main(["--run-id", "pc2026_x", "--database", "mydb", "--table", "mytable"]) == 0
    out = capsys.readouterr().out
    expected = statements("pc2026_x", "mydb", "mytable")
    assert len(expected) == len(probe_tables("mytable"))
    for statement in expected:
        assert statement + ";" in out
    assert "LIKE 'pc2026\\_x-%' ESCAPE '\\'" in out
    assert '"mydb"."mytable"' in out
    columns = next(line for line in out.splitlines() if line.startswith("-- conformance_id, "))
    assert set(columns.removeprefix("-- ").split(", ")) == FIELD_NAMES


class FakeTD(BaseHTTPRequestHandler):
    """The four TD job endpoints td-client calls for a query, answering success at once."""

    issued: list[tuple[str, str, str]] = []  # (path, query, Authorization)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length") or 0)
        data = self.rfile.read(length).decode()
        # td-client sends the form as multipart/form-data (urllib3 "fields"), or urlencoded.
        multipart = re.search(r'name="query"\r\n(?:[^\r\n]*\r\n)*?\r\n(.*?)\r\n--', data, re.DOTALL)
        query = multipart.group(1) if multipart else parse_qs(data).get("query", [""])[0]
        FakeTD.issued.append((self.path, query, self.headers.get("authorization", "")))
        self._json({"job_id": str(len(FakeTD.issued)), "database": self.path.rsplit("/", 1)[-1]})

    def do_GET(self) -> None:  # noqa: N802
        self._json({"status": "success", "job_id": self.path.rsplit("/", 1)[-1], "type": "trino"})

    def _json(self, payload: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def fake_td() -> Iterator[str]:
    FakeTD.issued = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTD)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cleanup_yes_runs_the_deletes_as_trino_jobs(
    fake_td: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--yes: each DELETE is issued as a Trino job on the probe database through td-client."""
    monkeypatch.setenv("POSTBACK_TD_API_KEY", "1/tdapikeyfortests")
    code = cleanup_main(
        ["--run-id", "pcrun1", "--database", "mydb", "--table", "mytable", "--yes", "--endpoint", fake_td]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert [(path, query) for path, query, _ in FakeTD.issued] == [
        ("/v3/job/issue/trino/mydb", statement) for statement in statements("pcrun1", "mydb", "mytable")
    ]
    assert FakeTD.issued[0][2] == "TD1 1/tdapikeyfortests"
    assert "success" in out.out
    assert "tdapikeyfortests" not in out.out + out.err


def test_cleanup_yes_without_an_api_key_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POSTBACK_TD_API_KEY", raising=False)
    assert cleanup_main(["--run-id", "pcrun1", "--yes"]) == 1
    assert "POSTBACK_TD_API_KEY" in capsys.readouterr().err
