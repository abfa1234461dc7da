"""AUTH: credentials and their precedence ([L] Authentication; [V2] Authentication and differences table).

A request can carry its key in three places (the X-TD-Write-Key header, the ``td_write_key`` URL parameter,
an ``Authorization`` header), and each version acts on one of them. When a request combines several, it
can go wrong because one part fails on its own (the header spelled ``x-td-write-key``, an unknown key, TD1
itself) or because the parts interact (precedence). Only the second is the combination's fault: the first
is the part's own clause, which its own test reports. So every request here goes out with its parts, each
sent alone (:class:`Attribution`), and is judged only where every part behaves as the contract model says:
a failure then names the clause that was really broken, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given, note
from hypothesis import strategies as st

from conformance.contract.catalog import Level
from conformance.contract.model import (
    Authorization,
    Cred,
    Expectation,
    expect,
)
from conformance.engine.attribution import Attribution, shape_of
from conformance.engine.checks import check_answered, check_outcome
from conformance.engine.context import Info, Ingestion
from conformance.transport.client import Transport, event_path
from conformance.transport.credentials import NO_CREDENTIALS, Credentials

pytestmark = pytest.mark.auth

CANONICAL = "X-TD-Write-Key"
INVALID = (Cred.UNKNOWN, Cred.MALFORMED, Cred.EMPTY)
# RFC 9110 section 11.1: "TD1" in any letter case is the same scheme; the rest are not TD1 credentials.
SCHEMES = ("TD1", "td1", "Bearer", "Basic")
MAX_LISTED = 5
Note = Callable[[str, str], None]


@pytest.fixture
def attribution(target: Transport, ingestion: Ingestion) -> Attribution:
    return Attribution(target, ingestion)


# --------------------------------------------------------------------------------------------- one key


@pytest.mark.clause("AUTH-01")
def test_valid_key_in_x_td_write_key_is_accepted(attribution: Attribution) -> None:
    """AUTH-01 (MUST): ``X-TD-Write-Key: <valid key>`` is answered 200 and the record ingested once."""
    attribution.check(Credentials())


@pytest.mark.clause("AUTH-02")
@pytest.mark.parametrize(
    "name", [pytest.param("x-td-write-key", id="lower"), pytest.param("X-TD-WRITE-KEY", id="upper")]
)
def test_header_name_in_any_letter_case_works(attribution: Attribution, name: str) -> None:
    """AUTH-02 (MUST): field names are case-insensitive (RFC 9110 section 5.1): ``{name}: <valid key>``
    is accepted like ``X-TD-Write-Key``."""
    attribution.check(Credentials(header_name=name))
    attribution.finish()


@pytest.mark.clause("AUTH-03")
def test_url_encoded_query_key_alone_is_accepted_on_legacy(attribution: Attribution, info: Info) -> None:
    """AUTH-03 (MUST, legacy): ``?td_write_key=<valid key>`` alone, URL-encoded ("/" as %2F), is accepted."""
    credentials = Credentials(header=None, query=Cred.VALID)
    encoded = _query_is_percent_encoded(attribution.target, credentials)
    if encoded is None:
        info.record("AUTH-03", "the write key has no '/', so its %2F encoding was not exercised")
    elif not encoded:
        raise RuntimeError("suite bug: the transport did not percent-encode the key in td_write_key")
    attribution.check(credentials)
    attribution.finish()


def _query_is_percent_encoded(target: Transport, credentials: Credentials) -> bool | None:
    """Whether the URL the transport sends carries the key with "/" as %2F (None: the key has no "/").

    Decided on the unredacted URL and returned as a bool only: the key itself never leaves this function.
    """
    _, query = credentials.materialise(target.keys)
    key = query[0][1]
    if "/" not in key:
        return None
    raw_query = target.url_for(event_path(target.spec.database, target.spec.table), query).query
    return raw_query == f"td_write_key={quote(key, safe='')}".encode("ascii") and b"/" not in raw_query


@pytest.mark.clause("AUTH-05")
def test_td1_authorization_alone_is_accepted_on_v2(attribution: Attribution) -> None:
    """AUTH-05 (MUST, v2): ``Authorization: TD1 <valid key>`` alone is accepted."""
    attribution.check(Credentials(header=None, authorization=Authorization("TD1", Cred.VALID)))
    attribution.finish()


@pytest.mark.clause("AUTH-10")
def test_lowercase_td1_scheme_works_like_td1(attribution: Attribution) -> None:
    """AUTH-10 (SHOULD, v2): scheme names are case-insensitive (RFC 9110 section 11.1): ``td1 <valid key>``
    is accepted like ``TD1``."""
    attribution.check(Credentials(header=None, authorization=Authorization("td1", Cred.VALID)))
    attribution.finish()


# ------------------------------------------------------------------------------------------ precedence


@pytest.mark.clause("AUTH-04")
@pytest.mark.parametrize(
    ("header", "query"),
    [
        pytest.param(Cred.VALID, Cred.UNKNOWN, id="header-valid-param-invalid"),
        pytest.param(Cred.UNKNOWN, Cred.VALID, id="header-invalid-param-valid"),
    ],
)
def test_header_wins_over_url_parameter_on_legacy(
    attribution: Attribution, header: Cred, query: Cred
) -> None:
    """AUTH-04 (MUST, legacy): with both X-TD-Write-Key and ?td_write_key, the header decides ingestion."""
    attribution.check(Credentials(header=header, query=query))
    attribution.finish()


@pytest.mark.clause("AUTH-06")
@pytest.mark.parametrize(
    ("td1", "header"),
    [
        pytest.param(Cred.VALID, Cred.UNKNOWN, id="td1-valid-header-invalid"),
        pytest.param(Cred.UNKNOWN, Cred.VALID, id="td1-invalid-header-valid"),
    ],
)
@pytest.mark.parametrize(
    "authorization_first",
    [pytest.param(False, id="header-sent-first"), pytest.param(True, id="authorization-sent-first")],
)
def test_td1_authorization_wins_over_x_td_write_key_on_v2(
    attribution: Attribution, td1: Cred, header: Cred, authorization_first: bool
) -> None:
    """AUTH-06 (MUST, v2): with both ``Authorization: TD1`` and X-TD-Write-Key, Authorization decides,
    whichever field is sent first (so "the last credential field wins" cannot pass)."""
    authorization = Authorization("TD1", td1)
    attribution.check(
        Credentials(header=header, authorization=authorization, authorization_first=authorization_first)
    )
    attribution.finish()


@pytest.mark.clause("BODY-08")
@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(Cred.VALID, Cred.UNKNOWN, id="valid-then-unknown"),
        pytest.param(Cred.UNKNOWN, Cred.VALID, id="unknown-then-valid"),
    ],
)
def test_two_x_td_write_key_fields_are_answered_and_what_happens_is_reported(
    target: Transport, ingestion: Ingestion, info: Info, first: Cred, second: Cred
) -> None:
    """BODY-08 (MUST): two X-TD-Write-Key field lines (a valid and an unknown key, in either order) get an
    answer within the timeout, not 5xx. RFC 9110 section 5.3 makes the request malformed (the field is a
    singleton) and the docs are silent, so the answer and which key acted (read back) are only reported.

    Reported under BODY-08, whose "odd headers" this is: AUTH-12 is v2's and about Authorization only, and
    no AUTH clause says which of two copies of one field counts."""
    credentials = Credentials(header=first, second_header=second)
    exchange = target.post(credentials=credentials)
    info.record("BODY-08", f"{credentials.describe()}: {exchange.outcome()}")
    check_answered(exchange)
    entry = ingestion.observe(exchange)
    if entry is not None:

        def report(note: Note) -> None:
            acted = "the valid key acted" if entry.records else "not ingested: the unknown key acted, or none"
            note("BODY-08", f"{credentials.describe()}: ingested {len(entry.records)} time(s) ({acted})")

        ingestion.after_readback(report)


# ------------------------------------------------------------------------------------- not credentials


@pytest.mark.clause("AUTH-07")
def test_query_key_alone_is_not_accepted_on_v2(attribution: Attribution) -> None:
    """AUTH-07 (MUST, v2): ``?td_write_key=<valid key>`` as the only credential is rejected with 4xx, or
    answered 200 and never ingested ([V2]: "Not supported")."""
    attribution.check(Credentials(header=None, query=Cred.VALID))
    attribution.finish()


@pytest.mark.clause("AUTH-07")
@pytest.mark.parametrize(
    ("header", "query"),
    [
        pytest.param(Cred.UNKNOWN, Cred.VALID, id="unknown-header-key-valid-url-key"),
        pytest.param(Cred.MALFORMED, Cred.VALID, id="malformed-header-key-valid-url-key"),
        pytest.param(Cred.VALID, Cred.VALID, id="valid-header-key-valid-url-key"),
        pytest.param(Cred.VALID, Cred.UNKNOWN, id="valid-header-key-unknown-url-key"),
    ],
)
def test_url_key_beside_a_header_key_is_never_acted_on_on_v2(
    attribution: Attribution, header: Cred, query: Cred
) -> None:
    """AUTH-07 (MUST, v2): ?td_write_key is "Not supported": beside an X-TD-Write-Key a target may ignore
    it (the header decides: 200, ingested only with a valid header key) or refuse the whole request (4xx,
    nothing ingested). Acting on it (a record ingested on the URL key's strength) is the violation."""
    attribution.check(Credentials(header=header, query=query))
    attribution.finish()


@pytest.mark.clause("AUTH-09")
@pytest.mark.versions("legacy")
def test_td1_authorization_alone_on_legacy_is_reported(
    target: Transport, ingestion: Ingestion, info: Info
) -> None:
    """AUTH-09 (MUST, answer part): the legacy doc names no Authorization header, so ``Authorization: TD1
    <valid key>`` alone is answered like a request without a credential (200, 400, 401 or 403, never 5xx).
    Whether legacy ingests it is not said, so it is reported (CUT-02 compares it with v2), never failed."""
    credentials = Credentials(header=None, authorization=Authorization("TD1", Cred.VALID))
    expectation = expect(shape_of(target.version, credentials))
    exchange = target.post(credentials=credentials)
    info.record("AUTH-09", f"{credentials.describe()} on legacy: {exchange.outcome()}")
    entry = ingestion.observe(exchange)
    if entry is not None:

        def report(note: Note) -> None:
            verdict = "ingested (TD1 honoured)" if entry.records else "not ingested"
            note("AUTH-09", f"{credentials.describe()} on legacy: {verdict}")

        ingestion.after_readback(report)
    check_outcome(exchange, expectation)


@pytest.mark.clause("AUTH-11")
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(Authorization("Bearer", Cred.VALID), id="bearer-valid-key"),
        pytest.param(Authorization("Basic", Cred.VALID), id="basic"),
        pytest.param(Authorization("TD1", None), id="bare-td1"),
    ],
)
def test_authorization_that_is_not_td1_is_no_credential(
    attribution: Attribution, authorization: Authorization
) -> None:
    """AUTH-11 (MUST, v2): an Authorization that is not a TD1 credential, alone, never gets a record in."""
    attribution.check(Credentials(header=None, authorization=authorization))
    attribution.finish()


