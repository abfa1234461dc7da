"""Hooks for the schemathesis CLI: keep only the findings a Postback clause backs.

    SCHEMATHESIS_HOOKS=conformance.schema.st_hooks st run openapi-v2.yaml --url ... -H "X-TD-Write-Key: ..."

``st run`` holds a target to the literal schemas of the spec's view. The contract (docs/requirements.md)
is the
oracle of this project, and it is looser in a few places: keys are validated after the answer (EP-05,
AUTH-08/09: a bad key may get 200), ``td_record_time`` and ``time`` values are not refused by any clause
(BODY-09), RESP-03 allows 404 as well as 405. This ``filter_failure`` hook reads every request as it was
sent, asks the contract model what it allows, and drops each finding no clause backs; the findings kept
are exactly the ones ``conformance/test_schema.py`` reports (without its control requests).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlsplit

import schemathesis

from conformance.contract.model import Cred
from conformance.contract.profile import Profile
from conformance.schema.judge import SERVER_ERROR, ContractReader
from conformance.schema.wire import PATH_SAFE, NotSendable, read_request
from conformance.transport.client import EVENT_PATH
from conformance.transport.exchange import Exchange, Received, SentRequest

VERSION_ENV = "POSTBACK_API_VERSION"


def api_version(raw_schema: dict[str, Any]) -> str:
    """The endpoint version of a per-version view (from $POSTBACK_API_VERSION, else from its schemes)."""
    explicit = os.environ.get(VERSION_ENV)
    if explicit in ("legacy", "v2"):
        return explicit
    schemes = raw_schema.get("components", {}).get("securitySchemes", {})
    return "v2" if "TD1Authorization" in schemes else "legacy"


def exchange_of(response: Any) -> Exchange:
    """A schemathesis ``Response`` (and its prepared request) as the suite's :class:`Exchange`."""
    request = response.request
    body = request.body or b""
    sent = SentRequest(
        method=str(request.method),
        url=str(request.url),
        headers=tuple((str(k), str(v)) for k, v in request.headers.items()),
        body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
    )
    headers = tuple((name, value) for name, values in response.headers.items() for value in values)
    received = Received(
        status=int(response.status_code), headers=headers, body=bytes(response.content or b"")
    )
    return Exchange("schemathesis", sent, received)


def backed_clauses(failure: Any, case: Any, response: Any) -> tuple[str, ...]:
    """The clauses that back a schemathesis finding (empty: no clause says the target is wrong)."""
    exchange = exchange_of(response)
    url = urlsplit(exchange.request.url)
    reader = ContractReader(api_version(case.operation.schema.raw_schema), Profile(), url.scheme == "https")
    try:
        wire = read_request(
            exchange.request.method,
            _quote(url.path),
            (),
            exchange.request.headers,
            exchange.request.body,
            None,
        )
    except NotSendable:  # a path no contract rule reads (dot segments): only a 5xx is still a fault
        return ("BODY-08",) if str(failure.code) in SERVER_ERROR else ()
    # The CLI sends whatever key it was given: a valid and a well-formed unknown key get the same answers.
    expectation = reader.expectation(wire, Cred.VALID)
    findings = reader.contract_findings(wire, Cred.VALID, expectation, exchange)
    contract = tuple(dict.fromkeys(c for f in findings for c in f.clauses))
    return reader.map_failure(failure, exchange, contract)


def _quote(path: str) -> str:
    """The endpoint part of a path as sent (a base URL may add a prefix before it), percent-encoded."""
    start = path.find(EVENT_PATH + "/")
    return quote(path[start:] if start > 0 else path, safe=PATH_SAFE)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep a finding only when a clause of docs/requirements.md backs it."""
    return bool(backed_clauses(failure, case, response))
