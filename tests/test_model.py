"""The contract model on its own: pure, consistent with the clause catalog, and faithful to the docs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.contract.catalog import catalog
from conformance.contract.hosts import version_of_host
from conformance.contract.model import (
    V2_BODY_CAP,
    Authorization,
    Body,
    Cred,
    Ingest,
    PathShape,
    RequestShape,
    allowed_statuses,
    expect,
    is_valid_name,
)
from conformance.contract.profile import Profile

creds = st.none() | st.sampled_from(list(Cred))
authorizations = st.none() | st.builds(
    Authorization, st.sampled_from(["TD1", "td1", "Bearer", "Basic"]), st.none() | st.sampled_from(list(Cred))
)
names = st.sampled_from(["db", "t_1", "A" * 128, "a-b", "é", "x\n", ""]) | st.text(min_size=1, max_size=8)
shapes = st.builds(
    RequestShape,
    version=st.sampled_from(["legacy", "v2"]),
    method=st.sampled_from(["POST", "POST", "PUT", "DELETE", "GET"]),
    header_key=creds,
    header_name=st.sampled_from(["X-TD-Write-Key", "x-td-write-key"]),
    query_key=creds,
    authorization=authorizations,
    database=names,
    table=names,
    path=st.sampled_from(list(PathShape)),
    content_type=st.sampled_from([None, "application/json", "text/plain", "Application/JSON; charset=utf-8"]),
    body=st.sampled_from(list(Body)),
    body_bytes=st.sampled_from([2, 100, V2_BODY_CAP, V2_BODY_CAP + 1, 8 * 2**20]),
    chunked=st.booleans(),
)


@settings(max_examples=200, database=None)
@given(shapes)
def test_every_expectation_is_well_formed(shape: RequestShape) -> None:
    """Statuses non-empty and never 5xx; clause IDs real and applicable; MUST ingest only ever with 200."""
    e = expect(shape)
    assert e.statuses
    assert all(200 <= s < 500 for s in e.statuses)
    assert e.clauses
    for cid in e.clauses:
        assert catalog()[cid].applies_to(shape.version)
    if e.ingest is Ingest.MUST:
        assert e.statuses == {200}


@settings(max_examples=150, database=None)
@given(shapes)
def test_posts_stay_within_the_statuses_resp01_allows(shape: RequestShape) -> None:
    """RESP-01: what the model allows for a POST is a subset of what the version may ever answer."""
    shape = replace(shape, method="POST")
    e = expect(shape)
    assert e.statuses <= allowed_statuses(shape.version, body_bytes=shape.body_bytes)


@settings(max_examples=150, database=None)
@given(shapes, st.sampled_from(list(Cred)))
def test_v2_never_acts_on_the_query_key(shape: RequestShape, query: Cred) -> None:
    """[V2] table: ?td_write_key is "Not supported", whatever its value. A target may ignore it or refuse the
    whole request, so adding one never makes a record ingestible, and a record that had to be ingested
    may then be lost only together with a refusal being allowed (AUTH-07)."""
    v2 = replace(shape, version="v2", query_key=None)
    without, with_query = expect(v2), expect(replace(v2, query_key=query))
    if without.ingest is Ingest.MUST_NOT:
        assert with_query.ingest is Ingest.MUST_NOT
    if without.ingest is Ingest.MUST:
        assert with_query.ingest is Ingest.MAY
        assert {200, 400, 403} <= with_query.statuses


@pytest.mark.parametrize("query", [Cred.VALID, Cred.UNKNOWN], ids=["valid", "unknown"])
def test_v2_valid_header_key_beside_a_query_key_may_be_accepted_or_refused(query: Cred) -> None:
    """AUTH-07: with a valid X-TD-Write-Key, ?td_write_key may be ignored (200, ingested) or make the target
    refuse the request (4xx, not ingested); both are conformant."""
    e = expect(RequestShape("v2", header_key=Cred.VALID, query_key=query))
    assert {200, 400, 401, 403} <= e.statuses
    assert e.ingest is Ingest.MAY
    assert e.status_clauses == ("AUTH-07",)


@pytest.mark.parametrize("header", [None, Cred.UNKNOWN, Cred.MALFORMED], ids=["none", "unknown", "malformed"])
def test_v2_acting_on_a_valid_query_key_violates_auth07(header: Cred | None) -> None:
    """AUTH-07: a valid URL key beside a missing or invalid header key must never get the record in."""
    e = expect(RequestShape("v2", header_key=header, query_key=Cred.VALID))
    assert e.ingest is Ingest.MUST_NOT
    assert e.ingest_clauses == ("AUTH-07",)


def test_legacy_td1_authorization_alone_is_only_reported() -> None:
    """AUTH-09 / CUT-02: the legacy doc does not name ``Authorization: TD1``; a legacy target may honour it
    (the ingestion is reported), and its answer is still one AUTH-09 allows for a request without a key."""
    e = expect(RequestShape("legacy", header_key=None, authorization=Authorization("TD1", Cred.VALID)))
    assert e.ingest is Ingest.MAY
    assert e.statuses == {200, 400, 401, 403}
    assert e.status_clauses == ("AUTH-09",)
    unknown = RequestShape("legacy", header_key=None, authorization=Authorization("TD1", Cred.UNKNOWN))
    assert expect(unknown).ingest is Ingest.MUST_NOT
    beside_header = RequestShape("legacy", header_key=Cred.UNKNOWN, authorization=Authorization("TD1"))
    assert expect(beside_header).ingest is Ingest.MUST_NOT  # the documented header decides


@pytest.mark.parametrize("version", ["legacy", "v2"])
def test_a_stress_body_may_be_accepted_or_refused(version: str) -> None:
    """BODY-08: a valid object a target may refuse (deep nesting, huge numbers, a lone surrogate escape
    such as "\ud800") may get 200 or 400, ingested or not; never a status outside that."""
    e = expect(RequestShape(version, body=Body.STRESS))
    assert {200, 400} <= e.statuses
    assert e.ingest is Ingest.MAY
    assert "BODY-08" in e.status_clauses


@pytest.mark.parametrize("n_bytes", [V2_BODY_CAP + 1, 2 * 2**20])
def test_resp01_allows_on_legacy_what_size07_allows_over_the_cap(n_bytes: int) -> None:
    """RESP-01 and SIZE-07 agree: a legacy body over v2's cap may get 413, a small one may not."""
    size07 = expect(RequestShape("legacy", body_bytes=n_bytes))
    assert 413 in size07.statuses
    assert size07.statuses <= allowed_statuses("legacy", body_bytes=n_bytes)
    assert 413 not in allowed_statuses("legacy", body_bytes=V2_BODY_CAP)