@pytest.mark.clause("AUTH-08")
def test_invalid_keys_are_never_ingested(attribution: Attribution, info: Info) -> None:
    """AUTH-08 (MUST): a record sent with an invalid key is never ingested; an unknown well-formed key is
    answered 200 (EP-05), a malformed or empty one 200, 400, 401 or 403, never 5xx. Statuses reported."""
    seen = [attribution.check(Credentials(header=cred)) for cred in INVALID]
    info.record(
        "AUTH-08",
        "; ".join(f"{cred.value} key: {s.exchange.outcome()}" for cred, s in zip(INVALID, seen, strict=True)),
    )
    attribution.finish()


@pytest.mark.clause("AUTH-09")
def test_request_without_credential_is_never_ingested(attribution: Attribution, info: Info) -> None:
    """AUTH-09 (MUST): no credential at all: answered 200, 400, 401 or 403 (never 5xx), never ingested.
    The status seen is reported."""
    sent = attribution.check(NO_CREDENTIALS)
    info.record("AUTH-09", f"no credential: {sent.exchange.outcome()}")
    attribution.finish()


@pytest.mark.clause("AUTH-12")
@pytest.mark.parametrize("scheme", [pytest.param("Bearer", id="bearer"), pytest.param("Basic", id="basic")])
def test_unrelated_authorization_beside_valid_x_td_write_key(
    target: Transport, ingestion: Ingestion, info: Info, scheme: str
) -> None:
    """AUTH-12 (INFO, v2): whether a valid X-TD-Write-Key beside an unrelated ``Authorization: {scheme}``
    is ingested ([V2] is silent). Measured and reported, never failed."""
    credentials = Credentials(authorization=Authorization(scheme, Cred.UNKNOWN))
    exchange = target.post(credentials=credentials)
    info.record("AUTH-12", f"{credentials.describe()}: answered {exchange.outcome()}")
    entry = ingestion.observe(exchange)
    if entry is not None:

        def report(note: Note) -> None:
            verdict = "ingested" if entry.records else "not ingested"
            note("AUTH-12", f"{credentials.describe()}: {verdict}")

        ingestion.after_readback(report)


