"""From a schemathesis case to the exact request the suite sends, and the contract's reading of it.

schemathesis serialises a case for ``requests`` (``Case.as_transport_kwargs``); the suite sends it through
its own transport instead, with its own credential (CONTRIBUTING.md: never a key in a case), a probe ID in
every JSON object body (docs/contract.md, "Probe records") and only the header fields the case is about.
The contract model then reads the request as it went on the wire: names percent-decoded (RFC 3986 section
2.1), the body classified by the suite's strict RFC 8259 reader
(:func:`conformance.contract.bodies.classify`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlencode

from conformance.contract.bodies import classify
from conformance.contract.model import Body, Cred, PathShape, RequestShape
from conformance.transport.client import EVENT_PATH, ProbeIds

# A base URL schemathesis builds the request URL on; only the path after it is sent (to the target's URL).
BASE_URL = "http://schema.invalid"
# Header fields of schemathesis' requests transport, or of the framing, that the suite's client sets itself.
TRANSPORT_HEADERS = frozenset(
    {
        "user-agent",
        "accept",
        "accept-encoding",
        "connection",
        "x-schemathesis-testcaseid",
        "content-length",
        "host",
    }
)
# Credentials are the suite's own (CONTRIBUTING.md): a generated one is never sent.
CREDENTIAL_HEADERS = frozenset({"x-td-write-key", "authorization"})
CREDENTIAL_PARAMETERS = frozenset({"td_write_key"})
# RFC 3986 section 3.3: characters a path may hold literally ("%" stays: segments arrive percent-encoded).
PATH_SAFE = "/%!$&'()*+,;=:@-._~"
# [TD-OAS] "Suggested Parameters": td_record_time is UNIX seconds, an integer or a string of digits.
DIGITS = re.compile(r"[0-9]+", re.ASCII)


class NotSendable(Exception):
    """A case the suite does not send; the message says why (counted, never a failure)."""


@dataclass(frozen=True)
class WireRequest:
    """One request exactly as the suite sends it, less the credential, and the contract's reading of it."""

    method: str
    raw_path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: bytes
    conformance_id: str | None
    path: PathShape
    database: str
    table: str
    content_type: str | None
    kind: Body

    def shape(self, version: str, credential: Cred) -> RequestShape:
        return RequestShape(
            version,
            method=self.method,
            header_key=credential,
            database=self.database,
            table=self.table,
            path=self.path,
            content_type=self.content_type,
            body=self.kind,
            body_bytes=len(self.body),
        )

    def variant(
        self,
        ids: ProbeIds,
        *,
        names: tuple[str, str] | None = None,
        body: bytes | None = None,
        kind: Body | None = None,
        conformance_id: str | None = None,
    ) -> WireRequest:
        """A control request: other (valid) names and/or another body; a probe body gets a fresh ID."""
        changed = replace(self)
        if names is not None:
            database, table = names
            raw_path = f"{EVENT_PATH}/{quote(database, safe='')}/{quote(table, safe='')}"
            changed = replace(changed, raw_path=raw_path, path=PathShape.OK, database=database, table=table)
        if body is not None:
            return replace(changed, body=body, kind=kind or classify(body), conformance_id=conformance_id)
        if self.conformance_id is not None:
            fresh = ids.next()
            retagged = self.body.replace(self.conformance_id.encode(), fresh.encode(), 1)
            return replace(changed, body=retagged, conformance_id=fresh)
        return changed


def _object_json(value: dict[str, Any], cid: str) -> bytes:
    record = {"conformance_id": cid, **{k: v for k, v in value.items() if k != "conformance_id"}}
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate: UTF-8 cannot carry it, a JSON escape can (RFC 8259 section 7).
            return json.dumps(record, separators=(",", ":"), allow_nan=True).encode("ascii")
    except ValueError as exc:  # e.g. an integer longer than Python converts to text
        raise NotSendable(f"a body Python cannot serialise ({exc})") from None


