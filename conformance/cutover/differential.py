"""CUT-01 as a differential property: requests drawn from the contract both versions share.

[V2] "What's different from the legacy Postback API" lists every difference; inside what both versions
accept (an ``X-TD-Write-Key`` in any letter case, valid names, a JSON object body up to 1,048,064 bytes) a
legacy and a v2 target must give the same status and the same ingestion outcome. A :class:`SharedRequest`
describes one such request abstractly (never a key); :func:`shared_requests` draws them for hypothesis,
which shrinks a difference to a minimal request.

Safety on real accounts: a request with the VALID key goes only to the run's database and table; only a
well-formed UNKNOWN key (answered 200, never ingested) may name other databases and tables, or a drawn
``<table>_<suffix>``.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from conformance.contract.model import V2_BODY_CAP, Cred, RequestShape

# [L], [V2] Parameters: "only alphabets/numbers or _ are allowed".
NAME_ALPHABET = string.ascii_letters + string.digits + "_"
# The longest table name for records the suite may really write (the profile's name_max default).
MAX_WRITTEN_NAME = 128
# RFC 9110 section 5.1: field names are case-insensitive (AUTH-02).
HEADER_SPELLINGS = ("X-TD-Write-Key", "x-td-write-key", "X-TD-WRITE-KEY", "x-Td-wRiTe-KeY")
# Body sizes in bytes: 0 leaves the record at its natural size; the largest is the v2 cap itself.
BODY_SIZES = (0, 1024, 65_536, 1_000_000, V2_BODY_CAP)
VALUE_FIELD = "payload"  # any JSON value: one documented column (conformance/contract/fields.py)
PAD_FIELD = "pad"
JsonValue = Any


@dataclass(frozen=True)
class SharedRequest:
    """One request inside the shared contract, described without its key.

    ``database``/``table`` None: the run's own; ``suffix`` (when ``table`` is None) makes the table
    ``<table>_<suffix>``, cut at ``table_limit`` characters. ``value`` is the record's ``value`` field;
    ``size`` pads the body to that many bytes (0: as small as it comes).
    """

    key: Cred = Cred.VALID
    header_name: str = "X-TD-Write-Key"
    database: str | None = None
    table: str | None = None
    suffix: str | None = None
    table_limit: int = MAX_WRITTEN_NAME
    value: JsonValue = None
    size: int = 0

    def __post_init__(self) -> None:
        if self.key is Cred.VALID and (self.database is not None or self.table is not None or self.suffix):
            raise ValueError("a request with the valid key goes to the run's database and table only")

    def names(self, database: str, table: str) -> tuple[str, str]:
        """(database, table) on a target whose run names are ``database`` and ``table``."""
        name = self.table if self.table is not None else table
        if self.table is None and self.suffix:
            if self.table_limit >= len(table) + 2:
                name = f"{table}_{self.suffix}"[: self.table_limit]
        return self.database if self.database is not None else database, name

    def in_run_space(self) -> bool:
        """Whether the request goes to the run's database and table (or ``<table>_<suffix>``): only there
        can the suite read the record back."""
        return self.database is None and self.table is None

    def shape(self, version: str, database: str, table: str) -> RequestShape:
        db, tb = self.names(database, table)
        return RequestShape(
            version,
            header_key=self.key,
            header_name=self.header_name,
            database=db,
            table=tb,
            body_bytes=len(self.body("x")),
        )

    def body(self, conformance_id: str) -> bytes:
        """The JSON object: the probe ID, the drawn value, padded with ASCII to ``size`` bytes."""
        record = {"conformance_id": conformance_id, VALUE_FIELD: self.value}
        plain = _encode(record)
        if self.size <= len(plain):
            return plain
        room = self.size - len(_encode({**record, PAD_FIELD: ""}))
        return _encode({**record, PAD_FIELD: "x" * max(0, room)})

    def describe(self, database: str, table: str) -> str:
        db, tb = self.names(database, table)
        shown = tb if len(tb) <= 40 else f"{tb[:24]}...({len(tb)} characters)"
        size = f"{self.size:,}-byte" if self.size else "small"
        value = json.dumps(self.value, ensure_ascii=False)
        value = value if len(value) <= 40 else value[:37] + "..."
        return f"{self.key.value} key in {self.header_name}, {db}.{shown}, {size} object with value {value}"


def _encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def name_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Allowed names with mixed case, digits and "_", their length drawn first (every length as likely)."""
    return st.integers(min_size, max_size).flatmap(
        lambda n: st.text(st.sampled_from(NAME_ALPHABET), min_size=n, max_size=n)
    )


def json_values() -> st.SearchStrategy[JsonValue]:
    """Every JSON type: null, booleans, integers, finite floats, strings, arrays, objects.

    Kept inside what both versions must take alike (BODY-01): integers within 2**53 (RFC 8259 section 6,
    interoperable), printable text, field names that are not the probe's own or ``time`` (BODY-02)."""
    text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        text,
    )
    keys = st.text(st.sampled_from(string.ascii_lowercase), min_size=1, max_size=8).map(lambda k: "f_" + k)
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
        max_leaves=8,
    )


def shared_requests() -> st.SearchStrategy[SharedRequest]:
    """Requests inside the shared contract; those with the valid key keep to the run's own names."""
    common = {
        "header_name": st.one_of(
            st.sampled_from(HEADER_SPELLINGS), st.lists(st.booleans(), min_size=14, max_size=14).map(_spell)
        ),
        "value": json_values(),
        "size": st.sampled_from(BODY_SIZES),
    }
    # The valid key writes: only to the run's table (docs/contract.md "Probe records": --table and the
    # documented
    # <table>_<suffix> tables; a drawn suffix would create a table on the user's account).
    valid = st.builds(SharedRequest, key=st.just(Cred.VALID), **common)
    # A well-formed unknown key: answered 200, never ingested, so any valid name may be drawn; beyond 128
    # characters too (NAME-05 leaves the length to the profile, but both versions must still agree).
    names = st.one_of(st.none(), name_text(1, 255))
    suffixes = st.one_of(st.none(), name_text(1, MAX_WRITTEN_NAME - 2))
    unknown = st.builds(
        SharedRequest, key=st.just(Cred.UNKNOWN), database=names, table=names, suffix=suffixes, **common
    )
    return st.one_of(valid, unknown)


def _spell(upper: list[bool]) -> str:
    return "".join(c.upper() if u else c.lower() for c, u in zip("x-td-write-key", upper, strict=True))