@settings(max_examples=150, database=None)
@given(shapes, creds)
def test_on_legacy_the_header_decides_when_present(shape: RequestShape, query: Cred | None) -> None:
    """[L] Authentication: in case both are provided, the header takes precedence."""
    legacy = replace(shape, version="legacy", header_key=Cred.VALID)
    assert expect(legacy).ingest == expect(replace(legacy, query_key=query)).ingest


@settings(max_examples=150, database=None)
@given(shapes)
def test_anything_rejected_is_never_ingested(shape: RequestShape) -> None:
    e = expect(shape)
    if 200 not in e.statuses:
        assert e.ingest is Ingest.MUST_NOT


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        pytest.param("abc_XYZ_019", True, id="ascii-word"),
        pytest.param("abc\n", False, id="trailing-newline"),
        pytest.param("é", False, id="non-ascii-letter"),
        pytest.param("٣", False, id="arabic-digit"),
        pytest.param("\u212a", False, id="kelvin-sign"),
        pytest.param("", False, id="empty"),
        pytest.param("a-b", False, id="hyphen"),
    ],
)
def test_names_are_matched_in_full_against_ascii(name: str, valid: bool) -> None:
    """[L]/[V2] Parameters: only ASCII letters, digits and _ (a full match, so no trailing newline)."""
    assert is_valid_name(name) is valid


