"""Read-back through Treasure Data's own query API (``--readback=td`` / ``td:<API endpoint URL>``).

Records are read back with Trino queries on the probe table through td-client (Treasure Data's Python
library): ``Client(apikey, endpoint).query(db, sql, type="trino")``, ``job.wait()``, ``job.result()``. Under
the hood td-client issues ``POST /v3/job/issue/trino/{db}``, polls ``GET /v3/job/status/{id}``, reads
``GET /v3/job/show/{id}`` and streams ``GET /v3/job/result/{id}?format=msgpack``, every call carrying
``Authorization: TD1 <API key>``.

Queries go in batches (``conformance_id IN (...)``, bounded length), restricted to the run's time window
with ``TD_TIME_RANGE(time, start, end)``: a handful of jobs per read-back, not one per record. The API key
comes from ``POSTBACK_TD_API_KEY`` only and is redacted from every message; td-client's own exceptions are
caught and reduced to one redacted line.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from conformance.readback.base import ReadbackError
from conformance.transport.redact import RedactingFilter, Redactor

API_KEY_ENV = "POSTBACK_TD_API_KEY"
MAX_STATEMENT = 30_000  # characters per SQL statement (ids beyond it go into another job)
JOB_TIMEOUT = 300.0  # seconds one query job may take before the read-back gives up
JOB_POLL = 1  # seconds between td-client's job status polls
HTTP_TIMEOUT = 30.0

# Treasure Data API reference, "Servers": the API host of each region.
API_ENDPOINTS = {
    "us01": "https://api.treasuredata.com",
    "ap01": "https://api.treasuredata.co.jp",
    "eu01": "https://api.eu01.treasuredata.com",
    "ap02": "https://api.ap02.treasuredata.com",
}
INGEST_DOMAIN = ".in.treasuredata.com"


class TdReadbackError(ReadbackError):
    """The TD API failed or answered something unusable; the message is one redacted line."""


class TdTableMissing(TdReadbackError):
    """The query job failed because the table does not exist: it holds no records."""


# Treasure Data docs, "Naming requirements": database and table names are lowercase letters, digits and _,
# 3 to 128 characters. No record can be read from (or be in) a table named otherwise.
TD_TABLE_NAME = re.compile(r"[a-z0-9_]{3,128}")
# Trino's error for a missing table: "Table 'td.db.t' does not exist".
MISSING_TABLE = re.compile(r"(?i)\btable\b.*\bdoes not exist\b")


def endpoint_for_target(target_url: str) -> str | None:
    """The TD API endpoint serving the region of a Postback host, None when the host tells no region.

    ``<region>.records.in.treasuredata.com`` (v2) and ``<region>.in.treasuredata.com`` (legacy) name their
    region; the legacy host ``in.treasuredata.com`` is the US region.
    """
    host = (urlsplit(target_url).hostname or "").lower()
    if host == INGEST_DOMAIN[1:]:
        return API_ENDPOINTS["us01"]
    if host.endswith(INGEST_DOMAIN):
        region = host.removesuffix(INGEST_DOMAIN).removesuffix(".records")
        return API_ENDPOINTS.get(region)
    return None


def parse_readback(value: str, target_url: str | None) -> str:
    """``td`` or ``td:<URL>`` -> ``td:<endpoint>``; ValueError (one sentence) when no endpoint can be told."""
    if value == "td":
        endpoint = endpoint_for_target(target_url) if target_url else None
        if endpoint is None:
            host = urlsplit(target_url).hostname if target_url else None
            raise ValueError(
                f"cannot tell the Treasure Data API endpoint for {host or 'this target'}: "
                "pass --readback=td:https://api.<region>.treasuredata.com"
            )
        return f"td:{endpoint}"
    url = value.removeprefix("td:")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(
            f"--readback=td:<URL> needs an API endpoint like https://api.treasuredata.com, got {url!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"the TD API endpoint must not carry a query or fragment: {url!r}")
    return f"td:{parts.scheme}://{parts.netloc}"


def is_td(readback: str | None) -> bool:
    return readback is not None and (readback == "td" or readback.startswith("td:"))


def quote_string(value: str) -> str:
    """A Trino string literal: single quotes doubled (the IDs are the suite's own, but still)."""
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """A Trino delimited identifier: double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def statements(
    table: str,
    ids: Sequence[str],
    window: tuple[int, int],
    columns: Sequence[str] = ("conformance_id", "time"),
) -> list[str]:
    """SELECT statements for ``ids``, each at most MAX_STATEMENT characters (one id per statement at least).

    Only ``columns`` are selected, never ``*`` (a user's table may hold hundreds of columns). Shape (the
    reference's emulation parses exactly this): ``SELECT "conformance_id", "time" FROM "t" WHERE
    TD_TIME_RANGE(time, start, end) AND conformance_id IN ('a', 'b')``.
    """
    start, end = int(window[0]), int(window[1])
    head = (
        f"SELECT {', '.join(quote_identifier(c) for c in columns)} FROM {quote_identifier(table)}"
        f" WHERE TD_TIME_RANGE(time, {start}, {end}) AND conformance_id IN ("
    )
    out: list[str] = []
    batch: list[str] = []
    length = len(head) + 1
    for cid in dict.fromkeys(ids):
        literal = quote_string(cid)
        if batch and length + len(literal) + 2 > MAX_STATEMENT:
            out.append(head + ", ".join(batch) + ")")
            batch, length = [], len(head) + 1
        batch.append(literal)
        length += len(literal) + 2
    if batch:
        out.append(head + ", ".join(batch) + ")")
    return out


def unidentified_statement(table: str, window: tuple[int, int], has_ids: bool) -> str:
    """The records of ``table`` in ``window`` that carry no ``conformance_id`` (BODY-05): their ``time``.

    ``has_ids``: the table has a ``conformance_id`` column (else no record carries one, and naming the
    column would fail the job)."""
    start, end = int(window[0]), int(window[1])
    sql = f'SELECT "time" FROM {quote_identifier(table)} WHERE TD_TIME_RANGE(time, {start}, {end})'
    return sql + " AND conformance_id IS NULL" if has_ids else sql


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class TdClient:
    """One td-client Client, with every failure turned into a redacted one-line TdReadbackError."""

    def __init__(self, endpoint: str, apikey: str, redactor: Redactor) -> None:
        import tdclient  # only a td read-back needs it

        self.endpoint = endpoint
        self.redact = redactor
        redactor.add(apikey, API_KEY_ENV)
        # td-client logs its request headers (Authorization: TD1 <key>) at DEBUG: redact its loggers.
        for name in ("tdclient", "tdclient.api", "tdclient.job_api", "tdclient.util"):
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactingFilter) for f in logger.filters):
                logger.addFilter(RedactingFilter(redactor))
        # max_cumul_retry_delay=-1: no silent 5 s..10 min retry loop; a failure is reported at once.
        self.client = tdclient.Client(
            apikey=apikey, endpoint=endpoint + "/", max_cumul_retry_delay=-1, timeout=HTTP_TIMEOUT
        )

    def run(self, database: str, sql: str, result_set: bool = True) -> list[dict[str, Any]]:
        """Run one Trino statement and return its rows as {column: value}.

        ``result_set=False``: the statement may have none (DELETE ...); then no rows."""
        what = f"TD API {self.endpoint}"
        try:
            job = self.client.query(database, sql, type="trino")
            job.wait(timeout=JOB_TIMEOUT, wait_interval=JOB_POLL)
            status = job.status()
            if status != "success":
                debug = job.debug or {}
                why = _one_line(str(debug.get("stderr") or debug.get("cmdout") or ""), 200)
                error = TdTableMissing if MISSING_TABLE.search(why) else TdReadbackError
                raise error(
                    self.redact(f"{what}: query job {job.id} ended {status}" + (f": {why}" if why else ""))
                )
            schema = job.result_schema
            rows = list(job.result()) if schema is not None else []  # a statement without a result set
        except TdReadbackError:
            raise
        except Exception as exc:  # td-client, urllib3, msgpack: anything is a failed read-back
            text = _one_line(self.redact(f"{type(exc).__name__}: {exc}"))
            raise TdReadbackError(f"{what} failed: {text}") from None
        if schema is None and not result_set:
            return []
        if not isinstance(schema, list) or not all(
            isinstance(c, list | tuple) and c and isinstance(c[0], str) for c in schema
        ):
            raise TdReadbackError(f"{what}: the job's result schema is not a list of [name, type]")
        names = [str(c[0]) for c in schema]
        records: list[dict[str, Any]] = []
        for row in rows:
            if not isinstance(row, list | tuple) or len(row) != len(names):
                raise TdReadbackError(f"{what}: a result row does not match the result schema")
            # NULL columns are dropped: in a TD table NULL and absent are the same (value_mapping.py).
            records.append({n: v for n, v in zip(names, row, strict=True) if v is not None})
        return records

    def tables(self, database: str) -> dict[str, set[str]]:
        """Table name -> its schema's column names (td-client ``api.list_tables``); {} for a database that
        does not exist."""
        try:
            listed = self.client.api.list_tables(database)
        except Exception as exc:
            if type(exc).__name__ == "NotFoundError":
                return {}
            text = _one_line(self.redact(f"{type(exc).__name__}: {exc}"))
            raise TdReadbackError(
                f"TD API {self.endpoint}: listing the tables of {database} failed: {text}"
            ) from None
        out: dict[str, set[str]] = {}
        for name, table in listed.items():
            schema = table.get("schema") or [] if isinstance(table, dict) else []
            out[str(name)] = {str(c[0]) for c in schema if isinstance(c, list | tuple) and c}
        return out

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing never matters for the verdicts
            pass


class TdReadback:
    """The ``records()`` interface of the read-back protocol v1 client, answered from TD query jobs.

    Each job selects only the columns it needs: ``conformance_id``, ``time`` and the fields the checks
    compare, of those the table's schema holds (``GET /v3/table/list/{database}``, one API call, no job:
    on Treasure Data a record's new fields become columns of the schema; a field the schema lacks was
    ingested by no record). A table that is not listed holds no records."""

    mapping = "td"
    windowed = True
    batch: int | None = None  # a job's statements hold as many IDs as fit (statements())
    poll_min = 2.0  # seconds between read-back polls (each poll is a query job)
    poll_max = 15.0

    def __init__(self, readback: str, apikey: str, redactor: Redactor) -> None:
        self.url = readback
        self.td = TdClient(readback.removeprefix("td:"), apikey, redactor)
        self.jobs = 0
        self.requests = 0  # API calls besides the jobs' own (table listings)
        self._schemas: dict[str, tuple[float, dict[str, set[str]]]] = {}

    def columns(self, database: str, table: str) -> set[str] | None:
        """The columns of ``table`` (``time`` included), None when the database has no such table; a
        listing is reused for ``poll_min`` seconds (one per poll, not one per batch)."""
        now = time.monotonic()
        cached = self._schemas.get(database)
        if cached is None or now - cached[0] > self.poll_min:
            self.requests += 1
            cached = (now, self.td.tables(database))
            self._schemas[database] = cached
        schema = cached[1].get(table)
        return None if schema is None else schema | {"time"}

    def records(
        self,
        database: str,
        table: str,
        ids: Sequence[str],
        window: tuple[int, int] | None = None,
        fields: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        if not ids or not (TD_TABLE_NAME.fullmatch(database) and TD_TABLE_NAME.fullmatch(table)):
            return []  # TD cannot hold such a table: nothing was ingested there
        if window is None:
            raise TdReadbackError("a td read-back needs the run's time window")
        have = self.columns(database, table)
        if have is None or "conformance_id" not in have:
            return []  # no such table, or no record of it carries a probe ID
        wanted = ["conformance_id", "time", *(f for f in dict.fromkeys(fields) if f in have)]
        out: list[dict[str, Any]] = []
        for sql in statements(table, ids, window, list(dict.fromkeys(wanted))):
            self.jobs += 1
            try:
                out.extend(self.td.run(database, sql))
            except TdTableMissing:
                return []  # a table that does not exist holds no records
        return out

    def unidentified(self, database: str, table: str, window: tuple[int, int]) -> list[dict[str, Any]]:
        if not (TD_TABLE_NAME.fullmatch(database) and TD_TABLE_NAME.fullmatch(table)):
            return []
        have = self.columns(database, table)
        if have is None:
            return []  # Treasure Data's "table not found": nothing was ingested there
        self.jobs += 1
        try:
            return self.td.run(database, unidentified_statement(table, window, "conformance_id" in have))
        except TdTableMissing:
            return []


def run_statement(
    endpoint: str, apikey: str, database: str, sql: str, redactor: Redactor
) -> list[dict[str, Any]]:
    """Run one SQL statement (Trino) on ``database`` through td-client; rows as dicts.

    For ``postback-conformance cleanup --yes``. Raises TdReadbackError with one redacted line.
    """
    client = TdClient(endpoint.removeprefix("td:").rstrip("/"), apikey, redactor)
    try:
        return client.run(database, sql, result_set=False)
    finally:
        client.close()
