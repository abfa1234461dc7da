"""BODY: the request body and the ingested record ([L] Request Body and Example; [V2] Sending a Request;
[TD-OAS] body ``type: object`` and "Suggested Parameters"; RFC 8259; RFC 9110 section 8.3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conformance.contract import bodies
from conformance.contract.bodies import BodyCase, compare_fields, show
from conformance.contract.catalog import Level
from conformance.contract.model import Body, Expectation, Ingest, RequestShape, expect
from conformance.contract.profile import Profile
from conformance.contract.value_mapping import Undecided
from conformance.engine.checks import check_answered, check_outcome, check_status, fail
from conformance.engine.context import Info, Ingestion
from conformance.engine.probes import body_key
from conformance.transport.client import Transport
from conformance.transport.credentials import Credentials
from conformance.transport.exchange import Exchange

pytestmark = pytest.mark.body

DAY = 86_400
Record = dict[str, Any]

# BODY-01, MUST part: strings (non-ASCII, escapes, emoji), integers, booleans keep JSON type and value. Every
# name is one of the documented probe fields (conformance/contract/fields.py), each of one JSON type.
MUST_FIELDS: dict[str, dict[str, object]] = {
    "strings": {
        "text": "value1",
        "text_2": "",
        "text_3": "Grüße, 東京, Привет, مرحبا",
        "text_4": "😀 👍🏽 👨‍👩‍👧",
        "text_5": 'quote " backslash \\ newline \n tab \t',
        "text_6": "1234",
        "text_7": "true",
    },
    "integers": {
        "param2": 1234,
        "number": 0,
        "number_2": -42,
        "number_3": 2**53 - 1,
        "number_4": -(2**53) + 1,
    },
    # RFC 8259 section 6: integers beyond +-2**53 are where implementations disagree (an IEEE 754 double
    # cannot hold them); Treasure Data's integer column is 64-bit (long), so every one of them comes back.
    "integers-beyond-doubles": {
        "number": 2**53 + 1,
        "number_2": 2**63 - 1,
        "number_3": -(2**63),
        "number_4": -(2**53) - 1,
        "number_5": 1234567890123456789,
    },
    "booleans": {"flag": True, "flag_2": False},
}
# The same strings written with JSON escapes (RFC 8259 section 7: \uXXXX, a surrogate pair, the two-character
# escapes), and what they stand for.
ESCAPED_MEMBER = b'"text":"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u0041 \\u2028"'
ESCAPED_VALUE = 'café 😀 "q" \\ / \b\f\n\r\t A \u2028'
# RFC 8259 sections 4 and 8.3: a member name written with escapes is the name it stands for ("te\u0078t_2" is
# "text_2"), and names compare by their code points.
ESCAPED_NAMES = b'"te\\u0078t_2":"a name with an escape","\\u0074\\u0065\\u0078\\u0074_3":"all escaped"'
ESCAPED_NAMES_VALUES: dict[str, object] = {"text_2": "a name with an escape", "text_3": "all escaped"}
# BODY-01, SHOULD part ("reported separately"): floats, null, nested objects, arrays.
SHOULD_FIELDS: dict[str, dict[str, object]] = {
    "float": {"decimal": 0.5, "decimal_2": -1234.5678, "decimal_3": 3.141592653589793, "decimal_4": 1.5e300},
    "null": {"nothing": None},
    "nested-object": {"nested": {"a": 1, "b": {"c": "deep", "d": [True, None]}}},
    "array": {"list": [1, "two", 3.5, False, None, {"k": "v"}, []]},
}
BODY_06_TYPES = (
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/json;charset=UTF-8",
    "APPLICATION/JSON; CHARSET=utf-8",
)
BODY_07_TYPES = (None, "text/plain", "application/x-www-form-urlencoded")


def _shape(target: Transport, kind: Body, body: bytes, **fields: Any) -> Expectation:
    return expect(RequestShape(target.version, body=kind, body_bytes=len(body), **fields))


def _send_case(target: Transport, case: BodyCase, **kwargs: Any) -> tuple[Exchange, bool]:
    """Send a case body built from a fresh probe; True when the bytes still hold the probe's ID."""
    probe, cid = target.probe_body()
    body = case.body(probe)
    findable = cid.encode() in body
    exchange = target.post(
        body=body,
        conformance_id=cid if findable else None,
        extra_headers=case.headers,
        body_note=case.note,
        **kwargs,
    )
    return exchange, findable


