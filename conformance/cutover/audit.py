"""``postback-conformance audit FILE``: will the recorded client traffic keep working on v2, and what must
each client change?

Each recorded request to the Postback endpoint becomes a contract-model shape; the model says what legacy
and v2 do with it ([V2] "What's different from the legacy Postback API"). Requests are grouped by verdict,
reason, ``database.table`` and User-Agent, each group with its count, first and last time seen and the
change the client must make. A request's endpoint version comes from its host (``*.records.in.
treasuredata.com`` is v2, ``in.treasuredata.com`` and ``<region>.in.treasuredata.com`` legacy, plus
``--legacy-host``/``--v2-host``), else from ``--api-version``; without either it is reported as unknown,
never assumed. Keys found in the file are never printed: every output passes through a redactor that
knows them, and query keys are masked in every path.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
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
from conformance.cutover import audit_render
from conformance.cutover.traffic import FORMATS, Recorded, TrafficError, read
from conformance.transport.client import EVENT_PATH
from conformance.transport.redact import Redactor

BREAKS, AT_RISK, UNKNOWN, ALREADY, KEEPS = (
    "breaks",
    "at risk",
    "cannot tell",
    "already failing",
    "keeps working",
)
SEVERITY = (BREAKS, AT_RISK, UNKNOWN, ALREADY, KEEPS)
KEY_ENV = "POSTBACK_WRITE_KEY"
CREDENTIAL_HEADERS = ("x-td-write-key", "authorization")
_QUERY_KEY = re.compile(r"(td_write_key=)[^&#\s]*", re.IGNORECASE)


@dataclass(frozen=True)
class Reason:
    """Why a request is in its group, and what the client must change (empty: nothing)."""

    code: str
    text: str
    change: str = ""


QUERY_KEY = Reason(
    "query-key",
    "the key is in ?td_write_key, which v2 does not accept (403)",
    "send the key in an X-TD-Write-Key or Authorization: TD1 <key> header instead of ?td_write_key",
)
QUERY_BESIDE_HEADER = Reason(
    "query-key-ignored",
    "?td_write_key beside a header key: v2 may ignore it or refuse the whole request (quickstart: "
    "not supported; the key also lands in URL logs)",
    "drop ?td_write_key and keep the header",
)
OVER_CAP = Reason(
    "over-cap",
    f"a body over v2's {V2_BODY_CAP:,}-byte cap (413)",
    f"split bodies over {V2_BODY_CAP:,} bytes into several requests",
)
OTHER_AUTHORIZATION = Reason(
    "non-td1-authorization",
    "an Authorization header that is not TD1: v2 reads Authorization first",
    "drop that Authorization header, or send the key as Authorization: TD1 <key>",
)
NOT_RECORDED = Reason(
    "credentials-not-recorded",
    "the recording holds no credential header (exports often strip them)",
    "check that the client sends X-TD-Write-Key or Authorization: TD1 <key> (not ?td_write_key)",
)
VERSION_UNKNOWN = Reason(
    "version-unknown",
    "the host does not say which endpoint version the request went to",
    "rerun the audit with --api-version legacy|v2 (or --legacy-host/--v2-host)",
)
ALREADY_V2 = Reason("already-v2", "already sent to a v2 endpoint")
GET_PIXEL = Reason(
    "get-method",
    "the GET (pixel) form: v2 takes POST only",
    "send events as POST with a JSON object body and the key in a header",
)
LONG_NAME = Reason(
    "long-name",
    "a database or table name over the profile's length (128): v2 may refuse it",
    "keep database and table names to 128 characters or fewer",
)
# Model reasons that describe what is fine, not what fails (left out of "why").
_NOT_A_PROBLEM = ("valid key in", "legacy documents no cap")


@dataclass(frozen=True)
class Judged:
    """One recorded Postback request: where it went, its verdict and reasons, ready to be grouped."""

    line: int
    method: str
    path: str  # query keys masked
    version: str | None
    verdict: str
    reasons: tuple[Reason, ...]
    table: str  # database.table
    user_agent: str
    seen: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.line,
            "method": self.method,
            "path": self.path,
            "version": self.version,
            "verdict": self.verdict,
            "reasons": [r.text for r in self.reasons],
        }


@dataclass
class Group:
    verdict: str
    reasons: tuple[Reason, ...]
    table: str
    user_agent: str
    version: str | None
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    example: str = ""
    lines: list[int] = field(default_factory=list)

    @property
    def changes(self) -> list[str]:
        return [r.change for r in self.reasons if r.change]

    def add(self, judged: Judged) -> None:
        self.count += 1
        self.example = self.example or f"{judged.method} {judged.path}"
        self.lines.append(judged.line)
        if judged.seen is not None:
            self.first = judged.seen if self.first is None else min(self.first, judged.seen)
            self.last = judged.seen if self.last is None else max(self.last, judged.seen)

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": [r.code for r in self.reasons],
            "reason_text": [r.text for r in self.reasons],
            "table": self.table,
            "user_agent": self.user_agent,
            "version": self.version,
            "count": self.count,
            "first_seen": audit_render.when(self.first),
            "last_seen": audit_render.when(self.last),
            "change": self.changes,
            "example": self.example,
        }


@dataclass
class Audit:
    source: str
    format: str
    requests: list[Judged]
    warnings: list[str]
    redactor: Redactor

    @property
    def groups(self) -> list[Group]:
        groups: dict[tuple[Any, ...], Group] = {}
        for judged in self.requests:
            key = (judged.verdict, judged.reasons, judged.table, judged.user_agent, judged.version)
            groups.setdefault(key, Group(*key)).add(judged)
        return sorted(groups.values(), key=lambda g: (SEVERITY.index(g.verdict), -g.count, g.table))

    def as_json(self) -> dict[str, Any]:
        return {
            "input": self.source,
            "format": self.format,
            "warnings": self.warnings,
            "groups": [g.as_json() for g in self.groups],
            "requests": [j.as_json() for j in self.requests],
        }


@dataclass(frozen=True)
class Versions:
    """How a request's endpoint version is known: its host, or the user's word (--api-version)."""

    default: str | None = None
    legacy_hosts: tuple[str, ...] = ()
    v2_hosts: tuple[str, ...] = ()

    def of(self, url: str, recorded: str | None = None) -> str | None:
        host = (urlsplit(url).hostname or "").lower()
        if host in self.v2_hosts or host.endswith(".records.in.treasuredata.com"):
            return "v2"
        if (
            host in self.legacy_hosts
            or host == "in.treasuredata.com"
            or host.endswith(".in.treasuredata.com")
        ):
            return "legacy"
        return recorded or self.default


def mask_query_keys(text: str) -> str:
    return _QUERY_KEY.sub(lambda m: m.group(1) + "$" + KEY_ENV, text)


def _learn_secrets(recorded: Recorded, query: dict[str, str], redactor: Redactor) -> None:
    for secret in (
        recorded.header("x-td-write-key"),
        query.get("td_write_key"),
        recorded.header("authorization"),
    ):
        if secret and secret.strip():
            redactor.add(secret.strip(), KEY_ENV)
            redactor.add(secret.strip().split(" ", 1)[-1], KEY_ENV)


def _body_kind(body: bytes | None) -> Body:
    if body is None:
        return Body.OBJECT  # not recorded: nothing to object to
    if not body:
        return Body.EMPTY
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return Body.INVALID_UTF8
    except ValueError:
        return Body.INVALID_JSON
    except RecursionError:  # nested deeper than Python's parser goes (BODY-08's ladder): judge the first byte
        return Body.OBJECT if body.lstrip().startswith(b"{") else Body.NON_OBJECT
    return Body.OBJECT if isinstance(value, dict) else Body.NON_OBJECT


def _cred(value: str | None) -> Cred | None:
    if value is None:
        return None
    return Cred.VALID if value.strip() else Cred.EMPTY


def shape_of(
    recorded: Recorded, version: str, redactor: Redactor, assume_header: bool
) -> RequestShape | None:
    """The request as a contract-model shape (every key taken as valid), or None if not a Postback request.
    ``assume_header``: the recording strips credential headers, so one is assumed where none is seen."""
    url = urlsplit(recorded.url)
    if not url.path.startswith(EVENT_PATH + "/"):
        return None
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    _learn_secrets(recorded, query, redactor)
    segments = url.path[len(EVENT_PATH) + 1 :].split("/")
    names = [unquote_to_bytes(s).decode("utf-8", "replace") for s in segments]
    path_shape = PathShape.OK
    if len(segments) != 2:
        path_shape = PathShape.EXTRA_SEGMENT if len(segments) > 2 else PathShape.MISSING_SEGMENT
    elif not all(segments):
        path_shape = PathShape.EMPTY_SEGMENT
    authorization = None
    if (value := recorded.header("authorization")) is not None:
        scheme, _, key = value.strip().partition(" ")
        authorization = Authorization(scheme, Cred.VALID if key.strip() else None)
    header_key = _cred(recorded.header("x-td-write-key"))
    if header_key is None and authorization is None and assume_header and "td_write_key" not in query:
        header_key = Cred.VALID
    content_type = recorded.header("content-type") if recorded.headers is not None else "application/json"
    return RequestShape(
        version,
        method=recorded.method,
        header_key=header_key,
        header_name=next(
            (n for n, _ in recorded.headers or () if n.lower() == "x-td-write-key"), "X-TD-Write-Key"
        ),
        query_key=_cred(query.get("td_write_key")),
        authorization=authorization,
        database=names[0] if names else "",
        table=names[1] if len(names) > 1 else "",
        path=path_shape,
        content_type=content_type,
        body=_body_kind(recorded.body),
        body_bytes=recorded.body_bytes or 0,
    )


def _already(texts: tuple[str, ...], version: str) -> tuple[Reason, ...]:
    """A request the current endpoint already refuses: the client has a bug to fix first."""
    reasons = [t for t in texts if not t.startswith(_NOT_A_PROBLEM)]
    return (Reason("already-failing", f"already failing on {version}: {'; '.join(reasons)}", "fix it first"),)


def judge(shape: RequestShape) -> tuple[str, tuple[Reason, ...]]:
    """What cutover does to one request recorded on legacy: the verdict and the reasons, from the model."""
    if shape.version == "v2":
        v2 = expect(shape)
        if v2.ingest is Ingest.MUST_NOT:
            return ALREADY, tuple(
                Reason("already-failing", f"already failing on v2: {r}") for r in v2.reasons
            )
        return KEEPS, (ALREADY_V2,)
    legacy = expect(shape)
    if legacy.ingest is Ingest.MUST_NOT:
        return ALREADY, tuple(
            Reason("already-failing", f"already failing on legacy: {r}") for r in legacy.reasons
        )
    v2 = expect(replace(shape, version="v2"))
    reasons: list[Reason] = []
    if shape.query_key is not None:
        reasons.append(QUERY_BESIDE_HEADER if shape.header_key is not None else QUERY_KEY)
    if shape.body_bytes > V2_BODY_CAP:
        reasons.append(OVER_CAP)
    if shape.authorization is not None and not shape.authorization.is_td1_credential:
        reasons.append(OTHER_AUTHORIZATION)
    if shape.method in ("GET", "HEAD"):
        reasons.append(GET_PIXEL)
    if "NAME-05" in v2.status_clauses:
        reasons.append(LONG_NAME)
    if v2.ingest is Ingest.MUST:
        return KEEPS, tuple(reasons)
    if v2.ingest is Ingest.MAY:
        return AT_RISK, tuple(reasons) or _model_reasons(v2.reasons, "v2 may treat it differently")
    return BREAKS, tuple(r for r in reasons if r is not QUERY_BESIDE_HEADER) or _model_reasons(
        v2.reasons, "v2 refuses it"
    )


def _model_reasons(texts: tuple[str, ...], prefix: str) -> tuple[Reason, ...]:
    return tuple(
        Reason("other", f"{prefix}: {t}", "make the request as the v2 documentation describes")
        for t in texts
        if not t.startswith(_NOT_A_PROBLEM)
    )


def audit(path: Path, fmt: str = "auto", versions: Versions | None = None) -> Audit:
    versions = versions or Versions()
    redactor = Redactor()
    found, recorded = read(path, fmt)
    postback = [r for r in recorded if urlsplit(r.url).path.startswith(EVENT_PATH + "/")]
    warnings: list[str] = []
    stripped = bool(postback) and all(
        r.headers is not None and not any(r.header(h) is not None for h in CREDENTIAL_HEADERS)
        for r in postback
    )
    if stripped:
        warnings.append(
            f"no request in {path.name} carries an X-TD-Write-Key or Authorization header: the export "
            "probably stripped them (browsers do), so requests without ?td_write_key are reported as "
            f"'{UNKNOWN}', not as sent without a credential"
        )
    if found == "access-log":
        warnings.append(
            "access logs hold no request headers and no bodies: only the query key, names and method are "
            "judged; requests without ?td_write_key are reported as "
            f"'{UNKNOWN}'"
        )
    unknown_hosts = sorted(
        {urlsplit(r.url).hostname or "(no host)" for r in postback if versions.of(r.url, r.version) is None}
    )
    if unknown_hosts:
        warnings.append(
            f"the endpoint version of requests to {', '.join(unknown_hosts[:5])} is unknown: give it with "
            "--api-version legacy|v2 (or --legacy-host/--v2-host)"
        )
    judged = [_judge_one(r, versions, redactor, stripped) for r in postback]
    return Audit(str(path), found, judged, warnings, redactor)


def _judge_one(recorded: Recorded, versions: Versions, redactor: Redactor, stripped: bool) -> Judged:
    version = versions.of(recorded.url, recorded.version)
    unseen = stripped or recorded.headers is None
    shape = shape_of(recorded, version or "legacy", redactor, assume_header=unseen)
    assert shape is not None
    verdict, reasons = judge(shape)
    if version is None and verdict != ALREADY:
        verdict, reasons = UNKNOWN, (VERSION_UNKNOWN,)
    elif unseen and shape.query_key is None and verdict in (KEEPS, AT_RISK):
        verdict, reasons = UNKNOWN, (NOT_RECORDED, *(r for r in reasons if r is not ALREADY_V2))
    url = urlsplit(recorded.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    return Judged(
        recorded.line,
        recorded.method,
        mask_query_keys(path),
        version,
        verdict,
        reasons,
        f"{shape.database}.{shape.table}",
        recorded.user_agent or "(no User-Agent)",
        recorded.seen,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="postback-conformance audit",
        description="Tell which recorded Postback requests would break on v2, grouped, with what to change.",
    )
    parser.add_argument("file", type=Path, help="recorded traffic: HAR 1.2, JSON lines or an access log")
    parser.add_argument(
        "--input-format", choices=FORMATS, default="auto", help="what the file is (default: auto-detect)"
    )
    parser.add_argument(
        "--format",
        choices=audit_render.RENDERERS,
        default="table",
        help="what to print: a table, Markdown, CSV or JSON (default: table)",
    )
    parser.add_argument("--output", type=Path, help="write the --format output to this file, not stdout")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("reports/audit.json"),
        help="where to write the JSON result as well (default: reports/audit.json)",
    )
    parser.add_argument(
        "--api-version",
        choices=("legacy", "v2"),
        help="the endpoint version of requests whose host does not say it (access logs, proxies)",
    )
    parser.add_argument(
        "--legacy-host", action="append", default=[], help="a host serving legacy (repeatable)"
    )
    parser.add_argument("--v2-host", action="append", default=[], help="a host serving v2 (repeatable)")
    options = parser.parse_args(argv)
    versions = Versions(
        options.api_version,
        tuple(h.lower() for h in options.legacy_host),
        tuple(h.lower() for h in options.v2_host),
    )
    try:
        result = audit(options.file, options.input_format, versions)
    except TrafficError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hide = result.redactor
    for warning in result.warnings:
        print(hide(f"warning: {warning}"), file=sys.stderr)
    text = hide(audit_render.render(result, options.format))
    try:
        if options.output is not None:
            options.output.parent.mkdir(parents=True, exist_ok=True)
            options.output.write_text(text, encoding="utf-8")
            print(f"written: {options.output}", file=sys.stderr)
        else:
            print(text, end="")
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(hide(json.dumps(result.as_json(), indent=2, ensure_ascii=False)) + "\n")
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"written: {options.json}", file=sys.stderr)
    return 1 if any(j.verdict in (BREAKS, AT_RISK) for j in result.requests) else 0
