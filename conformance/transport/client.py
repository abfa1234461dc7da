"""The one HTTP client per target: connection reuse, timeouts, TLS, a rate cap, redaction.

Every request goes through :meth:`Transport.request`, which returns an :class:`Exchange` (never raises for
what the target does: a timeout or a dropped connection is an answer the suite judges). Exceptions that do
leave this module carry redacted messages only.

No answer, the rule: a request that could not even be sent (the connection, the TLS handshake or the proxy
failed) says nothing about the target's handling of it: :class:`NoConnection` is raised and the test is an
``error``. A request that was sent and then got no answer (connection dropped, reset, or the deadline
passed) is what the target did with it: an Exchange with ``error`` set, which the checks judge (BODY-08,
SIZE-05). Neither is ever retried: the record may have been ingested. Only an answer 429 or 503 with
Retry-After is retried (:class:`Throttled` when it persists).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec
from urllib.parse import quote, unquote, urlencode

import httpx

from conformance import __version__
from conformance.contract.fields import undocumented_fields
from conformance.contract.model import Cred, is_valid_name
from conformance.transport.credentials import Credentials, Keyring
from conformance.transport.exchange import Exchange, Received, SentRequest
from conformance.transport.network import deadline, environment_proxy, http_transport, retry_after
from conformance.transport.redact import Redactor

EVENT_PATH = "/postback/v3/event"
CHUNK_SIZE = 64 * 1024
MAX_BODY_KEPT = 64 * 1024
# Throttling (429 or 503 with Retry-After, RFC 9110 section 10.2.3, RFC 6585 section 4): retried at most
# THROTTLE_RETRIES times per request, waiting at most THROTTLE_WAIT seconds in all for one request.
THROTTLE_STATUSES = frozenset({429, 503})
THROTTLE_RETRIES = 4
THROTTLE_WAIT = 120.0
THROTTLED_RPS = 10.0  # the cap a throttled run without one starts from (then halved)
# Tables that probe records sent with the valid key may go to: --table, and <table>_<suffix> for tests
# that need several (add the suffix here and in README.md, "Certifying Treasure Data"). BODY-05's empty
# bodies carry no probe ID, so they go to tables of their own: <table>_empty and <table>_empty_chunked.
TABLE_SUFFIXES: tuple[str, ...] = ("empty", "empty_chunked")


def probe_tables(table: str) -> tuple[str, ...]:
    """Every table the valid key may write to: ``table`` and ``<table>_<suffix>`` (docs/contract.md)."""
    return (table, *(f"{table}_{suffix}" for suffix in TABLE_SUFFIXES))


class TargetError(Exception):
    """The target cannot be used at all (unreachable, TLS failure); the message is redacted."""


class NoConnection(Exception):
    """A request could not be sent at all (connect, TLS or proxy failure): the test is an error, not a
    verdict on the target. Not a ConformanceFailure on purpose (conformance/plugin/verdicts.py)."""


class Throttled(Exception):
    """The target kept throttling (429/503 with Retry-After) past the retry bounds: the test is an error."""


class UnsafeRequest(Exception):
    """A suite bug: a request with the valid key to a database or table outside the run's probe tables."""


@dataclass(frozen=True)
class TargetSpec:
    """A target as configured: where it is, which contract it is held to, where probe records go."""

    name: str
    url: str
    api_version: str
    database: str = "conformance"
    table: str = "probe"
    readback: str | None = None
    key_env: str = "POSTBACK_WRITE_KEY"
    embedded: bool = False
    proxy: str | None = None  # --proxy (never for embedded targets); None: HTTPS_PROXY/NO_PROXY if remote
    disposable: bool = False  # --disposable-account: the valid key may go to forbidden names (NAME-02)