def _reject_and_never_ingest(target: Transport, ingestion: Ingestion, case: BodyCase, **kwargs: Any) -> None:
    exchange, findable = _send_case(target, case, **kwargs)
    expectation = _shape(target, case.kind, exchange.request.body, chunked=kwargs.get("chunked", False))
    check_outcome(exchange, expectation)
    if findable:
        ingestion.expect_outcome(exchange, expectation)


def _fields_check(sent: dict[str, object], ingestion: Ingestion) -> Callable[[Record], str | None]:
    mapping = ingestion.mapping
    return lambda record: compare_fields(sent, record, mapping)


# -- BODY-01 ---------------------------------------------------------------------------------------------


@pytest.mark.clause("BODY-01")
@pytest.mark.parametrize("kind", [pytest.param(k, id=k) for k in MUST_FIELDS])
def test_strings_integers_and_booleans_are_ingested_with_their_type_and_value(
    target: Transport, ingestion: Ingestion, kind: str
) -> None:
    """BODY-01 (MUST): top-level strings (non-ASCII, escapes, emoji), integers and booleans are ingested
    with the JSON type and value sent."""
    fields = MUST_FIELDS[kind]
    exchange = target.post(fields=fields)
    check_status(exchange, _shape(target, Body.OBJECT, exchange.request.body).statuses, ["BODY-01"])
    ingestion.expect(exchange, Ingest.MUST, ["BODY-01"], check=_fields_check(fields, ingestion))


@pytest.mark.clause("BODY-01")
def test_json_escapes_in_strings_are_decoded_before_ingestion(
    target: Transport, ingestion: Ingestion
) -> None:
    """BODY-01 (MUST): a string written with JSON escapes (\\uXXXX, surrogate pairs, \\" \\\\ \\/ \\n ...) is
    ingested as the text it stands for (RFC 8259 section 7)."""
    exchange, _ = _send_case(target, BodyCase("escapes", Body.OBJECT, bodies.members(ESCAPED_MEMBER)))
    check_status(exchange, _shape(target, Body.OBJECT, exchange.request.body).statuses, ["BODY-01"])
    ingestion.expect(
        exchange, Ingest.MUST, ["BODY-01"], check=_fields_check({"text": ESCAPED_VALUE}, ingestion)
    )


@pytest.mark.clause("BODY-01")
def test_member_names_written_with_escapes_are_the_names_they_stand_for(
    target: Transport, ingestion: Ingestion
) -> None:
    """BODY-01 (MUST): a member name written with JSON escapes (``"te\\u0078t_2"``) is ingested under the
    name it stands for (``text_2``), with its value (RFC 8259 sections 4, 7 and 8.3)."""
    exchange, _ = _send_case(target, BodyCase("escaped-names", Body.OBJECT, bodies.members(ESCAPED_NAMES)))
    check_status(exchange, _shape(target, Body.OBJECT, exchange.request.body).statuses, ["BODY-01"])
    ingestion.expect(exchange, Ingest.MUST, ["BODY-01"], check=_fields_check(ESCAPED_NAMES_VALUES, ingestion))


@pytest.mark.clause("BODY-01")
@given(fields=bodies.must_objects())
def test_generated_objects_round_trip_through_ingestion(
    target: Transport, ingestion: Ingestion, fields: dict[str, object]
) -> None:
    """BODY-01 (MUST), property: any object of the documented value fields holding strings (any Unicode),
    integers of the 64-bit range and booleans, each field its own type, is ingested with every field's JSON
    type and value."""
    exchange = target.post(fields=fields)
    check_status(exchange, _shape(target, Body.OBJECT, exchange.request.body).statuses, ["BODY-01"])
    ingestion.expect(exchange, Ingest.MUST, ["BODY-01"], check=_fields_check(fields, ingestion))