def _body(kwargs: dict[str, Any], ids: ProbeIds) -> tuple[bytes, str | None]:
    """The body bytes, with a fresh ``conformance_id`` in every JSON object (docs/contract.md, Probe
    records)."""
    if "files" in kwargs:
        raise NotSendable("a multipart body (the endpoint takes JSON only)")
    if "json" in kwargs:
        value = kwargs["json"]
        if isinstance(value, dict):
            cid = ids.next()
            return _object_json(value, cid), cid
        try:
            text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=True)
        except ValueError as exc:
            raise NotSendable(f"a body Python cannot serialise ({exc})") from None
        return text.encode("ascii"), None
    data = kwargs.get("data")
    if data is None:
        return b"", None
    if isinstance(data, dict):
        return urlencode(data, doseq=True).encode("ascii"), None
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    kind = classify(raw)
    if kind is Body.OBJECT:
        # Random bytes that happen to be a JSON object are sent as one, carrying a probe ID like every object.
        cid = ids.next()
        return _object_json(json.loads(raw), cid), cid
    if kind is Body.STRESS:
        raise NotSendable("random bytes forming an object the suite cannot tag with a probe ID")
    return raw, None


def _open_field_problem(body: bytes) -> bool:
    """Whether the object sets ``time`` or ``td_record_time`` to something the docs give no meaning to.

    The docs do not describe sending ``time`` (the record gets the receive time, BODY-02) and [TD-OAS] only
    suggests ``td_record_time`` (BODY-09 reports what happens): a target may refuse odd values of either, so
    such an object is one "a target may refuse" (a STRESS body: 200, 400 or 413) rather than a plain one.
    """
    record = json.loads(body)
    for name in ("time", "td_record_time"):
        if name not in record:
            continue
        value = record[name]
        plain = (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
            isinstance(value, str) and DIGITS.fullmatch(value) is not None
        )
        if not plain:
            return True
    return False


def _names(raw_path: str) -> tuple[PathShape, str, str]:
    rest = raw_path.removeprefix(EVENT_PATH + "/")
    segments = rest.split("/")
    if any(segment in (".", "..") for segment in segments):
        # RFC 3986 section 5.2.4: servers and proxies may remove dot segments before routing, so such a
        # path names no definite resource; the names' alphabet is covered by test_names.py instead.
        raise NotSendable("a path with a dot segment")
    if len(segments) != 2 or not all(segments):
        return (PathShape.EMPTY_SEGMENT if "" in segments else PathShape.EXTRA_SEGMENT), "", ""
    decoded = []
    for segment in segments:
        try:
            decoded.append(unquote_to_bytes(segment).decode("utf-8"))
        except UnicodeDecodeError:
            decoded.append("\ufffd")  # not UTF-8: no name of the allowed alphabet
    return PathShape.OK, decoded[0], decoded[1]


def read_request(
    method: str,
    raw_path: str,
    query: tuple[tuple[str, str], ...],
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    conformance_id: str | None,
) -> WireRequest:
    """The contract's reading of a request as sent (``raw_path`` percent-encoded, ASCII)."""
    shape, database, table = _names(raw_path)
    kind = classify(body)
    if kind is Body.OBJECT and _open_field_problem(body):
        kind = Body.STRESS
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    return WireRequest(
        method.upper(),
        raw_path,
        query,
        headers,
        body,
        conformance_id,
        shape,
        database,
        table,
        content_type,
        kind,
    )


def to_wire(kwargs: dict[str, Any], ids: ProbeIds) -> WireRequest:
    """The request the suite sends for a case, from ``Case.as_transport_kwargs(base_url=BASE_URL)``."""
    url = str(kwargs["url"])
    if not url.startswith(BASE_URL + EVENT_PATH + "/"):
        raise NotSendable(f"a URL outside the endpoint: {url[:80]}")
    raw_path = quote(url[len(BASE_URL) :].split("?", 1)[0], safe=PATH_SAFE)
    query: list[tuple[str, str]] = []
    for name, value in (kwargs.get("params") or {}).items():
        if str(name).lower() in CREDENTIAL_PARAMETERS:
            continue
        for item in value if isinstance(value, list) else [value]:
            query.append((str(name), str(item)))
    headers = tuple(
        (str(k), str(v))
        for k, v in (kwargs.get("headers") or {}).items()
        if k.lower() not in TRANSPORT_HEADERS and k.lower() not in CREDENTIAL_HEADERS
    )
    body, cid = _body(kwargs, ids)
    return read_request(str(kwargs["method"]), raw_path, tuple(query), headers, body, cid)