# ----------------------------------------------------------------------------------------- combinations


def header_names() -> st.SearchStrategy[str]:
    """X-TD-Write-Key in any letter case (RFC 9110 section 5.1), the usual spellings most often."""
    any_case = st.lists(st.booleans(), min_size=len(CANONICAL), max_size=len(CANONICAL)).map(
        lambda upper: "".join(c.upper() if u else c.lower() for c, u in zip(CANONICAL, upper, strict=True))
    )
    return st.sampled_from((CANONICAL, "x-td-write-key", "X-TD-WRITE-KEY")) | any_case


def authorizations() -> st.SearchStrategy[Authorization]:
    # An empty key would put "TD1 " on the wire, which is the bare scheme (RFC 9110 section 5.5: a field
    # value has no trailing whitespace), and HTTP clients refuse to send it as is.
    keyed = st.builds(Authorization, st.sampled_from(SCHEMES), st.sampled_from([Cred.VALID, *INVALID[:2]]))
    return keyed | st.just(Authorization("TD1", None))


def credential_sets() -> st.SearchStrategy[Credentials]:
    """Any combination of placements (none, X-TD-Write-Key, td_write_key, Authorization), key kinds, and
    order of the two header fields on the wire."""
    header = st.none() | st.tuples(st.sampled_from(Cred), header_names())
    return st.builds(
        lambda header, query, authorization, authorization_first: Credentials(
            header=header[0] if header else None,
            header_name=header[1] if header else CANONICAL,
            query=query,
            authorization=authorization,
            authorization_first=authorization_first and authorization is not None and header is not None,
        ),
        header,
        st.none() | st.sampled_from(Cred),
        st.none() | authorizations(),
        st.booleans(),
    )


