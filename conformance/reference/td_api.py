"""An emulation of the Treasure Data REST job endpoints that td-client calls, answering from the store.

Served by the reference target under ``/v3/job/`` (``postback-reference --td-api-key KEY``), so that a
``--readback=td:<this URL>`` run exercises the suite's td read-back end to end through td-client's own HTTP
code. Source: the Treasure Data API reference ("Jobs": issue, status, show, result) and td-client-python.

- ``POST /v3/job/issue/{type}/{db}`` (form field ``query``): ``{"job_id": "..."}``
- ``GET /v3/job/status/{id}``: ``{"job_id", "status"}`` (``success`` or ``error``)
- ``GET /v3/job/show/{id}``: the job, with ``hive_result_schema`` (JSON text of ``[[name, type], ...]``)
- ``GET /v3/job/result/{id}?format=msgpack``: one msgpack array per row (gzip when accepted)

- ``GET /v3/table/list/{db}``: ``{"tables": [{"name", "schema": "[[column, type, column], ...]", ...}]}``,
  the columns every record of the table has added (TD's schema, ``time`` not listed); 404 for a database
  that holds no table

Every call needs ``Authorization: TD1 <key>`` with an accepted key (401 otherwise). The SQL is held to
exactly the statement shapes the suite issues, parsed strictly (anything else: the job ends ``error``)::

    SELECT "c1", "c2", ... FROM "table" WHERE TD_TIME_RANGE(time, start, end) AND conformance_id IN ('a', ...)
    SELECT "time" FROM "table" WHERE TD_TIME_RANGE(time, start, end) [AND conformance_id IS NULL]

A selected column the table does not have fails the job, as Trino does ("Column 'x' cannot be resolved").
Rows imitate how TD stores records: columns are the union of the table's fields, a name that is not a TD
column name is lowercased when that makes it one, or else gets an alias ``_col<n>``; nested objects and
arrays are JSON text; a field a record lacks is NULL. Records become visible after the store's lag.
``fail_jobs``: every job ends ``error`` (the failing-job mode).

Self-contained: the standard library and msgpack only, nothing of the suite.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, unquote

import msgpack

from conformance.reference.asgi import Request, Response, json_response
from conformance.reference.store import Store

PREFIX = b"/v3/job/"
TABLE_LIST = b"/v3/table/list/"
ROUTES = (PREFIX, TABLE_LIST)  # what the app hands to this emulation
_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,127}")
_STRING = r"'(?:[^']|'')*'"
_COLUMNS = r'"(?:[^"]|"")+"(?:, "(?:[^"]|"")+")*'
_QUERY = re.compile(
    r"SELECT (?P<columns>"
    + _COLUMNS
    + r') FROM "(?P<table>(?:[^"]|"")+)"'
    + r" WHERE TD_TIME_RANGE\(time, (?P<start>-?\d+), (?P<end>-?\d+)\)"
    + r"(?: AND conformance_id IN \((?P<ids>"
    + _STRING
    + r"(?:, "
    + _STRING
    + r")*)\)"
    + r"| AND conformance_id (?P<no_id>IS NULL))?"
)
_INT64 = 2**63


Table = tuple[list[dict[str, Any]], dict[str, str], list[str]]


class QueryError(Exception):
    """The statement is not the shape this emulation evaluates (the job then ends ``error``)."""


@dataclass
class Job:
    job_id: str
    database: str
    query: str
    status: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class Query:
    """One statement of the shapes the suite issues: the columns, the table, the time range, and either
    probe IDs (``ids``), records without one (``no_id``), or every record in the range."""

    columns: list[str]
    table: str
    start: int
    end: int
    ids: list[str] | None
    no_id: bool


def parse_query(sql: str) -> Query:
    """The statement shapes the suite issues; QueryError for anything else."""
    match = _QUERY.fullmatch(sql.strip())
    if match is None:
        raise QueryError(
            f"unsupported statement (the emulation evaluates the suite's SELECTs): {sql[:120]!r}"
        )
    columns = [c[1:-1].replace('""', '"') for c in re.findall(r'"(?:[^"]|"")+"', match.group("columns"))]
    ids = match.group("ids")
    return Query(
        columns=columns,
        table=match.group("table").replace('""', '"'),
        start=int(match.group("start")),
        end=int(match.group("end")),
        ids=[lit[1:-1].replace("''", "'") for lit in re.findall(_STRING, ids)] if ids else None,
        no_id=match.group("no_id") is not None,
    )


def column_name(name: str, taken: dict[str, str], aliases: itertools.count[int]) -> str:
    """The column of a field: itself when a TD column name, lowercased when that is one, else an alias."""
    if name in taken:
        return taken[name]
    if _COLUMN.fullmatch(name):
        column = name
    elif _COLUMN.fullmatch(name.lower()) and name.lower() not in taken.values():
        column = name.lower()
    else:
        column = f"_col{next(aliases)}"
    taken[name] = column
    return column


def stored_value(value: Any) -> Any:
    """A JSON value as a TD column holds it: nested values as JSON text, out-of-range integers as text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate is not UTF-8
    return value


