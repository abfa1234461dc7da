"""``postback-conformance audit FILE.har``: will the recorded client traffic keep working on v2?

Each recorded request to the Postback endpoint becomes a contract-model shape; the model says what legacy
and v2 do with it ([V2] "What's different from the legacy Postback API"). Keys found in the file are never
printed: every line of output passes through a redactor that knows them.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

from conformance.contract.model import (
    V2_BODY_CAP,
    Authorization,
    Body,
    Cred,
    Ingest,
    PathShape,
    RequestShape,
    expect,
)
from conformance.transport.client import EVENT_PATH
from conformance.transport.redact import Redactor

MAX_HAR_BYTES = 512 * 1024 * 1024
BREAKS, AT_RISK, KEEPS, ALREADY = "breaks", "at risk", "keeps working", "already failing on legacy"


class AuditError(Exception):
    """The HAR file cannot be audited; the message says why in one sentence."""


@dataclass(frozen=True)
class Verdict:
    index: int
    method: str
    path: str
    verdict: str
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.index,
            "method": self.method,
            "path": self.path,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
        }


def load_entries(path: Path) -> list[dict[str, Any]]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AuditError(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_HAR_BYTES:
        raise AuditError(f"{path} is {size:,} bytes; the audit reads HAR files up to {MAX_HAR_BYTES:,} bytes")
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise AuditError(
            f"{path} is not JSON (line {exc.lineno}, column {exc.colno}): not a HAR file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"cannot read {path}: {exc}") from None
    entries = data.get("log", {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise AuditError(f"{path} has no log.entries list: not a HAR file")
    return [e for e in entries if isinstance(e, dict)]


def _headers(request: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in request.get("headers", [])
        if isinstance(h, dict)
    ]


def _body(request: dict[str, Any]) -> bytes:
    post = request.get("postData") or {}
    text = post.get("text") or ""
    if post.get("encoding") == "base64":
        try:
            return base64.b64decode(text)
        except ValueError:
            return b""
    return str(text).encode("utf-8")


def _body_kind(body: bytes) -> Body:
    if not body:
        return Body.EMPTY
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return Body.INVALID_UTF8
    except ValueError:
        return Body.INVALID_JSON
    return Body.OBJECT if isinstance(value, dict) else Body.NON_OBJECT


def _cred(value: str | None) -> Cred | None:
    if value is None:
        return None
    return Cred.VALID if value.strip() else Cred.EMPTY


def shape_of(entry: dict[str, Any], redactor: Redactor) -> tuple[str, str, RequestShape] | None:
    """The request of a HAR entry as a legacy shape (credentials taken as valid), or None if not Postback."""
    request = entry.get("request") or {}
    url = urlsplit(str(request.get("url", "")))
    raw_path = url.path
    if not raw_path.startswith(EVENT_PATH + "/"):
        return None
    headers = _headers(request)
    lookup = {name.lower(): value for name, value in headers}
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    for secret in (lookup.get("x-td-write-key"), query.get("td_write_key"), lookup.get("authorization")):
        if secret:
            redactor.add(secret, "POSTBACK_WRITE_KEY")
            redactor.add(secret.split(" ", 1)[-1], "POSTBACK_WRITE_KEY")
    segments = raw_path[len(EVENT_PATH) + 1 :].split("/")
    names = [unquote_to_bytes(s).decode("utf-8", "replace") for s in segments]
    path_shape = PathShape.OK
    if len(segments) != 2:
        path_shape = PathShape.EXTRA_SEGMENT if len(segments) > 2 else PathShape.EMPTY_SEGMENT
    elif not all(segments):
        path_shape = PathShape.EMPTY_SEGMENT
    authorization = None
    if "authorization" in lookup:
        scheme, _, key = lookup["authorization"].strip().partition(" ")
        authorization = Authorization(scheme, Cred.VALID if key.strip() else None)
    body = _body(request)
    content_type = lookup.get("content-type") or (request.get("postData") or {}).get("mimeType")
    shape = RequestShape(
        "legacy",
        method=str(request.get("method", "POST")).upper(),
        header_key=_cred(lookup.get("x-td-write-key")),
        header_name=next((n for n, _ in headers if n.lower() == "x-td-write-key"), "X-TD-Write-Key"),
        query_key=_cred(query.get("td_write_key")),
        authorization=authorization,
        database=names[0] if names else "",
        table=names[1] if len(names) > 1 else "",
        path=path_shape,
        content_type=content_type,
        body=_body_kind(body),
        body_bytes=len(body),
    )
    return shape.method, raw_path, shape


def judge(shape: RequestShape) -> tuple[str, tuple[str, ...]]:
    """What cutover does to one request: the verdict and the reasons, from the contract model."""
    legacy = expect(shape)
    v2_shape = RequestShape(**{**shape.__dict__, "version": "v2"})
    v2 = expect(v2_shape)
    if legacy.ingest is Ingest.MUST_NOT:
        return ALREADY, legacy.reasons
    reasons: list[str] = []
    if shape.query_key is not None and shape.header_key is None:
        reasons.append("the key is in ?td_write_key, which v2 does not accept (move it to a header)")
    if shape.body_bytes > V2_BODY_CAP:
        reasons.append(f"the body is {shape.body_bytes:,} bytes, over v2's 1,048,064-byte cap (413)")
    if shape.authorization is not None and not shape.authorization.is_td1_credential:
        reasons.append(f"an Authorization: {shape.authorization.scheme} header: v2 reads Authorization first")
    if v2.ingest is Ingest.MUST and not reasons:
        return KEEPS, ()
    if v2.ingest is Ingest.MAY and not (shape.query_key is not None and shape.header_key is None):
        return AT_RISK, tuple(reasons or v2.reasons)
    return BREAKS, tuple(reasons or v2.reasons)


def audit(path: Path) -> tuple[list[Verdict], Redactor]:
    redactor = Redactor()
    verdicts: list[Verdict] = []
    for index, entry in enumerate(load_entries(path)):
        found = shape_of(entry, redactor)
        if found is None:
            continue
        method, raw_path, shape = found
        verdict, reasons = judge(shape)
        verdicts.append(Verdict(index, method, raw_path, verdict, reasons))
    return verdicts, redactor


def render(verdicts: list[Verdict]) -> list[str]:
    if not verdicts:
        return ["no request to /postback/v3/event/ in this HAR file"]
    width = min(60, max(len(v.path) for v in verdicts))
    lines = [f"{'#':>5}  {'method':6}  {'path':{width}}  verdict"]
    for v in verdicts:
        lines.append(f"{v.index:>5}  {v.method:6}  {v.path[:width]:{width}}  {v.verdict}")
        lines += [f"{'':>5}  {'':6}  {'':{width}}    - {reason}" for reason in v.reasons]
    counts = {kind: sum(v.verdict == kind for v in verdicts) for kind in (BREAKS, AT_RISK, KEEPS, ALREADY)}
    lines.append(", ".join(f"{n} {kind}" for kind, n in counts.items() if n))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="postback-conformance audit",
        description="Tell which recorded Postback requests would break on v2.",
    )
    parser.add_argument("har", type=Path, help="a HAR file (browsers, proxies and schemathesis record them)")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("reports/audit.json"),
        help="where to write the JSON result (default: reports/audit.json)",
    )
    options = parser.parse_args(argv)
    try:
        verdicts, redactor = audit(options.har)
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in render(verdicts):
        print(redactor(line))
    options.json.parent.mkdir(parents=True, exist_ok=True)
    data = {"har": str(options.har), "requests": [v.as_json() for v in verdicts]}
    options.json.write_text(redactor(json.dumps(data, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
    print(f"written: {options.json}")
    return 1 if any(v.verdict in (BREAKS, AT_RISK) for v in verdicts) else 0
