"""NAME: the {database} and {table} path segments ([L] and [V2] "Parameters": "only alphabets/numbers or _").

Every name is put on the wire by this module itself: each segment percent-encoded as UTF-8 with nothing
left literal but RFC 3986 unreserved characters (section 2.3), sent with ``raw_path`` so that no client
normalisation can hide a case.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Literal, cast
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.contract.catalog import Version
from conformance.contract.model import (
    Cred,
    Expectation,
    Ingest,
    PathShape,
    RequestShape,
    expect,
    is_valid_name,
)
from conformance.contract.profile import Profile
from conformance.engine.checks import ConformanceFailure, check_status, fail
from conformance.engine.context import Info, Ingestion, undecidable
from conformance.engine.probes import name_probe_key
from conformance.transport.client import EVENT_PATH, Transport
from conformance.transport.credentials import Credentials
from conformance.transport.exchange import Exchange

pytestmark = pytest.mark.names

# [L], [V2] Parameters: the allowed alphabet, ASCII only.
ALLOWED = string.ascii_letters + string.digits + "_"
POSITIONS = ("database", "table")
PLACEMENTS = ("start", "middle", "end")
# NAME-02: characters a name must never hold; each is a way real implementations let one through
# (str.isalnum(), a "$" anchor, Unicode case folding, splitting the decoded path on "/").
FORBIDDEN = (
    pytest.param("-", id="hyphen"),
    pytest.param(".", id="dot"),
    pytest.param(" ", id="space"),
    pytest.param(";", id="semicolon"),
    pytest.param("%", id="percent"),  # sent as %25
    pytest.param("\u00e9", id="e-acute"),
    pytest.param("\u00df", id="sharp-s"),
    pytest.param("\u0663", id="arabic-indic-digit-three"),
    pytest.param("\uff15", id="fullwidth-digit-five"),
    pytest.param("\u212a", id="kelvin-sign"),  # folds to "k" under Unicode case-insensitive matching
    pytest.param("\n", id="newline"),  # sent as %0A; at the end it passes re.match(r"^...$")
    pytest.param("\x00", id="nul"),  # sent as %00
    pytest.param("/", id="slash"),  # sent as %2F: one segment (RFC 3986 section 2.2)
)
FORBIDDEN_CHARACTERS: tuple[str, ...] = tuple(str(p.values[0]) for p in FORBIDDEN)
NAME_05_LENGTHS = (129, 255, 256, 1024)
NO_SURROGATES: list[Literal["Cs"]] = ["Cs"]


def segment(name: str) -> str:
    """A name as one path segment: UTF-8, every octet but the unreserved ones percent-encoded."""
    return quote(name, safe="", encoding="utf-8", errors="strict")


def show(name: str) -> str:
    """A name as text that tells look-alikes apart: the Kelvin sign U+212A is not "K"."""
    return repr(name) if name.isascii() else f"{name!r} ({ascii(name)})"


def event_path(database_segment: str, table_segment: str) -> str:
    return f"{EVENT_PATH}/{database_segment}/{table_segment}"


def names_at(target: Transport, position: str, name: str) -> tuple[str, str]:
    """(database, table): ``name`` at ``position``, the run's configured name at the other."""
    if position == "database":
        return name, target.spec.table
    return target.spec.database, name


def shape(
    target: Transport,
    database: str | None = None,
    table: str | None = None,
    path: PathShape = PathShape.OK,
    key: Cred = Cred.VALID,
) -> RequestShape:
    """The contract model's description of a request with an X-TD-Write-Key (valid unless ``key`` says
    otherwise) and a probe record."""
    return RequestShape(
        cast(Version, target.version),
        header_key=key,
        database=target.spec.database if database is None else database,
        table=target.spec.table if table is None else table,
        path=path,
    )


def post_names(target: Transport, database: str, table: str, key: Cred) -> Exchange:
    """POST a probe record to the names exactly as given, each one path segment, with ``key``."""
    raw_path = event_path(segment(database), segment(table))
    return target.post(credentials=Credentials(header=key), raw_path=raw_path)


