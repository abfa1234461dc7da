"""The reference Postback target: a pure ASGI 3 app serving one endpoint version plus read-back protocol v1.

Sources: the legacy Postback API doc ("legacy doc") and the Postback API v2 quickstart ("v2 doc") kept in the
project's seeds, docs/contract.md ("Read-back (protocol v1)") and the RFCs cited at each rule.

Every decision is one small method (a "hook") so that a faulty "mutant" target can subclass the app and break
exactly one rule. The order of the checks is fixed by :meth:`PostbackApp.handle_event`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Literal

from conformance.reference import rules
from conformance.reference.asgi import (
    DRAIN_LIMIT,
    ClientDisconnected,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    json_response,
)
from conformance.reference.store import Store
from conformance.reference.td_api import ROUTES as TD_API_ROUTES
from conformance.reference.td_api import TdJobApi

ApiVersion = Literal["legacy", "v2"]

EVENT_PREFIX = b"/postback/v3/event/"
READBACK_RECORDS = b"/_readback/records"

# v2 doc, "Payload limits": "Request body is capped at 1,048,064 bytes."
V2_BODY_CAP = 1_048_064

_ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}

logger = logging.getLogger(__name__)


class Rejection(Exception):
    """Raised by a hook to answer with an error status instead of going on."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class PostbackApp:
    """``POST /postback/v3/event/{database}/{table}`` (legacy or v2) plus ``GET /_readback/records``.

    ``keys`` are the valid write keys: any non-empty key is answered 200 (v2 doc, "API key validation": key
    validity is decided asynchronously), but only records sent with one of ``keys`` are stored.
    """

    allowed_methods: tuple[str, ...] = ("POST",)
    # The statuses the docs leave open: a missing/empty credential, a non-JSON media type, a bad path.
    status_no_credential = 403
    status_bad_media_type = 415
    status_bad_path = 404
    td_api: TdJobApi | None = None  # set to serve the TD job API emulation under /v3/job/

    def __init__(self, version: ApiVersion, keys: Iterable[str], store: Store) -> None:
        if version not in ("legacy", "v2"):
            raise ValueError(f"unknown API version {version!r}")
        self.version: ApiVersion = version
        self.keys = frozenset(keys)
        self.store = store

    # --------------------------------------------------------------------------------------------- ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        request = Request(scope, receive)
        try:
            response = await self.route(request)
        except Rejection as rejection:
            response = self.error_response(rejection.status, rejection.message, rejection.headers)
        except ClientDisconnected:
            return
        except Exception:  # a bug of this app: answer 500 so that it shows (no input may cause it)
            logger.exception("reference target: unexpected error")
            response = self.error_response(500, "internal error")
        await self.drain_body(request)
        if request.disconnected:
            return
        if request.must_close:
            response = response.with_header("connection", "close")
        await response.send(send)

    async def route(self, request: Request) -> Response:
        """Hook: dispatch on the raw path: the read-back, the event endpoint, or 404.

        The path is recognised before the method is checked: a PUT on the endpoint is 405 (RFC 9110 §15.5.6),
        on any other path 404 (§15.5.5).
        """
        if request.raw_path == READBACK_RECORDS:
            return self.handle_readback(request)
        if self.td_api is not None and request.raw_path.startswith(TD_API_ROUTES):
            return await self.td_api.handle(request)  # the TD API emulation (reference/td_api.py)
        database_segment, table_segment = self.split_path(request.raw_path)
        return await self.handle_event(request, database_segment, table_segment)

    # ------------------------------------------------------------------------------------- the event endpoint

    async def handle_event(self, request: Request, database_segment: bytes, table_segment: bytes) -> Response:
        """The chain of checks, in order: method, names, size, media type, credential, body, record."""
        self.check_method(request.method)
        database = self.check_name(database_segment)
        table = self.check_name(table_segment)
        body = await self.read_body(request)
        if not self.is_json_media_type(request.header("content-type")):
            raise Rejection(self.status_bad_media_type, "Content-Type must be application/json")
        key = self.credential(request)
        if not key:
            raise Rejection(self.status_no_credential, "a write key is required")
        document = self.check_object(self.parse_body(body))
        record = self.build_record(document, request.received_at)
        if self.is_known_key(key):
            self.store_record(database, table, record)
        return self.success_response()

    def split_path(self, raw_path: bytes) -> tuple[bytes, bytes]:
        """Hook: the two raw (still percent-encoded) segments after ``/postback/v3/event/``, else 404.

        Split on the raw path, never the decoded one, so that ``a%2Fb`` stays one segment (RFC 3986 §2.2).
        Exactly two non-empty segments: ``/event//t``, ``/event/d/``, ``/event/d/t/x`` are not the endpoint.
        """
        if raw_path.startswith(EVENT_PREFIX):
            segments = raw_path[len(EVENT_PREFIX) :].split(b"/")
            if len(segments) == 2 and all(segments):
                return segments[0], segments[1]
        raise Rejection(self.status_bad_path, "no such resource")

    def check_method(self, method: str) -> None:
        """Hook: only ``allowed_methods`` on the endpoint; others 405 with ``Allow`` (RFC 9110 §15.5.6)."""
        if method not in self.allowed_methods:
            raise Rejection(405, "method not allowed", (("allow", ", ".join(self.allowed_methods)),))

    def check_name(self, segment: bytes) -> str:
        """Hook: decode a raw path segment (:meth:`decode_name`) and check it (:meth:`is_valid_name`); 400."""
        name = self.decode_name(segment)
        if name is None or not self.is_valid_name(name):
            raise Rejection(400, "database and table names may contain only letters, digits and _")
        return name

    def decode_name(self, segment: bytes) -> str | None:
        """Hook: percent-decode (RFC 3986 §2.1, so ``%61bc`` is ``abc``, §6.2.2.2) then strict UTF-8; None if
        the bytes are not UTF-8."""
        return rules.decode_segment(segment)

    def is_valid_name(self, name: str) -> bool:
        """Hook: legacy and v2 docs, "Parameters": only ASCII letters, digits and ``_``, any length."""
        return rules.is_valid_name(name)

    def body_cap(self, request: Request) -> int | None:
        """Hook: the body cap in bytes, None for none (v2 doc, "Payload limits"; the legacy doc has none)."""
        return V2_BODY_CAP if self.version == "v2" else None

    def measure(self, chunk: bytes) -> int:
        """Hook: how much of the cap a piece of the body uses: its length in bytes (v2 doc: "bytes")."""
        return len(chunk)

    async def read_body(self, request: Request) -> bytes:
        """Hook: the whole body, counted as it streams (chunked included, RFC 9112 §7.1); over the cap, 413.

        A declared Content-Length over the cap is refused without buffering anything. Nothing past the cap is
        ever kept; the rest of the body is drained before the answer (:meth:`drain_body`).
        """
        cap = self.body_cap(request)
        limit = DRAIN_LIMIT if cap is None else min(cap, DRAIN_LIMIT)  # legacy: only the safety bound
        declared = request.content_length
        if declared is not None and declared > limit:
            raise Rejection(413, "the request body is too large")
        parts: list[bytes] = []
        size = 0
        while (chunk := await request.next_chunk()) is not None:
            size += self.measure(chunk)
            if size > limit:
                raise Rejection(413, "the request body is too large")
            parts.append(chunk)
        if request.disconnected:
            raise ClientDisconnected
        return b"".join(parts)

    async def drain_body(self, request: Request) -> None:
        """Hook: read and discard what is left of the body (up to the 64 MiB bound) before answering, so
        that the connection stays usable for the next request (RFC 9112 §9.3)."""
        while await request.next_chunk() is not None:
            pass

    def is_json_media_type(self, content_type: str | None) -> bool:
        """Hook: legacy doc, "Request Body": Content-Type: application/json (RFC 9110 §8.3.1 for the form)."""
        return rules.is_json_media_type(content_type)

    def credential(self, request: Request) -> str | None:
        """Hook: the write key the request carries, per version; None when it carries none."""
        return self.v2_credential(request) if self.version == "v2" else self.legacy_credential(request)

    def legacy_credential(self, request: Request) -> str | None:
        """Hook: legacy doc, "Authentication": ``X-TD-Write-Key`` if present (even empty), else the
        ``td_write_key`` query parameter; "the header takes precedence". ``Authorization`` is not read."""
        header = request.header("x-td-write-key")
        if header is not None:
            return header
        values = request.query_values("td_write_key")
        return values[0] if values else None

    def v2_credential(self, request: Request) -> str | None:
        """Hook: v2 doc, "Authentication": a TD1 ``Authorization`` wins over ``X-TD-Write-Key``; an
        ``Authorization`` that is not TD1 is no credential; the query parameter is "Not supported"."""
        authorization = request.header("authorization")
        if authorization is not None:
            key = self.td1_key(authorization)
            if key is not None:
                return key
        return request.header("x-td-write-key")

    def td1_key(self, authorization: str) -> str | None:
        """Hook: the key of ``TD1 <key>`` (scheme case-insensitive, RFC 9110 §11.1); None otherwise."""
        return rules.td1_key(authorization)

    def is_known_key(self, key: str) -> bool:
        """Hook: whether records sent with ``key`` are stored (valid keys are ``keys``)."""
        return key in self.keys

    def parse_body(self, body: bytes) -> object:
        """Hook: the body as strict JSON (RFC 8259, UTF-8); anything else 400 (an empty body included)."""
        try:
            return rules.parse_strict_json(body)
        except ValueError:
            raise Rejection(400, "the body is not valid JSON") from None

    def check_object(self, value: object) -> dict[str, Any]:
        """Hook: the JSON value must be an object, which "becomes a record" (legacy doc, "Request Body"; the
        v2 OpenAPI file types the body ``type: object``); an array, string, number, boolean or null is 400."""
        if not isinstance(value, dict):
            raise Rejection(400, "the body must be a JSON object")
        return value

    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        """Hook: the record as sent; without a ``time`` field, the receive time in integer UNIX seconds is
        added (legacy doc, "Example": the ingested record gains ``time``)."""
        record = dict(document)
        if "time" not in record:
            record["time"] = int(received_at)
        return record

    def store_record(self, database: str, table: str, record: dict[str, Any]) -> None:
        """Hook: ingest the record, exactly once."""
        self.store.add(database, table, record)

    def success_response(self) -> Response:
        """Hook: 200, ``application/json``, body ``{}`` (legacy doc "Example"; v2 doc "Sample Request", which
        also shows ``Strict-Transport-Security: max-age=31536000``)."""
        return Response(
            200,
            b"{}",
            (("content-type", "application/json"), ("strict-transport-security", "max-age=31536000")),
        )

    def error_response(
        self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        """Hook: every error answer is an ``application/json`` object (the published OpenAPI files describe
        every answer as application/json). The message never repeats anything the client sent."""
        error = _ERROR_CODES.get(status, "error")
        return json_response(status, {"error": error, "message": message}, *headers)

    # -------------------------------------------------------------------------------------------- read-back

    def handle_readback(self, request: Request) -> Response:
        """Hook: docs/contract.md "Read-back (protocol v1)": ``GET /_readback/records?database=&table=``
        ``[&conformance_id=]...`` answers ``{"records": [...]}`` in ingestion order; 400 without database or
        table; an unknown table gives an empty list."""
        if request.method != "GET":
            raise Rejection(405, "method not allowed", (("allow", "GET"),))
        params = {name: request.query_values(name) for name in ("database", "table", "conformance_id")}
        if not params["database"] or not params["table"]:
            raise Rejection(400, "the database and table parameters are required")
        ids = params["conformance_id"] or None
        texts = self.store.query_json(params["database"][0], params["table"][0], ids)
        body = b'{"records":[' + b",".join(text.encode("utf-8") for text in texts) + b"]}"
        return Response(200, body)
