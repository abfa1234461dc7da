"""The read-back wait: polled with backoff, over as soon as the records have settled,
never longer than --settle, with a progress report; a failing or garbage read-back is an error."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.contract.model import Ingest
from conformance.readback import Expected, Ledger, ReadbackClient, ReadbackError, RecordSource
from conformance.reference.app import PostbackApp
from conformance.reference.asgi import Request, Response
from conformance.transport.exchange import Exchange, SentRequest
from conformance.transport.redact import Redactor
from tests.mutants import all_mutants
from tests.suite_runner import run_against


class FakeSource:
    """A read-back whose records become visible at given delays after they were registered."""

    url = "fake://"
    mapping = "identity"
    windowed = False
    batch: int | None = None
    poll_min = 0.05
    poll_max = 0.2

    def __init__(self) -> None:
        self.visible: dict[str, float] = {}
        self.calls = 0

    requests = 0
    jobs = 0

    def records(
        self,
        database: str,
        table: str,
        ids: Sequence[str],
        window: tuple[int, int] | None = None,
        fields: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        self.calls += 1
        now = time.monotonic()
        return [{"conformance_id": cid} for cid in ids if self.visible.get(cid, float("inf")) <= now]

    def unidentified(self, database: str, table: str, window: tuple[int, int]) -> list[dict[str, Any]]:
        return []


def _entry(cid: str, ingest: Ingest) -> Expected:
    body = b'{"conformance_id":"%s"}' % cid.encode()
    request = SentRequest("POST", "http://t/postback/v3/event/db/t", (), body, conformance_id=cid)
    return Expected("t::x", "t", "db", "t", cid, ingest, ("EP-01",), Exchange("t", request))


def _ledger(settle: float, source: RecordSource, *entries: tuple[str, Ingest, float]) -> Ledger:
    ledger = Ledger(settle, {"t": source})
    for cid, ingest, delay in entries:
        ledger.add(_entry(cid, ingest))
        if delay >= 0:
            source.visible[cid] = time.monotonic() + delay  # type: ignore[attr-defined]
    return ledger


def test_the_wait_ends_soon_after_every_record_arrived_not_after_the_settle_period() -> None:
    source = FakeSource()
    # The first look is MIN_MARGIN (1 s) after the last send; these arrive after it, so they are polled for.
    ledger = _ledger(30, source, ("a", Ingest.MUST, 1.3), ("b", Ingest.MUST, 1.1), ("n", Ingest.MUST_NOT, -1))
    started = time.monotonic()
    ledger.resolve()
    took = time.monotonic() - started
    assert ledger.error is None
    assert 1.3 <= took < 4, f"Expected: the wait over within ~3 s / Received: {took:.1f} s"
    assert source.calls > 1, "Expected: polling / Received: one read"
    assert ledger.stopped == "all arrived"


def test_a_prompt_target_is_judged_in_one_poll_after_the_margin() -> None:
    """Records readable at once: the first look, MIN_MARGIN after the last send, settles the wait (on td,
    each poll is a billed query per table)."""
    source = FakeSource()
    ledger = _ledger(30, source, ("a", Ingest.MUST, 0), ("n", Ingest.MUST_NOT, -1))
    started = time.monotonic()
    ledger.resolve()
    assert 1.0 <= time.monotonic() - started < 1.5
    assert source.calls == 1


def test_a_must_not_record_arriving_later_than_the_must_records_is_still_caught() -> None:
    """It arrives within the slowest arrival plus the margin, after every MUST record was found."""
    source = FakeSource()
    ledger = _ledger(30, source, ("a", Ingest.MUST, 0.3), ("n", Ingest.MUST_NOT, 0.8))
    ledger.resolve()
    found = {e.conformance_id: len(e.records) for entries in ledger.entries.values() for e in entries}
    assert found == {"a": 1, "n": 1}


def test_the_wait_never_exceeds_the_settle_period() -> None:
    source = FakeSource()
    ledger = _ledger(0.6, source, ("a", Ingest.MUST, 60))
    started = time.monotonic()
    ledger.resolve()
    took = time.monotonic() - started
    assert 0.5 <= took < 1.5
    assert not ledger.entries["t::x"][0].records


def test_without_a_record_that_must_arrive_the_whole_settle_period_is_waited() -> None:
    source = FakeSource()
    ledger = _ledger(0.5, source, ("n", Ingest.MUST_NOT, -1))
    started = time.monotonic()
    ledger.resolve()
    took = time.monotonic() - started
    assert 0.45 <= took < 1.2, f"Expected: the 0.5 s settle period waited, no longer / Received: {took:.2f} s"


def test_progress_reports_records_found_expected_and_seconds_left() -> None:
    source = FakeSource()
    ledger = _ledger(30, source, ("a", Ingest.MUST, 0.2), ("b", Ingest.MUST, 0.0))
    seen: list[tuple[int, int, float]] = []
    ledger.progress = lambda found, expected, left: seen.append((found, expected, left))
    ledger.resolve()
    assert seen[-1][:2] == (2, 2)
    assert all(0 < left <= 30 for _, _, left in seen)


def test_a_read_back_that_fails_is_an_error_with_one_line() -> None:
    class Failing(FakeSource):
        def records(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            raise ReadbackError("read-back service fake:// answered 500")

    ledger = _ledger(5, Failing(), ("a", Ingest.MUST, 0))
    ledger.resolve()
    assert ledger.error == "read-back service fake:// answered 500"


@pytest.mark.parametrize(
    "answer",
    [b"<html>oops</html>", b'{"records": "none"}', b'{"records": [1, 2]}', b'{"items": []}'],
    ids=["html", "records-not-a-list", "records-not-objects", "no-records"],
)
def test_a_protocol_v1_answer_that_is_garbage_raises_one_clear_line(answer: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=answer))
    client = ReadbackClient("http://rb", httpx.Client(transport=transport), Redactor())
    with pytest.raises(ReadbackError) as caught:
        client.records("db", "t", ["a"])
    assert "\n" not in str(caught.value)
    assert "http://rb" in str(caught.value)


class GarbageReadback(PostbackApp):
    """A target whose read-back service answers HTML."""

    def handle_readback(self, request: Request) -> Response:
        return Response(200, b"<html>maintenance</html>", (("content-type", "text/html"),))


class ReadbackTurnsBad(PostbackApp):
    """A target whose read-back service works until it has shown the preflight's canary, then answers HTML."""

    canary_read_back = False

    def handle_readback(self, request: Request) -> Response:
        if self.canary_read_back:
            return Response(200, b"<html>maintenance</html>", (("content-type", "text/html"),))
        answer = super().handle_readback(request)
        self.canary_read_back = b'"conformance_canary"' in answer.body
        return answer