@pytest.mark.clause("BODY-01")
@pytest.mark.parametrize("kind", [pytest.param(k, id=k) for k in SHOULD_FIELDS])
def test_floats_null_nested_objects_and_arrays_keep_type_and_value(
    target: Transport, ingestion: Ingestion, kind: str
) -> None:
    """BODY-01, SHOULD part: floats, null, nested objects and arrays keep their JSON type and value. The
    clause is MUST for strings, integers and booleans only, so a miss here is reported as a warning."""
    fields = SHOULD_FIELDS[kind]
    exchange = target.post(fields=fields)
    statuses = _shape(target, Body.OBJECT, exchange.request.body).statuses
    if exchange.response is None or exchange.response.status not in statuses:
        received = (
            f"status {exchange.response.status}" if exchange.response else f"no answer: {exchange.error}"
        )
        raise fail(
            ["BODY-01"],
            f"status 200 for a record holding {kind} values",
            received,
            exchange,
            level=Level.SHOULD,
        )
    entry = ingestion.observe(exchange)

    def judge(record_info: Callable[[str, str], None]) -> None:
        if entry is None:
            return
        records = entry.records
        problem = (
            f"found {len(records)} time(s) after the settle period"
            if len(records) != 1
            else compare_fields(fields, records[0], ingestion.mapping)
        )
        if problem:
            raise fail(
                ["BODY-01"],
                f"{kind} values ingested with their JSON type and value (SHOULD part)",
                problem,
                exchange,
                # What the read-back value mapping cannot decide is INFO (contract/value_mapping.py).
                level=Level.INFO if isinstance(problem, Undecided) else Level.SHOULD,
            )

    ingestion.after_readback(judge)


# -- BODY-02 ---------------------------------------------------------------------------------------------


def _time_check(sent_from: float, sent_to: float, tolerance: int) -> Callable[[Record], str | None]:
    def check(record: Record) -> str | None:
        value = record.get("time")
        # [L] Example: the ingested record shows "time": "1448344701"; an integer is the natural form.
        if isinstance(value, str) and value.isascii() and value.isdigit():
            seconds = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            seconds = value
        else:
            return f"time is {show(value)}: not UNIX seconds as an integer or a string of digits"
        if sent_from - tolerance <= seconds <= sent_to + tolerance:
            return None
        hint = " (milliseconds?)" if abs(seconds / 1000 - sent_to) <= tolerance else ""
        return (
            f"time {show(value)} is {seconds - int(sent_to):+d} s from when the probe was sent "
            f"({int(sent_to)}){hint}; tolerance +-{tolerance} s"
        )

    return check


@pytest.mark.clause("BODY-02")
def test_record_without_time_gets_the_receive_time_in_unix_seconds(
    target: Transport, ingestion: Ingestion, profile: Profile
) -> None:
    """BODY-02 (MUST): a record sent without ``time`` is ingested with ``time`` = the receive time in UNIX
    seconds (an integer or a string of digits), within the profile's clock tolerance."""
    sent_from = time.time()
    exchange = target.post(fields={"param1": "value1", "param2": 1234})
    sent_to = time.time()
    check_status(exchange, _shape(target, Body.OBJECT, exchange.request.body).statuses, ["BODY-02"])
    ingestion.expect(
        exchange, Ingest.MUST, ["BODY-02"], check=_time_check(sent_from, sent_to, profile.clock_tolerance)
    )


# -- BODY-03, BODY-04, BODY-05 -----------------------------------------------------------------------------


def _cases(cases: tuple[BodyCase, ...], with_probe: bool) -> list[Any]:
    return [pytest.param(c, id=c.name) for c in cases if c.carries_probe is with_probe]


@pytest.mark.clause("BODY-03")
@pytest.mark.parametrize("case", _cases(bodies.INVALID_JSON_CASES, with_probe=True))
def test_body_that_is_not_valid_json_is_rejected_and_never_ingested(
    target: Transport, ingestion: Ingestion, case: BodyCase
) -> None:
    """BODY-03 (MUST): a body that is not one valid UTF-8 JSON text (syntax error, truncation, trailing
    data, NaN, invalid UTF-8) is answered 400, and the probe record whose ID it holds is never ingested."""
    _reject_and_never_ingest(target, ingestion, case)


@pytest.mark.clause("BODY-03")
@pytest.mark.parametrize("case", _cases(bodies.INVALID_JSON_CASES, with_probe=False))
def test_body_that_is_not_json_at_all_is_rejected(target: Transport, case: BodyCase) -> None:
    """BODY-03 (MUST): a body holding no JSON value at all (whitespace only) is answered 400."""
    exchange, _ = _send_case(target, case)
    check_outcome(exchange, _shape(target, case.kind, exchange.request.body))


@pytest.mark.clause("BODY-04")
@pytest.mark.parametrize("case", _cases(bodies.NON_OBJECT_CASES, with_probe=True))
def test_probe_record_inside_json_that_is_not_an_object_is_rejected_and_never_ingested(
    target: Transport, ingestion: Ingestion, case: BodyCase
) -> None:
    """BODY-04 (MUST): an array holding a probe record, or a string holding its JSON text, is answered 400
    and the record is never ingested (the body must be an object; it is not a batch)."""
    _reject_and_never_ingest(target, ingestion, case)


