"""Mutants of the BODY clauses: the request body and the ingested record."""

from __future__ import annotations

import json
import math
import re
from contextvars import ContextVar
from typing import Any

from conformance.reference import rules
from conformance.reference.app import PostbackApp, Rejection
from conformance.reference.asgi import Request, Response
from tests.mutants.base import mutant

BOTH = ("legacy", "v2")
BODY = ("test_body.py",)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


@mutant(
    "body-values-stringified",
    'stores every field as a string (the GET pixel form\'s rule applied to POST): 1234 becomes "1234"',
    BOTH,
    ("BODY-01",),
    BODY,
)
class ValuesStringified(PostbackApp):
    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        record = super().build_record(document, received_at)
        return {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in record.items()}


@mutant(
    "body-time-in-milliseconds",
    "stamps records without time with the receive time in milliseconds (JavaScript's Date.now())",
    BOTH,
    ("BODY-02",),
    BODY,
)
class TimeInMilliseconds(PostbackApp):
    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        record = dict(document)
        record.setdefault("time", int(received_at * 1000))
        return record


@mutant(
    "body-trailing-data-accepted",
    "parses the first JSON value with raw_decode and ignores whatever follows it",
    BOTH,
    ("BODY-03",),
    BODY,
)
class TrailingDataAccepted(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        try:
            text = body.decode("utf-8").lstrip(" \t\r\n")
            _, end = json.JSONDecoder().raw_decode(text)
        except (ValueError, RecursionError):
            return super().parse_body(body)
        return super().parse_body(text[:end].encode("utf-8"))


@mutant(
    "body-array-accepted",
    "takes a JSON array as a batch: its first object is ingested, an array without one is answered 200",
    BOTH,
    ("BODY-04",),
    BODY,
)
class ArrayAccepted(PostbackApp):
    def check_object(self, value: object) -> dict[str, Any]:
        if isinstance(value, list):
            objects = [item for item in value if isinstance(item, dict)]
            return objects[0] if objects else {}
        return super().check_object(value)


@mutant(
    "body-empty-accepted",
    "treats an empty body as {} and ingests a record holding only time",
    BOTH,
    ("BODY-05",),
    BODY,
)
class EmptyAccepted(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        return {} if not body else super().parse_body(body)


_EVENT: ContextVar[tuple[str, str, float] | None] = ContextVar("event", default=None)


@mutant(
    "body-empty-ingested-anyway",
    "answers an empty body 400, as it should, but has already queued a record holding only time",
    BOTH,
    ("BODY-05",),
    BODY,
)
class EmptyIngestedAnyway(PostbackApp):
    async def handle_event(self, request: Request, database_segment: bytes, table_segment: bytes) -> Response:
        names = self.check_name(database_segment), self.check_name(table_segment)
        token = _EVENT.set((*names, request.received_at))
        try:
            return await super().handle_event(request, database_segment, table_segment)
        finally:
            _EVENT.reset(token)

    def parse_body(self, body: bytes) -> object:
        event = _EVENT.get()
        if not body and event is not None:
            database, table, received_at = event
            self.store_record(database, table, self.build_record({}, received_at))
        return super().parse_body(body)


@mutant(
    "body-charset-rejected",
    "compares the whole Content-Type with 'application/json', so a charset parameter is answered 415",
    BOTH,
    ("BODY-06",),
    BODY,
)
class CharsetRejected(PostbackApp):
    def is_json_media_type(self, content_type: str | None) -> bool:
        return content_type is not None and content_type.strip().lower() == "application/json"


@mutant(
    "body-text-plain-accepted",
    "accepts text/plain as well as application/json (some clients cannot set the header)",
    BOTH,
    ("BODY-07",),
    BODY,
)
class TextPlainAccepted(PostbackApp):
    def is_json_media_type(self, content_type: str | None) -> bool:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        return media_type == "text/plain" or super().is_json_media_type(content_type)


@mutant(
    "body-deep-nesting-500",
    "parses with no nesting limit and no RecursionError guard: deep nesting is answered 500",
    BOTH,
    ("BODY-08",),
    BODY,
)
class DeepNesting500(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_no_constants, parse_float=_finite)
        except ValueError:
            raise Rejection(400, "the body is not valid JSON") from None


# ------------------------------------------------------------------------- what the docs leave open


def _stdlib_json(body: bytes) -> object:
    """Strict JSON read with Python's json module, which keeps lone surrogate escapes as they are."""
    if rules.raw_nesting_depth(body) > rules.MAX_NESTING:
        raise Rejection(400, "nesting too deep")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, RecursionError):
        raise Rejection(400, "the body is not valid JSON") from None


@mutant(
    "body-nesting-over-64-crashes",
    "a fixed 64-level parser stack overflows on deeper nesting: 500",
    BOTH,
    ("BODY-08",),
    BODY,
)
class NestingOver64Crashes(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        if rules.raw_nesting_depth(body) > 64:
            raise Rejection(500, "internal error")
        return super().parse_body(body)


@mutant(
    "body-lone-surrogate-500",
    'accepts "\\ud800" while parsing, then crashes re-encoding the record as UTF-8: 500',
    BOTH,
    ("BODY-08",),
    BODY,
)
class LoneSurrogate500(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        value = _stdlib_json(body)
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError on a lone surrogate
        return value


@mutant(
    "body-lone-surrogate-accepted",
    'conformant variant: parses with Python\'s json, so "\\ud800" is accepted and stored as sent',
    BOTH,
    (),
    BODY,
)
class LoneSurrogateAccepted(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        return _stdlib_json(body)


@mutant(
    "body-field-names-lowercased",
    "conformant variant: a columnar store that lowercases field names (the docs say nothing of them)",
    BOTH,
    (),
    BODY,
)
class FieldNamesLowercased(PostbackApp):
    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        record = super().build_record(document, received_at)
        return {key.lower(): value for key, value in record.items()}


# ---------------------------------------------------- RFC 8259's interoperability hazards (sections 4, 6-8)


def _as_double(value: Any) -> Any:
    """A top-level value as an IEEE 754 double holds it (JavaScript's JSON.parse): integers to 53 bits."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    try:
        return int(float(value))
    except OverflowError:  # beyond a double: kept (the suite leaves those open)
        return value


@mutant(
    "body-integers-through-doubles",
    "parses numbers as doubles (JavaScript's JSON.parse): 9007199254740993 is stored as 9007199254740992",
    BOTH,
    ("BODY-01",),
    BODY,
)
class IntegersThroughDoubles(PostbackApp):
    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        return {k: _as_double(v) for k, v in super().build_record(document, received_at).items()}


@mutant(
    "body-huge-integers-refused",
    "conformant variant: refuses integers beyond the 64-bit range with 400 (RFC 8259 section 9: limits)",
    BOTH,
    (),
    BODY,
)
class HugeIntegersRefused(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        value = super().parse_body(body)
        try:
            json.loads(body, parse_int=_int64, parse_float=float)
        except (ValueError, RecursionError):
            raise Rejection(400, "number out of range") from None
        return value


def _int64(digits: str) -> int:
    if len(digits.lstrip("-")) > 19 or not -(2**63) <= int(digits) < 2**63:
        raise ValueError("integer out of range")
    return int(digits)


# A member name (a JSON string followed by ":") and a surrogate pair written as two escapes.
_MEMBER_NAME = re.compile(rb'"((?:[^"\\]|\\.)*)"(\s*:)')
_UNICODE_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u")  # a \uXXXX escape (not an escaped backslash + u)
_ESCAPED_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@mutant(
    "body-escaped-names-kept-raw",
    'copies member names byte for byte without decoding their escapes: "te\\u0078t" stays a name of its own',
    BOTH,
    ("BODY-01",),
    BODY,
)
class EscapedNamesKeptRaw(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        raw = _MEMBER_NAME.sub(
            lambda m: b'"' + _UNICODE_ESCAPE.sub(rb"\1\\\\u", m.group(1)) + b'"' + m.group(2), body
        )
        return super().parse_body(raw)


@mutant(
    "body-duplicate-names-500",
    "builds records with a map that throws on an existing key: a name sent twice is answered 500",
    BOTH,
    ("BODY-08",),
    BODY,
)
class DuplicateNames500(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        value = super().parse_body(body)
        try:
            json.loads(body, object_pairs_hook=_unique)
        except KeyError:
            raise Rejection(500, "internal error") from None
        except (ValueError, RecursionError):
            pass
        return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise KeyError("duplicate name")
    return dict(pairs)


@mutant(
    "body-first-duplicate-wins",
    "conformant variant: of a name sent twice, the first value is kept (RFC 8259 section 4 leaves it open)",
    BOTH,
    (),
    BODY,
)
class FirstDuplicateWins(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        value = super().parse_body(body)
        if not isinstance(value, dict):
            return value
        first = json.loads(body, object_pairs_hook=lambda pairs: dict(reversed(pairs)))
        return {name: first[name] for name in value} if isinstance(first, dict) else value


@mutant(
    "body-surrogate-pair-escapes-split",
    'decodes each \\uXXXX on its own, so an escaped pair (\\ud83d\\ude00, "😀") becomes two U+FFFD',
    BOTH,
    ("BODY-01",),
    BODY,
)
class SurrogatePairEscapesSplit(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        return super().parse_body(_ESCAPED_PAIR.sub(rb"\\ufffd\\ufffd", body))


@mutant(
    "body-lone-surrogates-replaced",
    "conformant variant: a lone surrogate escape is stored as U+FFFD (RFC 8259 section 8.2: unpredictable)",
    BOTH,
    (),
    BODY,
)
class LoneSurrogatesReplaced(PostbackApp):
    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        record = super().build_record(_stdlib_replaced(document), received_at)
        return record

    def parse_body(self, body: bytes) -> object:
        return _stdlib_json(body)


def _stdlib_replaced(value: Any) -> Any:
    """Top-level string values with each lone surrogate replaced by U+FFFD (nested values kept)."""
    if isinstance(value, dict):
        return {k: _replaced(v) if isinstance(v, str) else v for k, v in value.items()}
    return value


def _replaced(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