def in_range(record: dict[str, Any], start: int, end: int) -> bool:
    """TD_TIME_RANGE(time, start, end): start <= time < end, on the record's integer ``time``."""
    value = record.get("time")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and start <= value < end


class TdJobApi:
    """The job endpoints; ``keys``: the accepted API keys. Thread-safe."""

    def __init__(self, store: Store, keys: list[str], fail_jobs: bool = False) -> None:
        self.store = store
        self.keys = frozenset(keys)
        self.fail_jobs = fail_jobs
        self.jobs: dict[str, Job] = {}
        self.issued: list[str] = []  # every statement issued, for the self-tests
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    async def handle(self, request: Request) -> Response:
        authorization = request.header("authorization") or ""
        scheme, _, key = authorization.partition(" ")
        if scheme.upper() != "TD1" or key.strip() not in self.keys:
            return json_response(401, {"error": "authentication failed", "severity": "error"})
        if request.method == "GET" and request.raw_path.startswith(TABLE_LIST):
            return self.list_tables(unquote(request.raw_path[len(TABLE_LIST) :].decode("latin-1")))
        parts = request.raw_path[len(PREFIX) :].decode("latin-1").split("/")
        if request.method == "POST" and len(parts) == 3 and parts[0] == "issue":
            body = await _read_all(request)
            return self.issue(unquote(parts[1]), unquote(parts[2]), request.header("content-type"), body)
        if request.method == "GET" and len(parts) == 2 and parts[0] in ("status", "show", "result"):
            with self._lock:
                job = self.jobs.get(unquote(parts[1]))
            if job is None:
                return json_response(404, {"error": "job not found", "severity": "error"})
            if parts[0] == "status":
                return json_response(200, {"job_id": job.job_id, "status": job.status})
            if parts[0] == "show":
                return json_response(200, self.show(job))
            return self.result(job, request)
        return json_response(404, {"error": "not found", "severity": "error"})

    def issue(self, engine: str, database: str, content_type: str | None, body: bytes) -> Response:
        query = _form_field(content_type, body, "query")
        if query is None:
            return json_response(422, {"error": "query is required", "severity": "error"})
        with self._lock:
            job = Job(str(next(self._ids)), database, query, "success")
            self.jobs[job.job_id] = job
            self.issued.append(query)
        if engine not in ("trino", "presto"):
            job.status, job.error = "error", f"the emulation runs trino queries only, not {engine}"
        elif self.fail_jobs:
            job.status, job.error = "error", "Query failed: the emulation's failing-job mode is on"
        else:
            try:
                self.evaluate(job)
            except QueryError as exc:
                job.status, job.error = "error", str(exc)
        return json_response(200, {"job_id": job.job_id, "job": job.job_id, "database": database})

    def table(
        self, database: str, table: str
    ) -> tuple[list[dict[str, Any]], dict[str, str], list[str]] | None:
        """(visible records, field -> column, columns but ``time``) of a table; None when never written to
        (TD creates a table on its first record)."""
        every = [json.loads(text) for text in self.store.query_json(database, table)]
        if not every and not self.store.query_json(database, table, None, visible_only=False):
            return None
        taken: dict[str, str] = {}
        aliases = itertools.count(1)
        columns: list[str] = []
        for record in every:
            for name in record:
                column = column_name(name, taken, aliases)
                if column not in columns and column != "time":
                    columns.append(column)
        return every, taken, columns

    def evaluate(self, job: Job) -> None:
        query = parse_query(job.query)
        found = self.table(job.database, query.table)
        if found is None:  # Trino's answer for a table that does not exist
            raise QueryError(f"line 1:15: Table 'td.{job.database}.{query.table}' does not exist")
        every, taken, columns = found
        have = {*columns, "time"}
        named = [*query.columns, *(["conformance_id"] if query.ids is not None or query.no_id else [])]
        unknown = [c for c in named if c not in have]
        if unknown:
            raise QueryError(f"line 1:8: Column '{unknown[0]}' cannot be resolved")
        job.columns = list(query.columns)
        wanted = set(query.ids or ())
        for record in every:
            cid = record.get("conformance_id")
            if not in_range(record, query.start, query.end):
                continue
            if (query.ids is not None and cid not in wanted) or (query.no_id and cid is not None):
                continue
            row: dict[str, Any] = {}
            for name, value in record.items():
                row.setdefault(taken[name], stored_value(value))
            job.rows.append([row.get(column) for column in job.columns])

    def list_tables(self, database: str) -> Response:
        """``GET /v3/table/list/{db}``: every table of the database with its schema (``time`` not listed)."""
        tables: list[dict[str, Any]] = []
        for name in self.store.tables(database):
            found = self.table(database, name)
            columns = found[2] if found is not None else []
            tables.append(
                {
                    "id": len(tables) + 1,
                    "name": name,
                    "type": "log",
                    "count": len(found[0]) if found is not None else 0,
                    "estimated_storage_size": 0,
                    "schema": json.dumps([[c, "string", c] for c in columns]),
                }
            )
        if not tables:
            return json_response(404, {"error": f"database {database} not found", "severity": "error"})
        return json_response(200, {"database": database, "tables": tables})

    def show(self, job: Job) -> dict[str, Any]:
        schema = [[c, "bigint" if c == "time" else "varchar"] for c in job.columns]
        return {
            "job_id": job.job_id,
            "type": "trino",
            "database": job.database,
            "query": job.query,
            "status": job.status,
            "result": "",
            "url": f"https://console.example/jobs/{job.job_id}",
            "hive_result_schema": json.dumps(schema) if job.status == "success" else None,
            "num_records": len(job.rows) if job.status == "success" else None,
            "debug": {"cmdout": "", "stderr": job.error} if job.error else None,
        }

    def result(self, job: Job, request: Request) -> Response:
        if job.status != "success" or request.query_values("format") != ["msgpack"]:
            return json_response(422, {"error": "no msgpack result for this job", "severity": "error"})
        packer = msgpack.Packer()
        data = b"".join(packer.pack(row) for row in job.rows)
        headers: tuple[tuple[str, str], ...] = (("content-type", "application/x-msgpack"),)
        if "gzip" in (request.header("accept-encoding") or ""):
            data = gzip.compress(data)
            headers += (("content-encoding", "gzip"),)
        return Response(200, data, headers)


async def _read_all(request: Request) -> bytes:
    chunks: list[bytes] = []
    while (chunk := await request.next_chunk()) is not None:
        chunks.append(chunk)
    return b"".join(chunks)


def _form_field(content_type: str | None, body: bytes, name: str) -> str | None:
    """One field of a multipart/form-data (what td-client's urllib3 sends) or urlencoded form body."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8", "replace")).get(name)
        return values[0] if values else None
    if media != "multipart/form-data":
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + (content_type or "").encode("latin-1") + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            return payload.decode("utf-8") if isinstance(payload, bytes) else None
    return None