@pytest.mark.clause("BODY-04")
@pytest.mark.parametrize("case", _cases(bodies.NON_OBJECT_CASES, with_probe=False))
def test_json_that_is_not_an_object_is_rejected(target: Transport, case: BodyCase) -> None:
    """BODY-04 (MUST): valid JSON that is not an object (array, string, number, true, false, null) is
    answered 400 ([L] the JSON "becomes a record"; [TD-OAS] 2.0.0 ``type: object``)."""
    exchange, _ = _send_case(target, case)
    check_outcome(exchange, _shape(target, case.kind, exchange.request.body))


@pytest.mark.clause("BODY-04")
@given(data=st.data())
def test_generated_non_objects_are_rejected_and_never_ingested(
    target: Transport, ingestion: Ingestion, data: st.DataObject
) -> None:
    """BODY-04 (MUST), property: any JSON text that is not an object is answered 400; an array holding a
    probe record (at a generated position) never gets it ingested."""
    value = data.draw(bodies.non_objects(), label="value")
    cid = None
    if isinstance(value, list):
        probe, cid = target.probe_body()
        value.insert(data.draw(st.integers(0, len(value)), label="probe position"), bodies.json_loads(probe))
    body = bodies.dump(value)
    exchange = target.post(body=body, conformance_id=cid)
    expectation = _shape(target, bodies.classify(body), body)
    check_outcome(exchange, expectation)
    if cid is not None:
        ingestion.expect_outcome(exchange, expectation)


@pytest.mark.clause("BODY-05")
@pytest.mark.parametrize(
    "chunked", [pytest.param(False, id="content-length-0"), pytest.param(True, id="chunked")]
)
def test_empty_body_is_rejected_and_never_ingested(
    target: Transport, ingestion: Ingestion, chunked: bool
) -> None:
    """BODY-05 (MUST): an empty body (Content-Length: 0, or a chunked body with no data) is answered 400, and
    nothing is ingested: sent to a table of its own, that table holds no record received while it was sent."""
    table = f"{target.spec.table}_empty{'_chunked' if chunked else ''}"
    exchange = target.post(body=b"", chunked=chunked, table=table)
    ingestion.expect_no_unidentified_record(exchange, ["BODY-05"], table)
    check_outcome(exchange, _shape(target, Body.EMPTY, b"", chunked=chunked))


# -- BODY-06, BODY-07 --------------------------------------------------------------------------------------


@pytest.mark.clause("BODY-06")
@pytest.mark.parametrize("content_type", [pytest.param(t, id=t) for t in BODY_06_TYPES])
def test_json_media_type_with_charset_or_other_case_is_accepted(
    target: Transport, ingestion: Ingestion, content_type: str
) -> None:
    """BODY-06 (SHOULD): ``application/json`` with a charset parameter or in another letter case is
    accepted and ingested like ``application/json`` (RFC 9110 section 8.3.1)."""
    expectation = expect(RequestShape(target.version, content_type=content_type))
    exchange = target.post(fields={"text": "café ✓"}, content_type=content_type)
    check_outcome(exchange, expectation)
    ingestion.expect_outcome(exchange, expectation)


@pytest.mark.clause("BODY-07")
@pytest.mark.parametrize("content_type", [pytest.param(t, id=str(t or "missing")) for t in BODY_07_TYPES])
def test_missing_or_non_json_content_type_is_rejected_and_never_ingested(
    target: Transport, ingestion: Ingestion, content_type: str | None
) -> None:
    """BODY-07 (SHOULD): no Content-Type, ``text/plain`` or ``application/x-www-form-urlencoded`` is
    answered 400 or 415 and the probe is never ingested ([L] "include Content-Type: application/json")."""
    expectation = expect(RequestShape(target.version, content_type=content_type))
    exchange = target.post(fields={"param1": "value1"}, content_type=content_type)
    check_outcome(exchange, expectation)
    ingestion.expect_outcome(exchange, expectation)


# -- BODY-08 -----------------------------------------------------------------------------------------------


@pytest.mark.clause("BODY-08")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in bodies.STRESS_CASES])
def test_stressful_bodies_get_an_answer_that_is_not_5xx(target: Transport, case: BodyCase) -> None:
    """BODY-08 (MUST): deep nesting, many keys, huge numbers and long strings (all under the cap) get an
    answer within the timeout, not 5xx: 200, 400 or 413 for a valid object a target may refuse."""
    exchange, _ = _send_case(target, case)
    check_answered(exchange)
    expectation = _shape(target, case.kind, exchange.request.body)
    clauses = ("BODY-08",) if case.kind is Body.STRESS else expectation.status_clauses
    check_status(exchange, expectation.statuses, clauses, f" ({case.name})")


