"""Differential attribution for the credential clauses (AUTH): a credential combination is judged only
where each of its parts alone got what the contract model expects, so a failure names the clause at fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.contract.model import (
    Authorization,
    Cred,
    Expectation,
    Ingest,
    RequestShape,
    effective_credential,
    expect,
)
from conformance.engine.checks import ConformanceFailure, check_outcome, fail
from conformance.engine.context import Ingestion, skip, undecidable
from conformance.readback.base import Expected
from conformance.transport.client import Transport
from conformance.transport.credentials import NO_CREDENTIALS, Credentials
from conformance.transport.exchange import Exchange

MAX_LISTED = 5
Note = Callable[[str, str], None]


def shape_of(version: str, credentials: Credentials) -> RequestShape:
    return RequestShape(version, **credentials.shape_fields())


def parts_of(version: str, credentials: Credentials) -> list[Credentials]:
    """The requests that try each part of ``credentials`` alone: its placement (spelling, scheme) with the
    valid key, and its key's kind in the canonical X-TD-Write-Key; no credential at all when the
    combination carries none the target may act on. The canonical valid request (AUTH-01) always."""
    parts = [Credentials()]
    keys: list[Cred] = []
    if credentials.header is not None:
        parts.append(Credentials(header_name=credentials.header_name))
        keys.append(credentials.header)
    if credentials.query is not None:
        parts.append(Credentials(header=None, query=Cred.VALID))
        keys.append(credentials.query)
    auth = credentials.authorization
    if auth is not None:
        if auth.scheme.lower() == "td1" and auth.key is not None:
            parts.append(Credentials(header=None, authorization=Authorization("TD1", Cred.VALID)))
        key = None if auth.key is None else Cred.VALID
        parts.append(Credentials(header=None, authorization=Authorization(auth.scheme, key)))
        if auth.key is not None:
            keys.append(auth.key)
    parts += [Credentials(header=key) for key in keys]
    if effective_credential(shape_of(version, credentials))[0] is None:
        parts.append(NO_CREDENTIALS)
    return [p for p in dict.fromkeys(parts) if p != credentials]


@dataclass
class Sent:
    """One request, the model's expectation for it, and (with read-back) what became of its record."""

    credentials: Credentials
    expectation: Expectation
    exchange: Exchange
    readback: Expected | None

    @property
    def status_held(self) -> bool:
        return self.exchange.status in self.expectation.statuses

    @property
    def ingest_held(self) -> bool:
        if self.readback is None or self.expectation.ingest is Ingest.MAY:
            return True
        found = len(self.readback.records)
        return found == 1 if self.expectation.ingest is Ingest.MUST else found == 0

    def outcome(self, read_back: bool = False) -> str:
        """The answer, and once read back (``read_back``) how often the record was ingested."""
        found = f", ingested {len(self.readback.records)} time(s)" if read_back and self.readback else ""
        return f"{self.credentials.describe()}: {self.exchange.outcome()}{found}"


class Attribution:
    """Differential attribution: sends a credential combination with its parts, judges it only where every
    part alone got what the model expects. Status now; ingestion after the run's single read-back.

    Not a dataclass: hypothesis prints a dataclass field by field in a falsifying example, and this one
    holds every exchange of the test.
    """

    def __init__(self, target: Transport, ingestion: Ingestion) -> None:
        self.target = target
        self.ingestion = ingestion
        self.parts: dict[Credentials, Sent] = {}
        self.pending: list[tuple[Sent, list[Sent]]] = []
        self.unjudged: list[str] = []
        self.judged_now = 0
        self.judge_registered = False

    def __repr__(self) -> str:
        return f"Attribution({self.target.spec.name})"

    def send(self, credentials: Credentials) -> Sent:
        exchange = self.target.post(credentials=credentials)
        expectation = expect(shape_of(self.target.version, credentials))
        readback = self.ingestion.observe(exchange)
        if readback is not None and not self.judge_registered:
            self.ingestion.after_readback(self._judge)
            self.judge_registered = True
        return Sent(credentials, expectation, exchange, readback)

    def part(self, credentials: Credentials) -> Sent:
        if credentials not in self.parts:
            self.parts[credentials] = self.send(credentials)
        return self.parts[credentials]

    def check(self, credentials: Credentials) -> Sent:
        """Send ``credentials``; fail now on a status the model rules out, register the ingestion check."""
        parts = [self.part(p) for p in parts_of(self.target.version, credentials)]
        sent = self.send(credentials)
        broken = [p for p in parts if not p.status_held]
        if broken:
            self.unjudged.append(_unjudged(sent, broken))
            return sent
        self.judged_now += 1
        check_outcome(sent.exchange, sent.expectation)
        if sent.readback is not None and sent.expectation.ingest is not Ingest.MAY:
            self.pending.append((sent, parts))
        return sent

    def finish(self) -> None:
        """At the end of a test: skip, saying why, when no request of it could be judged."""
        if self.unjudged and not self.judged_now:
            skip("; ".join(dict.fromkeys(self.unjudged)))

    def _judge(self, note: Note) -> list[str]:
        """After the read-back: the ingestion of every pending request whose parts held; returns the clauses
        whose ingestion was judged (only those can pass)."""
        wrong: list[Sent] = []
        unjudged: list[str] = []
        judged: list[str] = []
        pending: list[str] = []  # "never ingested" not decided: the target had not caught up
        late_clauses: set[str] = set()
        for sent, parts in self.pending:
            broken = [p for p in parts if not (p.status_held and p.ingest_held)]
            late = sent.readback and self.ingestion.not_caught_up(sent.readback)
            if broken:
                unjudged.append(_unjudged(sent, broken, read_back=True))
            elif not sent.ingest_held:
                wrong.append(sent)
            elif late and sent.expectation.ingest is Ingest.MUST_NOT:
                pending.append(f"{sent.credentials.describe()}: {late}")
                late_clauses.update(sent.expectation.ingest_clauses)
            else:
                judged.extend(sent.expectation.ingest_clauses)
        if wrong:
            raise _ingestion_failure(wrong)
        if pending and not judged:
            undecidable("; ".join(dict.fromkeys(pending)))
        if len(unjudged) == len(self.pending):  # nothing judged, now or after read-back: say why
            skip("; ".join(dict.fromkeys(self.unjudged + unjudged)) or "no ingestion to judge")
        return [c for c in judged if c not in late_clauses]  # a clause is decided when all its parts are


def _unjudged(sent: Sent, broken: list[Sent], read_back: bool = False) -> str:
    parts = "; ".join(f"{p.outcome(read_back)} ({', '.join(p.expectation.clauses)})" for p in broken)
    return f"{sent.credentials.describe()} not judged: its part alone already fails ({parts})"


def _ingestion_failure(wrong: list[Sent]) -> ConformanceFailure:
    first = wrong[0]
    want = {Ingest.MUST: "ingested exactly once", Ingest.MUST_NOT: "not ingested"}[first.expectation.ingest]
    received = first.outcome(read_back=True)
    if len(wrong) > 1:
        received += f" (and {len(wrong) - 1} more: " + "; ".join(s.outcome(True) for s in wrong[1:]) + ")"
    clauses = [c for s in wrong for c in s.expectation.ingest_clauses]
    expected = f"the record of {first.credentials.describe()} {want} ({'; '.join(first.expectation.reasons)})"
    return fail(clauses, expected, received, *(s.exchange for s in wrong[:MAX_LISTED]))
