"""Mutants of the AUTH clauses: where the key is read from, in which order, and what counts as a key."""

from __future__ import annotations

import contextvars
import re
from typing import Any

import h11

from conformance.reference.app import PostbackApp, Rejection
from conformance.reference.asgi import Receive, Request, Scope, Send
from tests.mutants.base import mutant

BOTH = ("legacy", "v2")
AUTH = ("test_auth.py",)
TD_KEY = re.compile(r"[0-9]+/[0-9a-fA-F]{40}")  # account ID "/" 40 hex digits


# ------------------------------------------------------------------------------ field names as sent
# uvicorn builds the ASGI scope from h11's lowercased field names, so an ASGI app never sees how a client
# spelled a header. To play an implementation that compares names case-sensitively, h11 is made to keep
# each request's field names as sent on its connection object (purely additive: nothing reads it but the
# mutant below), and the mutant finds that connection through uvicorn's request cycle.

_FIELD_NAMES: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("field_names", default=())


def _keep_field_names_as_sent() -> None:
    original = h11.Connection.next_event
    if getattr(original, "keeps_field_names", False):
        return

    def next_event(self: h11.Connection) -> Any:
        event = original(self)
        if isinstance(event, h11.Request):
            self.field_names_as_sent = tuple(name.decode("latin-1") for name, _ in event.headers.raw_items())  # type: ignore[attr-defined]
        return event

    next_event.keeps_field_names = True  # type: ignore[attr-defined]
    h11.Connection.next_event = next_event  # type: ignore[method-assign]


@mutant(
    "header-name-case-sensitive",
    "finds the key header only when spelled exactly X-TD-Write-Key (field names compared case-sensitively)",
    BOTH,
    ("AUTH-02",),
    AUTH,
)
class HeaderNameCaseSensitive(PostbackApp):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _keep_field_names_as_sent()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = getattr(getattr(receive, "__self__", None), "conn", None)
        names = getattr(connection, "field_names_as_sent", None)
        if names is None:
            raise RuntimeError("mutant setup: uvicorn/h11 internals changed; cannot see field names as sent")
        _FIELD_NAMES.set(names)
        await super().__call__(scope, receive, send)

    def credential(self, request: Request) -> str | None:
        spelled = [n for n in _FIELD_NAMES.get() if n.lower() == "x-td-write-key"]
        if spelled and "X-TD-Write-Key" not in spelled:
            request._headers.pop("x-td-write-key", None)  # the header is as good as absent
        return super().credential(request)


# ---------------------------------------------------------------------------------------------- legacy


@mutant(
    "legacy-ignores-query-key",
    "legacy reads X-TD-Write-Key only, never ?td_write_key",
    ("legacy",),
    ("AUTH-03",),
    AUTH,
)
class LegacyIgnoresQueryKey(PostbackApp):
    def legacy_credential(self, request: Request) -> str | None:
        return request.header("x-td-write-key")


@mutant(
    "query-key-not-url-decoded",
    "legacy takes ?td_write_key from the raw query string, so a key sent with %2F never matches",
    ("legacy",),
    ("AUTH-03",),
    AUTH,
)
class QueryKeyNotUrlDecoded(PostbackApp):
    def legacy_credential(self, request: Request) -> str | None:
        header = request.header("x-td-write-key")
        if header is not None:
            return header
        for pair in request.query_string.decode("latin-1").split("&"):
            name, _, value = pair.partition("=")
            if name == "td_write_key":
                return value
        return None


@mutant(
    "legacy-query-wins",
    "legacy lets ?td_write_key take precedence over the X-TD-Write-Key header",
    ("legacy",),
    ("AUTH-04",),
    AUTH,
)
class LegacyQueryWins(PostbackApp):
    def legacy_credential(self, request: Request) -> str | None:
        values = request.query_values("td_write_key")
        return values[0] if values else request.header("x-td-write-key")


# -------------------------------------------------------------------------------------------------- v2


@mutant(
    "td1-not-supported",
    "v2 ignores Authorization: TD1 (reads X-TD-Write-Key only)",
    ("v2",),
    ("AUTH-05",),
    AUTH,
)
class Td1NotSupported(PostbackApp):
    def v2_credential(self, request: Request) -> str | None:
        return request.header("x-td-write-key")


@mutant(
    "v2-header-wins-over-td1",
    "v2 lets X-TD-Write-Key take precedence over Authorization: TD1",
    ("v2",),
    ("AUTH-06",),
    AUTH,
)
class V2HeaderWinsOverTd1(PostbackApp):
    def v2_credential(self, request: Request) -> str | None:
        header = request.header("x-td-write-key")
        if header is not None:
            return header
        authorization = request.header("authorization")
        return self.td1_key(authorization) if authorization is not None else None