def judged_by_one_must_clause(version: str, expectation: Expectation) -> bool:
    """Whether one MUST requirement decides the status and one the ingestion (EP-01 goes with AUTH-01).

    Where two overridden keys could each explain a miss no single clause could be named; SHOULD (AUTH-10)
    and INFO (AUTH-12) cases have their own tests and must not end the search for MUST violations.
    """
    single = all(
        len(set(part) - {"EP-01"}) == 1 for part in (expectation.status_clauses, expectation.ingest_clauses)
    )
    return single and expectation.level(version) is Level.MUST


@pytest.mark.clause(
    "AUTH-01",
    "AUTH-02",
    "AUTH-03",
    "AUTH-04",
    "AUTH-05",
    "AUTH-06",
    "AUTH-07",
    "AUTH-08",
    "AUTH-09",
    "AUTH-11",
)
@given(credentials=credential_sets())
# Every claimed clause is exercised on every run, whatever the draws: one combination each, on
# the version where the model gives that clause the decision (AUTH-03/04 legacy, AUTH-05/06/07/11 v2).
@example(credentials=Credentials())  # AUTH-01
@example(credentials=Credentials(header_name="x-td-write-key"))  # AUTH-02
@example(credentials=Credentials(header=None, query=Cred.VALID))  # AUTH-03 (legacy), AUTH-07 (v2)
@example(credentials=Credentials(header=Cred.VALID, query=Cred.UNKNOWN))  # AUTH-04 (legacy)
@example(credentials=Credentials(header=None, authorization=Authorization("TD1", Cred.VALID)))  # AUTH-05
@example(
    credentials=Credentials(header=Cred.UNKNOWN, authorization=Authorization("TD1", Cred.VALID))
)  # AUTH-06
@example(credentials=Credentials(header=Cred.UNKNOWN))  # AUTH-08
@example(credentials=NO_CREDENTIALS)  # AUTH-09
@example(credentials=Credentials(header=None, authorization=Authorization("Bearer", Cred.VALID)))  # AUTH-11
def test_any_credential_combination_gets_the_modelled_outcome(
    attribution: Attribution, info: Info, credentials: Credentials
) -> None:
    """AUTH-01..AUTH-09, AUTH-11 (MUST): any combination of credential placements and key kinds gets the
    status the contract model allows, now, and the ingestion it requires, after read-back (each
    combination judged where its parts work alone). Only the clauses of combinations judged pass."""
    version = attribution.target.version
    expectation = expect(shape_of(version, credentials))
    info.exercised()  # this test says which clauses it exercised: those of the combinations judged
    assume(judged_by_one_must_clause(version, expectation))
    # Printed with a falsifying example: abstract only (where each key goes and its kind, never a key).
    # The example's own arguments may print blank: schemathesis swaps out hypothesis' printer.
    note(f"credentials: {credentials.describe()}")
    judged = attribution.judged_now
    attribution.check(credentials)
    if attribution.judged_now > judged:
        info.exercised(*expectation.clauses)
