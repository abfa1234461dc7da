"""Real networks: throttling, trickling and silent targets, proxies, mutual TLS."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from conformance.reference.app import READBACK_RECORDS, PostbackApp, Rejection
from conformance.reference.asgi import Request, Response
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from conformance.transport.client import (
    THROTTLE_RETRIES,
    NoConnection,
    ProbeIds,
    TargetSpec,
    Throttled,
    Transport,
    ssl_context,
)
from conformance.transport.credentials import Keyring
from conformance.transport.network import environment_proxy, retry_after
from conformance.transport.redact import Redactor
from tests.netservers import ConnectProxy, RefusingPort, SilentCloser, Trickler
from tests.suite_runner import SUITE, TEST_KEY, SuiteRun, run_pytest, self_signed_certificate


def transport(
    url: str, timeout: float = 5.0, proxy: str | None = None, verify: ssl.SSLContext | bool = True
) -> Transport:
    spec = TargetSpec("v2", url, "v2", proxy=proxy)
    keys = Keyring(TEST_KEY, 1)
    made = Transport(spec, keys, Redactor(), ProbeIds("pctest"), timeout=timeout, verify=verify)
    OPEN.append(made)
    return made


OPEN: list[Transport] = []


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def run_served(app: PostbackApp, tmp_path: Path, *args: str, modules: tuple[str, ...] = ()) -> SuiteRun:
    """Serve ``app`` (v2) on loopback and run ``modules`` of the suite against it, with read-back."""
    with ReferenceServer("v2", app=app) as server:
        return run_pytest(
            [
                *(str(SUITE / m) for m in modules),
                f"--target={server.url}",
                "--api-version=v2",
                f"--readback={server.readback_url}",
                *args,
            ],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
        )


class Throttling(PostbackApp):
    """Answers some event requests 429 or 503 with Retry-After before serving them (a rate-limiting front).

    ``every``: throttle each request whose number is a multiple of it, ``times`` times in a row (then the
    retry is served); ``persist_after``: from that request on, throttle every event request for good.
    """

    def __init__(self, *args: object, every: int = 0, times: int = 1, persist_after: int = 0) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.every, self.times, self.persist_after = every, times, persist_after
        self.count = 0
        self.pending = 0
        self.throttled = 0
        self.lock = threading.Lock()

    async def route(self, request: Request) -> Response:
        if request.raw_path != READBACK_RECORDS and request.raw_path.startswith(b"/postback/"):
            with self.lock:
                self.count += 1
                if self.every and self.count % self.every == 0:
                    self.pending = self.times
                throttle = self.pending > 0 or bool(self.persist_after and self.count > self.persist_after)
                if self.pending:
                    self.pending -= 1
                if throttle:
                    self.throttled += 1
            if throttle:
                # RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; both are used.
                later = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
                value = "0" if self.throttled % 2 else later
                status = 429 if self.throttled % 3 else 503
                raise Rejection(status, "slow down", (("retry-after", value),))
        return await super().route(request)


# -- Retry-After ------------------------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates() -> None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; anything else is not a Retry-After."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("7", now) == 7.0
    assert retry_after("Thu, 01 Jan 2026 12:00:03 GMT", now) == 3.0
    assert retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


def test_throttled_requests_are_retried_counted_and_answered(tmp_path: Path) -> None:
    """429/503 with Retry-After twice, then 200: one exchange answered 200, two throttles counted."""
    app = Throttling("v2", [TEST_KEY], Store(), every=1, times=2)
    with ReferenceServer("v2", app=app) as server:
        app.every = 0  # only the first request is throttled (twice)
        app.pending = 2
        t = transport(server.url)
        exchange = t.post()
    assert exchange.status == 200
    assert t.throttles == 2
    assert len(app.store.query_json("conformance", "probe")) == 1


def test_persistent_throttling_raises_and_halves_the_rate() -> None:
    """Past the retry bound: Throttled (an error, not a verdict), and the rate cap is halved."""
    app = Throttling("v2", [TEST_KEY], Store(), persist_after=0, every=1, times=10**6)
    with ReferenceServer("v2", app=app) as server:
        t = transport(server.url)
        t.limiter.interval = 0.01  # 100/s
        with pytest.raises(Throttled, match="kept throttling"):
            t.post()
        assert t.throttles == THROTTLE_RETRIES + 1
        with pytest.raises(Throttled):  # still throttled: at once, no new waits, no second halving
            t.post()
    assert t.throttles == THROTTLE_RETRIES + 2
    assert t.limiter.rate == pytest.approx(50)


def test_suite_verdict_is_unaffected_by_occasional_throttling(tmp_path: Path) -> None:
    """A front that throttles now and then: the same verdict, every throttle counted in results.json."""
    app = Throttling("v2", [TEST_KEY], Store(), every=9)
    run = run_served(app, tmp_path, modules=("test_endpoint.py", "test_auth.py"))
    assert run.exit_code == 0, run.stdout[-3000:]
    # Two modules only: incomplete, and only for the clauses no selected test decides (as without throttling).
    assert run.results["verdict"] == "incomplete"
    undecided = [e for e in run.results["clauses"] if e["level"] == "MUST" and e["status"] == "skip"]
    assert all(e["detail"].startswith("not selected") for e in undecided), undecided
    assert not run.statuses("fail")
    assert not run.statuses("error")
    assert run.results["throttled"]["v2"] == app.throttled > 0
    assert "RESP-01" not in run.statuses("fail")


def test_persistent_throttling_makes_tests_error_not_fail(tmp_path: Path) -> None:
    """Throttled for good after the preflight: the tests error with a clear message, nothing fails."""
    app = Throttling("v2", [TEST_KEY], Store(), persist_after=1)
    run = run_served(app, tmp_path, "-k", "EP-05", modules=("test_endpoint.py",))
    assert run.status("EP-05") == "error", run.stdout[-3000:]
    entry = next(e for e in run.results["clauses"] if e["id"] == "EP-05")
    assert "kept throttling" in entry["detail"]
    assert not run.statuses("fail")


# -- deadlines and silence ----------------------------------------------------------------------------------


def test_trickling_answer_ends_at_the_request_deadline() -> None:
    """A status line, then one header byte a second: the request ends at its deadline, not never."""
    with Trickler() as server:
        t = transport(server.url, timeout=2.0)
        started = time.monotonic()
        exchange = t.post()
        took = time.monotonic() - started
    assert exchange.response is None
    assert "deadline" in (exchange.error or "")
    assert took < 4.0


def test_suite_run_against_a_trickling_target_ends(tmp_path: Path) -> None:
    """The whole run ends: each test is judged on the missing answer (no hang, no retry)."""
    with Trickler(normal=2) as server:  # the reachability check and the preflight canary get answers
        started = time.monotonic()
        run = run_pytest(
            [str(SUITE / "test_endpoint.py"), "--target", server.url, "--api-version", "v2", "-k", "EP-05"],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY, "POSTBACK_TIMEOUT": "1"},
            timeout=120,
        )
        took = time.monotonic() - started
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.status("EP-05") == "fail"
    assert "deadline" in next(e for e in run.results["clauses"] if e["id"] == "EP-05")["detail"]
    assert took < 60


def test_a_request_that_got_no_answer_is_not_retried() -> None:
    """Sent, then the connection closed without an answer: an exchange with no answer, sent once."""
    with SilentCloser() as server:
        exchange = transport(server.url).post()
        time.sleep(0.2)
        assert len(server.requests) == 1
    assert exchange.response is None
    assert exchange.error


def test_a_request_that_could_not_be_sent_is_an_error() -> None:
    """Nothing listening: NoConnection (the test errors), never a verdict on the target."""
    with RefusingPort() as port, pytest.raises(NoConnection, match="could not send"):
        transport(port.url).post()


# -- proxies and mutual TLS ----------------------------------------------------------------------------------


def test_requests_go_through_the_given_proxy(tmp_path: Path) -> None:
    """--proxy: an https target is reached through the proxy's CONNECT tunnel."""
    cert, key = self_signed_certificate(tmp_path)
    with ReferenceServer("v2", [TEST_KEY], tls_cert=cert, tls_key=key) as server, ConnectProxy() as proxy:
        t = transport(server.url, proxy=proxy.url, verify=ssl_context(cert, False))
        assert t.post().status == 200
        assert proxy.requests
        assert proxy.requests[0].startswith(f"CONNECT 127.0.0.1:{server.port}".encode())


