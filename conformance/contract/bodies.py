"""Request bodies for the BODY clauses: raw-body cases, a JSON classifier, value comparison, strategies.

Every case body is built from a probe record (``{"conformance_id": ...}``) so that, wherever the bytes still
hold the probe's ID, read-back can prove the record was (not) ingested. Sources: RFC 8259 (JSON), the legacy
doc ("The JSON content immediately becomes a record"), [TD-OAS] 2.0.0 (body ``type: object``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from conformance.contract import value_mapping
from conformance.contract.fields import FLAG_FIELDS, NUMBER_FIELDS, TEXT_FIELDS
from conformance.contract.json_kinds import STRESS_DIGITS, classify, explain
from conformance.contract.model import Body
from conformance.contract.value_mapping import json_kind

__all__ = ["classify", "explain"]  # the classifier lives in json_kinds; re-exported for the suite's tests

# Fields the suite or the service gives a meaning: never generated as ordinary fields. "td_*" names are the
# [TD-OAS] "Suggested Parameters" (td_record_time, td_global_id, td_ua), which a target may treat specially.
RESERVED_FIELDS = frozenset({"conformance_id", "time"})
# JSON integers every implementation holds exactly (RFC 8259 section 6: IEEE 754 doubles, +-(2**53)).
SAFE_INT = 2**53
# Treasure Data's integer column type is 64-bit (long): BODY-01 holds integers of that range to come back.
INT64 = 2**63
# Field names a columnar store keeps as sent (lowercase ASCII letters, digits, "_", no leading digit).
NAME_FIRST = "abcdefghijklmnopqrstuvwxyz_"
NAME_REST = NAME_FIRST + "0123456789"
NAME_MAX = 128
SHOWN = 80

Build = Callable[[bytes], bytes]


@dataclass(frozen=True)
class BodyCase:
    """A named raw body built from a probe record ``probe`` (its bytes), of a contract-model kind."""

    name: str
    kind: Body
    build: Build
    note: str = ""
    headers: tuple[tuple[str, str], ...] = field(default=())

    def body(self, probe: bytes) -> bytes:
        return self.build(probe)

    @property
    def carries_probe(self) -> bool:
        """Whether the body keeps the probe's ID readable (so read-back can look for the record)."""
        return b"sample-probe-id" in self.build(b'{"conformance_id":"sample-probe-id"}')


def members(raw: bytes) -> Build:
    """Append raw object members to the probe record: ``{"conformance_id":"…",<raw>}``."""
    return lambda probe: probe[:-1] + b"," + raw + b"}"


def _const(raw: bytes) -> Build:
    return lambda probe: raw


# BODY-03 (RFC 8259 sections 2-8): not one JSON text. Most keep the probe ID readable, so a lenient parser
# that ingests them anyway is caught by read-back.
INVALID_JSON_CASES = (
    BodyCase("missing-closing-brace", Body.INVALID_JSON, lambda p: p[:-1]),
    BodyCase("truncated-after-colon", Body.INVALID_JSON, lambda p: p[:-1] + b',"text":'),
    BodyCase("truncated-inside-string", Body.INVALID_JSON, lambda p: p[:-1] + b',"text":"abc'),
    BodyCase("trailing-word", Body.INVALID_JSON, lambda p: p + b" x"),
    BodyCase("second-object", Body.INVALID_JSON, lambda p: p + b'{"number":2}'),
    BodyCase("trailing-comma", Body.INVALID_JSON, lambda p: p[:-1] + b",}"),
    BodyCase("single-quotes", Body.INVALID_JSON, lambda p: p.replace(b'"', b"'")),
    BodyCase(
        "unquoted-key", Body.INVALID_JSON, lambda p: p.replace(b'"conformance_id"', b"conformance_id", 1)
    ),
    BodyCase("comment", Body.INVALID_JSON, lambda p: p[:-1] + b"/* note */}"),
    BodyCase("nan", Body.INVALID_JSON, members(b'"decimal":NaN'), "RFC 8259 section 6: no NaN"),
    BodyCase("minus-infinity", Body.INVALID_JSON, members(b'"decimal":-Infinity'), "RFC 8259 section 6"),
    BodyCase("leading-zero", Body.INVALID_JSON, members(b'"number":012')),
    BodyCase("hex-number", Body.INVALID_JSON, members(b'"number":0x1F')),
    BodyCase("raw-tab-in-string", Body.INVALID_JSON, members(b'"text":"a\tb"'), "RFC 8259 section 7"),
    BodyCase("invalid-escape", Body.INVALID_JSON, members(b'"text":"\\x41"'), "RFC 8259 section 7"),
    BodyCase("whitespace-only", Body.INVALID_JSON, _const(b" \r\n\t")),
    # RFC 8259 section 8.1: JSON text exchanged between systems is UTF-8 (RFC 3629 forbids the rest).
    BodyCase("byte-ff", Body.INVALID_UTF8, members(b'"text":"\xff"')),
    BodyCase("overlong-slash", Body.INVALID_UTF8, members(b'"text":"\xc0\xaf"')),
    BodyCase("encoded-surrogate", Body.INVALID_UTF8, members(b'"text":"\xed\xa0\x80"')),
    BodyCase("truncated-sequence", Body.INVALID_UTF8, members(b'"text":"\xe2\x82"')),
    BodyCase("latin-1-text", Body.INVALID_UTF8, members(b'"text":"caf\xe9"')),
)