class RateLimiter:
    """At most ``rate`` request starts per second across threads (``--max-rps``); None: no cap."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    @property
    def rate(self) -> float | None:
        return 1.0 / self.interval if self.interval else None

    def halve(self) -> None:
        """Persistent throttling: half the rate for the rest of the run (none yet: THROTTLED_RPS)."""
        with self._lock:
            self.interval = self.interval * 2 if self.interval else 1.0 / THROTTLED_RPS

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class ProbeIds:
    """Unique ``conformance_id`` values: the run ID, then a counter (docs/contract.md, Probe records).

    Each process of an xdist run counts on its own, so a worker adds its name (``<run ID>-gw1-000001``).
    """

    def __init__(self, run_id: str, scope: str = "") -> None:
        self.run_id = run_id
        self._prefix = f"{run_id}-{scope}-" if scope else f"{run_id}-"
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return f"{self._prefix}{next(self._counter):06d}"


def event_path(database: str, table: str) -> str:
    """The endpoint path with both names percent-encoded (every reserved character, "/" included)."""
    return f"{EVENT_PATH}/{quote(database, safe='')}/{quote(table, safe='')}"


def ssl_context(
    ca_bundle: str | None, insecure: bool, client_cert: tuple[str, str | None] | None = None
) -> ssl.SSLContext | bool:
    """TLS trust (--ca-bundle, --insecure) and the client certificate for mutual TLS (--client-cert/-key).

    One context for every client of the run: httpx given ``verify=True`` builds a new one per client (its
    CA bundle read again, ~20 ms each)."""
    if client_cert is None:
        if insecure:
            return False
        if ca_bundle:
            return ssl.create_default_context(cafile=ca_bundle)
        return httpx.create_ssl_context()
    if ca_bundle and not insecure:
        context = ssl.create_default_context(cafile=ca_bundle)
    else:
        context = httpx.create_ssl_context(verify=not insecure)
    context.load_cert_chain(client_cert[0], client_cert[1])
    return context


Recorder = Callable[[Exchange, datetime, float], None]
_P = ParamSpec("_P")


def _recorded(
    send: Callable[Concatenate[Transport, _P], Exchange],
) -> Callable[Concatenate[Transport, _P], Exchange]:
    """Hands every exchange :meth:`Transport.request` produces to ``recorder`` (traffic.har), if set."""

    def request(self: Transport, /, *args: _P.args, **kwargs: _P.kwargs) -> Exchange:
        started, clock = datetime.now(UTC), time.monotonic()
        exchange = send(self, *args, **kwargs)
        if self.recorder is not None:
            self.recorder(exchange, started, time.monotonic() - clock)
        return exchange

    request.__doc__ = send.__doc__
    return request


class Transport:
    """Sends requests to one target and records redacted exchanges."""

    def __init__(
        self,
        spec: TargetSpec,
        keys: Keyring,
        redactor: Redactor,
        ids: ProbeIds,
        *,
        timeout: float = 30.0,
        max_rps: float | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.spec = spec
        self.keys = keys
        self.redact = redactor
        self.ids = ids
        self.timeout = timeout
        self.limiter = RateLimiter(max_rps)
        self.sent = 0
        self.throttles = 0  # answers 429/503 with Retry-After, waited out (reported, never judged)
        self.records_by_table: dict[str, int] = {}  # "db.table" -> probe records sent with the valid key
        self.recorder: Recorder | None = None  # the run's traffic log (conformance.engine.traffic)
        self._count_lock = threading.Lock()
        self._persistent = False  # the last throttling spell went past the bounds
        base = httpx.URL(spec.url)
        self._prefix = base.raw_path.rstrip(b"/").split(b"?")[0]
        self._base = base
        self._verify = verify
        # --proxy for a given target; the standard environment only for a remote one; never when embedded.
        self.proxy = None if spec.embedded else spec.proxy
        if self.proxy is None and not spec.embedded and not is_loopback(base.host):
            self.proxy = environment_proxy(spec.url)
        self.client = self._client(httpx.Limits(max_connections=16, max_keepalive_connections=16))

    def _client(self, limits: httpx.Limits) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            transport=http_transport(self._verify, limits, self.proxy),
            follow_redirects=False,
            headers={"User-Agent": f"postback-conformance/{__version__}", "Accept-Encoding": "identity"},
            trust_env=False,
        )

    def __repr__(self) -> str:
        return f"Transport({self.spec.name}: {self.spec.url})"

    @property
    def version(self) -> str:
        return self.spec.api_version

    @property
    def is_https(self) -> bool:
        return self._base.scheme == "https"

    def single_connection_client(self) -> httpx.Client:
        """A client that may open one connection only (EP-03 keep-alive checks); close it after use."""
        return self._client(httpx.Limits(max_connections=1, max_keepalive_connections=1))

    def close(self) -> None:
        self.client.close()

    # -- building blocks -------------------------------------------------------------------------------
    def url_for(self, raw_path: str, query: Sequence[tuple[str, str]] = ()) -> httpx.URL:
        target = self._prefix + raw_path.encode("ascii")
        if query:
            target += b"?" + urlencode(list(query), safe="").encode("ascii")
        return self._base.copy_with(raw_path=target)

    def probe_body(self, fields: dict[str, Any] | None = None) -> tuple[bytes, str]:
        """A JSON object body carrying a fresh ``conformance_id``, and that ID."""
        cid = self.ids.next()
        record = {"conformance_id": cid, **(fields or {})}
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(), cid

    @_recorded
    def request(
        self,
        method: str,
        raw_path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        chunked: bool = False,
        conformance_id: str | None = None,
        body_note: str = "",
        client: httpx.Client | None = None,
    ) -> Exchange:
        """Send one request exactly as described (raw path, header spelling, chunked framing).

        An answer 429 or 503 with Retry-After is waited out and the request sent again (bounded; each one
        counted in ``throttles``); :class:`Throttled` when it persists, :class:`NoConnection` when the
        request could not be sent at all (see the module's docstring for the rule).
        """
        http = client or self.client
        url = self.url_for(raw_path, query)
        tables = self._valid_key_tables(raw_path, headers, query, body)
        sent: SentRequest | None = None
        waited = 0.0
        for attempt in range(THROTTLE_RETRIES + 1):
            content: bytes | Iterator[bytes] = _chunks(body) if chunked else body
            request = http.build_request(method, url, headers=list(headers), content=content)
            if sent is None:
                sent = SentRequest(
                    method=method,
                    url=self.redact(str(url)),
                    # The raw list keeps each field name's spelling as sent (AUTH-02: x-td-write-key).
                    headers=tuple(
                        (k.decode("latin-1"), self.redact(v.decode("latin-1")))
                        for k, v in request.headers.raw
                        if k.lower() != b"user-agent"
                    ),
                    body=self.redact.bytes(body),
                    chunked=chunked,
                    conformance_id=conformance_id,
                    body_note=body_note,
                )
            self.limiter.wait()
            with self._count_lock:
                self.sent += 1
                if attempt == 0 and tables is not None and conformance_id is not None:
                    self.records_by_table[tables] = self.records_by_table.get(tables, 0) + 1
            exchange = self._send_once(http, request, sent)
            delay = _throttle_delay(exchange)
            if delay is None:
                self._persistent = False
                return exchange
            with self._count_lock:
                self.throttles += 1
            # Still throttled after a persistent spell: no new waits (a property test would multiply them).
            if attempt == THROTTLE_RETRIES or waited + delay > THROTTLE_WAIT or self._persistent:
                if not self._persistent:
                    self.limiter.halve()
                self._persistent = True
                rate = self.limiter.rate or 0
                raise Throttled(
                    f"target {self.spec.name} kept throttling: answered {exchange.status} with Retry-After "
                    f"{attempt + 1} time(s) ({waited:g} s waited, next wait {delay:g} s); the rate cap is "
                    f"now {rate:g}/s for the rest of the run"
                )
            time.sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, http: httpx.Client, request: httpx.Request, sent: SentRequest) -> Exchange:
        """One attempt under the request's deadline (connect, send and the whole answer)."""
        started = time.monotonic()
        name = self.spec.name
        with deadline(self.timeout):
            try:
                response = http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError, httpx.PoolTimeout) as exc:
                reason = self.redact(str(exc)) or type(exc).__name__
                raise NoConnection(f"could not send to {self.spec.url}: {reason}") from None
            except httpx.TimeoutException:
                return Exchange(name, sent, error=f"no answer within the deadline ({self.timeout:g} s)")
            except httpx.RemoteProtocolError as exc:
                return Exchange(name, sent, error=f"not a valid HTTP answer ({self.redact(str(exc))})")
            except httpx.TransportError as exc:
                return Exchange(name, sent, error=f"connection failed ({self.redact(str(exc))})")
            local = _client_address(response)
            try:
                data = response.read()[:MAX_BODY_KEPT]
            except httpx.TimeoutException:
                return Exchange(name, sent, error=f"answer incomplete at the deadline ({self.timeout:g} s)")
            except httpx.TransportError as exc:
                return Exchange(name, sent, error=f"answer cut short ({self.redact(str(exc))})")
            finally:
                response.close()
        received = Received(
            status=response.status_code,
            headers=tuple((k, self.redact(v)) for k, v in response.headers.multi_items()),
            body=self.redact.bytes(data),
            http_version=response.http_version,
            elapsed=time.monotonic() - started,
            connection=str(local) if local else None,
        )
        return Exchange(name, sent, received)

    def _valid_key_tables(
        self,
        raw_path: str,
        headers: Sequence[tuple[str, str]],
        query: Sequence[tuple[str, str]],
        body: bytes = b"",
    ) -> str | None:
        """For a request carrying the valid key to the endpoint: "db.table" it writes to (None otherwise).

        A valid-key request naming another database, or a table outside :func:`probe_tables` that is an
        allowed name, is a suite bug: :class:`UnsafeRequest`, nothing is sent (docs/contract.md, "Probe
        records"). A forbidden table name inside the probe database passes (NAME-02: a faulty target's
        stray table lands where the cleanup command finds it), and so do empty or missing segments
        (NAME-03, they name nothing); extra segments are the target's to refuse. So does a body whose
        top-level names are outside the documented field set (conformance/contract/fields.py): on Treasure
        Data each would become a column of the user's table for good. The embedded targets are held to
        the field rule too; ``--disposable-account`` lifts both rules for a given target.
        """
        valid = self.keys.value(Cred.VALID)
        if not valid or not any(valid in v for _, v in (*headers, *query)):
            return None
        if not raw_path.startswith(EVENT_PATH + "/"):
            return None
        segments = raw_path[len(EVENT_PATH) + 1 :].split("/")
        database = unquote(segments[0])
        table = unquote(segments[1]) if len(segments) > 1 else ""
        own_table = table in ("", *probe_tables(self.spec.table))
        allowed = database in ("", self.spec.database) and (own_table or not is_valid_name(table))
        if self.spec.disposable:
            return f"{database}.{table}" if database and table else None
        if not allowed and not self.spec.embedded:
            raise UnsafeRequest(
                f"suite bug: a request with the valid key to {database!r}.{table!r}; only "
                f"{self.spec.database}.{{{', '.join(probe_tables(self.spec.table))}}} and forbidden table "
                "names there may get one"
            )
        if extra := undocumented_fields(body):
            raise UnsafeRequest(
                f"suite bug: a record with the valid key holds fields outside the documented set "
                f"({', '.join(repr(n[:40]) for n in extra[:5])}); each would become a column of the table"
            )
        return f"{database}.{table}" if allowed and database and table else None

    # -- the endpoint ------------------------------------------------------------------------------------
    def post(
        self,
        *,
        credentials: Credentials | None = None,
        database: str | None = None,
        table: str | None = None,
        raw_path: str | None = None,
        fields: dict[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        chunked: bool = False,
        method: str = "POST",
        extra_headers: Sequence[tuple[str, str]] = (),
        body_note: str = "",
        client: httpx.Client | None = None,
        conformance_id: str | None = None,
    ) -> Exchange:
        """Send a request to the endpoint.

        Without ``body``, the body is a probe record (``fields`` plus a fresh ``conformance_id``).
        With ``body``, ``conformance_id`` names the probe ID the raw body carries (from :meth:`probe_body`),
        so that read-back can look for it even when the body is not valid JSON.
        ``raw_path`` overrides the path built from the names (already percent-encoded, sent as is).
        """
        creds = credentials if credentials is not None else Credentials()
        cid: str | None = conformance_id
        if body is None:
            body, cid = self.probe_body(fields)
        path = raw_path or event_path(database or self.spec.database, table or self.spec.table)
        cred_headers, query = creds.materialise(self.keys)
        headers: list[tuple[str, str]] = []
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        headers += cred_headers
        headers += list(extra_headers)
        return self.request(
            method,
            path,
            query=query,
            headers=headers,
            body=body,
            chunked=chunked,
            conformance_id=cid,
            body_note=body_note,
            client=client,
        )

    def check_reachable(self) -> None:
        """Raise TargetError with one clear, redacted sentence if the target answers nothing at all."""
        try:
            with deadline(min(self.timeout, 10.0)):
                self.client.request("GET", self.url_for("/"), timeout=min(self.timeout, 10.0)).close()
        except httpx.ConnectTimeout:
            raise TargetError(f"target {self.spec.url} did not accept a connection in time") from None
        except httpx.ConnectError as exc:
            reason = self.redact(str(exc)) or "connection refused"
            if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
                raise TargetError(f"TLS handshake with {self.spec.url} failed: {reason}") from None
            raise TargetError(f"target {self.spec.url} is unreachable: {reason}") from None
        except httpx.TimeoutException:
            raise TargetError(
                f"target {self.spec.url} did not answer within {min(self.timeout, 10.0):g} s"
            ) from None
        except httpx.ProxyError as exc:
            reason = self.redact(str(exc))
            raise TargetError(f"proxy {self.proxy} failed for {self.spec.url}: {reason}") from None
        except httpx.RemoteProtocolError as exc:
            raise TargetError(
                f"target {self.spec.url} did not answer in HTTP: {self.redact(str(exc))}"
            ) from None
        except httpx.TransportError as exc:
            raise TargetError(f"target {self.spec.url} failed: {self.redact(str(exc))}") from None


def _throttle_delay(exchange: Exchange) -> float | None:
    """Seconds to wait before sending again: a 429 or 503 answer with a readable Retry-After; else None."""
    if exchange.response is None or exchange.response.status not in THROTTLE_STATUSES:
        return None
    return retry_after(exchange.response.header("retry-after"))


def is_loopback(host: str) -> bool:
    """localhost or an address in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _client_address(response: httpx.Response) -> object:
    """The local address of the connection that carried ``response`` (tells connections apart, EP-03)."""
    stream = response.extensions.get("network_stream")
    try:
        return stream.get_extra_info("client_addr") if stream is not None else None
    except OSError:
        return None


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK_SIZE):
        yield body[start : start + CHUNK_SIZE]