def spread_name(length: int) -> str:
    """An allowed name of ``length`` characters using both letter cases, digits and "_"."""
    pattern = "aZ9_bY8"
    return (pattern * (length // len(pattern) + 1))[:length]


def allowed_names(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Allowed names, their length drawn first so that every length in range is as likely as the next."""
    return st.integers(min_size, max_size).flatmap(
        lambda n: st.text(st.sampled_from(ALLOWED), min_size=n, max_size=n)
    )


def adversarial_names(max_size: int) -> st.SearchStrategy[str]:
    """Names over an alphabet mixing the forbidden list, the allowed alphabet, punctuation and Unicode.

    Surrogates are left out (no UTF-8 form, so no path can carry them); names made only of dots are path
    syntax (RFC 3986 section 5.2.4 dot-segments), not names.
    """
    alphabet = st.one_of(
        st.sampled_from(FORBIDDEN_CHARACTERS),
        st.sampled_from(ALLOWED),
        st.sampled_from(string.punctuation + string.whitespace),
        st.characters(exclude_categories=NO_SURROGATES),
    )
    return st.text(alphabet, min_size=1, max_size=max_size).filter(lambda n: n.strip(".") != "")


def name_verdict(
    exchange: Exchange, expectation: Expectation, valid: bool, what: str, key: Cred = Cred.VALID
) -> ConformanceFailure | None:
    """The status the model allows, blamed on NAME-01 (an allowed name refused) or NAME-02 (a forbidden
    name let through): the clause that says what this name must get. A well-formed unknown key standing in
    for the valid key (docs/contract.md, Probe records) refused with 401/403 is EP-05's failure, not the
    name's."""
    if key is Cred.UNKNOWN and exchange.status in (401, 403) and exchange.status not in expectation.statuses:
        return fail(
            ["EP-05"],
            f"status 200 for {what} with a well-formed unknown key (key validity is decided later)",
            f"status {exchange.status}",
            exchange,
        )
    clauses = ("NAME-01",) if valid else ("NAME-02",)
    try:
        check_status(exchange, expectation.statuses, clauses, f" for {what}")
    except ConformanceFailure as failure:
        return failure
    return None


# -- NAME-01 -------------------------------------------------------------------------------------------


def send_allowed(target: Transport, profile: Profile, database: str, table: str, what: str) -> None:
    """Generated names get the unknown key (EP-05: answered 200 all the same), so nothing is written."""
    key = name_probe_key(target)
    expectation = expect(shape(target, database=database, table=table, key=key), profile)
    assert 200 in expectation.statuses, f"suite bug: the model does not accept {what}"
    exchange = post_names(target, database, table, key)
    failure = name_verdict(exchange, expectation, True, what, key)
    if failure is not None:
        raise failure


@pytest.mark.clause("NAME-01")
@pytest.mark.parametrize("position", [pytest.param(p, id=p) for p in POSITIONS])
@pytest.mark.parametrize("bound", [pytest.param("min", id="shortest"), pytest.param("max", id="longest")])
def test_allowed_name_of_boundary_length_is_accepted(
    target: Transport, profile: Profile, position: str, bound: str
) -> None:
    """NAME-01 (MUST): an allowed name of the profile's shortest and longest length (default 1 and 128)
    is answered 200, as database and as table."""
    length = profile.name_min if bound == "min" else profile.name_max
    database, table = names_at(target, position, spread_name(length))
    send_allowed(target, profile, database, table, f"a {length}-character {position} name")


@pytest.mark.clause("NAME-01")
@given(data=st.data())
def test_any_name_of_letters_digits_and_underscore_is_accepted(
    target: Transport, profile: Profile, data: st.DataObject
) -> None:
    """NAME-01 (MUST): database and table names of ASCII letters (both cases), digits and "_", of every
    length the profile allows, are answered 200."""
    names = allowed_names(profile.name_min, profile.name_max)
    database = data.draw(names, label="database")
    table = data.draw(names, label="table")
    send_allowed(target, profile, database, table, f"names of {len(database)} and {len(table)} characters")


# -- NAME-02 -------------------------------------------------------------------------------------------


def placed(character: str, placement: str) -> str:
    """``character`` at the start, in the middle or at the end of an otherwise allowed name."""
    return {"start": f"{character}ab", "middle": f"a{character}b", "end": f"ab{character}"}[placement]


def send_name(
    target: Transport, profile: Profile, ingestion: Ingestion, position: str, name: str
) -> ConformanceFailure | None:
    """Send ``name`` at ``position``; a forbidden one must be 400 and is read back under the decoded name."""
    database, table = names_at(target, position, name)
    valid = is_valid_name(name)
    key = name_probe_key(target, read_back=not valid, position=position)
    expectation = expect(shape(target, database=database, table=table, key=key), profile)
    exchange = post_names(target, database, table, key)
    if not valid and key is Cred.VALID:
        # A target that stores the record under the name it was given is caught here.
        ingestion.expect(exchange, Ingest.MUST_NOT, ["NAME-02"], database=database, table=table)
    elif not valid:
        ingestion.after_readback(_never_ingested_unobservable)
    return name_verdict(exchange, expectation, valid, f"the {position} name {show(name)}", key)


def _never_ingested_unobservable(record: Callable[[str, str], None]) -> None:
    undecidable(
        "NAME-02 'never ingested' not observed for database names: on a given target, a forbidden "
        "database name is probed with a well-formed unknown key (the valid key writes to --database "
        "only), so no record can show; --disposable-account decides it"
    )


@pytest.mark.clause("NAME-02")
@pytest.mark.parametrize("position", [pytest.param(p, id=p) for p in POSITIONS])
@pytest.mark.parametrize("character", FORBIDDEN)
def test_name_with_a_forbidden_character_is_rejected_and_never_ingested(
    target: Transport, profile: Profile, ingestion: Ingestion, character: str, position: str
) -> None:
    """NAME-02 (MUST): a name holding the character at its start, middle or end is answered 400 and its
    record is never ingested, as database and as table."""
    failures = [send_name(target, profile, ingestion, position, placed(character, p)) for p in PLACEMENTS]
    missed = [(p, f) for p, f in zip(PLACEMENTS, failures, strict=True) if f is not None]
    if missed:
        raise fail(
            ["NAME-02"],
            f"status 400 for a {position} name holding {show(character)} at its start, middle and end",
            "; ".join(f"{p}: {f.received}" for p, f in missed),
            *(x for _, f in missed for x in f.exchanges),
        )


@pytest.mark.clause("NAME-02")
@given(data=st.data())
def test_name_is_accepted_exactly_when_it_holds_only_allowed_characters(
    target: Transport, profile: Profile, ingestion: Ingestion, info: Info, data: st.DataObject
) -> None:
    """NAME-02 (MUST): over an adversarial alphabet, a name is answered 200 if it fullmatches
    [A-Za-z0-9_]+, else 400 and never ingested. NAME-02 passes only when a forbidden name was drawn."""
    info.exercised()
    position = data.draw(st.sampled_from(POSITIONS), label="position")
    name = data.draw(adversarial_names(min(16, profile.name_max)), label="name")
    if not is_valid_name(name):
        info.exercised("NAME-02")
    failure = send_name(target, profile, ingestion, position, name)
    if failure is not None:
        raise failure


# -- NAME-03 -------------------------------------------------------------------------------------------


def segment_paths(target: Transport) -> dict[str, tuple[str, PathShape]]:
    """Paths with an empty or a missing name segment: nowhere a record could be read back from."""
    db, table = segment(target.spec.database), segment(target.spec.table)
    return {
        "empty-database": (f"{EVENT_PATH}//{table}", PathShape.EMPTY_SEGMENT),
        "empty-table": (f"{EVENT_PATH}/{db}/", PathShape.EMPTY_SEGMENT),
        "missing-table": (f"{EVENT_PATH}/{db}", PathShape.MISSING_SEGMENT),
        "missing-both": (EVENT_PATH, PathShape.MISSING_SEGMENT),
    }


def check_bad_path(
    target: Transport, profile: Profile, exchange: Exchange, raw_path: str, path_shape: PathShape
) -> None:
    expectation = expect(shape(target, path=path_shape), profile)
    check_status(exchange, expectation.statuses, ["NAME-03"], f" for the path {raw_path}")


@pytest.mark.clause("NAME-03")
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c) for c in ("empty-database", "empty-table", "missing-table", "missing-both")],
)
def test_empty_or_missing_name_segment_is_rejected(target: Transport, profile: Profile, case: str) -> None:
    """NAME-03 (MUST): a path whose database or table segment is empty or missing is answered 400 or 404."""
    raw_path, path_shape = segment_paths(target)[case]
    check_bad_path(target, profile, target.post(raw_path=raw_path), raw_path, path_shape)


