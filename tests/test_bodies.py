"""The suite's body classifier (conformance/contract/bodies.py) against a second, independent JSON parser
(orjson).

Issue 10, section 3: the oracle and the reference must not share one misreading of RFC 8259. Every listed
body and every generated body is judged by both; where they disagree, the classifier must be leaving the
body open (STRESS: a valid object a target may accept or refuse), and says why. Also here: the generators'
own promises (field names a store keeps, byte edits that never touch the conformance_id).
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import cast

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conformance.contract import bodies
from conformance.contract.model import Body, RequestShape
from conformance.engine.probes import body_of
from conformance.test_body import ESCAPED_MEMBER, MUST_FIELDS, SHOULD_FIELDS
from conformance.transport.client import Transport

PROBE = b'{"conformance_id":"pc20260101000000abcdef-000001"}'
CID = "pc20260101000000abcdef-000001"
# What orjson must say for each kind the classifier gives (STRESS: either; the classifier says why).
AGREES = {
    Body.OBJECT: {"object"},
    Body.NON_OBJECT: {"non-object"},
    Body.INVALID_JSON: {"refused"},
    Body.INVALID_UTF8: {"refused"},
    Body.EMPTY: {"refused"},
    Body.STRESS: {"object", "refused"},
}
# The readings RFC 8259 leaves to implementations, the only reasons a disagreement may have.
OPEN_REASONS = re.compile(r"beyond 64 bits|beyond a double|lone surrogate|nesting|byte order mark")


def second_opinion(body: bytes) -> str:
    """orjson's reading: an object, another JSON value, or refused (it never recurses past 1024 levels)."""
    try:
        value = orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError):
        return "refused"
    return "object" if isinstance(value, dict) else "non-object"


def disagreement(body: bytes) -> str | None:
    """None when both readings agree; otherwise the classifier's reason, which must leave the body open."""
    kind, why = bodies.explain(body)
    opinion = second_opinion(body)
    assert opinion in AGREES[kind], (
        f"Expected: orjson reads {body[:80]!r} as the classifier does ({kind.value}: {why})\n"
        f"Received: orjson says {opinion}"
    )
    if kind is Body.STRESS and opinion != "object":
        assert OPEN_REASONS.search(why), f"a disagreement without a reason the model leaves open: {why}"
        return why
    return None


def listed_bodies() -> list[tuple[str, bytes, Body | None]]:
    """Every body the suite lists (with its declared kind, None where the suite does not declare one)."""
    out: list[tuple[str, bytes, Body | None]] = []
    cases = (
        *bodies.INVALID_JSON_CASES,
        *bodies.NON_OBJECT_CASES,
        *bodies.STRESS_CASES,
        *bodies.ODD_HEADER_CASES,
    )
    out += [(case.name, case.body(PROBE), case.kind) for case in cases]
    for container in bodies.CONTAINERS:
        for depth in bodies.NESTING_LADDER:
            out.append((f"{container}-{depth}", bodies.nested(container, depth)(PROBE), None))
    for group, fields in {**MUST_FIELDS, **SHOULD_FIELDS}.items():
        out.append((f"fields-{group}", bodies.dump({"conformance_id": CID, **fields}), Body.OBJECT))
    out.append(("escapes", bodies.members(ESCAPED_MEMBER)(PROBE), Body.OBJECT))
    out.append(("duplicate-key", bodies.members(b'"dup":"first","dup":"second"')(PROBE), Body.OBJECT))
    # The bodies of each other kind the suite sends (engine.probes.body_of: test_responses, the cutover).
    sender = cast(Transport, SimpleNamespace(ids=SimpleNamespace(next=lambda: CID)))
    kinds = (Body.INVALID_JSON, Body.NON_OBJECT, Body.EMPTY, Body.INVALID_UTF8)
    out += [(f"shape-{k.value}", body_of(sender, RequestShape("v2", body=k))[0], k) for k in kinds]
    return out


LISTED = listed_bodies()
# Listed as STRESS for their size or shape (a target may limit them), or for a reading RFC 8259 leaves to
# the receiver (duplicate names, NUL, noncharacters), though both parsers read them fine.
STRESS_BY_SIZE = {
    "duplicate-names",
    "names-equal-after-unescaping",
    "escaped-nul-and-controls",
    "noncharacter-escapes",
    "many-keys-20000",
    "negative-zero",
    "string-of-512-kib",
    "many-unicode-escapes",
    "wide-array-200000",
    "wide-object-50000",
}


@pytest.mark.parametrize(("name", "body", "declared"), [pytest.param(*b, id=b[0]) for b in LISTED])
def test_every_listed_body_is_read_alike_by_the_classifier_and_orjson(
    name: str, body: bytes, declared: Body | None
) -> None:
    """Each listed body: orjson agrees with the classifier, or the classifier leaves it open and says why;
    and the classifier gives the kind the suite declares for it."""
    disagreement(body)
    if declared is not None:
        kind = bodies.classify(body)
        assert kind is declared or (name in STRESS_BY_SIZE and kind is Body.OBJECT), (name, kind, declared)


