"""ASGI 3 plumbing of the reference target: a read-only view of one request, its streamed body, one answer.

ASGI 3 spec: https://asgi.readthedocs.io/en/latest/specs/www.html (HTTP connection scope, request/response).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Safety bound: a body is never read (nor drained) past this; the connection is then closed instead.
DRAIN_LIMIT = 64 * 1024 * 1024


class ClientDisconnected(Exception):
    """The client went away before its request body was complete: there is nobody left to answer."""


class Request:
    """One HTTP request: method, raw path, query, headers, and its body as a stream of ASGI messages."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.method: str = scope["method"]
        raw_path = scope.get("raw_path")
        # raw_path keeps the percent-encoding (a %2F stays %2F); "path" is already decoded (ASGI spec).
        self.raw_path: bytes = raw_path if raw_path is not None else scope["path"].encode("utf-8")
        self.query_string: bytes = scope.get("query_string", b"")
        self.received_at = time.time()
        self._headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            # RFC 9110 §5.1: field names are case-insensitive. The first occurrence of a field wins.
            self._headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        self._receive = receive
        self.body_complete = False
        self.disconnected = False
        self.must_close = False
        self.bytes_received = 0

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None when absent."""
        return self._headers.get(name.lower())

    @property
    def content_length(self) -> int | None:
        """The declared Content-Length, None when absent (chunked) or not a number."""
        value = self.header("content-length")
        return int(value) if value is not None and value.isascii() and value.isdigit() else None

    def query_values(self, name: str) -> list[str]:
        """Every value of query parameter ``name``, URL-decoded (RFC 3986 §2.1, "+" as a space)."""
        query = self.query_string.decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace")
        return [value for key, value in pairs if key == name]

    async def next_chunk(self) -> bytes | None:
        """The next piece of the body; None once the body is complete, the client left, or the bound is hit.

        Past ``DRAIN_LIMIT`` bytes with more to come, reading stops and ``must_close`` is set: the answer then
        closes the connection (RFC 9112 §9.6), since the rest of the body is left unread.
        """
        if self.body_complete or self.disconnected or self.must_close:
            return None
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.disconnected = True
            return None
        chunk: bytes = message.get("body", b"")
        self.bytes_received += len(chunk)
        if not message.get("more_body", False):
            self.body_complete = True
        elif self.bytes_received > DRAIN_LIMIT:
            self.must_close = True
        return chunk


@dataclass(frozen=True)
class Response:
    """One complete answer; Content-Length is computed when it is sent."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)

    def with_header(self, name: str, value: str) -> Response:
        return Response(self.status, self.body, (*self.headers, (name, value)))

    async def send(self, send: Send) -> None:
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers]
        headers.append((b"content-length", str(len(self.body)).encode("ascii")))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def json_response(status: int, payload: object, *headers: tuple[str, str]) -> Response:
    """An ``application/json`` answer holding ``payload``."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(status, body, (("content-type", "application/json"), *headers))
