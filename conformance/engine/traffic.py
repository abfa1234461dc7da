"""The run's traffic as plain data: every exchange, which test sent it and for which clauses (traffic.har).

The run says which test is running (``RunData.current``, a :class:`CurrentTest` the plugin sets around each
test's setup, call and teardown); the transport hands every :class:`Exchange` it produces to the run,
which turns it into one :func:`entry` at once: a JSON-serialisable dict, bodies over
:data:`MAX_BODY_RECORDED` bytes cut down to that size with their full length and SHA-256 kept (a run sends
~1,300 requests, some of 8 MiB). The exchange is already redacted, so every key in an entry is its
placeholder (``$POSTBACK_WRITE_KEY``), which ``replay`` puts the real key back into.
``conformance.report.har`` turns the entries into a HAR 1.2 file; xdist workers ship them to the
controller by the path of their spool file (:class:`TrafficLog`). No pytest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from conformance.transport.exchange import Exchange

MAX_BODY_RECORDED = 64 * 1024  # bytes of a request or answer body kept in traffic.har


class CurrentTest:
    """The test now running in this process (node ID and clause IDs), readable from any thread.

    A test's worker threads (concurrency probes) send on its behalf, so this is one value per process
    behind a lock, not a context variable (which new threads would not inherit).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._test: tuple[str, tuple[str, ...]] = ("", ())

    def set(self, nodeid: str, clauses: tuple[str, ...]) -> None:
        with self._lock:
            self._test = (nodeid, tuple(clauses))

    def clear(self) -> None:
        self.set("", ())

    def get(self) -> tuple[str, tuple[str, ...]]:
        with self._lock:
            return self._test

    @contextmanager
    def running(self, nodeid: str, clauses: tuple[str, ...]) -> Iterator[None]:
        """``nodeid`` is the running test inside the block; the one before it is again afterwards."""
        previous = self.get()
        self.set(nodeid, clauses)
        try:
            yield
        finally:
            self.set(*previous)


def body_record(body: bytes, limit: int = MAX_BODY_RECORDED) -> dict[str, Any]:
    """A body as kept: text (UTF-8) or base64, at most ``limit`` bytes, with its full size and SHA-256."""
    kept = body[:limit]
    record: dict[str, Any] = {
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "truncated": len(body) > limit,
    }
    try:
        record["text"] = kept.decode("utf-8")
    except UnicodeDecodeError as exc:
        if record["truncated"] and exc.start >= len(kept) - 3:  # the cut split a character: drop its bytes
            record["text"] = kept[: exc.start].decode("utf-8", errors="strict") if exc.start else ""
        else:
            record["text"] = base64.b64encode(kept).decode("ascii")
            record["encoding"] = "base64"
    return record


def entry(
    exchange: Exchange,
    started: datetime,
    elapsed: float,
    test: tuple[str, tuple[str, ...]],
    version: str = "",
) -> dict[str, Any]:
    """One exchange as plain data (what ``conformance.report.har`` renders as one HAR entry), sent by
    ``test`` (its node ID and clause IDs)."""
    nodeid, clauses = test
    sent = exchange.request
    record: dict[str, Any] = {
        "started": started.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time_ms": round(elapsed * 1000, 3),
        "target": exchange.target,
        "api_version": version,
        "test": nodeid,
        "clauses": list(clauses),
        "request": {
            "method": sent.method,
            "url": sent.url,
            "headers": [[k, v] for k, v in sent.headers],
            "body": body_record(sent.body),
            "chunked": sent.chunked,
            "conformance_id": sent.conformance_id,
            "body_note": sent.body_note,
        },
        "response": None,
        "error": exchange.error,
    }
    if exchange.response is not None:
        received = exchange.response
        record["response"] = {
            "status": received.status,
            "http_version": received.http_version,
            "headers": [[k, v] for k, v in received.headers],
            "body": body_record(received.body),
            "elapsed_ms": round(received.elapsed * 1000, 3),
            "connection": received.connection,
        }
    return record


class TrafficLog:
    """Every exchange of a run, spooled as one JSON line each to a temporary file as it happens.

    Memory holds only where each entry lies (about 100 bytes an entry, against ~130 KB for the entry
    itself with its bodies), so a long certification run stays bounded. Iterating reads the entries back in
    the order they came; :meth:`by_time` in the order they were sent (traffic.har). Safe to append to
    from a test's worker threads. xdist workers hand the controller their :attr:`path` (:meth:`absorb`).
    """

    def __init__(self) -> None:
        self.path: Path | None = None  # the spool file, made at the first entry
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._index: list[tuple[str, int, int]] = []  # (started, offset, length) per entry
        # Drops the spool file when the log is closed, garbage-collected, or at interpreter exit.
        self._drop: weakref.finalize[Any, Any] | None = None

    def _spool(self) -> IO[bytes]:
        if self._file is None:
            handle, name = tempfile.mkstemp(prefix="postback-traffic-", suffix=".jsonl")
            self.path, self._file = Path(name), os.fdopen(handle, "w+b")
            self._drop = weakref.finalize(self, _discard, self._file, self.path)
        return self._file

    def append(self, record: dict[str, Any]) -> None:
        self._add(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n", str(record["started"]))

    def _add(self, line: bytes, started: str) -> None:
        with self._lock:
            spool = self._spool()
            offset = spool.seek(0, os.SEEK_END)
            spool.write(line)
            self._index.append((started, offset, len(line)))

    def absorb(self, path: Path) -> None:
        """Take over the entries of another process's log (an xdist worker's spool file), then remove it."""
        with path.open("rb") as source:
            for line in source:  # copied as written; read only for its start time
                self._add(line, str(json.loads(line)["started"]))
        path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self._index)

    def _read(self, offset: int, length: int) -> dict[str, Any]:
        with self._lock:
            spool = self._spool()
            spool.flush()
            spool.seek(offset)
            data = spool.read(length)
        loaded: dict[str, Any] = json.loads(data)
        return loaded

    def __getitem__(self, index: int) -> dict[str, Any]:
        _, offset, length = self._index[index]
        return self._read(offset, length)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for _, offset, length in list(self._index):
            yield self._read(offset, length)

    def by_time(self) -> Iterator[dict[str, Any]]:
        for _, offset, length in sorted(self._index):
            yield self._read(offset, length)

    def close(self) -> None:
        """Drop the spool file (after the reports are written); the log is empty again."""
        spool = self.hand_over()
        if spool is not None:
            spool.unlink(missing_ok=True)

    def hand_over(self) -> Path | None:
        """The spool file, closed, for another process to :meth:`absorb` (which removes it); this log is
        empty again and no longer drops the file. None when nothing was logged."""
        with self._lock:
            path = self.path
            if self._file is not None:
                self._file.close()
            if self._drop is not None:
                self._drop.detach()
            self._file, self.path, self._index, self._drop = None, None, [], None
            return path


def _discard(spool: IO[bytes], path: Path) -> None:
    spool.close()
    path.unlink(missing_ok=True)