def test_the_listed_disagreements_are_exactly_the_open_cases() -> None:
    """The listed bodies on which the two parsers differ are the ones RFC 8259 leaves open, and no others."""
    differing = {name for name, body, _ in LISTED if disagreement(body) is not None}
    expected = {
        "deep-arrays-10000",
        "deep-objects-10000",
        "huge-exponent",
        "integer-of-5000-digits",
        "lone-high-surrogate",
        "lone-low-surrogate",
        "reversed-surrogate-pair",
        "lone-surrogate-in-a-name",
        "byte-order-mark",
        *(f"{c}-{d}" for c in bodies.CONTAINERS for d in bodies.NESTING_LADDER if d > 1024),
    }
    assert differing == expected


def _probe_with(fields: dict[str, object]) -> bytes:
    return bodies.dump({"conformance_id": CID, **fields})


generated = st.one_of(
    bodies.must_objects().map(_probe_with),
    bodies.non_objects().map(bodies.dump),
    st.dictionaries(bodies.texts(8), bodies.json_values(), max_size=4).map(bodies.dump),
    st.tuples(bodies.must_objects(), bodies.edits()).map(
        lambda fe: bodies.apply_edits(_probe_with(fe[0]), fe[1], keep=bodies.id_member(CID))
    ),
    st.binary(max_size=256),
)


@settings(max_examples=300, deadline=None, database=None)
@given(body=generated)
@example(body=b'{"n":18446744073709551616}')
@example(body=b'{"s":"\\udfff"}')
@example(body=b"\xef\xbb\xbf{}")
@example(body=b'{"n":1e-400}')
def test_every_generated_body_is_read_alike_by_the_classifier_and_orjson(body: bytes) -> None:
    """Generated bodies (objects, non-objects, fuzzed probe records, random bytes): both parsers agree, or
    the classifier leaves the body open (STRESS) with a reason RFC 8259 gives."""
    disagreement(body)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param(b'{"s":"\\ud800"}', Body.STRESS, id="lone-high-surrogate"),
        pytest.param(b'{"s":"\\ud83d\\ude00"}', Body.OBJECT, id="surrogate-pair"),
        pytest.param(b'{"n":18446744073709551615}', Body.OBJECT, id="largest-unsigned-64-bit"),
        pytest.param(b'{"n":18446744073709551616}', Body.STRESS, id="beyond-64-bits"),
        pytest.param(b'{"n":-9223372036854775809}', Body.STRESS, id="below-signed-64-bits"),
        pytest.param(b'{"n":1e-400}', Body.STRESS, id="underflow"),
        pytest.param(b'{"n":0.0e-400}', Body.OBJECT, id="zero-is-no-underflow"),
        pytest.param(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", Body.STRESS, id="deep-valid"),
        pytest.param(b'{"a":' + b"[" * 5000 + b"]" * 4999 + b"}", Body.INVALID_JSON, id="deep-unbalanced"),
        pytest.param(b"[" * 5000 + b"]" * 5000, Body.NON_OBJECT, id="deep-array"),
        pytest.param(
            b'{"a":' + b"[" * 5000 + b"1,]" + b"]" * 4999 + b"}", Body.INVALID_JSON, id="deep-1-comma"
        ),
    ],
)
def test_the_classifier_leaves_open_what_rfc_8259_leaves_open(body: bytes, kind: Body) -> None:
    """Lone surrogates, numbers beyond 64 bits or a double, deep nesting: STRESS (MAY); deep bodies are
    read without recursion, so a syntax error 5000 levels down is still INVALID_JSON."""
    assert bodies.classify(body) is kind


# -- the generators' promises --------------------------------------------------------------------------------

NAME = re.compile(r"[a-z_][a-z0-9_]{0,127}")


@settings(max_examples=300, database=None)
@given(name=bodies.field_names())
def test_generated_field_names_are_ones_a_store_keeps_as_sent(name: str) -> None:
    """BODY-01: lowercase ASCII letters, digits and _, no leading digit, at most 128, never reserved."""
    assert NAME.fullmatch(name), name
    assert name not in bodies.RESERVED_FIELDS
    assert not name.startswith("td_")


def test_no_fixed_field_string_holds_a_nul() -> None:
    """BODY-01's fixed fields hold no NUL (no clause is about NUL in values; generated values may)."""
    strings = [v for fields in MUST_FIELDS.values() for v in fields.values() if isinstance(v, str)]
    assert strings
    assert not any("\x00" in s for s in strings)
    assert b"\\u0000" not in ESCAPED_MEMBER


@settings(max_examples=200, database=None)
@given(fields=bodies.must_objects(), ops=bodies.edits(), cid_length=st.integers(1, 40))
def test_byte_edits_never_land_inside_the_conformance_id(
    fields: dict[str, object], ops: list[bodies.Edit], cid_length: int
) -> None:
    """Determinism and read-back: the fuzzed probe record keeps its conformance_id member byte for byte, and
    the same ops make the same edits whatever the run ID (so two runs with one seed send the same bodies)."""
    cid, other = "a" * cid_length, "b" * cid_length
    edited = bodies.apply_edits(_probe_with_id(cid, fields), ops, keep=bodies.id_member(cid))
    assert bodies.id_member(cid) in edited
    again = bodies.apply_edits(_probe_with_id(other, fields), ops, keep=bodies.id_member(other))
    assert again == edited.replace(bodies.id_member(cid), bodies.id_member(other), 1)


def _probe_with_id(cid: str, fields: dict[str, object]) -> bytes:
    return json.dumps({"conformance_id": cid, **fields}, ensure_ascii=False, separators=(",", ":")).encode()