@pytest.mark.clause("BODY-08")
@pytest.mark.parametrize("container", bodies.CONTAINERS)
def test_every_step_of_the_nesting_ladder_gets_an_answer_that_is_not_5xx(
    target: Transport, info: Info, container: str
) -> None:
    """BODY-08 (MUST): probe records nested 16, 32, 64, 65, 128, 129, 256, 512, 1000 and 10000 deep (arrays,
    or objects) each get an answer within the timeout, never 5xx: 200, 400 or (v2) 413, since RFC 8259
    section 9 lets a target limit nesting at any depth. The depth where refusal starts is reported."""
    sent = []
    for depth in bodies.NESTING_LADDER:
        probe, cid = target.probe_body()
        body = bodies.nested(container, depth)(probe)
        note = f"a probe record nesting {container} {depth} deep"
        sent.append((depth, target.post(body=body, conformance_id=cid, body_note=note)))
    refused = [depth for depth, x in sent if x.response is None or x.response.status != 200]
    accepted = [depth for depth, x in sent if x.response is not None and x.response.status == 200]
    summary = ", ".join(f"{depth}: {_status(x).removeprefix('answered ')}" for depth, x in sent)
    start = f"refusal starts at depth {refused[0]}" if refused else "every depth accepted"
    if refused and any(depth > refused[0] for depth in accepted):
        start += " (not monotonic: a deeper body was accepted again)"
    info.record("BODY-08", f"nested {container}: {start} ({summary})")
    statuses = _shape(target, Body.STRESS, b"").statuses
    for depth, exchange in sent:
        check_answered(exchange)
        check_status(exchange, statuses, ["BODY-08"], f" (nesting {container} {depth} deep)")


@pytest.mark.clause("BODY-08")
@pytest.mark.parametrize(
    ("case", "content_type"),
    [pytest.param(c, "application/json", id=c.name) for c in bodies.ODD_HEADER_CASES]
    + [
        pytest.param(bodies.BodyCase("odd-type", Body.OBJECT, lambda p: p), t, id=t)
        for t in bodies.ODD_CONTENT_TYPES
    ],
)
def test_odd_headers_get_an_answer_that_is_not_5xx(
    target: Transport, case: BodyCase, content_type: str
) -> None:
    """BODY-08 (MUST): duplicate or conflicting Content-Type, a 6 KiB header value, many header fields, a
    charset JSON does not have or malformed parameters get an answer within the timeout, not 5xx."""
    exchange, _ = _send_case(target, case, content_type=content_type)
    check_answered(exchange)


@pytest.mark.clause("BODY-08", "BODY-03", "BODY-04", "BODY-05")
@given(body=st.binary(max_size=256))
# Each claimed clause exercised on every run, whatever the draws.
@example(body=b"")  # BODY-05
@example(body=b'{"a": ')  # BODY-03
@example(body=b"[1, 2]")  # BODY-04
def test_random_bytes_are_answered_as_the_contract_says(target: Transport, body: bytes) -> None:
    """BODY-08 (MUST), property: random bytes as an application/json body get an answer, never 5xx, with the
    status the contract model gives the body's kind (BODY-03/04/05: 400). Objects are not sent: they would
    carry no probe ID."""
    kind = bodies.classify(body)
    if kind in (Body.OBJECT, Body.STRESS):
        return
    key = body_key(target, body)  # the valid key unless the bytes name undocumented fields
    exchange = target.post(body=body, credentials=Credentials(header=key))
    check_answered(exchange)
    check_outcome(exchange, _shape(target, kind, body, header_key=key))


