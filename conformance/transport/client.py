"""The one HTTP client per target: connection reuse, timeouts, TLS, a rate cap, redaction.

Every request goes through :meth:`Transport.request`, which returns an :class:`Exchange` (never raises for
what the target does: a timeout or a dropped connection is an answer the suite judges). Exceptions that do
leave this module carry redacted messages only.
"""

from __future__ import annotations

import itertools
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec
from urllib.parse import quote, urlencode

import httpx

from conformance import __version__
from conformance.transport.credentials import Credentials, Keyring
from conformance.transport.exchange import Exchange, Received, SentRequest
from conformance.transport.redact import Redactor

EVENT_PATH = "/postback/v3/event"
CHUNK_SIZE = 64 * 1024
MAX_BODY_KEPT = 64 * 1024


class TargetError(Exception):
    """The target cannot be used at all (unreachable, TLS failure); the message is redacted."""


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


class RateLimiter:
    """At most ``rate`` request starts per second across threads (``--max-rps``); None: no cap."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

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
    """Unique ``conformance_id`` values: the run ID, then a counter (CONTRACT.md, Probe records).

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


def ssl_context(ca_bundle: str | None, insecure: bool) -> ssl.SSLContext | bool:
    if insecure:
        return False
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return True


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
        timeout: float = 10.0,
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
        self.recorder: Recorder | None = None  # the run's traffic log (conformance.traffic)
        self._count_lock = threading.Lock()
        base = httpx.URL(spec.url)
        self._prefix = base.raw_path.rstrip(b"/").split(b"?")[0]
        self._base = base
        self._verify = verify
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            verify=verify,
            follow_redirects=False,
            headers={"User-Agent": f"postback-conformance/{__version__}", "Accept-Encoding": "identity"},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
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
        return httpx.Client(
            timeout=self.client.timeout,
            verify=self._verify,
            headers=dict(self.client.headers),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

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
        """Send one request exactly as described (raw path, header spelling, chunked framing)."""
        url = self.url_for(raw_path, query)
        content: bytes | Iterator[bytes] = _chunks(body) if chunked else body
        request = (client or self.client).build_request(method, url, headers=list(headers), content=content)
        sent = SentRequest(
            method=method,
            url=self.redact(str(url)),
            # The raw list keeps each field name's spelling as sent (AUTH-02 sends x-td-write-key, ...).
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
        started = time.monotonic()
        try:
            response = (client or self.client).send(request, stream=True)
        except httpx.TimeoutException:
            return Exchange(self.spec.name, sent, error=f"no answer within the timeout ({self.timeout:g} s)")
        except httpx.RemoteProtocolError as exc:
            return Exchange(self.spec.name, sent, error=f"not a valid HTTP answer ({self.redact(str(exc))})")
        except httpx.ConnectError as exc:
            return Exchange(self.spec.name, sent, error=f"cannot connect ({self.redact(str(exc))})")
        except httpx.TransportError as exc:
            return Exchange(self.spec.name, sent, error=f"connection failed ({self.redact(str(exc))})")
        local = _client_address(response)
        try:
            data = response.read()[:MAX_BODY_KEPT]
        except httpx.TransportError as exc:
            return Exchange(self.spec.name, sent, error=f"answer cut short ({self.redact(str(exc))})")
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
        return Exchange(self.spec.name, sent, received)

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
            self.client.request("GET", self.url_for("/"), timeout=min(self.timeout, 10.0)).close()
        except httpx.ConnectTimeout:
            raise TargetError(f"target {self.spec.url} did not accept a connection in time") from None
        except httpx.ConnectError as exc:
            reason = self.redact(str(exc)) or "connection refused"
            if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
                raise TargetError(f"TLS handshake with {self.spec.url} failed: {reason}") from None
            raise TargetError(f"target {self.spec.url} is unreachable: {reason}") from None
        except httpx.TimeoutException:
            raise TargetError(f"target {self.spec.url} did not answer within {self.timeout:g} s") from None
        except httpx.RemoteProtocolError as exc:
            raise TargetError(
                f"target {self.spec.url} did not answer in HTTP: {self.redact(str(exc))}"
            ) from None
        except httpx.TransportError as exc:
            raise TargetError(f"target {self.spec.url} failed: {self.redact(str(exc))}") from None


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
