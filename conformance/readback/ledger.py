"""The run's ledger of ingestion expectations, and its one polled wait.

Clauses decided by read-back do not wait per test. Tests register what they expect in the
:class:`Ledger`; after the last probe is sent the run polls the read-back with backoff, in a few batched
calls per poll, until every record that must arrive has arrived and the others have had as long as the
slowest arrival took plus a margin, never longer than one settle period; only then are the expectations
decided.

"Never ingested" is judged once the target has caught up: when the wait starts, a valid-key **barrier**
record (its own ``conformance_id``, field ``conformance_barrier``) goes to each table that such probes went
to (:class:`Barriers` says which; a table no valid record can reach shares its target's main table's). The
barrier is the last record sent and must arrive like any other, so the rule above then waits its arrival
plus the margin: one wait for the whole run, never shorter than the rule alone. A barrier not read back
within ``--settle`` leaves the "never ingested" parts of its tables undecided (:meth:`Ledger.caught_up`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import NamedTuple

from conformance.contract.fields import top_level_names
from conformance.contract.model import Ingest
from conformance.readback.base import (
    Barriers,
    Expected,
    ReadbackError,
    Record,
    RecordSource,
    kept,
    poll,
)

# The wait ends when every MUST record has arrived and the last probe sent has had as long as the slowest
# arrival seen took, plus this margin (a fraction of it, at least MIN_MARGIN seconds).
MIN_MARGIN = 1.0
MARGIN_FRACTION = 0.5
BACKOFF = 1.5
WINDOW_SLACK = 3600  # seconds around the run's sends that the time window of a td read-back includes
Progress = Callable[[int, int, float], None]  # (records found, records expected, seconds left)


Key = tuple[str, str, str]  # (target, database, table)


class Ledger:
    """Collects expectations during the run and reads back once: one polled wait of at most one settle."""

    def __init__(
        self, settle: float, readbacks: dict[str, RecordSource], barriers: Barriers | None = None
    ) -> None:
        self.settle = settle
        self.readbacks = readbacks
        self.barriers = barriers
        self.entries: dict[str, list[Expected]] = defaultdict(list)
        self.judgements: dict[str, list[Callable[[Callable[[str, str], None]], Iterable[str] | None]]] = {}
        self.never: set[Key] = set()  # where probes that must never be ingested went
        self.barrier_of: dict[Key, Key] = {}  # such a table -> the table of the barrier standing for it
        self.barrier_entries: dict[Key, Expected] = {}
        self.last_send = 0.0
        self.resolved = False
        self.error: str | None = None
        self.waited = 0.0
        self.polls = 0
        self.stopped = "nothing to read back"  # why the wait ended (results.json "readback")
        self.progress: Progress | None = None
        self._lock = threading.Lock()
        # Per probe record, what every poll asks of its sent body (fields, time values): read once, as a
        # big body is kept compressed (conformance.transport.exchange).
        self._sent: dict[tuple[str, str], Sent] = {}

    def add(self, entry: Expected) -> None:
        with self._lock:
            if self.resolved:
                # Late registration (a test run after the read-back): resolve it on its own.
                self.last_send = time.monotonic()
                self._settle([entry])
            self.entries[entry.nodeid].append(entry)
            if entry.ingest is not Ingest.MUST:  # "never ingested", or observed: either may be absent
                self.never.add((entry.target, entry.database, entry.table))
            self.last_send = time.monotonic()

    def never_ingested(self, target: str, database: str, table: str) -> None:
        """A probe that must never be ingested went to ``table`` without an expectation of its own (an
        empty body carries no ID): the barrier covers that table too."""
        with self._lock:
            self.never.add((target, database, table))

    def caught_up(self, target: str, database: str, table: str) -> bool | None:
        """Whether the barrier standing for ``table`` was read back (the target processed what was sent
        before it); None where the run sends no barriers (every wait is the whole rule alone)."""
        if self.barriers is None:
            return None
        key = self.barrier_of.get((target, database, table))
        entry = self.barrier_entries.get(key) if key is not None else None
        return entry is not None and bool(entry.records)

    def barrier_waits(self) -> dict[str, dict[str, float | None]]:
        """Per target: "database.table" -> seconds until its barrier was seen (None: never)."""
        out: dict[str, dict[str, float | None]] = defaultdict(dict)
        for (target, database, table), entry in self.barrier_entries.items():
            out[target][f"{database}.{table}"] = (
                round(entry.arrived_after, 3) if entry.arrived_after is not None else None
            )
        return dict(out)

    def resolve(self) -> None:
        """Send the barriers, poll the read-back until the records have settled (at most one settle
        period), then decide."""
        with self._lock:
            if self.resolved:
                return
            self.resolved = True
            pending = [e for entries in self.entries.values() for e in entries]
            started = time.monotonic()
            try:
                pending += self._send_barriers()
                self._settle(pending)
            except ReadbackError as exc:
                self.error = str(exc)
                self.stopped = "read-back failed"
            except Exception as exc:  # a read-back backend's own failure (td-client...): one line
                self.error = f"read-back failed: {type(exc).__name__}: {exc}"
                self.stopped = "read-back failed"
            self.waited = time.monotonic() - started

    def _send_barriers(self) -> list[Expected]:
        if self.barriers is None:
            return []
        for key in sorted(self.never):
            if key[0] in self.readbacks:
                self.barrier_of[key] = (key[0], *self.barriers.table_for(*key))
        for key in sorted(set(self.barrier_of.values())):
            entry = self.barriers.send(*key)
            if entry is not None:
                self.barrier_entries[key] = entry
        if self.barrier_entries:
            self.last_send = time.monotonic()
        return list(self.barrier_entries.values())

    def _settle(self, entries: list[Expected]) -> None:
        if not entries:
            return
        deadline = self.last_send + self.settle
        must = [e for e in entries if e.ingest is Ingest.MUST]
        interval = min((self.readbacks[e.target].poll_min for e in entries), default=0.2)
        interval_max = max((self.readbacks[e.target].poll_max for e in entries), default=2.0)
        previous: float | None = None
        # No record can have settled sooner than the margin after the last send: the first look waits that
        # long, so that a prompt target is judged in one poll (on td, each poll is a billed query per table).
        time.sleep(max(0.0, min(self.last_send + MIN_MARGIN, deadline) - time.monotonic()))

        def look(left: float) -> bool:
            nonlocal previous
            previous = self._read(entries, previous)
            found = sum(1 for e in must if e.records)
            if self.progress is not None and self.settle > 0:
                self.progress(found, len(must), max(deadline - time.monotonic(), 0.0))
            return self._settled(entries, must, time.monotonic())

        if poll(look, deadline, interval, interval_max, BACKOFF):
            self.stopped = "barrier + margin" if self.barrier_entries else "all arrived"
        else:
            self.stopped = "settle reached"

    def _settled(self, entries: list[Expected], must: list[Expected], now: float) -> bool:
        """Every MUST record arrived, and the last probe sent has had the slowest arrival seen plus a margin.

        Every record that arrived (MUST, or MAY: a test judging what it observes) measures the pipeline's
        delay. With no record arrived there is nothing to measure: the whole settle period is waited.
        """
        arrived = [e.arrived_after for e in entries if e.arrived_after is not None]
        if not arrived or not all(e.records for e in must):
            return False
        slowest = max(arrived)
        margin = max(MIN_MARGIN, MARGIN_FRACTION * slowest)
        return now - self.last_send >= slowest + margin

    def _read(self, entries: list[Expected], previous: float | None = None) -> float:
        """Read every entry's records; returns the wall time of this poll (``previous``: of the last one).

        One batched read per table over the run's time window, plus one per ``time`` value a probe was sent
        with outside that window (a record keeps the ``time`` it was sent with; TD may take
        ``td_record_time``), so a td read-back never scans a table's whole history.
        """
        self.polls += 1
        polled = time.time()
        window = run_window(entries)
        groups: dict[tuple[str, str, str, tuple[int, int]], list[Expected]] = defaultdict(list)
        for entry in entries:
            groups[(entry.target, entry.database, entry.table, window)].append(entry)
            if not self.readbacks[entry.target].windowed:
                continue  # the window is ignored: the one read already holds every record
            for value in self._sent_of(entry).times:
                if not window[0] <= value < window[1]:
                    groups[(entry.target, entry.database, entry.table, (value, value + 1))].append(entry)
        by_id: dict[tuple[str, str, str, str], list[Record]] = {}
        for (target, database, table, span), group in groups.items():
            ids = list(dict.fromkeys(e.conformance_id for e in group))
            fields = list(dict.fromkeys(f for e in group for f in self._sent_of(e).fields))
            source = self.readbacks[target]
            # A backend that reads a batch of IDs a request (protocol v1) is asked a batch at a time, and
            # each batch's records kept as they come (compressed when big): a read of many padded probes
            # never holds them all at once.
            sizes = {e.conformance_id: self._sent_of(e).size for e in group}
            for batch in _batches(ids, sizes, source.batch):
                fetched: dict[tuple[str, str, str, str], list[Record]] = defaultdict(list)
                for record in source.records(database, table, batch, span, fields):
                    fetched[(target, database, table, str(record.get("conformance_id")))].append(record)
                for key, records in fetched.items():
                    by_id[key] = kept([*by_id.get(key, ()), *records])
        for entry in entries:
            entry.records = by_id.get((entry.target, entry.database, entry.table, entry.conformance_id), [])
            if entry.records and entry.arrived_after is None:
                unseen_until = previous if previous is not None else entry.sent_at
                entry.arrived_after = max(unseen_until - entry.sent_at, 0.0)
        return polled

    def _sent_of(self, entry: Expected) -> Sent:
        key = (entry.target, entry.conformance_id)
        found = self._sent.get(key)
        if found is None:
            body = entry.exchange.request.body
            found = self._sent[key] = Sent(top_level_names(body), sent_times(body), len(body))
        return found


class Sent(NamedTuple):
    """What every poll asks of a probe's sent body: its top-level field names, its ``time`` values, its
    size."""

    fields: list[str]
    times: list[int]
    size: int


BATCH_BYTES = 8 << 20  # sent bytes a batched read asks back at most (unless one record is bigger)


def _batches(ids: list[str], sizes: dict[str, int], most: int | None) -> Iterable[list[str]]:
    """``ids`` in batches of at most ``most`` (None: all at once) and about BATCH_BYTES of sent records."""
    if most is None:
        yield ids
        return
    batch: list[str] = []
    held = 0
    for cid in ids:
        if batch and (len(batch) >= most or held + sizes.get(cid, 0) > BATCH_BYTES):
            yield batch
            batch, held = [], 0
        batch.append(cid)
        held += sizes.get(cid, 0)
    if batch:
        yield batch


def run_window(entries: list[Expected]) -> tuple[int, int]:
    """UNIX seconds [start, end) around the run's sends: where a record stamped with its receive time lies."""
    return int(min(e.sent_at for e in entries) - WINDOW_SLACK), int(time.time() + WINDOW_SLACK)


def sent_times(sent: bytes) -> list[int]:
    """The integer ``time`` and ``td_record_time`` values a probe body carries."""
    try:
        body = json.loads(sent)
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    values = [body.get("time"), body.get("td_record_time")]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