@mutant(
    "v2-accepts-query-key",
    "v2 still takes ?td_write_key when no header carries a key (the legacy code path left in)",
    ("v2",),
    ("AUTH-07",),
    AUTH,
)
class V2AcceptsQueryKey(PostbackApp):
    def v2_credential(self, request: Request) -> str | None:
        key = super().v2_credential(request)
        values = request.query_values("td_write_key")
        return key if key is not None or not values else values[0]


@mutant(
    "td1-scheme-case-sensitive",
    "v2 matches the scheme name case-sensitively: td1 <key> is not a credential",
    ("v2",),
    ("AUTH-10",),
    AUTH,
)
class Td1SchemeCaseSensitive(PostbackApp):
    def td1_key(self, authorization: str) -> str | None:
        return super().td1_key(authorization) if authorization.startswith("TD1") else None


@mutant(
    "bearer-accepted",
    "v2 takes the key of Authorization: Bearer <key> like TD1",
    ("v2",),
    ("AUTH-11",),
    AUTH,
)
class BearerAccepted(PostbackApp):
    def td1_key(self, authorization: str) -> str | None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() == "bearer" and key.strip():
            return key.strip()
        return super().td1_key(authorization)


# ---------------------------------------------------------------------------------------- both versions


@mutant(
    "invalid-keys-ingested",
    "stores records whatever their key: validity is never checked, not even later",
    BOTH,
    ("AUTH-08",),
    AUTH,
)
class InvalidKeysIngested(PostbackApp):
    def is_known_key(self, key: str) -> bool:
        return True


@mutant(
    "malformed-key-500",
    "a key that is not account-ID/40-hex makes the key lookup crash: 500",
    BOTH,
    ("AUTH-08", "RESP-01", "BODY-08"),  # a 500: no status the contract allows, and BODY-08 for every request
    AUTH,
)
class MalformedKey500(PostbackApp):
    def credential(self, request: Request) -> str | None:
        key = super().credential(request)
        if key and TD_KEY.fullmatch(key) is None:
            raise Rejection(500, "internal error")
        return key


@mutant(
    "missing-credential-500",
    "a request with no key at all crashes the handler: 500",
    BOTH,
    # On v2 a query key alone (AUTH-07) and a non-TD1 Authorization alone (AUTH-11) are no key either.
    ("AUTH-09", "AUTH-07", "AUTH-11", "RESP-01", "BODY-08"),
    AUTH,
)
class MissingCredential500(PostbackApp):
    def credential(self, request: Request) -> str | None:
        key = super().credential(request)
        if key is None:
            raise Rejection(500, "internal error")
        return key


# ------------------------------------------------------------------------- what the docs leave open

_FIELD_ORDER: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("field_order", default=())


@mutant(
    "v2-last-credential-header-wins",
    "v2 takes the key of whichever credential field (Authorization: TD1 or X-TD-Write-Key) comes last",
    ("v2",),
    ("AUTH-06",),
    AUTH,
)
class LastCredentialHeaderWins(PostbackApp):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            _FIELD_ORDER.set(tuple(name.decode("latin-1").lower() for name, _ in scope["headers"]))
        await super().__call__(scope, receive, send)

    def v2_credential(self, request: Request) -> str | None:
        authorization = request.header("authorization")
        td1 = self.td1_key(authorization) if authorization is not None else None
        header = request.header("x-td-write-key")
        if td1 is None or header is None:
            return td1 if td1 is not None else header
        order = [name for name in _FIELD_ORDER.get() if name in ("authorization", "x-td-write-key")]
        return header if order[-1] == "x-td-write-key" else td1


@mutant(
    "v2-url-key-rescues-invalid-header-key",
    "v2 falls back to ?td_write_key when the X-TD-Write-Key is missing or not a key of the account",
    ("v2",),
    ("AUTH-07",),
    AUTH,
)
class UrlKeyRescuesInvalidHeaderKey(PostbackApp):
    def v2_credential(self, request: Request) -> str | None:
        key = super().v2_credential(request)
        values = request.query_values("td_write_key")
        if values and (key is None or not self.is_known_key(key)):
            return values[0]
        return key


@mutant(
    "v2-refuses-url-key",
    "conformant variant: v2 refuses (400) any request carrying ?td_write_key, whatever its other keys",
    ("v2",),
    (),
    ("test_auth.py", "test_responses.py"),
)
class RefusesUrlKey(PostbackApp):
    def v2_credential(self, request: Request) -> str | None:
        if request.query_values("td_write_key"):
            raise Rejection(400, "td_write_key is not supported")
        return super().v2_credential(request)


@mutant(
    "legacy-honours-td1",
    "conformant variant: legacy also takes Authorization: TD1 <key> when no documented credential is sent",
    ("legacy",),
    (),
    ("test_auth.py", "test_responses.py"),
)
class LegacyHonoursTd1(PostbackApp):
    def legacy_credential(self, request: Request) -> str | None:
        key = super().legacy_credential(request)
        authorization = request.header("authorization")
        if key is None and authorization is not None:
            return self.td1_key(authorization)
        return key