def test_environment_proxy_is_used_for_remote_hosts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY applies to a remote target unless NO_PROXY names it; loopback targets never use it."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert environment_proxy("https://us01.records.in.treasuredata.com") == "http://127.0.0.1:9"
    assert environment_proxy("https://api.internal.example") is None
    assert transport("http://127.0.0.1:1").proxy is None


def test_suite_runs_through_a_proxy(tmp_path: Path) -> None:
    """A suite run with --proxy reaches an https reference target through the tunnel."""
    cert, key = self_signed_certificate(tmp_path)
    with ReferenceServer("v2", [TEST_KEY], tls_cert=cert, tls_key=key) as server, ConnectProxy() as proxy:
        run = run_pytest(
            [
                str(SUITE / "test_endpoint.py"),
                f"--target={server.url}",
                "--api-version=v2",
                f"--ca-bundle={cert}",
                f"--proxy={proxy.url}",
            ],
            tmp_path,
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
        )
        assert run.exit_code == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert proxy.requests


def test_mutual_tls_needs_the_client_certificate(tmp_path: Path) -> None:
    """A target requiring client certificates: refused without --client-cert, certified with it."""
    server_dir, client_dir = tmp_path / "server", tmp_path / "client"
    server_dir.mkdir()
    client_dir.mkdir()
    cert, key = self_signed_certificate(server_dir)
    client_cert, client_key = self_signed_certificate(client_dir)
    with ReferenceServer("v2", [TEST_KEY], tls_cert=cert, tls_key=key, tls_client_ca=client_cert) as server:
        without = run_pytest(
            [str(SUITE / "test_endpoint.py"), f"--target={server.url}", "--api-version=v2"]
            + [f"--ca-bundle={cert}"],
            tmp_path / "without",
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
        )
        with_cert = run_pytest(
            [
                str(SUITE / "test_endpoint.py"),
                f"--target={server.url}",
                "--api-version=v2",
                f"--ca-bundle={cert}",
                f"--client-cert={client_cert}",
                f"--client-key={client_key}",
            ],
            tmp_path / "with",
            env={"POSTBACK_WRITE_KEY": TEST_KEY},
        )
    assert without.exit_code == 4, without.stdout[-2000:] + without.stderr[-2000:]
    assert with_cert.exit_code == 0, with_cert.stdout[-3000:] + with_cert.stderr[-2000:]
