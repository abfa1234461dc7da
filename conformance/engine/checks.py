"""The suite's checks: each compares one answer with the contract and fails with a clear message.

A failure is a :class:`ConformanceFailure` naming the clause IDs it violates, with the exchanges that show
it. Messages read ``Expected: ... / Received: ...``, then the request, the answer and a ``curl`` line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from conformance.contract.catalog import Level
from conformance.contract.model import Expectation, Ingest
from conformance.transport.exchange import Exchange


class ConformanceFailure(AssertionError):
    """A target did not do what a clause requires.

    ``level`` caps the clauses' catalog level for this failure only: where a clause makes one part weaker
    than the rest (BODY-01: floats, null, nested objects and arrays are SHOULD inside a MUST clause), a miss
    of that part is reported at the weaker level. None: the catalog level decides.
    """

    def __init__(
        self,
        clauses: Iterable[str],
        expected: str,
        received: str,
        exchanges: Iterable[Exchange] = (),
        level: Level | None = None,
    ):
        self.clauses = tuple(dict.fromkeys(clauses))
        self.expected = expected
        self.received = received
        self.exchanges = tuple(exchanges)
        self.level = level
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"[{', '.join(self.clauses)}]", f"Expected: {self.expected}", f"Received: {self.received}"]
        for exchange in self.exchanges:
            lines += [
                "",
                exchange.describe(),
                "Reproduce:",
                "    " + exchange.request.curl().replace("\n", "\n    "),
            ]
        return "\n".join(lines)


def fail(
    clauses: Iterable[str], expected: str, received: str, *exchanges: Exchange, level: Level | None = None
) -> ConformanceFailure:
    return ConformanceFailure(clauses, expected, received, exchanges, level)


# Weakest first: a failure's level cap can only lower a clause's level, never raise it.
LEVEL_STRENGTH = (Level.INFO, Level.SHOULD, Level.MUST)


def capped_level(level: Level, cap: Level | None) -> Level:
    """``level`` lowered to ``cap`` (None: no cap)."""
    if cap is None or LEVEL_STRENGTH.index(cap) >= LEVEL_STRENGTH.index(level):
        return level
    return cap


def _statuses(statuses: Iterable[int]) -> str:
    ordered = sorted(statuses)
    return ordered[0].__str__() if len(ordered) == 1 else " or ".join(str(s) for s in ordered)


def check_answered(exchange: Exchange, clauses: Iterable[str] = ("BODY-08",)) -> None:
    """BODY-08: an answer within the timeout, on an open connection, and not 5xx."""
    if exchange.response is None:
        raise fail(clauses, "an HTTP answer", f"no answer: {exchange.error}", exchange)
    if exchange.response.status >= 500:
        raise fail(clauses, "an answer that is not 5xx", f"status {exchange.response.status}", exchange)


def check_status(exchange: Exchange, allowed: Iterable[int], clauses: Iterable[str], why: str = "") -> None:
    allowed = frozenset(allowed)
    clauses = tuple(clauses)
    if exchange.response is None:
        raise fail(clauses, f"status {_statuses(allowed)}{why}", f"no answer: {exchange.error}", exchange)
    if exchange.response.status not in allowed:
        raise fail(
            clauses, f"status {_statuses(allowed)}{why}", f"status {exchange.response.status}", exchange
        )


def check_outcome(exchange: Exchange, expectation: Expectation) -> None:
    """The status the contract model allows for this request."""
    reason = f" ({'; '.join(expectation.reasons)})" if expectation.reasons else ""
    check_status(exchange, expectation.statuses, expectation.status_clauses, reason)


def check_empty_json_success(exchange: Exchange, clauses: Iterable[str] = ("EP-02",)) -> None:
    """EP-02: ``application/json``, body exactly ``{}``, Content-Length 2 unless chunked."""
    check_status(exchange, {200}, clauses)
    assert exchange.response is not None
    response = exchange.response
    if response.media_type != "application/json":
        raise fail(
            clauses,
            "Content-Type application/json",
            f"Content-Type {response.header('content-type')!r}",
            exchange,
        )
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if body != {} or response.body.strip() != b"{}":
        raise fail(clauses, "the body {}", f"the body {response.body[:200]!r}", exchange)
    length = response.header("content-length")
    chunked = (response.header("transfer-encoding") or "").lower() == "chunked"
    if not chunked and length != "2":
        raise fail(clauses, "Content-Length: 2", f"Content-Length: {length}", exchange)


def describe_ingest(ingest: Ingest) -> str:
    return {Ingest.MUST: "ingested exactly once", Ingest.MUST_NOT: "not ingested", Ingest.MAY: "either"}[
        ingest
    ]