def test_a_garbage_read_back_stops_the_run_at_the_preflight_with_one_line(tmp_path: Path) -> None:
    """A read-back that cannot work: the canary cannot be read back, exit 4 before any test, no report."""
    run = run_against(GarbageReadback, "v2", tmp_path, modules=("test_endpoint.py",))
    assert run.exit_code == 4, run.stdout[-2000:] + run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR:")]
    (error,) = errors
    assert "preflight" in error, run.stderr[-2000:]
    assert not (run.report_dir / "results.json").exists()


def test_a_garbage_read_back_makes_the_read_back_checks_error_not_fail(tmp_path: Path) -> None:
    """A read-back that turns bad after the preflight: the read-back checks are errors, never failures."""
    run = run_against(ReadbackTurnsBad, "v2", tmp_path, modules=("test_endpoint.py",))
    read_back = [e for e in run.results["clauses"] if e["status"] == "error"]
    assert read_back, run.stdout[-2000:] + run.stderr[-2000:]
    assert not run.statuses("fail")
    for entry in read_back:
        assert "did not answer" in entry["detail"]
    assert run.exit_code == 1


def _read_back_wait(stdout: str) -> float:
    """The longest ``::read-back`` item of a run (``--durations=0``): the one that waited."""
    lines = [line for line in stdout.splitlines() if re.match(r"[0-9.]+s call .*::read-back$", line.rstrip())]
    times = [float(line.split("s ")[0]) for line in lines]
    assert times, stdout[-2000:]
    return max(times)


