"""SQLite storage of the records the reference target ingests, with an optional read-back lag.

Self-contained on purpose: the reference target shares no code with the suite, whose oracle must stay
independent of it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any

MEMORY = ":memory:"

# SQLite limits the number of bound parameters per statement (999 before 3.32): query ids in slices of this.
_ID_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    db_name TEXT NOT NULL,
    table_name TEXT NOT NULL,
    conformance_id TEXT,
    record TEXT NOT NULL,
    visible_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_table ON records (db_name, table_name, seq);
CREATE INDEX IF NOT EXISTS records_by_id ON records (db_name, table_name, conformance_id);
"""


class Store:
    """Records per (database, table), in ingestion order; safe to share between threads.

    One connection guarded by one lock. ``path`` is a file (opened in WAL mode) or ``":memory:"``. A record
    stored at time t becomes visible to queries at t + ``lag`` seconds, which imitates an ingestion pipeline.
    """

    def __init__(self, path: str = MEMORY, lag: float = 0.0) -> None:
        if lag < 0:
            raise ValueError("lag must be >= 0")
        self.path = path
        self.lag = lag
        self._lock = threading.Lock()
        # MEMORY: SQLite's private temporary database (file name ""), which spills to a temporary file
        # beyond its page cache, so a long run's padded records (about 1 MB each) do not stay in memory.
        name = "" if path == MEMORY else path
        self._conn = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
        with self._lock:
            if path != MEMORY:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def add(self, database: str, table: str, record: dict[str, Any]) -> None:
        """Store ``record`` as JSON text (ASCII-escaped, so any JSON string, even a lone surrogate, fits)."""
        text = json.dumps(record, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        cid = record.get("conformance_id")
        visible_at = time.time() + self.lag
        with self._lock:
            self._conn.execute(
                "INSERT INTO records (db_name, table_name, conformance_id, record, visible_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (database, table, cid if isinstance(cid, str) else None, text, visible_at),
            )

    def query_json(
        self, database: str, table: str, conformance_ids: list[str] | None = None, visible_only: bool = True
    ) -> list[str]:
        """The visible records of a table as stored JSON texts, in ingestion order.

        ``conformance_ids``: keep only records whose ``conformance_id`` is one of them; None: every record.
        ``visible_only=False``: also the records still hidden by the lag.
        """
        now = time.time() if visible_only else float("inf")
        base = "SELECT seq, record FROM records WHERE db_name = ? AND table_name = ? AND visible_at <= ?"
        rows: list[tuple[int, str]] = []
        with self._lock:
            if conformance_ids is None:
                rows = self._conn.execute(base, (database, table, now)).fetchall()
            else:
                unique = list(dict.fromkeys(conformance_ids))
                for start in range(0, len(unique), _ID_BATCH):
                    batch = unique[start : start + _ID_BATCH]
                    marks = ", ".join("?" * len(batch))
                    sql = f"{base} AND conformance_id IN ({marks})"
                    rows.extend(self._conn.execute(sql, (database, table, now, *batch)).fetchall())
        rows.sort(key=lambda row: row[0])
        return [text for _, text in rows]

    def query(
        self, database: str, table: str, conformance_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Like :meth:`query_json`, each record parsed back into a dict."""
        return [json.loads(text) for text in self.query_json(database, table, conformance_ids)]

    def tables(self, database: str) -> list[str]:
        """The tables of ``database`` that hold a record (visible or not), in order of their first one."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT table_name FROM records WHERE db_name = ? GROUP BY table_name ORDER BY MIN(seq)",
                (database,),
            ).fetchall()
        return [name for (name,) in rows]

    def every_record(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(database, table, record) of every record stored, visible or not, in ingestion order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT db_name, table_name, record FROM records ORDER BY seq"
            ).fetchall()
        return [(db, table, json.loads(text)) for db, table, text in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
