"""Read-back protocol v1 (docs/contract.md), and the backend a ``--readback`` value names."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from conformance.readback.base import BATCH, ReadbackError, Record, RecordSource
from conformance.transport.redact import Redactor


class ReadbackClient:
    """Read-back protocol v1 (docs/contract.md): ``GET
    {readback}/records?database=&table=&conformance_id=...``."""

    mapping = "identity"
    windowed = False
    batch: int | None = BATCH  # conformance IDs a request (the ledger reads that many at a time)
    poll_min = 0.2
    poll_max = 2.0
    jobs = 0  # no query jobs: only HTTP requests

    def __init__(self, url: str, client: httpx.Client, redactor: Redactor) -> None:
        self.url = url.rstrip("/")
        self.client = client
        self.redact = redactor
        self.requests = 0

    def unidentified(self, database: str, table: str, window: tuple[int, int]) -> list[Record]:
        """The records of ``table`` without a ``conformance_id`` (protocol v1: no ID given lists the whole
        table; ``window`` is applied by the caller, on each record's ``time``)."""
        return [r for r in self._get([("database", database), ("table", table)]) if "conformance_id" not in r]

    def records(
        self,
        database: str,
        table: str,
        ids: Sequence[str],
        window: tuple[int, int] | None = None,
        fields: Sequence[str] = (),
    ) -> list[Record]:
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
        self.requests += 1
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


def open_readback(url: str, client: httpx.Client, redactor: Redactor, td_api_key: str | None) -> RecordSource:
    """The read-back backend for a ``--readback`` value: ``td:<endpoint>`` or a protocol v1 base URL."""
    if url.startswith("td:"):
        from conformance.readback.td import TdReadback  # needs td-client

        if not td_api_key:
            raise ReadbackError("a td read-back needs the API key in POSTBACK_TD_API_KEY")
        return TdReadback(url, td_api_key, redactor)
    return ReadbackClient(url, client, redactor)
