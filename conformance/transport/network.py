"""What real networks need: a deadline per request, Retry-After, proxies and client certificates.

httpx's timeouts bound each read and each write, so a target that trickles one byte a second never times
out. :class:`DeadlineBackend` wraps httpcore's socket backend and bounds every connect, read, write and
TLS handshake by what is left of the request's whole deadline (set per thread with :func:`deadline`): the
answer either completes in time or the next socket operation times out.
"""

from __future__ import annotations

import math
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every socket operation of this thread inside the block ends ``seconds`` from now at the latest."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.deadline = previous


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    end: float | None = getattr(_local, "deadline", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the thread's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous socket backend, every stream bounded by the thread's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        return DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - targets are URLs
        return DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def http_transport(
    verify: ssl.SSLContext | bool,
    limits: httpx.Limits,
    proxy: str | None = None,
) -> httpx.HTTPTransport:
    """An httpx transport with the deadline backend and an optional proxy (never one from the environment:
    the caller decides, see :func:`environment_proxy`)."""
    transport = httpx.HTTPTransport(verify=verify, limits=limits, proxy=proxy, trust_env=False)
    transport._pool._network_backend = DeadlineBackend()  # both ConnectionPool and HTTPProxy read it
    return transport


def environment_proxy(url: str) -> str | None:
    """The proxy the standard environment names for ``url`` (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY; NO_PROXY
    exempts hosts), as curl and httpx read them; None when none applies."""
    parts = httpx.URL(url)
    proxies = urllib.request.getproxies_environment()
    if not proxies:
        return None
    if urllib.request.proxy_bypass_environment(parts.host, proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After field (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date);
    None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, math.ceil(seconds)) if math.isfinite(seconds) else None