@pytest.mark.clause("NAME-03")
@pytest.mark.parametrize(
    "case", [pytest.param("doubled-slash", id="doubled-slash"), pytest.param("extra", id="extra-segment")]
)
def test_doubled_slash_or_extra_segment_is_rejected_and_never_ingested(
    target: Transport, profile: Profile, ingestion: Ingestion, case: str
) -> None:
    """NAME-03 (MUST): /event/{db}//{table} (an empty segment between the names) and /event/{db}/{table}/x
    (an extra segment) are answered 400 or 404 and ingested nowhere a faulty target would put them."""
    database, table = target.spec.database, target.spec.table
    db, tb = segment(database), segment(table)
    if case == "doubled-slash":
        # A server that merges slashes (RFC 3986 gives "//" no such meaning) would ingest into db/table.
        raw_path, path_shape, stores = (
            f"{EVENT_PATH}/{db}//{tb}",
            PathShape.EMPTY_SEGMENT,
            [(database, table)],
        )
    else:
        # A target may take the first two segments, or the last two.
        raw_path, path_shape = f"{EVENT_PATH}/{db}/{tb}/x", PathShape.EXTRA_SEGMENT
        stores = [(database, table), (table, "x")]
    exchange = target.post(raw_path=raw_path)
    for store_database, store_table in stores:
        ingestion.expect(exchange, Ingest.MUST_NOT, ["NAME-03"], database=store_database, table=store_table)
    check_bad_path(target, profile, exchange, raw_path, path_shape)