# BODY-04 (legacy doc: the JSON "becomes a record"; [TD-OAS] 2.0.0: ``type: object``).
NON_OBJECT_CASES = (
    BodyCase("empty-array", Body.NON_OBJECT, _const(b"[]")),
    BodyCase("array-of-scalars", Body.NON_OBJECT, _const(b'[1,"two",true,null]')),
    BodyCase("array-holding-a-probe", Body.NON_OBJECT, lambda p: b"[" + p + b"]"),
    BodyCase("array-holding-a-probe-and-more", Body.NON_OBJECT, lambda p: b"[" + p + b',{"number":2},3]'),
    BodyCase("string", Body.NON_OBJECT, _const(b'"conformance"')),
    BodyCase("string-holding-probe-json", Body.NON_OBJECT, lambda p: json.dumps(p.decode()).encode()),
    BodyCase("integer", Body.NON_OBJECT, _const(b"1234")),
    BodyCase("float", Body.NON_OBJECT, _const(b"-1.5e3")),
    BodyCase("true", Body.NON_OBJECT, _const(b"true")),
    BodyCase("false", Body.NON_OBJECT, _const(b"false")),
    BodyCase("null", Body.NON_OBJECT, _const(b"null")),
)

_MANY_KEYS = b'"payload":{' + b",".join(b'"k%05d":%d' % (i, i) for i in range(20_000)) + b"}"
# BODY-08: the nesting ladder (total depth of the body, the probe record itself being depth 1). Libraries stop
# at 64, 100, 128, 512, 1000 or 10000 levels; RFC 8259 section 9 lets them, so each step may be refused.
NESTING_LADDER = (16, 32, 64, 65, 128, 129, 256, 512, 1000, 10_000)
CONTAINERS = ("arrays", "objects")


def nested(container: str, depth: int) -> Build:
    """A probe record whose ``"payload"`` member nests ``container`` so that the body is ``depth`` deep."""
    inner = depth - 1
    if container == "arrays":
        return members(b'"payload":' + b"[" * inner + b"]" * inner)
    return members(b'"payload":' + b'{"a":' * (inner - 1) + b"{}" + b"}" * (inner - 1))


