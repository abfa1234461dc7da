"""CUT-01's machinery: drawn requests sent to both targets of a cutover comparison (legacy, v2), status
differences failed at once, ingestion outcomes compared after the run's single read-back.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.cutover.compare import Observed
from conformance.cutover.differential import SharedRequest
from conformance.engine.checks import fail
from conformance.engine.context import Ingestion
from conformance.engine.run import Run
from conformance.readback.base import Expected
from conformance.transport.client import Transport, event_path
from conformance.transport.credentials import Credentials
from conformance.transport.exchange import Exchange

MAX_LISTED = 5  # differences listed with their exchanges in one failure
EVIDENCE = 5  # exchanges pairs a passing comparison keeps for the report
MAX_TABLES = 10  # distinct <table>_<suffix> tables read back (one read-back query each per target)
MAX_UNANSWERED = 3  # requests without an answer before the property stops sending


def ingested(entry: Expected | None) -> bool | None:
    return None if entry is None else bool(entry.records)


class Pending:
    """One drawn request sent to both targets, its records to be read back after the settle period."""

    def __init__(self, text: str, exchanges: tuple[Exchange, Exchange], entries: tuple[Expected, Expected]):
        self.text = text
        self.exchanges = exchanges
        self.entries = entries

    def observed(self) -> tuple[Observed, Observed]:
        return (
            Observed(self.exchanges[0].status, ingested(self.entries[0])),
            Observed(self.exchanges[1].status, ingested(self.entries[1])),
        )


class Differential:
    """Sends drawn requests to (legacy, v2); a status difference fails now (hypothesis shrinks it), the
    ingestion outcomes of at most ``readback_budget`` requests (in at most MAX_TABLES tables) are compared
    after the read-back. A request one side does not answer is not shrunk (each try could wait out the
    timeout): it is listed after the property, and after MAX_UNANSWERED of them nothing more is sent.

    Not a dataclass: hypothesis would print every exchange it holds in a falsifying example.
    """

    def __init__(
        self,
        pair: tuple[Transport, Transport],
        ingestion: tuple[Ingestion, Ingestion],
        run: Run,
        nodeid: str,
        readback_budget: int,
    ) -> None:
        self.pair = pair
        self.ingestion = ingestion
        self.run = run
        self.nodeid = nodeid
        self.readback_budget = readback_budget
        self.sent = 0
        self.pending: list[Pending] = []
        self.tables: set[str] = set()
        self.unanswered: list[tuple[str, tuple[Exchange, Exchange]]] = []

    def __repr__(self) -> str:
        return "Differential(legacy, v2)"

    def names(self, side: Transport, request: SharedRequest) -> tuple[str, str]:
        return request.names(side.spec.database, side.spec.table)

    def send(self, side: Transport, request: SharedRequest) -> Exchange:
        database, table = self.names(side, request)
        cid = side.ids.next()
        body = request.body(cid)
        note = f"a JSON object padded to {len(body):,} bytes" if len(body) > 2048 else ""
        return side.post(
            credentials=Credentials(header=request.key, header_name=request.header_name),
            raw_path=event_path(database, table),
            body=body,
            conformance_id=cid,
            body_note=note,
        )

    def check(self, request: SharedRequest) -> None:
        """CUT-01 (MUST): the same status from both; the ingestion outcome is registered for read-back."""
        legacy, v2 = self.pair
        if len(self.unanswered) >= MAX_UNANSWERED:
            return
        exchanges = self.send(legacy, request), self.send(v2, request)
        self.sent += 1
        if self.sent <= EVIDENCE:
            self.run.record_evidence(self.nodeid, *exchanges)
        text = request.describe(legacy.spec.database, legacy.spec.table)
        if exchanges[0].response is None or exchanges[1].response is None:
            self.unanswered.append((text, exchanges))
            return
        if exchanges[0].status != exchanges[1].status:
            raise fail(
                ["CUT-01"],
                "the same status on legacy and v2 (inside the contract both versions share)",
                f"{text}: {both(exchanges)}",
                *exchanges,
            )
        table = self.names(legacy, request)[1]
        if not request.in_run_space() or len(self.pending) >= self.readback_budget:
            return
        if table in self.tables or len(self.tables) < MAX_TABLES:
            self.tables.add(table)
            self._observe(text, request, exchanges)

    def check_answered(self) -> None:
        """CUT-01 (MUST): both targets answer every request inside the shared contract."""
        if self.unanswered:
            lines = [f"[{n}] {text}: {both(x)}" for n, (text, x) in enumerate(self.unanswered, 1)]
            raise fail(
                ["CUT-01"],
                "an answer from both targets to every request inside the shared contract",
                f"{len(self.unanswered)} request(s) without an answer:\n" + "\n".join(lines),
                *[x for _, pair in self.unanswered[:MAX_LISTED] for x in pair],
            )

    def _observe(self, text: str, request: SharedRequest, exchanges: tuple[Exchange, Exchange]) -> None:
        entries = []
        for side, ingestion, exchange in zip(self.pair, self.ingestion, exchanges, strict=True):
            database, table = self.names(side, request)
            entries.append(ingestion.observe(exchange, database=database, table=table))
        if entries[0] is None or entries[1] is None:
            return
        if not self.pending:
            self.ingestion[0].after_readback(self.judge_ingestion)
        self.pending.append(Pending(text, exchanges, (entries[0], entries[1])))

    def judge_ingestion(self, record: Callable[[str, str], None]) -> None:
        """CUT-01 (MUST), after the settle period: each read-back request ingested on both or on neither."""
        differing = [p for p in self.pending if p.observed()[0].ingested != p.observed()[1].ingested]
        if differing:
            lines = [
                f"[{n}] {p.text}: legacy {p.observed()[0].describe()}; v2 {p.observed()[1].describe()}"
                for n, p in enumerate(differing, 1)
            ]
            raise fail(
                ["CUT-01"],
                "the same ingestion outcome on legacy and v2 (inside the contract both versions share)",
                f"{len(differing)} of {len(self.pending)} requests read back differ:\n" + "\n".join(lines),
                *[x for p in differing[:MAX_LISTED] for x in p.exchanges],
            )
        record("CUT-01", f"{len(self.pending)} drawn requests read back: the same ingestion outcome on both")


def answer(exchange: Exchange) -> str:
    return f"no answer ({exchange.error})" if exchange.response is None else str(exchange.status)


def both(exchanges: tuple[Exchange, Exchange]) -> str:
    return f"legacy {answer(exchanges[0])}; v2 {answer(exchanges[1])}"
