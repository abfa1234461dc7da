"""An emulation of the Treasure Data REST job endpoints that td-client calls, answering from the store.

Served by the reference target under ``/v3/job/`` (``postback-reference --td-api-key KEY``), so that a
``--readback=td:<this URL>`` run exercises the suite's td read-back end to end through td-client's own HTTP
code. Source: the Treasure Data API reference ("Jobs": issue, status, show, result) and td-client-python.

- ``POST /v3/job/issue/{type}/{db}`` (form field ``query``): ``{"job_id": "..."}``
- ``GET /v3/job/status/{id}``: ``{"job_id", "status"}`` (``success`` or ``error``)
- ``GET /v3/job/show/{id}``: the job, with ``hive_result_schema`` (JSON text of ``[[name, type], ...]``)
- ``GET /v3/job/result/{id}?format=msgpack``: one msgpack array per row (gzip when accepted)

Every call needs ``Authorization: TD1 <key>`` with an accepted key (401 otherwise). The SQL is held to
exactly the statement shape the suite issues, parsed strictly (anything else: the job ends ``error``)::

    SELECT * FROM "table" WHERE TD_TIME_RANGE(time, start, end) AND conformance_id IN ('a', 'b', ...)

Rows imitate how TD stores records: columns are the union of the table's fields (``time`` last), a name
that is not a TD column name is lowercased when that makes it one, or else gets an alias ``_col<n>``; nested
objects and arrays are JSON text; a field a record lacks is NULL. Records become visible after the store's
lag. ``fail_jobs``: every job ends ``error`` (the failing-job mode).

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
_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,127}")
_IDENT = r'"((?:[^"]|"")+)"'
_STRING = r"'(?:[^']|'')*'"
_QUERY = re.compile(
    r"SELECT \* FROM " + _IDENT + r" WHERE TD_TIME_RANGE\(time, (-?\d+), (-?\d+)\)"
    r" AND conformance_id IN \((" + _STRING + r"(?:, " + _STRING + r")*)\)"
)
_INT64 = 2**63


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


def parse_query(sql: str) -> tuple[str, int, int, list[str]]:
    """(table, start, end, ids) of the one statement shape the suite issues; QueryError for anything else."""
    match = _QUERY.fullmatch(sql.strip())
    if match is None:
        raise QueryError(f"unsupported statement (the emulation evaluates one SELECT shape): {sql[:120]!r}")
    table = match.group(1).replace('""', '"')
    ids = [lit[1:-1].replace("''", "'") for lit in re.findall(_STRING, match.group(4))]
    return table, int(match.group(2)), int(match.group(3)), ids


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

    def evaluate(self, job: Job) -> None:
        table, start, end, ids = parse_query(job.query)
        every = [json.loads(text) for text in self.store.query_json(job.database, table)]
        if not every and not self.store.query_json(job.database, table, None, visible_only=False):
            # Trino's answer for a table never written to (TD creates a table on its first record)
            raise QueryError(f"line 1:15: Table 'td.{job.database}.{table}' does not exist")
        taken: dict[str, str] = {}
        aliases = itertools.count(1)
        columns: list[str] = []
        for record in every:
            for name in record:
                column = column_name(name, taken, aliases)
                if column not in columns and column != "time":
                    columns.append(column)
        job.columns = [*columns, "time"]
        wanted = set(ids)
        for record in every:
            if record.get("conformance_id") not in wanted or not in_range(record, start, end):
                continue
            row: dict[str, Any] = {}
            for name, value in record.items():
                row.setdefault(taken[name], stored_value(value))
            job.rows.append([row.get(column) for column in job.columns])

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