# -- NAME-04 -------------------------------------------------------------------------------------------


def percent_encode_all(name: str, upper: bool) -> str:
    """Every character of ``name`` as %XX (RFC 3986 section 2.1: hex digits in either case)."""
    return "".join(f"%{b:02X}" if upper else f"%{b:02x}" for b in name.encode("utf-8"))


@pytest.mark.clause("NAME-04")
@pytest.mark.parametrize(
    "form",
    [
        pytest.param("first", id="first-character-encoded"),
        pytest.param("all-upper", id="every-character-encoded-upper-hex"),
        pytest.param("all-lower", id="every-character-encoded-lower-hex"),
    ],
)
def test_percent_encoded_allowed_characters_are_the_same_name(
    target: Transport, profile: Profile, ingestion: Ingestion, form: str
) -> None:
    """NAME-04 (SHOULD): a percent-encoded allowed character is the character itself (%61bc is abc):
    answered 200 and ingested under the decoded names (RFC 3986 sections 2.3 and 6.2.2.2).

    The run's own database and table are encoded, so that a real service stores the record where the
    run reads it back.
    """
    database, table = target.spec.database, target.spec.table
    if form == "first":
        encoded = [percent_encode_all(n[0], True) + segment(n[1:]) for n in (database, table)]
    else:
        encoded = [percent_encode_all(n, form == "all-upper") for n in (database, table)]
    expectation = expect(shape(target, database=database, table=table), profile)
    exchange = target.post(raw_path=event_path(encoded[0], encoded[1]))
    ingestion.expect(exchange, Ingest.MUST, ["NAME-04"], database=database, table=table)
    check_status(
        exchange,
        expectation.statuses,
        ["NAME-04"],
        f" for {encoded[0]}/{encoded[1]}, which is {database}/{table}",
    )


# -- NAME-05 -------------------------------------------------------------------------------------------


@pytest.mark.clause("NAME-05")
def test_answers_to_long_names_are_reported(target: Transport, info: Info) -> None:
    """NAME-05 (INFO): the answers for database and table names of 129, 255, 256 and 1024 characters
    (TD's own naming limits are not in the Postback docs); sent with a well-formed unknown key."""
    answers = []
    for position in POSITIONS:
        for length in NAME_05_LENGTHS:
            database, table = names_at(target, position, spread_name(length))
            exchange = post_names(target, database, table, name_probe_key(target))
            answer = str(exchange.response.status) if exchange.response else f"no answer ({exchange.error})"
            answers.append(f"{position} {length}: {answer}")
    info.record("NAME-05", "; ".join(answers))