# BODY-08: bodies well within the v2 cap that stress a parser. Valid objects are STRESS (200, 400 or 413).
STRESS_CASES = (
    BodyCase("deep-arrays-10000", Body.STRESS, members(b'"payload":' + b"[" * 10_000 + b"]" * 10_000)),
    BodyCase(
        "deep-objects-10000", Body.STRESS, members(b'"payload":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    ),
    BodyCase("unclosed-arrays-100000", Body.INVALID_JSON, members(b'"payload":' + b"[" * 100_000)),
    BodyCase("many-keys-20000", Body.STRESS, members(_MANY_KEYS)),
    BodyCase("huge-exponent", Body.STRESS, members(b'"payload":1e999999')),
    BodyCase("integer-of-5000-digits", Body.STRESS, members(b'"payload":' + b"9" * 5000)),
    BodyCase("negative-zero", Body.STRESS, members(b'"payload":-0')),
    BodyCase("float-underflow", Body.STRESS, members(b'"payload":1e-400')),
    BodyCase("string-of-512-kib", Body.STRESS, members(b'"text":"' + b"a" * 524_288 + b'"')),
    BodyCase(
        "many-unicode-escapes", Body.STRESS, members(b'"text":"' + b"\\u00e9\\ud83d\\ude00" * 5_000 + b'"')
    ),
    BodyCase("wide-array-200000", Body.STRESS, members(b'"payload":[' + b",".join([b"0"] * 200_000) + b"]")),
    BodyCase(
        "wide-object-50000",
        Body.STRESS,
        members(b'"payload":{' + b",".join(b'"k%05d":0' % i for i in range(50_000)) + b"}"),
    ),
    # RFC 8259 section 8.2: a lone surrogate escape is valid grammar but no Unicode text; receivers differ.
    BodyCase("lone-high-surrogate", Body.STRESS, members(b'"text":"\\ud800"'), "RFC 8259 section 8.2"),
    BodyCase("lone-low-surrogate", Body.STRESS, members(b'"text":"x\\udc00y"'), "RFC 8259 section 8.2"),
    BodyCase(
        "reversed-surrogate-pair", Body.STRESS, members(b'"text":"\\ude00\\ud83d"'), "RFC 8259 section 8.2"
    ),
    BodyCase(
        "lone-surrogate-in-a-name", Body.STRESS, members(b'"payload":{"\\ud83d":1}'), "RFC 8259 section 8.2"
    ),
    # The other interoperability hazards of RFC 8259: receivers may differ (accept, refuse, keep either
    # value), none may crash. Section 4: duplicate names, also when equal only after unescaping (8.3).
    BodyCase("duplicate-names", Body.STRESS, members(b'"dup":1,"dup":2'), "RFC 8259 section 4"),
    BodyCase(
        "names-equal-after-unescaping", Body.STRESS, members(b'"dup":1,"d\\u0075p":2'), "RFC 8259 section 8.3"
    ),
    # Section 6: integers beyond 64 bits, an integer written with an exponent.
    BodyCase(
        "integer-beyond-64-bits",
        Body.STRESS,
        members(b'"payload":18446744073709551616'),
        "RFC 8259 section 6",
    ),
    BodyCase("integer-with-an-exponent", Body.OBJECT, members(b'"payload":1E2'), "RFC 8259 section 6"),
    # Sections 7 and 8.2: escaped NUL and controls, noncharacters.
    BodyCase(
        "escaped-nul-and-controls", Body.STRESS, members(b'"text":"a\\u0000b\\u001f"'), "RFC 8259 section 7"
    ),
    BodyCase(
        "noncharacter-escapes", Body.STRESS, members(b'"text":"\\uffff\\ufdd0"'), "RFC 8259 section 8.2"
    ),
    # Section 8.1: a byte order mark before the text (MUST NOT be sent; a receiver MAY ignore it).
    BodyCase("byte-order-mark", Body.STRESS, lambda p: b"\xef\xbb\xbf" + p, "RFC 8259 section 8.1"),
)

# BODY-08: odd header fields on a valid probe record (RFC 9110 section 5.3: Content-Type is a singleton).
ODD_HEADER_CASES = (
    BodyCase(
        "duplicate-content-type", Body.OBJECT, lambda p: p, headers=(("Content-Type", "application/json"),)
    ),
    BodyCase("conflicting-content-type", Body.OBJECT, lambda p: p, headers=(("Content-Type", "text/plain"),)),
    BodyCase(
        "header-value-of-6-kib", Body.OBJECT, lambda p: p, headers=(("X-Conformance-Padding", "a" * 6144),)
    ),
    BodyCase(
        "one-hundred-extra-headers",
        Body.OBJECT,
        lambda p: p,
        headers=tuple((f"X-Conformance-{n}", str(n)) for n in range(100)),
    ),
)
# Content-Type values sent instead of application/json in BODY-08 (not JSON's charset; malformed parameters).
ODD_CONTENT_TYPES = (
    "application/json; charset=latin-1",
    "application/json;;=;",
    "application/json; charset=",
)


# -- comparing what was sent with what was ingested (BODY-01) -----------------------------------------------


json_type = json_kind  # one definition of a JSON value's type, the oracle's


def show(value: object) -> str:
    """A short, ASCII-only rendering of a JSON value for a failure message."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def compare_value(sent: object, got: object) -> str | None:
    """None when ``got`` has the JSON type and value of ``sent`` (numbers compare by value), else why not."""
    if json_type(sent) != json_type(got):
        return f"sent {show(sent)} ({json_type(sent)}), ingested {show(got)} ({json_type(got)})"
    if isinstance(sent, list) and isinstance(got, list):
        if len(sent) != len(got):
            return f"sent an array of {len(sent)}, ingested {show(got)}"
        for index, (a, b) in enumerate(zip(sent, got, strict=True)):
            if problem := compare_value(a, b):
                return f"[{index}]: {problem}"
        return None
    if isinstance(sent, dict) and isinstance(got, dict):
        if set(sent) != set(got):
            return f"sent the keys {show(sorted(sent))}, ingested {show(sorted(got))}"
        for key in sent:
            if problem := compare_value(sent[key], got[key]):
                return f"{show(key)}: {problem}"
        return None
    if sent != got:
        return f"sent {show(sent)}, ingested {show(got)}"
    return None


def compare_fields(
    sent: Mapping[str, object], record: Mapping[str, Any], mapping: str = "identity"
) -> str | None:
    """None when every sent field is in ``record`` with its JSON type and value, else the first problems.

    ``mapping``: how the read-back returns values (``Ingestion.mapping``). Under the td read-back, the
    comparison goes through its value mapping (contract/value_mapping.py), which may answer
    :class:`~conformance.contract.value_mapping.Undecided` (reported INFO, never failed)."""
    if mapping == "td":
        return value_mapping.td_compare_fields(sent, record)
    problems = []
    for key, value in sent.items():
        if key not in record:
            problems.append(f"field {show(key)} is missing (sent {show(value)})")
        elif problem := compare_value(value, record[key]):
            problems.append(f"field {show(key)}: {problem}")
    if not problems:
        return None
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


# -- hypothesis strategies (abstract JSON values; never keys or credentials) --------------------------------


def texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any Unicode text that UTF-8 can carry (no lone surrogates): controls, NUL, emoji, RTL included."""
    return st.text(st.characters(codec="utf-8"), max_size=max_size)


def field_names() -> st.SearchStrategy[str]:
    """Field names a store keeps as sent: lowercase ASCII letters, digits and ``_``, no leading digit, at most
    NAME_MAX characters. Real columnar stores normalise column names (case, controls, NUL), and the docs say
    nothing of names, so other names would blame a conformant target; values stay fully general."""
    names = st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(NAME_FIRST),
        st.text(st.sampled_from(NAME_REST), max_size=NAME_MAX - 1),
    )
    return names.filter(lambda k: k not in RESERVED_FIELDS and not k.startswith("td_"))


def must_values() -> st.SearchStrategy[object]:
    """BODY-01's MUST part: strings, integers of the 64-bit range, booleans."""
    return st.one_of(texts(), st.integers(-INT64, INT64 - 1), st.booleans())


def must_objects() -> st.SearchStrategy[dict[str, object]]:
    """Records of the documented value fields (conformance/contract/fields.py), each field of its one JSON
    type (strings, 64-bit integers, booleans): a run never adds a column to a user's table."""
    optional: dict[str, st.SearchStrategy[object]] = {
        **{name: texts() for name in TEXT_FIELDS},
        **{name: st.integers(-INT64, INT64 - 1) for name in NUMBER_FIELDS},
        **{name: st.booleans() for name in FLAG_FIELDS},
    }
    return st.fixed_dictionaries({}, optional=optional).filter(bool)


def payloads() -> st.SearchStrategy[dict[str, object]]:
    """Objects of arbitrary member names (as a store keeps them) for the nested ``payload`` field: names of
    any shape reach a target's parser, and make one column only."""
    return st.dictionaries(field_names(), must_values(), max_size=6)


def _json_scalars() -> st.SearchStrategy[object]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-SAFE_INT, SAFE_INT),
        st.floats(allow_nan=False, allow_infinity=False),
        texts(20),
    )


