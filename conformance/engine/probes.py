"""Turning an abstract request (a contract-model RequestShape) into a real one on a target.

The property tests and the cutover comparison describe requests as shapes; this sends them, with the
names, credentials, media type and a body of the shape's kind (a probe record wherever one fits).
"""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import quote

from conformance.contract.fields import undocumented_fields
from conformance.contract.model import Body, Cred, PathShape, RequestShape
from conformance.transport.client import EVENT_PATH, Transport
from conformance.transport.credentials import Credentials
from conformance.transport.exchange import Exchange


def name_probe_key(target: Transport, read_back: bool = False, position: str = "database") -> Cred:
    """The key for a request to generated or boundary names (docs/contract.md, "Probe records").

    A well-formed unknown key: EP-05 makes it answer like the valid one on an accepted name, so the answer
    still decides name validation, and nothing is written anywhere. ``read_back``: the test also needs the
    record's fate (NAME-02 "never ingested") of a forbidden name at ``position``. A forbidden *table* name
    gets the valid key inside the probe database (a faulty target's stray table lands there, where the
    cleanup command finds it); a forbidden *database* name only on the embedded reference targets (in
    memory, the suite's own) and on an account the user declared disposable (``--disposable-account``).
    """
    if not read_back:
        return Cred.UNKNOWN
    own_account = position == "table" or target.spec.embedded or target.spec.disposable
    return Cred.VALID if own_account else Cred.UNKNOWN


def body_key(target: Transport, body: bytes) -> Cred:
    """The key for a body only the answer judges: the valid key, unless the body holds top-level names
    outside the documented field set (conformance/contract/fields.py), which on Treasure Data would become
    columns of the user's table; then a well-formed unknown key, which EP-05 makes answer like the valid
    one and which nothing ingests. A disposable account takes every body with the valid key."""
    if target.spec.disposable or not undocumented_fields(body):
        return Cred.VALID
    return Cred.UNKNOWN


def without_valid_key(credentials: Credentials) -> Credentials:
    """The same placements with every valid key replaced by a well-formed unknown one."""

    def swap(cred: Cred | None) -> Cred | None:
        return Cred.UNKNOWN if cred is Cred.VALID else cred

    auth = credentials.authorization
    return replace(
        credentials,
        header=swap(credentials.header),
        query=swap(credentials.query),
        authorization=replace(auth, key=swap(auth.key)) if auth is not None else None,
    )


def credentials_of(shape: RequestShape) -> Credentials:
    return Credentials(
        header=shape.header_key,
        header_name=shape.header_name,
        query=shape.query_key,
        authorization=shape.authorization,
    )


def raw_path_of(shape: RequestShape) -> str:
    db, table = quote(shape.database, safe=""), quote(shape.table, safe="")
    if shape.path is PathShape.EMPTY_SEGMENT:
        return f"{EVENT_PATH}//{table}"
    if shape.path is PathShape.MISSING_SEGMENT:
        return f"{EVENT_PATH}/{db}"
    if shape.path is PathShape.EXTRA_SEGMENT:
        return f"{EVENT_PATH}/{db}/{table}/extra"
    return f"{EVENT_PATH}/{db}/{table}"


PAD_FIELD = "pad"


def _encode(record: dict[str, str]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def padded_record(cid: str, size: int, char: str = "x") -> bytes:
    """A probe record ``{"conformance_id": ..., "pad": "..."}`` of ``size`` bytes of UTF-8 (at least its
    minimal size), padded with ``char`` written as itself, then ASCII "x" for what a multi-byte ``char``
    cannot fill: a multi-byte ``char`` makes the byte count exceed the character count (SIZE-03)."""
    room = max(0, size - len(_encode({"conformance_id": cid, PAD_FIELD: ""})))
    count, rest = divmod(room, len(char.encode("utf-8")))
    return _encode({"conformance_id": cid, PAD_FIELD: char * count + "x" * rest})


def sized_body(target: Transport, n_bytes: int, char: str = "x") -> tuple[bytes, str]:
    """A probe record of exactly ``n_bytes`` bytes with a fresh conformance_id, and that ID."""
    cid = target.ids.next()
    body = padded_record(cid, n_bytes, char)
    if len(body) != n_bytes:
        raise ValueError(f"{n_bytes} bytes is too small for a probe record ({len(body)} bytes)")
    return body, cid


def rebuild_note(body: bytes, char: str = "x") -> str:
    """How to rebuild a ``sized_body`` for the report's curl line: its size and a command writing it."""
    record = json.loads(body)
    pad: str = record[PAD_FIELD]
    count = len(pad) if char == "x" else pad.count(char)
    rest = len(pad) - count
    script = (
        f'import sys; sys.stdout.buffer.write(("{{\\"conformance_id\\":\\"{record["conformance_id"]}\\",'
        f'\\"{PAD_FIELD}\\":\\"" + "{char}" * {count} + "x" * {rest} + "\\"}}").encode())'
    )
    return f"{len(body):,} bytes; python3 -c '{script}' > body.bin"


def body_of(target: Transport, shape: RequestShape) -> tuple[bytes, str | None]:
    """A body of the shape's kind and size, carrying a conformance_id wherever the kind allows."""
    cid = target.ids.next()
    record = json.dumps({"conformance_id": cid}, separators=(",", ":")).encode()
    if shape.body in (Body.OBJECT, Body.STRESS):
        return padded_record(cid, shape.body_bytes), cid
    if shape.body is Body.NON_OBJECT:
        return b"[" + record + b"]", cid
    if shape.body is Body.INVALID_JSON:
        return record[:-1] + b',"text":', cid  # the ID stays readable, the JSON is cut short
    if shape.body is Body.INVALID_UTF8:
        return record[:-1] + b',"text":"\xff\xfe"}', cid
    return b"", None


def on_target(target: Transport, shape: RequestShape) -> RequestShape:
    """``shape`` as sent to ``target``: RequestShape's default names stand for the run's --database and
    --table; any other names get a well-formed unknown key instead of the valid one (docs/contract.md, "Probe
    records": the valid key goes to the run's probe table only)."""
    defaults = RequestShape(shape.version)
    shape = replace(
        shape,
        database=target.spec.database if shape.database == defaults.database else shape.database,
        table=target.spec.table if shape.table == defaults.table else shape.table,
    )
    if (shape.database, shape.table) != (target.spec.database, target.spec.table):
        swapped = without_valid_key(credentials_of(shape))
        shape = replace(shape, header_key=swapped.header, query_key=swapped.query)
        shape = replace(shape, authorization=swapped.authorization)
    return shape


def send_shape(target: Transport, shape: RequestShape) -> Exchange:
    """Send ``shape`` (first made safe and put on the run's names by :func:`on_target`)."""
    shape = on_target(target, shape)
    body, cid = body_of(target, shape)
    headers: list[tuple[str, str]] = []
    if shape.content_type is not None:
        headers.append(("Content-Type", shape.content_type))
    cred_headers, query = credentials_of(shape).materialise(target.keys)
    padded = len(body) > 2048 and shape.body in (Body.OBJECT, Body.STRESS)
    note = rebuild_note(body) if padded else ""
    return target.request(
        shape.method,
        raw_path_of(shape),
        query=query,
        headers=headers + cred_headers,
        body=body,
        chunked=shape.chunked,
        conformance_id=cid,
        body_note=note,
    )
