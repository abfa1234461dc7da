"""Read-back (CONTRACT.md, protocol v1): what did the target ingest?

Clauses decided by read-back do not wait per test. Tests register what they expect in the
:class:`Ledger`; after the last probe is sent the run waits once for the settle period, reads every
record back in a few batched calls, and only then are the expectations decided.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.contract.model import Ingest
from conformance.transport.exchange import Exchange
from conformance.transport.redact import Redactor

BATCH = 50
Record = dict[str, Any]
Check = Callable[[Record], str | None]


class ReadbackError(Exception):
    """The read-back service failed; the message is redacted and says what to check."""


class ReadbackClient:
    def __init__(self, url: str, client: httpx.Client, redactor: Redactor) -> None:
        self.url = url.rstrip("/")
        self.client = client
        self.redact = redactor

    def records(self, database: str, table: str, ids: Sequence[str]) -> list[Record]:
        out: list[Record] = []
        for start in range(0, max(len(ids), 1), BATCH):
            params: list[tuple[str, str | int | float | bool | None]] = [
                ("database", database),
                ("table", table),
            ]
            params += [("conformance_id", cid) for cid in ids[start : start + BATCH]]
            out.extend(self._get(params))
        return out

    def _get(self, params: list[tuple[str, str | int | float | bool | None]]) -> list[Record]:
        try:
            response = self.client.get(f"{self.url}/records", params=params)
        except httpx.HTTPError as exc:
            raise ReadbackError(f"read-back service {self.url} failed: {self.redact(str(exc))}") from None
        if response.status_code != 200:
            raise ReadbackError(f"read-back service {self.url} answered {response.status_code}")
        try:
            records = response.json()["records"]
        except (ValueError, KeyError, TypeError):
            raise ReadbackError(f'read-back service {self.url} did not answer {{"records": [...]}}') from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ReadbackError(f"read-back service {self.url}: records must be a list of objects")
        return records


@dataclass
class Expected:
    """One ingestion expectation: a probe record that must, must not or may be ingested."""

    nodeid: str
    target: str
    database: str
    table: str
    conformance_id: str
    ingest: Ingest
    clauses: tuple[str, ...]
    exchange: Exchange
    check: Check | None = None
    records: list[Record] = field(default_factory=list)


class Ledger:
    """Collects expectations during the run and reads back once, after one settle period."""

    def __init__(self, settle: float, readbacks: dict[str, ReadbackClient]) -> None:
        self.settle = settle
        self.readbacks = readbacks
        self.entries: dict[str, list[Expected]] = defaultdict(list)
        self.judgements: dict[str, list[Callable[[Callable[[str, str], None]], Iterable[str] | None]]] = {}
        self.last_send = 0.0
        self.resolved = False
        self.error: str | None = None
        self.waited = 0.0
        self._lock = threading.Lock()

    def add(self, entry: Expected) -> None:
        with self._lock:
            if self.resolved:
                # Late registration (a test run after the read-back): resolve it on its own.
                self._read([entry], wait=True)
            self.entries[entry.nodeid].append(entry)
            self.last_send = time.monotonic()

    def resolve(self) -> None:
        """Wait out the settle period once, then read every registered record back in batches."""
        with self._lock:
            if self.resolved:
                return
            self.resolved = True
            pending = [e for entries in self.entries.values() for e in entries]
            started = time.monotonic()
            try:
                self._read(pending, wait=True)
            except ReadbackError as exc:
                self.error = str(exc)
            self.waited = time.monotonic() - started

    def _read(self, entries: list[Expected], wait: bool) -> None:
        if wait and entries:
            remaining = self.last_send + self.settle - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
        groups: dict[tuple[str, str, str], list[Expected]] = defaultdict(list)
        for entry in entries:
            groups[(entry.target, entry.database, entry.table)].append(entry)
        for (target, database, table), group in groups.items():
            ids = [e.conformance_id for e in group]
            by_id: dict[str, list[Record]] = defaultdict(list)
            for record in self.readbacks[target].records(database, table, ids):
                by_id[str(record.get("conformance_id"))].append(record)
            for entry in group:
                entry.records = by_id.get(entry.conformance_id, [])
