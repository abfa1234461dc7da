"""SIZE: the v2 body cap ([V2] "Payload limits": 1,048,064 bytes; larger requests get 413 Payload Too Large).

Every body here is a probe record (a JSON object with a ``conformance_id``) padded to an exact byte count, so
that only its size can decide the answer. After each oversized request a valid request follows on the same
connection: the target must go on serving (SIZE-05).
"""

from __future__ import annotations

import json

import httpx
import pytest

from conformance.contract.model import V2_BODY_CAP, Cred, Expectation, Ingest, RequestShape, expect
from conformance.contract.profile import Profile
from conformance.engine.checks import check_status, fail
from conformance.engine.context import Info, Ingestion
from conformance.engine.probes import PAD_FIELD, rebuild_note, sized_body
from conformance.readback.base import Check, Record
from conformance.transport.client import Transport
from conformance.transport.credentials import Credentials
from conformance.transport.exchange import Exchange

pytestmark = pytest.mark.size

MIB = 1024 * 1024
# SIZE-05: "a far larger body".
HUGE = 8 * MIB
# SIZE-03 and SIZE-06 stay clear of the boundary (SIZE-01/02/04 probe it), so that an off-by-one cap does
# not also show up as a unit or a credential fault.
CLEAR_OVER = V2_BODY_CAP + 1024


def _post_sized(
    target: Transport,
    n_bytes: int,
    *,
    char: str = "x",
    chunked: bool = False,
    credentials: Credentials | None = None,
    client: httpx.Client | None = None,
) -> Exchange:
    body, cid = sized_body(target, n_bytes, char)
    return target.post(
        body=body,
        chunked=chunked,
        credentials=credentials,
        body_note=rebuild_note(body, char),
        client=client,
        conformance_id=cid,
    )


def _expectation(
    target: Transport,
    profile: Profile,
    n_bytes: int,
    *,
    chunked: bool = False,
    credentials: Credentials | None = None,
) -> Expectation:
    fields = (credentials or Credentials()).shape_fields()
    return expect(RequestShape(target.version, body_bytes=n_bytes, chunked=chunked, **fields), profile)


def _why(expectation: Expectation) -> str:
    return f" ({'; '.join(expectation.reasons)})" if expectation.reasons else ""


def _check_still_serving(target: Transport, client: httpx.Client, after: str, profile: Profile) -> None:
    """SIZE-05: after an oversized body the target answers the next valid request as usual."""
    expectation = expect(RequestShape(target.version), profile)
    exchange = target.post(client=client)
    check_status(exchange, expectation.statuses, ["SIZE-05"], f" for a valid request right after {after}")


def _pad_intact(exchange: Exchange) -> Check:
    """A read-back check: the record holds the padding exactly as sent (not truncated, not re-encoded)."""
    sent = json.loads(exchange.request.body)[PAD_FIELD]

    def check(record: Record) -> str | None:
        pad = record.get(PAD_FIELD)
        if pad == sent:
            return None
        got = f"{len(pad):,} characters" if isinstance(pad, str) else f"a {type(pad).__name__}"
        return f'the "{PAD_FIELD}" field came back as {got} unlike the {len(sent):,} characters sent'

    return check


@pytest.mark.clause("SIZE-01")
def test_body_of_exactly_the_cap_is_accepted(
    target: Transport, ingestion: Ingestion, profile: Profile
) -> None:
    """SIZE-01 (MUST): a valid JSON object body of exactly 1,048,064 bytes is answered 200 and ingested."""
    expectation = _expectation(target, profile, V2_BODY_CAP)
    exchange = _post_sized(target, V2_BODY_CAP)
    ingestion.expect(exchange, expectation.ingest, ["SIZE-01"], check=_pad_intact(exchange))
    check_status(exchange, expectation.statuses, ["SIZE-01"], " (a body of exactly the cap)")


@pytest.mark.clause("SIZE-02")
def test_one_byte_over_the_cap_is_413_and_not_ingested(
    target: Transport, ingestion: Ingestion, profile: Profile
) -> None:
    """SIZE-02 (MUST): a 1,048,065-byte body is answered 413 and never ingested."""
    n_bytes = V2_BODY_CAP + 1
    expectation = _expectation(target, profile, n_bytes)
    with target.single_connection_client() as client:
        exchange = _post_sized(target, n_bytes, client=client)
        ingestion.expect(exchange, expectation.ingest, ["SIZE-02"])
        check_status(exchange, expectation.statuses, ["SIZE-02"], _why(expectation))
        _check_still_serving(target, client, f"a {n_bytes:,}-byte body", profile)


