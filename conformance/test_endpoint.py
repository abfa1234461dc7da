"""EP: the endpoint and its success answer ([L] Response and Example; [V2] Sample Request)."""

from __future__ import annotations

import re

import pytest

from conformance.contract.model import Cred, RequestShape, expect
from conformance.engine.checks import check_empty_json_success, check_outcome, check_status, fail
from conformance.engine.context import Info, Ingestion
from conformance.transport.client import Transport
from conformance.transport.credentials import Credentials

pytestmark = pytest.mark.endpoint

KEEP_ALIVE_REQUESTS = 20
HSTS_MIN_AGE = 31_536_000


@pytest.mark.clause("EP-01")
def test_valid_request_is_accepted_and_ingested_once(target: Transport, ingestion: Ingestion) -> None:
    """EP-01 (MUST): a valid request is answered 200 and its record is ingested exactly once."""
    expectation = expect(RequestShape(target.version))
    exchange = target.post(fields={"param1": "value1", "param2": 1234})
    check_outcome(exchange, expectation)
    ingestion.expect_outcome(exchange, expectation)


@pytest.mark.clause("EP-02")
def test_success_answer_is_an_empty_json_object(target: Transport) -> None:
    """EP-02 (MUST): a 200 answer is application/json, its body exactly {} with Content-Length 2."""
    check_empty_json_success(target.post())


@pytest.mark.clause("EP-03")
def test_connection_stays_open_for_twenty_requests(target: Transport) -> None:
    """EP-03 (SHOULD): 20 successive valid requests on one HTTP/1.1 connection are all answered."""
    with target.single_connection_client() as client:
        first = None
        for n in range(KEEP_ALIVE_REQUESTS):
            exchange = target.post(client=client)
            check_status(exchange, {200}, ["EP-03"], f" for request {n + 1} of {KEEP_ALIVE_REQUESTS}")
            assert exchange.response is not None
            if (exchange.response.header("connection") or "").lower() == "close":
                raise fail(
                    ["EP-03"], "the connection kept open", f"Connection: close on request {n + 1}", exchange
                )
            first = first or exchange.response.connection
            if exchange.response.connection != first:
                raise fail(
                    ["EP-03"],
                    "every answer on the first connection",
                    f"a new connection was needed for request {n + 1}",
                    exchange,
                )


@pytest.mark.clause("EP-04")
def test_success_answer_carries_strict_transport_security(target: Transport, info: Info) -> None:
    """EP-04 (SHOULD on v2, INFO on legacy): over https, a 200 carries HSTS with max-age >= 31536000."""
    if not target.is_https:
        pytest.skip("Strict-Transport-Security only means something over https; the target is http")
    exchange = target.post()
    check_status(exchange, {200}, ["EP-01"])
    assert exchange.response is not None
    value = exchange.response.header("strict-transport-security")
    match = re.search(r"max-age\s*=\s*\"?(\d+)", value or "", re.IGNORECASE)
    info.record("EP-04", f"Strict-Transport-Security: {value}" if value else "no Strict-Transport-Security")
    if match is None or int(match.group(1)) < HSTS_MIN_AGE:
        raise fail(
            ["EP-04"],
            f"Strict-Transport-Security: max-age>={HSTS_MIN_AGE}",
            f"Strict-Transport-Security: {value}",
            exchange,
        )


@pytest.mark.clause("EP-05")
def test_unknown_well_formed_key_is_answered_200(target: Transport) -> None:
    """EP-05 (MUST): a valid request with a well-formed but unknown key is answered 200 (validated later)."""
    credentials = Credentials(header=Cred.UNKNOWN)
    expectation = expect(RequestShape(target.version, **credentials.shape_fields()))
    check_outcome(target.post(credentials=credentials), expectation)
