"""What every read-back backend shares: a record, an expectation, the backend's protocol, its error."""

from __future__ import annotations

import pickle
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.contract.model import Ingest
from conformance.transport.exchange import PACK_ABOVE, Exchange

BATCH = 50
Record = dict[str, Any]
Check = Callable[[Record], str | None]


class PackedRecords(list[Record]):
    """The records read back for one probe, kept pickled and compressed while the run holds them: a
    padded probe's record holds about 1 MB of one repeated character (the size and cutover probes). Its
    length and truth are known without unpacking; items and iteration unpack (exactly: pickle)."""

    def __init__(self, records: list[Record]) -> None:
        super().__init__()
        self.size = len(records)
        self.packed = zlib.compress(pickle.dumps(records), 1)

    def unpacked(self) -> list[Record]:
        records: list[Record] = pickle.loads(zlib.decompress(self.packed))
        return records

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    def __iter__(self) -> Iterator[Record]:
        return iter(self.unpacked())

    def __getitem__(self, index: Any) -> Any:
        return self.unpacked()[index]

    def __eq__(self, other: object) -> bool:
        return self.unpacked() == (other.unpacked() if isinstance(other, PackedRecords) else other)

    __hash__ = None  # type: ignore[assignment,unused-ignore]

    def __repr__(self) -> str:
        return repr(self.unpacked())

    def __reduce__(self) -> tuple[Any, ...]:
        return (PackedRecords, (self.unpacked(),))


def kept(records: list[Record]) -> list[Record]:
    """``records`` as a run keeps them: compressed when their string values are big (as a big request
    body is, conformance.transport.exchange)."""
    size = sum(len(v) for r in records for v in r.values() if isinstance(v, str))
    return PackedRecords(records) if size > PACK_ABOVE else records


def poll(
    look: Callable[[float], bool], deadline: float, first: float, most: float, factor: float = 2.0
) -> bool:
    """Call ``look(seconds left)`` until it answers True (then True) or the ``time.monotonic()`` deadline
    has passed (then False); at least once. Between looks: ``first`` seconds, growing by ``factor`` up to
    ``most``, never past the deadline. The one polling loop of the run's read-back and the preflight."""
    interval = first
    while True:
        if look(max(deadline - time.monotonic(), 0.0)):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(interval, left))
        interval = min(interval * factor, most)


class ReadbackError(Exception):
    """The read-back service failed; the message is redacted and says what to check."""


class RecordSource(Protocol):
    """A read-back backend: the records of ``table`` holding one of ``ids`` (``window``: UNIX seconds the
    records' ``time`` lies in, [start, end)). ``mapping`` names its value mapping (contract/value_mapping.py);
    ``poll_min``/``poll_max`` bound the seconds between polls."""

    url: str
    mapping: str
    windowed: bool  # records() honours ``window`` (otherwise it answers every record of those ids)
    batch: int | None  # IDs one read asks for (protocol v1: a GET); None: any number at once (td)
    poll_min: float
    poll_max: float
    requests: int  # read-back requests made (protocol v1 GETs, TD API calls)
    jobs: int  # query jobs issued (td: each is a billed query on the user's account)

    def records(
        self,
        database: str,
        table: str,
        ids: Sequence[str],
        window: tuple[int, int] | None = None,
        fields: Sequence[str] = (),
    ) -> list[Record]:
        """``fields``: the fields the checks compare; a backend that selects columns (td) selects those,
        ``conformance_id`` and ``time``, never more."""
        ...

    def unidentified(self, database: str, table: str, window: tuple[int, int]) -> list[Record]:
        """The records of ``table`` that carry no ``conformance_id`` (BODY-05's empty bodies), ``time`` in
        ``window`` where the backend can restrict it; a table that does not exist holds none."""
        ...


class Barriers(Protocol):
    """Where a run's barrier records go and how they are sent (the plugin's transports)."""

    def table_for(self, target: str, database: str, table: str) -> tuple[str, str]:
        """(database, table) of the barrier that stands for "never ingested" probes sent to ``table``."""
        ...

    def send(self, target: str, database: str, table: str) -> Expected | None:
        """Send one barrier record there now; its MUST expectation, or None when it could not be sent."""
        ...


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
    sent_at: float = field(default_factory=time.time)  # wall clock, registered right after the send
    # A lower bound of the seconds from sending until the record became readable: the last poll that did
    # not see it (0 when the first poll already saw it). None: never seen.
    arrived_after: float | None = None
