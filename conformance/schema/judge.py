"""Deciding one generated request: the contract's checks, schemathesis' checks, the clauses a miss violates.

The oracle is the contract model (CONTRIBUTING.md): the statuses a request may get come from
``expect(RequestShape(...))``, read from the request as sent. schemathesis' built-in checks run on every
answer too, tuned to the contract; each finding is mapped to the clause that backs it, and a finding no
clause backs (e.g. the form of the ``Date`` header) is shown beside a failure but never fails a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conformance.contract.model import (
    Body,
    Cred,
    Expectation,
    PathShape,
    allowed_statuses,
    expect,
)
from conformance.contract.profile import Profile
from conformance.engine.checks import ConformanceFailure, check_empty_json_success
from conformance.engine.probes import body_key
from conformance.schema.loader import PROBED_METHODS
from conformance.schema.wire import WireRequest
from conformance.transport.client import Transport
from conformance.transport.credentials import Credentials
from conformance.transport.exchange import Exchange

# schemathesis failure codes (schemathesis.core.failures, schemathesis.openapi.checks).
SERVER_ERROR = frozenset({"ST101", "ST102"})
UNDOCUMENTED_STATUS = "ST103"
DATA_VERDICTS = frozenset({"ST201", "ST202"})  # accepted negative data, rejected positive data
MEDIA_AND_BODY = frozenset({"ST104", "ST105", "ST106", "ST109", "ST110"})
MISSING_HEADERS = "ST107"
UNSUPPORTED_METHOD = "ST204"
SCHEMA_VIOLATION = "ST108"
HEADER_TITLE = "Response header does not conform to the schema"


@dataclass(frozen=True)
class Finding:
    """One way an answer misses the contract: the clauses it violates, what was expected, what came."""

    clauses: tuple[str, ...]
    expected: str
    received: str


@dataclass(frozen=True)
class Verdict:
    """Everything found about one exchange; ``failure`` is None when the answer is right."""

    exchange: Exchange
    expectation: Expectation
    findings: tuple[Finding, ...]
    schemathesis: tuple[str, ...]  # titles of schemathesis' findings, mapped or not

    @property
    def clauses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for f in self.findings for c in f.clauses))

    def failure(self, context: str) -> ConformanceFailure | None:
        if not self.findings:
            return None
        expected = "; ".join(dict.fromkeys(f.expected for f in self.findings))
        received = "; ".join(dict.fromkeys(f.received for f in self.findings))
        if self.schemathesis:
            received += " [schemathesis: " + "; ".join(self.schemathesis) + "]"
        return ConformanceFailure(self.clauses, f"{expected} — {context}", received, [self.exchange])


# Answers that refuse a key ([V2] "API key validation": an unknown key is answered 200, EP-05).
STAND_IN_REFUSALS = frozenset({401, 403})


def _statuses(statuses: Iterable[int]) -> str:
    ordered = sorted(statuses)
    if len(ordered) > 6:
        return f"{ordered[0]}..{ordered[-1]}"
    return " or ".join(str(s) for s in ordered)


def error_body_problem(exchange: Exchange) -> str | None:
    """RESP-02 ([TD-OAS]: every answer is application/json): a 4xx answer is JSON, labelled as such."""
    response = exchange.response
    if response is None or not 400 <= response.status < 500:
        return None
    if response.media_type != "application/json":
        return f"a {response.status} answer with Content-Type {response.header('content-type')!r}"
    try:
        json.loads(response.body)
    except ValueError:
        return f"a {response.status} answer whose body is not JSON: {response.body[:80]!r}"
    return None


def success_body_problem(exchange: Exchange) -> Finding | None:
    """EP-02 ([L] Example, [V2] Sample Request): a 200 is application/json, body {}, Content-Length 2."""
    if exchange.status != 200:
        return None
    try:
        check_empty_json_success(exchange)
    except ConformanceFailure as failure:
        return Finding(failure.clauses, failure.expected, failure.received)
    return None


def to_schemathesis_response(exchange: Exchange) -> Any:
    """The answer as a ``schemathesis.Response``, its request rebuilt from the redacted request as sent."""
    import requests
    from schemathesis import Response

    sent, got = exchange.request, exchange.response
    assert got is not None
    headers: dict[str, list[str]] = {}
    for name, value in got.headers:
        headers.setdefault(name.lower(), []).append(value)
    prepared = requests.Request(
        method=sent.method, url=sent.url, headers=dict(sent.headers), data=sent.body or None
    ).prepare()
    return Response(
        status_code=got.status,
        headers=headers,
        content=got.body,
        request=prepared,
        elapsed=got.elapsed,
        verify=True,
        http_version=got.http_version.removeprefix("HTTP/"),
    )


class ContractReader:
    """The contract's reading of answers to requests on one endpoint version: no I/O.

    Used by :class:`Judge` for the suite's own requests, and by :mod:`conformance.schema.st_hooks` to
    filter the findings of the schemathesis CLI.
    """

    def __init__(self, version: str, profile: Profile, https: bool) -> None:
        self.version = version
        self.profile = profile
        self.https = https
        self.allowed = allowed_statuses(version, profile)

    def expectation(self, wire: WireRequest, credential: Cred) -> Expectation:
        return expect(wire.shape(self.version, credential), self.profile)

    def in_contract(self, method: str) -> bool:
        return method == "POST" or method in PROBED_METHODS

    def status_clauses(
        self, wire: WireRequest, credential: Cred, expectation: Expectation, exchange: Exchange
    ) -> tuple[tuple[str, ...], str]:
        """The clauses a status misses, and a note on how they were told apart (control requests)."""
        status = exchange.status
        crashed = status is None or status >= 500
        if not crashed and status in expectation.statuses:
            return (), ""
        if credential is Cred.UNKNOWN and status in STAND_IN_REFUSALS:
            # The unknown key stands in for the valid key on generated names (docs/contract.md, Probe
            # records):
            # refusing it synchronously is EP-05's violation, not the name's or the body's.
            return ("EP-05",), "a well-formed unknown key refused: key validity is decided later (EP-05)"
        clauses: list[str] = ["BODY-08"] if crashed else []  # BODY-08: never 5xx, never without an answer
        note = ""
        if not self.in_contract(wire.method):
            return tuple(clauses), note
        if 200 not in expectation.statuses:
            clauses += expectation.status_clauses  # the rule that makes it a refusal: NAME-02, BODY-03, ...
        elif not crashed and (expectation.statuses == {200} or status in self.allowed):
            # An acceptable request refused (an undocumented status where several are allowed: RESP-01 only).
            blamed, note = self.blame(wire, credential, expectation)
            clauses += blamed
        if wire.method == "POST" and not crashed and status not in self.allowed:
            clauses.append("RESP-01")  # RESP-01: a status the contract has no place for
        return tuple(dict.fromkeys(clauses)), note

    def blame(
        self, wire: WireRequest, credential: Cred, expectation: Expectation
    ) -> tuple[tuple[str, ...], str]:
        """Which part of an acceptable request the target refused; without control requests, the clauses
        the contract gives the request as a whole."""
        return expectation.status_clauses, ""

    def contract_findings(
        self, wire: WireRequest, credential: Cred, expectation: Expectation, exchange: Exchange
    ) -> list[Finding]:
        findings: list[Finding] = []
        clauses, note = self.status_clauses(wire, credential, expectation, exchange)
        if clauses:
            reasons = "; ".join(expectation.reasons)
            statuses = _statuses(expectation.statuses) if self.in_contract(wire.method) else "not 5xx"
            received = exchange.outcome() if exchange.response is None else f"status {exchange.status}"
            findings.append(
                Finding(clauses, f"status {statuses} ({reasons})", received + (f" ({note})" if note else ""))
            )
        if (problem := success_body_problem(exchange)) is not None:
            findings.append(problem)
        if (text := error_body_problem(exchange)) is not None:
            findings.append(
                Finding(("RESP-02",), "a 4xx answer of media type application/json with a JSON body", text)
            )
        return findings

    def map_failure(self, failure: Any, exchange: Exchange, contract: tuple[str, ...]) -> tuple[str, ...]:
        """The clauses that back a schemathesis finding on this exchange (none: no clause says so)."""
        code = str(failure.code)
        status = exchange.status or 0
        if code in SERVER_ERROR:
            return ("BODY-08",)
        if code == UNDOCUMENTED_STATUS:
            return tuple(c for c in contract if c in ("BODY-08", "RESP-01"))
        if code in DATA_VERDICTS:
            return contract
        if code == UNSUPPORTED_METHOD:
            return ("RESP-03",) if status not in (404, 405) else ()  # RESP-03: 404 or 405, no Allow needed
        if code in MEDIA_AND_BODY or (code == SCHEMA_VIOLATION and failure.title != HEADER_TITLE):
            if status == 200 and success_body_problem(exchange) is not None:
                return ("EP-02",)
            if error_body_problem(exchange) is not None:
                return ("RESP-02",)
            return ()
        if code in (MISSING_HEADERS, SCHEMA_VIOLATION):
            return self._header_clauses(failure, exchange)
        return ()  # e.g. ignored_auth: keys are validated after the answer (EP-05, AUTH-08, AUTH-09)

    def _header_clauses(self, failure: Any, exchange: Exchange) -> tuple[str, ...]:
        response = exchange.response
        if response is None:
            return ()
        instance = str(getattr(failure, "instance", ""))
        if instance and instance == response.header("content-length"):
            return ("EP-02",)  # EP-02: Content-Length 2
        if instance and instance == response.header("strict-transport-security") and self.https:
            return ("EP-04",)  # EP-04: over https only (skipped on http)
        return ()


class Judge(ContractReader):
    """Sends generated requests to one target and decides each answer."""

    def __init__(self, target: Transport, profile: Profile) -> None:
        super().__init__(target.version, profile, target.is_https)
        self.target = target
        self.names = (target.spec.database, target.spec.table)

    def credential_for(self, wire: WireRequest) -> Cred:
        """The credential a request carries: the valid key only to the run's database and table, for a body of
        documented fields (docs/contract.md, "Probe records"; schemathesis draws any member names, each a new
        column on Treasure Data); else a well-formed unknown key, which must be answered
        like a valid one (EP-05), so the answer still decides the names, and is never ingested."""
        if (wire.database, wire.table) == self.names and body_key(self.target, wire.body) is Cred.VALID:
            return Cred.VALID
        return Cred.UNKNOWN

    def send(self, wire: WireRequest, credential: Cred, body_note: str = "") -> Exchange:
        headers, query = Credentials(header=credential).materialise(self.target.keys)
        return self.target.request(
            wire.method,
            wire.raw_path,
            query=[*wire.query, *query],
            headers=[*wire.headers, *headers],
            body=wire.body,
            conformance_id=wire.conformance_id,
            body_note=body_note,
        )

    def blame(
        self, wire: WireRequest, credential: Cred, expectation: Expectation
    ) -> tuple[tuple[str, ...], str]:
        """Which part of an acceptable request the target refused, told apart by at most two controls.

        First the same request to the run's names (a refusal of the generated names: NAME-01, or NAME-05
        for lengths the profile leaves open), then a plain probe record there (a refusal of the generated
        body: EP-01, or BODY-08 for a body a target may refuse only with 200, 400 or 413); if even that is
        refused, the clauses the contract gives a plain request with this credential (e.g. EP-05).
        """
        ids = self.target.ids
        if wire.path is PathShape.OK and (wire.database, wire.table) != self.names:
            control = self.send(wire.variant(ids, names=self.names), credential)
            if control.status == 200:
                note = "the same request to the run's database and table was answered 200"
                return (("NAME-05",) if "NAME-05" in expectation.status_clauses else ("NAME-01",)), note
        body, cid = self.target.probe_body()
        plain = wire.variant(ids, names=self.names, body=body, kind=Body.OBJECT, conformance_id=cid)
        control = self.send(plain, credential)
        if control.status == 200:
            note = "a plain probe record with the same names and headers was answered 200"
            return (("BODY-08",) if wire.kind is Body.STRESS else ("EP-01",)), note
        note = f"a plain probe record with the same credential was answered {control.outcome()} too"
        return self.expectation(plain, credential).status_clauses, note

    # -- schemathesis' checks ------------------------------------------------------------------------------
    def schemathesis_failures(self, case: Any, expectation: Expectation, exchange: Exchange) -> list[Any]:
        """schemathesis' built-in checks that fit this API, on this answer (none without an answer)."""
        from schemathesis.checks import not_a_server_error
        from schemathesis.core.failures import FailureGroup
        from schemathesis.specs.openapi import checks as oas

        if exchange.response is None:
            return []
        checks = [
            not_a_server_error,
            oas.status_code_conformance,
            oas.content_type_conformance,
            oas.response_headers_conformance,
            oas.response_schema_conformance,
        ]
        mode = case.meta.generation.mode.value if case.meta is not None else ""
        # Only where the contract agrees with the spec's schemas on the request: the spec is stricter than
        # the contract on td_record_time and time (wire._open_field_problem), and a body may be refused.
        if mode == "negative" and 200 not in expectation.statuses:
            checks.append(oas.negative_data_rejection)
        if mode == "positive" and expectation.statuses == frozenset({200}):
            checks.append(oas.positive_data_acceptance)
        try:
            case.validate_response(to_schemathesis_response(exchange), checks=checks)
        except FailureGroup as group:
            return list(group.exceptions)
        return []

    # -- one request -------------------------------------------------------------------------------------
    def decide(self, case: Any | None, wire: WireRequest, credential: Cred, exchange: Exchange) -> Verdict:
        """The verdict on one answer; ``case`` None for the suite's own probes (no schemathesis checks)."""
        expectation = self.expectation(wire, credential)
        findings = self.contract_findings(wire, credential, expectation, exchange)
        contract = tuple(dict.fromkeys(c for f in findings for c in f.clauses))
        titles: list[str] = []
        failures = self.schemathesis_failures(case, expectation, exchange) if case is not None else []
        for failure in failures:
            mapped = self.map_failure(failure, exchange, contract)
            titles.append(f"{failure.title} ({failure.code}{' -> ' + ', '.join(mapped) if mapped else ''})")
            extra = tuple(c for c in mapped if c not in contract)
            if extra:  # a finding only schemathesis makes (e.g. an HSTS value over https)
                message = " ".join(str(failure.message).split())[:200]
                findings.append(
                    Finding(extra, f"an answer that passes schemathesis' {failure.title}", message)
                )
                contract += extra
        return Verdict(exchange, expectation, tuple(findings), tuple(titles))