@pytest.mark.clause("BODY-08", "BODY-03", "BODY-04")
@given(fields=bodies.must_objects(), payload=bodies.payloads(), ops=bodies.edits())
@example(fields={"number": 1}, payload={}, ops=[("delete", 0, 0)])  # the opening brace gone: BODY-03
def test_fuzzed_probe_records_are_answered_as_the_contract_says(
    target: Transport,
    ingestion: Ingestion,
    info: Info,
    fields: dict[str, object],
    payload: dict[str, object],
    ops: list[bodies.Edit],
) -> None:
    """BODY-08 (MUST), property: a probe record (arbitrary member names nested in ``payload``) with one to
    three random byte edits (never inside its ``"conformance_id"`` member) gets an answer, never 5xx. A
    body that is no longer a JSON object gets the status the contract model gives it and is never ingested
    (BODY-03/04). One still an object is BODY-01's business (read-back only), so only its answer is judged
    here. An edit that makes a top-level name outside the documented fields gets an unknown key."""
    info.exercised()  # byte edits rarely make a non-object (BODY-04): only the clauses drawn are claimed
    probe, cid = target.probe_body({**fields, "payload": payload} if payload else fields)
    body = bodies.apply_edits(probe, ops, keep=bodies.id_member(cid))
    assert cid.encode() in body, "suite bug: an edit landed inside the conformance_id"
    kind = bodies.classify(body)
    key = body_key(target, body)
    exchange = target.post(body=body, conformance_id=cid, credentials=Credentials(header=key))
    check_answered(exchange)
    info.exercised("BODY-08")
    if kind in (Body.OBJECT, Body.STRESS):
        return
    expectation = _shape(target, kind, body, header_key=key)
    info.exercised(*expectation.status_clauses)
    check_outcome(exchange, expectation)
    ingestion.expect_outcome(exchange, expectation)


# -- BODY-09 -----------------------------------------------------------------------------------------------


def _status(exchange: Exchange) -> str:
    return f"answered {exchange.response.status}" if exchange.response else f"no answer ({exchange.error})"


@pytest.mark.clause("BODY-09")
def test_which_value_of_a_duplicate_key_is_ingested(
    target: Transport, ingestion: Ingestion, info: Info
) -> None:
    """BODY-09 (INFO): report what a target does with ``{"dup":"first","dup":"second"}`` (RFC 8259 section
    4: names SHOULD be unique; receivers differ)."""
    case = BodyCase("duplicate-key", Body.OBJECT, bodies.members(b'"dup":"first","dup":"second"'))
    exchange, _ = _send_case(target, case)
    info.record("BODY-09", f"duplicate key: {_status(exchange)}")
    entry = ingestion.observe(exchange)

    def judge(record_info: Callable[[str, str], None]) -> None:
        if entry is None:
            return
        if len(entry.records) != 1:
            verdict = f"ingested {len(entry.records)} time(s)"
        else:
            kept = entry.records[0].get("dup", "<absent>")
            which = {"first": "the first value", "second": "the last value"}.get(str(kept), f"{show(kept)}")
            verdict = f"{which} ({show(kept)}) was ingested"
        record_info("BODY-09", f'duplicate key {{"dup":"first","dup":"second"}}: {verdict}')

    ingestion.after_readback(judge)


@pytest.mark.clause("BODY-09")
def test_what_time_a_record_gets_from_td_record_time(
    target: Transport, ingestion: Ingestion, info: Info, profile: Profile
) -> None:
    """BODY-09 (INFO): report the ``time`` a record gets when it carries ``td_record_time`` inside the
    documented window, older than 7 days, and more than 3 days ahead ([TD-OAS] "Suggested Parameters":
    timestamps outside the window "are ignored")."""
    now = int(time.time())
    cases = (
        ("inside the window (1 h ago)", now - 3600),
        ("older than 7 days", now - 8 * DAY),
        ("more than 3 days ahead", now + 4 * DAY),
    )
    sent = [(label, value, target.post(fields={"td_record_time": value})) for label, value in cases]
    info.record("BODY-09", "td_record_time: " + "; ".join(f"{label}: {_status(x)}" for label, _, x in sent))
    entries = [(label, value, ingestion.observe(x)) for label, value, x in sent]

    def describe(value: int, records: list[Record]) -> str:
        if len(records) != 1:
            return f"ingested {len(records)} time(s)"
        got = records[0].get("time")
        kept = "kept" if "td_record_time" in records[0] else "dropped"
        seconds = int(got) if isinstance(got, int | str) and str(got).isdigit() else None
        if seconds == value:
            meaning = " (= td_record_time)"
        elif seconds is not None and abs(seconds - now) <= profile.clock_tolerance:
            meaning = " (the receive time)"
        else:
            meaning = ""
        return f"time={show(got)}{meaning}, td_record_time field {kept}"

    def judge(record_info: Callable[[str, str], None]) -> None:
        parts = [f"{label}: {describe(value, entry.records)}" for label, value, entry in entries if entry]
        if parts:
            record_info("BODY-09", "td_record_time " + "; ".join(parts))

    ingestion.after_readback(judge)
