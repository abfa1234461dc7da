"""Mutants of the NAME clauses: the {database} and {table} path segments."""

from __future__ import annotations

import re
from urllib.parse import quote_from_bytes, unquote_to_bytes

from conformance.reference.app import EVENT_PREFIX, PostbackApp
from tests.mutants.base import mutant

BOTH = ("legacy", "v2")
NAMES = ("test_names.py",)


@mutant(
    "name-isalnum",
    "names checked with str.isalnum(), which lets é, ٣ and ５ through",
    BOTH,
    ("NAME-02",),
    NAMES,
)
class NameIsalnum(PostbackApp):
    def is_valid_name(self, name: str) -> bool:
        return name.replace("_", "a").isalnum()


@mutant(
    "name-dollar-anchor",
    "names checked with re.match(r'^[A-Za-z0-9_]+$'), which lets a trailing newline through",
    BOTH,
    ("NAME-02",),
    NAMES,
)
class NameDollarAnchor(PostbackApp):
    def is_valid_name(self, name: str) -> bool:
        return re.match(r"^[A-Za-z0-9_]+$", name) is not None


@mutant(
    "name-split-decoded-path",
    "splits the decoded path on '/', so %2F in a name makes an extra segment",
    BOTH,
    ("NAME-02",),
    NAMES,
)
class NameSplitDecodedPath(PostbackApp):
    def split_path(self, raw_path: bytes) -> tuple[bytes, bytes]:
        decoded = unquote_to_bytes(raw_path)
        if decoded.startswith(EVENT_PREFIX):
            segments = decoded[len(EVENT_PREFIX) :].split(b"/")
            if len(segments) == 2 and all(segments):
                # Re-encoded so that the name check decodes each segment once, as the reference does.
                database, table = (quote_from_bytes(s, safe="").encode("ascii") for s in segments)
                return database, table
        return super().split_path(b"/")  # not the endpoint: the reference's 404


@mutant("name-max-64", "names limited to 64 characters", BOTH, ("NAME-01",), NAMES)
class NameMax64(PostbackApp):
    def is_valid_name(self, name: str) -> bool:
        return len(name) <= 64 and super().is_valid_name(name)


@mutant(
    "empty-segment-crash",
    "an empty path segment raises an unhandled error (500)",
    BOTH,
    ("NAME-03", "RESP-01", "BODY-08"),
    NAMES,
)
class EmptySegmentCrash(PostbackApp):
    def split_path(self, raw_path: bytes) -> tuple[bytes, bytes]:
        if raw_path.startswith(EVENT_PREFIX) and b"" in raw_path[len(EVENT_PREFIX) :].split(b"/"):
            raise IndexError("empty path segment")
        return super().split_path(raw_path)


@mutant(
    "empty-segment-merged",
    "merges repeated slashes, so /event/db//table is accepted as db/table",
    BOTH,
    ("NAME-03",),
    NAMES,
)
class EmptySegmentMerged(PostbackApp):
    def split_path(self, raw_path: bytes) -> tuple[bytes, bytes]:
        return super().split_path(re.sub(rb"/+", b"/", raw_path))


@mutant(
    "name-not-percent-decoded",
    "does not percent-decode names, so %61bc is not abc",
    BOTH,
    ("NAME-04",),
    NAMES,
)
class NameNotPercentDecoded(PostbackApp):
    def decode_name(self, segment: bytes) -> str | None:
        try:
            return segment.decode("utf-8")
        except UnicodeDecodeError:
            return None