def test_with_a_2_s_ingestion_lag_and_settle_30_the_run_ends_in_seconds(tmp_path: Path) -> None:
    args = ("--settle=30", "--durations=0", "--durations-min=0.5")
    run = run_against(PostbackApp, "v2", tmp_path, *args, modules=("test_endpoint.py",), lag=2)
    assert run.exit_code == 0, run.stdout[-3000:]
    assert run.status("EP-01") == "pass"
    waited = _read_back_wait(run.stdout)
    assert waited < 10, f"Expected: a few seconds past the 2 s lag / Received: a {waited:.0f} s wait"
    assert "postback read-back:" in run.stdout


def test_with_a_2_s_lag_a_record_that_must_not_be_ingested_is_still_caught(tmp_path: Path) -> None:
    mutant = next(m for m in all_mutants() if m.name == "invalid-keys-ingested")
    args = ("--settle=30", "--durations=0", "--durations-min=0.5")
    run = run_against(mutant.app, "v2", tmp_path, *args, modules=("test_auth.py",), lag=2)
    assert run.status("AUTH-08") == "fail", run.stdout[-3000:]
    waited = _read_back_wait(run.stdout)
    assert waited < 10, f"Expected: a few seconds past the 2 s lag / Received: a {waited:.0f} s wait"


class SlowQueueForUnknownKeys(PostbackApp):
    """Ingests records whatever their key (AUTH-08's fault), those of keys it does not know through a
    separate queue that checks them first: readable 0.8 s after the valid ones (on top of the store's lag)."""

    async def handle_event(self, request: Request, database_segment: bytes, table_segment: bytes) -> Response:
        key = self.credential(request)
        self.known = key is not None and key in self.keys
        return await super().handle_event(request, database_segment, table_segment)

    def is_known_key(self, key: str) -> bool:
        return True

    def store_record(self, database: str, table: str, record: dict[str, Any]) -> None:
        if self.known:
            super().store_record(database, table, record)
        else:
            threading.Timer(0.8, super().store_record, (database, table, record)).start()


def test_a_slower_queue_for_unknown_keys_is_still_caught_within_settle(tmp_path: Path) -> None:
    """The barrier (a valid-key record) arrives first; the wait still lasts its arrival plus the margin, so
    invalid-key records readable 0.8 s later than valid ones fail AUTH-08, and the run does not wait out
    --settle 30."""
    args = ("--settle=30", "-k", "AUTH-08 or AUTH-09")
    run = run_against(SlowQueueForUnknownKeys, "v2", tmp_path, *args, modules=("test_auth.py",), lag=2)
    assert run.status("AUTH-08", "v2") == "fail", run.stdout[-3000:]
    wait = run.results["readback"]["v2"]
    assert wait["stopped"] == "barrier + margin", wait
    assert wait["waited_s"] < 10, f"Expected: a few seconds past the 2 s lag / Received: {wait}"


class StoresOnlyTheCanary(PostbackApp):
    """Ingests the preflight's canary, and nothing after it (a pipeline that stalled): no barrier arrives."""

    def store_record(self, database: str, table: str, record: dict[str, Any]) -> None:
        if "conformance_canary" in record:
            super().store_record(database, table, record)


def test_a_barrier_never_read_back_leaves_never_ingested_undecided_not_passed(tmp_path: Path) -> None:
    """ "Never ingested" is only decided once the target has caught up: when the barrier record does not
    arrive within --settle, BODY-05 is skip with that reason (AUTH-08 too, its valid-key part having
    failed), never pass."""
    args = ("--settle=1", "-k", "AUTH-08 or BODY-05")
    run = run_against(StoresOnlyTheCanary, "v2", tmp_path, *args, modules=("test_auth.py", "test_body.py"))
    statuses = {e["id"]: e for e in run.results["clauses"] if e["target"] == "v2"}
    assert statuses["AUTH-08"]["status"] == "skip", statuses["AUTH-08"]  # its valid-key part failed too
    body_05 = statuses["BODY-05"]
    assert body_05["status"] == "skip", body_05
    assert "barrier record to conformance.probe_empty" in body_05["detail"], body_05["detail"]
    wait = run.results["readback"]["v2"]
    assert wait["stopped"] == "settle reached", wait
    assert set(wait["barriers"].values()) == {None}, wait
    assert run.results["verdict"] in ("incomplete", "not-conformant")
