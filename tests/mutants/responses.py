"""Mutants of the RESP clauses: statuses, error media types and other methods, got wrong as servers do."""

from __future__ import annotations

from typing import Any

from conformance.reference.app import V2_BODY_CAP, PostbackApp, Rejection
from conformance.reference.asgi import Request, Response
from tests.mutants.base import mutant

BOTH = ("legacy", "v2")
RESP = ("test_responses.py",)
# TD's naming rules (not in the postback docs) stop at 255 characters; NAME-05 only measures longer names.
NAME_LIMIT = 255


@mutant(
    "resp-long-name-414",
    "answers 414 URI Too Long, a status no clause allows, to names over 255 characters",
    BOTH,
    ("RESP-01",),
    RESP,
)
class LongName414(PostbackApp):
    def check_name(self, segment: bytes) -> str:
        name = super().check_name(segment)
        if len(name) > NAME_LIMIT:
            raise Rejection(414, "the URI is too long")
        return name


@mutant(
    "resp-non-object-422",
    "answers 422 Unprocessable Entity (a framework default) to JSON that is not an object",
    BOTH,
    ("RESP-01", "BODY-04"),
    RESP,
)
class NonObject422(PostbackApp):
    def check_object(self, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Rejection(422, "the body must be a JSON object")
        return value


@mutant("resp-errors-text-plain", "answers every error as text/plain", BOTH, ("RESP-02",), RESP)
class ErrorsTextPlain(PostbackApp):
    def error_response(
        self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        return Response(status, message.encode(), (("content-type", "text/plain; charset=utf-8"), *headers))


@mutant(
    "resp-413-html",
    "a front proxy answers 413 with its own HTML page",
    ("v2",),
    ("RESP-02",),
    RESP,
)
class Html413(PostbackApp):
    def error_response(
        self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        if status != 413:
            return super().error_response(status, message, headers)
        page = b"<html><head><title>413 Request Entity Too Large</title></head><body></body></html>"
        return Response(413, page, (("content-type", "text/html"), *headers))


@mutant(
    "resp-delete-accepted", "treats DELETE like POST: answered 200 and ingested", BOTH, ("RESP-03",), RESP
)
class DeleteAccepted(PostbackApp):
    allowed_methods = ("POST", "DELETE")


@mutant(
    "legacy-large-body-500",
    "legacy runs out of its request buffer past 1,048,064 bytes and answers 500",
    ("legacy",),
    ("RESP-01", "BODY-08"),
    RESP,
)
class LegacyLargeBody500(PostbackApp):
    def body_cap(self, request: Request) -> int | None:
        return V2_BODY_CAP

    async def read_body(self, request: Request) -> bytes:
        try:
            return await super().read_body(request)
        except Rejection as rejection:
            if rejection.status == 413:
                raise Rejection(500, "internal error") from None
            raise


@mutant(
    "legacy-caps-like-v2",
    "conformant variant: legacy refuses bodies over 1,048,064 bytes with 413, as v2 does (SIZE-07)",
    ("legacy",),
    (),
    ("test_responses.py", "test_size.py"),
)
class LegacyCapsLikeV2(PostbackApp):
    def body_cap(self, request: Request) -> int | None:
        return V2_BODY_CAP