def json_values() -> st.SearchStrategy[object]:
    return st.recursive(
        _json_scalars(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts(8), inner, max_size=4),
        max_leaves=10,
    )


def non_objects() -> st.SearchStrategy[object]:
    """BODY-04: valid JSON texts that are not objects: scalars and arrays (of anything)."""
    return st.one_of(_json_scalars(), st.lists(json_values(), max_size=5))


def json_loads(body: bytes) -> Any:
    """A body the classifier called an object, parsed (numbers too long for Python's int become 0)."""
    return json.loads(body, parse_int=lambda digits: int(digits) if len(digits) <= STRESS_DIGITS else 0)


def dump(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


Edit = tuple[str, int, int]


def id_member(cid: str) -> bytes:
    """The ``"conformance_id":"<cid>"`` member as a probe record holds it (no edit may touch it)."""
    return b'"conformance_id":' + json.dumps(cid).encode()


def edits() -> st.SearchStrategy[list[Edit]]:
    """One to three byte edits (replace, insert, delete) at positions taken modulo the body's length."""
    op = st.tuples(
        st.sampled_from(("replace", "insert", "delete")), st.integers(0, 4095), st.integers(0, 255)
    )
    return st.lists(op, min_size=1, max_size=3)


def apply_edits(body: bytes, ops: list[Edit], keep: bytes = b"") -> bytes:
    """``body`` with the byte edits ``ops`` applied, none of them inside the first occurrence of ``keep``.

    Positions are taken modulo the bytes that may be edited, so the same ops give the same edits whatever
    ``keep`` holds: a fuzzed probe record keeps its ``"conformance_id":"..."`` member intact (read-back can
    find it), and two runs with one seed send the same edits whatever their run IDs.
    """
    data = bytearray(body)
    start = body.find(keep) if keep else -1
    span = len(keep) if start >= 0 else 0
    start = max(start, 0)
    for kind, position, byte in ops:
        free = len(data) - span
        if kind == "insert":
            index = position % (free + 1)
            index += span if index > start else 0
            data.insert(index, byte)
            start += 1 if index <= start and span else 0
        elif free and kind in ("replace", "delete"):
            index = position % free
            index += span if index >= start else 0
            if kind == "replace":
                data[index] = byte
            else:
                del data[index]
                start -= 1 if index < start else 0
    return bytes(data)
