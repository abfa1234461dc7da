"""Mutants the spec-driven layer (conformance/test_schema.py) must catch on its own, each for its clause.

Every one of them is caught by schemathesis' generation from the spec's view alone: the coverage phase's
fixed cases (names breaking the pattern, JSON of the wrong type, odd ``td_record_time`` values) or the
fuzzing phase's negative mode (bodies of random bytes), whatever the seed. Like every mutant, each breaks
its one clause for the whole suite too (tests/test_mutants.py).
"""

from __future__ import annotations

import re
from typing import Any

from conformance.reference.app import PostbackApp, Rejection
from tests.mutants.base import mutant

BOTH = ("legacy", "v2")
SCHEMA = ("test_schema.py",)


@mutant(
    "schema-name-dots-and-hyphens",
    "names checked against [A-Za-z0-9_.-]+ (a common 'identifier' class), so 0.5 or a-b pass",
    BOTH,
    ("NAME-02",),
    SCHEMA,
)
class NameDotsAndHyphens(PostbackApp):
    def is_valid_name(self, name: str) -> bool:
        return re.fullmatch(r"[A-Za-z0-9_.\-]+", name, re.ASCII) is not None


@mutant(
    "schema-body-not-json-kept-raw",
    'a body that is not JSON is stored as {"raw": text} instead of being refused',
    BOTH,
    ("BODY-03",),
    SCHEMA,
)
class BodyNotJsonKeptRaw(PostbackApp):
    def parse_body(self, body: bytes) -> object:
        try:
            return super().parse_body(body)
        except Rejection:
            if not body:
                raise  # an empty body is still refused (BODY-05 is not this mutant's fault)
            return {"raw": body.decode("utf-8", errors="replace")}


@mutant(
    "schema-non-object-wrapped",
    'valid JSON that is not an object is stored as {"value": ...} instead of being refused',
    BOTH,
    ("BODY-04",),
    SCHEMA,
)
class NonObjectWrapped(PostbackApp):
    def check_object(self, value: object) -> dict[str, Any]:
        return value if isinstance(value, dict) else {"value": value}


@mutant(
    "schema-record-time-crash",
    "converts td_record_time with int() unchecked, so 'AAA', null or {} raise an unhandled error (500)",
    BOTH,
    ("BODY-08",),
    SCHEMA,
)
class RecordTimeCrash(PostbackApp):
    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        if "td_record_time" in document:
            int(document["td_record_time"])  # TypeError/ValueError: the app's handler answers 500
        return super().build_record(document, received_at)


@mutant(
    "schema-record-time-422",
    "answers 422 Unprocessable Entity (a status the contract does not have) to a td_record_time that is not "
    "UNIX seconds",
    BOTH,
    ("RESP-01",),
    SCHEMA,
)
class RecordTime422(PostbackApp):
    def build_record(self, document: dict[str, Any], received_at: float) -> dict[str, Any]:
        value = document.get("td_record_time")
        if "td_record_time" in document and not (
            (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
            or (isinstance(value, str) and value.isascii() and value.isdigit())
        ):
            raise Rejection(422, "td_record_time must be UNIX seconds")
        return super().build_record(document, received_at)
