"""traffic.har (docs/contract.md, "Reports"): every exchange of the run as HAR 1.2, built from RunData alone.

HAR 1.2 (W3C Web Performance WG draft, "HTTP Archive (HAR) format", version 1.2): ``log`` with ``version``,
``creator`` and ``entries``; each entry a ``request``, a ``response``, ``cache`` and ``timings``. What HAR
has no field for goes into custom fields, which the format says start with an underscore:

- ``_postback`` on each entry: the test node ID (``preflight`` for the preflight's canary), its clause IDs,
  the target and its API version, the probe record's ``conformance_id``, chunked framing, and for each body
  its full ``size``, ``sha256`` and whether the HAR holds only its first bytes (``truncated``); the entry's
  ``comment`` says the same in words.
- ``_encoding: base64`` on a ``postData`` that is not UTF-8 (HAR gives only ``content`` an ``encoding``).
- ``response.status: 0`` with ``_error`` when a sent request got no answer (timeout, dropped connection,
  not HTTP); a request that could not be sent at all is no exchange (the transport's NoConnection).
- ``_postback`` on the log: suite version, run ID, seed, and each target's URL (``replay`` uses them).

Keys are placeholders (``$POSTBACK_WRITE_KEY``) here as in every report; the text passes the run's
redactor once more before it is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance import __version__
from conformance.engine.rundata import RunData

SCHEMA_PATH = Path(__file__).with_name("har.schema.json")
VERSION = "1.2"
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _pairs(headers: list[list[str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _header(headers: list[list[str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


def _size_note(what: str, body: dict[str, Any]) -> str:
    if not body["truncated"]:
        return ""
    kept = len(body["text"]) if body.get("encoding") != "base64" else len(body["text"]) * 3 // 4
    return (
        f"{what} truncated: the first {kept:,} of {body['size']:,} bytes are kept "
        f"(SHA-256 of the whole body: {body['sha256']})"
    )


def _request(record: dict[str, Any]) -> dict[str, Any]:
    sent = record["request"]
    headers = sent["headers"]
    url = sent["url"]
    har: dict[str, Any] = {
        "method": sent["method"],
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _pairs(headers),
        "queryString": [
            {"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": sent["body"]["size"],
    }
    body = sent["body"]
    if body["size"] or sent["method"] in ("POST", "PUT", "PATCH"):
        post: dict[str, Any] = {"mimeType": _header(headers, "content-type") or "", "text": body["text"]}
        if body.get("encoding"):
            post["_encoding"] = body["encoding"]
        note = _size_note("body", body)
        if note:
            post["comment"] = note
        har["postData"] = post
    return har


def _response(record: dict[str, Any]) -> dict[str, Any]:
    received = record["response"]
    if received is None:
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": record["error"] or "no answer",
            "comment": f"no answer: {record['error']}",
        }
    headers = received["headers"]
    body = received["body"]
    content: dict[str, Any] = {
        "size": body["size"],
        "mimeType": _header(headers, "content-type") or "x-unknown",
        "text": body["text"],
    }
    if body.get("encoding"):
        content["encoding"] = body["encoding"]
    note = _size_note("answer body", body)
    if note:
        content["comment"] = note
    return {
        "status": received["status"],
        "statusText": REASONS.get(received["status"], ""),
        "httpVersion": received["http_version"],
        "cookies": [],
        "headers": _pairs(headers),
        "content": content,
        "redirectURL": _header(headers, "location") or "",
        "headersSize": -1,
        "bodySize": body["size"],
    }


def entry(record: dict[str, Any]) -> dict[str, Any]:
    """One HAR entry from one ``conformance.engine.traffic.entry`` record."""
    sent = record["request"]
    clauses = record["clauses"]
    comment = f"{' '.join(clauses) or 'no clause'} · {record['test'] or 'outside any test'}"
    har: dict[str, Any] = {
        "startedDateTime": record["started"],
        "time": record["time_ms"],
        "request": _request(record),
        "response": _response(record),
        "cache": {},
        "timings": {"send": 0, "wait": record["time_ms"], "receive": 0},
        "comment": comment,
        "_postback": {
            "test": record["test"],
            "clauses": clauses,
            "target": record["target"],
            "api_version": record["api_version"],
            "conformance_id": sent["conformance_id"],
            "chunked": sent["chunked"],
            "body_note": sent["body_note"],
            "request_body": {k: sent["body"][k] for k in ("size", "sha256", "truncated")},
        },
    }
    if record["response"] is not None:
        har["_postback"]["response_body"] = {
            k: record["response"]["body"][k] for k in ("size", "sha256", "truncated")
        }
        if record["response"]["connection"]:
            har["connection"] = str(record["response"]["connection"])
    return har


def build(run: RunData) -> dict[str, Any]:
    """The whole HAR document in memory (for a small run; :func:`write` streams it)."""
    log = _log(run)
    log["log"]["entries"] = [entry(r) for r in run.traffic.by_time()]
    return log


def _log(run: RunData) -> dict[str, Any]:
    """The HAR document without its entries ("entries" holds a placeholder)."""
    return {
        "log": {
            "version": VERSION,
            "creator": {"name": "postback-conformance", "version": __version__},
            "entries": ENTRIES_MARK,
            "comment": f"postback-conformance run {run.run_id}, seed {run.seed}; keys are placeholders",
            "_postback": {
                "suite_version": __version__,
                "run_id": run.run_id,
                "seed": run.seed,
                "targets": {
                    t.name: {"url": run.urls.get(t.name), "api_version": t.version} for t in run.planned
                },
            },
        }
    }


ENTRIES_MARK = "@@ENTRIES@@"


def write(run: RunData, path: Path) -> None:
    """One entry per line, streamed from the run's traffic log (memory holds one entry at a time):
    readable with grep, and json's C encoder (``indent`` would take seconds)."""
    head, tail = json.dumps(_log(run), ensure_ascii=False).split(json.dumps(ENTRIES_MARK), 1)
    with path.open("w", encoding="utf-8") as out:
        out.write(run.redactor(head) + "[")
        for n, record in enumerate(run.traffic.by_time()):
            out.write(",\n" if n else "\n")
            out.write(run.redactor(json.dumps(entry(record), ensure_ascii=False)))
        out.write(("\n]" if len(run.traffic) else "]") + run.redactor(tail) + "\n")


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded
