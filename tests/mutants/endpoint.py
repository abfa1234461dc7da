"""Mutants of the EP clauses: the endpoint and its success answer."""

from __future__ import annotations

from typing import Any

from conformance.reference.app import PostbackApp
from conformance.reference.asgi import Response
from tests.mutants.base import mutant

BOTH = ("legacy", "v2")


@mutant("success-body-not-empty", 'answers 200 with {"status":"ok"} instead of {}', BOTH, ("EP-02",))
class SuccessBodyNotEmpty(PostbackApp):
    def success_response(self) -> Response:
        return Response(200, b'{"status":"ok"}')


@mutant("connection-close", "closes the connection after every answer", BOTH, ("EP-03",))
class ConnectionClose(PostbackApp):
    def success_response(self) -> Response:
        return super().success_response().with_header("connection", "close")


@mutant("unknown-key-refused", "refuses unknown well-formed keys synchronously with 403", BOTH, ("EP-05",))
class UnknownKeyRefused(PostbackApp):
    def success_response(self) -> Response:
        return super().success_response()

    def is_known_key(self, key: str) -> bool:
        return super().is_known_key(key)

    def credential(self, request):  # type: ignore[no-untyped-def]
        from conformance.reference.app import Rejection

        key = super().credential(request)
        if key and not self.is_known_key(key) and len(key) > 40:
            raise Rejection(403, "unknown key")
        return key


@mutant(
    "no-hsts",
    "serves https without Strict-Transport-Security",
    ("v2",),
    ("EP-04",),
    ("test_endpoint.py",),
    tls=True,
)
class NoHsts(PostbackApp):
    def success_response(self) -> Response:
        return Response(200, b"{}")


# Exactly-once is part of every acceptance clause that reads back a record, so this one fault breaks them all.
@mutant(
    "records-ingested-twice",
    "an at-least-once pipeline: every accepted record is stored twice",
    ("v2",),
    ("EP-01", "AUTH-01", "BODY-01", "BODY-02", "SIZE-01", "SIZE-04"),
)
class RecordsIngestedTwice(PostbackApp):
    def store_record(self, database: str, table: str, record: dict[str, Any]) -> None:
        super().store_record(database, table, record)
        super().store_record(database, table, record)