@pytest.mark.clause("SIZE-03")
@pytest.mark.parametrize(
    "char",
    [
        pytest.param("é", id="2-byte-e-acute"),
        pytest.param("€", id="3-byte-euro"),
        pytest.param("\U0001f600", id="4-byte-emoji"),
    ],
)
def test_cap_counts_bytes_not_characters(target: Transport, char: str, profile: Profile) -> None:
    """SIZE-03 (MUST): a body over the cap in bytes but under it in characters is answered 413."""
    n_bytes = CLEAR_OVER
    expectation = _expectation(target, profile, n_bytes)
    with target.single_connection_client() as client:
        exchange = _post_sized(target, n_bytes, char=char, client=client)
        characters = len(exchange.request.body.decode("utf-8"))
        assert characters < V2_BODY_CAP < len(exchange.request.body), "SIZE-03 body does not straddle the cap"
        why = f" ({n_bytes:,} bytes but {characters:,} characters: the cap counts bytes)"
        check_status(exchange, expectation.statuses, ["SIZE-03"], why)
        _check_still_serving(target, client, f"a {n_bytes:,}-byte body of {char!r}", profile)


@pytest.mark.clause("SIZE-04")
def test_chunked_body_at_the_cap_is_accepted(
    target: Transport, ingestion: Ingestion, profile: Profile
) -> None:
    """SIZE-04 (MUST): a chunked body (no Content-Length) of exactly 1,048,064 bytes is accepted."""
    expectation = _expectation(target, profile, V2_BODY_CAP, chunked=True)
    exchange = _post_sized(target, V2_BODY_CAP, chunked=True)
    ingestion.expect(exchange, expectation.ingest, ["SIZE-04"], check=_pad_intact(exchange))
    check_status(exchange, expectation.statuses, ["SIZE-04"], " (a chunked body of exactly the cap)")


@pytest.mark.clause("SIZE-04")
def test_chunked_body_one_byte_over_the_cap_is_413(
    target: Transport, ingestion: Ingestion, profile: Profile
) -> None:
    """SIZE-04 (MUST): a chunked body (no Content-Length) of 1,048,065 bytes gets 413, is never ingested."""
    n_bytes = V2_BODY_CAP + 1
    expectation = _expectation(target, profile, n_bytes, chunked=True)
    with target.single_connection_client() as client:
        exchange = _post_sized(target, n_bytes, chunked=True, client=client)
        ingestion.expect(exchange, expectation.ingest, ["SIZE-04"])
        check_status(exchange, expectation.statuses, ["SIZE-04"], _why(expectation))
        _check_still_serving(target, client, f"a chunked {n_bytes:,}-byte body", profile)


@pytest.mark.clause("SIZE-05")
def test_far_larger_body_is_413_in_time_and_the_target_keeps_serving(
    target: Transport, profile: Profile
) -> None:
    """SIZE-05 (MUST): an 8 MiB body is answered 413 within the run's timeout; the next request is served."""
    expectation = _expectation(target, profile, HUGE)
    with target.single_connection_client() as client:
        exchange = _post_sized(target, HUGE, client=client)
        check_status(exchange, expectation.statuses, ["SIZE-05"], " (an 8 MiB body)")
        assert exchange.response is not None
        if exchange.response.elapsed > target.timeout:
            raise fail(
                ["SIZE-05"],
                f"413 within the run's timeout ({target.timeout:g} s)",
                f"413 after {exchange.response.elapsed:.1f} s",
                exchange,
            )
        _check_still_serving(target, client, "an 8 MiB body", profile)


@pytest.mark.clause("SIZE-06")
@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param(Credentials(header=Cred.VALID), id="valid-key"),
        pytest.param(Credentials(header=Cred.UNKNOWN), id="unknown-key"),
        pytest.param(Credentials(header=Cred.MALFORMED), id="malformed-key"),
        pytest.param(Credentials(header=Cred.EMPTY), id="empty-key"),
        pytest.param(Credentials(header=None), id="no-key"),
    ],
)
def test_oversized_body_is_413_whatever_the_key(
    target: Transport, credentials: Credentials, profile: Profile
) -> None:
    """SIZE-06 (MUST): an oversized body is answered 413 whatever its key (valid, invalid, none)."""
    expectation = _expectation(target, profile, CLEAR_OVER, credentials=credentials)
    with target.single_connection_client() as client:
        exchange = _post_sized(target, CLEAR_OVER, credentials=credentials, client=client)
        why = f" ({CLEAR_OVER:,} bytes with {credentials.describe()}: size is checked before the key)"
        check_status(exchange, expectation.statuses, ["SIZE-06"], why)
        _check_still_serving(target, client, f"an oversized body with {credentials.describe()}", profile)


@pytest.mark.clause("SIZE-07")
@pytest.mark.parametrize(
    ("n_bytes", "label"),
    [
        pytest.param(V2_BODY_CAP + 1, "1,048,065-byte", id="cap-plus-one"),
        pytest.param(2 * MIB, "2 MiB", id="two-mib"),
    ],
)
def test_legacy_answers_to_bodies_over_the_v2_cap_are_reported(
    target: Transport, ingestion: Ingestion, info: Info, n_bytes: int, label: str
) -> None:
    """SIZE-07 (INFO, legacy): legacy documents no cap; its answers to bodies over v2's cap are reported."""
    with target.single_connection_client() as client:
        exchange = _post_sized(target, n_bytes, client=client)
        ingestion.expect(exchange, Ingest.MAY, ["SIZE-07"], check=lambda _record: f"{label} body ingested")
        after = target.post(client=client)
    info.record("SIZE-07", f"{label} body: {exchange.outcome()}; the next valid request: {after.outcome()}")