def test_an_oversized_v2_body_is_413_whatever_its_key() -> None:
    """SIZE-06: size is decided synchronously, before the key."""
    for key in (Cred.VALID, Cred.UNKNOWN, Cred.EMPTY, None):
        e = expect(RequestShape("v2", header_key=key, body_bytes=V2_BODY_CAP + 1))
        assert e.statuses == {413}


@pytest.mark.parametrize(
    ("shape", "status_clauses", "ingest_clauses"),
    [
        pytest.param(
            RequestShape("legacy", header_key=Cred.UNKNOWN, query_key=Cred.VALID),
            ("EP-05",),
            ("AUTH-04",),
            id="legacy-precedence",
        ),
        pytest.param(
            RequestShape("v2", header_key=Cred.VALID, authorization=Authorization("TD1", Cred.UNKNOWN)),
            ("EP-05",),
            ("AUTH-06",),
            id="v2-precedence",
        ),
        pytest.param(
            RequestShape("v2", header_key=None, query_key=Cred.VALID),
            ("AUTH-07",),
            ("AUTH-07",),
            id="v2-query-key",
        ),
        pytest.param(
            RequestShape("v2", header_key=None, authorization=Authorization("Bearer")),
            ("AUTH-11",),
            ("AUTH-11",),
            id="bearer-alone",
        ),
        pytest.param(
            RequestShape("v2", header_key=None, authorization=Authorization("td1")),
            ("AUTH-10",),
            ("AUTH-10",),
            id="lowercase-scheme",
        ),
        pytest.param(
            RequestShape("legacy", header_name="X-TD-WRITE-KEY"),
            ("AUTH-02",),
            ("AUTH-02",),
            id="header-name-case",
        ),
        pytest.param(
            RequestShape("v2", content_type="application/json; charset=utf-8"),
            ("BODY-06",),
            ("BODY-06",),
            id="charset-variant",
        ),
    ],
)
def test_outcomes_name_the_most_specific_clause(
    shape: RequestShape, status_clauses: tuple[str, ...], ingest_clauses: tuple[str, ...]
) -> None:
    """A fault is pinned on the clause that decides it, so a mutant is reported for that clause only."""
    e = expect(shape)
    assert (e.status_clauses, e.ingest_clauses) == (status_clauses, ingest_clauses)


def test_profile_extra_statuses_widen_every_expectation() -> None:
    profile = Profile(extra_statuses=frozenset({429}))
    assert 429 in expect(RequestShape("v2"), profile).statuses
    assert 429 in allowed_statuses("legacy", profile)


def test_longer_names_than_the_profile_allows_are_only_reported() -> None:
    """NAME-05: names over the profile's maximum may be accepted or refused (INFO)."""
    e = expect(RequestShape("v2", table="t" * 129))
    assert e.statuses == {200, 400}
    assert e.ingest is Ingest.MAY
    assert "NAME-05" in e.clauses


@pytest.mark.parametrize(
    ("host", "version"),
    [
        pytest.param("us01.records.in.treasuredata.com", "v2", id="v2-region"),
        pytest.param("AP02.Records.In.TreasureData.com.", "v2", id="v2-any-case-trailing-dot"),
        pytest.param("in.treasuredata.com", "legacy", id="legacy"),
        pytest.param("tokyo.in.treasuredata.com", "legacy", id="legacy-region"),
        pytest.param("records.in.treasuredata.com.evil.example", None, id="lookalike"),
        pytest.param("notin.treasuredata.com", None, id="suffix-without-dot"),
        pytest.param("127.0.0.1", None, id="loopback"),
    ],
)
def test_the_host_says_the_version_only_for_treasure_datas_own_hosts(host: str, version: str | None) -> None:
    """docs/contract.md (--api-version): *.records.in.treasuredata.com is v2; in.treasuredata.com and
    <region>.in.treasuredata.com are legacy; any other host says nothing (one rule for the plugin and the
    audit)."""
    assert version_of_host(host) == version
