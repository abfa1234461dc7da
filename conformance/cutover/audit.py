"""``postback-conformance audit FILE``: will the recorded client traffic keep working on v2, and what must
each client change?

Each recorded request to the Postback endpoint becomes a contract-model shape; the model says what legacy
and v2 do with it ([V2] "What's different from the legacy Postback API"). Requests are grouped by verdict,
reason code, then client (the User-Agent's family: ``Chrome``, ``curl``, ``shop/1.0``) and
``database.table``, each group with its count, first and last time seen, a few examples and the change the
client must make. Requests are streamed: each distinct kind of request (what the contract model reads of
it) is remembered once and judged once, so memory grows with the kinds of requests, not their number.

A request's endpoint version comes from its host (``*.records.in.treasuredata.com`` is v2,
``in.treasuredata.com`` and ``<region>.in.treasuredata.com`` legacy, plus ``--legacy-host``/``--v2-host``),
else from ``--api-version``; without either it is reported as unknown, never assumed.

Keys are never printed, and never learnt: header and body values are not kept at all, and a query key is
masked as a value (``td_write_key=$POSTBACK_WRITE_KEY``) in every example, before any output is serialized.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

from conformance.contract.hosts import version_of_host
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
from conformance.cutover.audit_model import (
    ALREADY,
    ALREADY_V2,
    AT_RISK,
    BREAKS,
    CREDENTIAL_HEADERS,
    GET_PIXEL,
    KEEPS,
    LONG_NAME,
    MAX_HOSTS,
    NOT_A_PROBLEM,
    NOT_RECORDED,
    OTHER_AUTHORIZATION,
    OVER_CAP,
    QUERY_BESIDE_HEADER,
    QUERY_KEY,
    SEVERITY,
    UNKNOWN,
    VERSION_UNKNOWN,
    Audit,
    Group,
    Reason,
    Tally,
    sample_line,
)
from conformance.cutover.inputs import read_inputs
from conformance.cutover.traffic import (
    FORMATS,
    BadLines,
    Input,
    Recorded,
    TrafficError,
    body_class,
    client_family,
    expand,
)
from conformance.transport.client import EVENT_PATH


@dataclass(frozen=True)
class Versions:
    """How a request's endpoint version is known: its host, or the user's word (--api-version)."""

    default: str | None = None
    legacy_hosts: tuple[str, ...] = ()
    v2_hosts: tuple[str, ...] = ()

    def of(self, url: str, recorded: str | None = None) -> str | None:
        return self.of_host((urlsplit(url).hostname or "").lower(), recorded)

    def of_host(self, host: str, recorded: str | None = None) -> str | None:
        """The version of a request to ``host`` (lowercase)."""
        if host in self.v2_hosts:
            return "v2"
        if host in self.legacy_hosts:
            return "legacy"
        return version_of_host(host) or recorded or self.default


def _body_kind(body: bytes | None) -> Body:
    return Body(body_class(body))


def _cred(value: str | None) -> Cred | None:
    if value is None:
        return None
    return Cred.VALID if value.strip() else Cred.EMPTY


def shape_of(recorded: Recorded, version: str, assume_header: bool) -> RequestShape | None:
    """The request as a contract-model shape (every key taken as valid), or None if not a Postback request.
    ``assume_header``: the recording strips credential headers, so one is assumed where none is seen."""
    url = urlsplit(recorded.url)
    if not url.path.startswith(EVENT_PATH + "/"):
        return None
    query = dict(parse_qsl(url.query, keep_blank_values=True))
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
    reasons = [t for t in texts if not t.startswith(NOT_A_PROBLEM)]
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
        if not t.startswith(NOT_A_PROBLEM)
    )


Signature = tuple[Any, ...]


@dataclass
class _Seen:
    """One distinct request signature: a request standing for all, and a tally per client family."""

    example: Recorded
    version: str | None
    unseen_headers: bool
    clients: dict[str, Tally] = field(default_factory=dict)


class Auditor:
    """Reads requests one by one; remembers one :class:`_Seen` per distinct signature (what the contract
    model needs of a request), so memory grows with the kinds of requests, not with their number; judges
    each signature once at the end (when it is known whether the recording stripped credential headers)."""

    def __init__(self, versions: Versions) -> None:
        self.versions = versions
        self.seen: dict[Signature, _Seen] = {}
        self.postback = 0
        self.recorded_headers = 0  # Postback requests whose format records headers
        self.with_credential = 0  # ... and carry X-TD-Write-Key or Authorization
        self.unknown_hosts: set[str] = set()
        self.access_logs = False

    def add(self, recorded: Recorded) -> bool:
        """Count a recorded request; False when it is not one to the Postback endpoint (left out)."""
        url = urlsplit(recorded.url)
        if not url.path.startswith(EVENT_PATH + "/"):
            return False
        self.postback += recorded.count
        version = self.versions.of_host((url.hostname or "").lower(), recorded.version)
        if version is None and len(self.unknown_hosts) < MAX_HOSTS:
            self.unknown_hosts.add(url.hostname or "(no host)")
        if recorded.headers is None:
            self.access_logs = True
        else:
            self.recorded_headers += 1
            if any(recorded.header(h) is not None for h in CREDENTIAL_HEADERS):
                self.with_credential += 1
        signature = _signature(recorded, url.path, url.query, version)
        seen = self.seen.get(signature)
        if seen is None:
            seen = self.seen[signature] = _Seen(recorded, version, recorded.headers is None)
        family = client_family(recorded.user_agent)
        tally = seen.clients.get(family)
        if tally is None:
            tally = seen.clients[family] = Tally()
        tally.add(recorded)
        return True

    @property
    def stripped(self) -> bool:
        return self.recorded_headers > 0 and self.with_credential == 0

    def groups(self) -> list[Group]:
        merged: dict[tuple[Any, ...], Group] = {}
        for seen in self.seen.values():
            verdict, reasons, table = self._judge(seen)
            for family, tally in seen.clients.items():
                key = (verdict, reasons, table, family, seen.version)
                group = merged.get(key)
                if group is None:
                    group = merged[key] = Group(verdict, reasons, table, family, seen.version)
                group.tally.merge(tally)
        return sorted(
            merged.values(), key=lambda g: (SEVERITY.index(g.verdict), -g.count, g.table, g.user_agent)
        )

    def _judge(self, seen: _Seen) -> tuple[str, tuple[Reason, ...], str]:
        unseen = self.stripped or seen.unseen_headers
        shape = shape_of(seen.example, seen.version or "legacy", assume_header=unseen)
        assert shape is not None
        verdict, reasons = judge(shape)
        if seen.version is None and verdict != ALREADY:
            verdict, reasons = UNKNOWN, (VERSION_UNKNOWN,)
        elif unseen and shape.query_key is None and verdict in (KEEPS, AT_RISK):
            verdict, reasons = UNKNOWN, (NOT_RECORDED, *(r for r in reasons if r is not ALREADY_V2))
        return verdict, reasons, f"{shape.database}.{shape.table}"

    def warnings(self, names: str) -> list[str]:
        out: list[str] = []
        if self.stripped:
            out.append(
                f"no request in {names} carries an X-TD-Write-Key or Authorization header: the export "
                "probably stripped them (browsers do), so requests without ?td_write_key are reported as "
                f"'{UNKNOWN}', not as sent without a credential"
            )
        if self.access_logs:
            out.append(
                "access logs hold no request headers and no bodies: only the query key, names and method "
                f"are judged; requests without ?td_write_key are reported as '{UNKNOWN}'"
            )
        if self.unknown_hosts:
            out.append(
                f"the endpoint version of requests to {', '.join(sorted(self.unknown_hosts)[:5])} is "
                "unknown: give it with --api-version legacy|v2 (or --legacy-host/--v2-host)"
            )
        return out


def _urgency(group: Group) -> tuple[int, int, str, str]:
    """Most urgent verdict first, then the biggest group."""
    return SEVERITY.index(group.verdict), -group.count, group.table, group.user_agent


def _signature(recorded: Recorded, path: str, query: str, version: str | None) -> Signature:
    """Everything the contract model reads of a request (shape_of), with key values reduced to what they
    are (absent, empty, present) and a body to its kind and which side of v2's cap its size is."""
    query_key: str | None = None
    if "td_write_key" in query:
        values = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "td_write_key"]
        query_key = ("set" if values[0].strip() else "empty") if values else None
    headers = recorded.headers
    header_part: tuple[Any, ...] = ()
    if headers is not None:
        key_header = next(((n, v) for n, v in headers if n.lower() == "x-td-write-key"), None)
        authorization = recorded.header("authorization")
        scheme, _, auth_key = (authorization or "").strip().partition(" ")
        header_part = (
            key_header[0] if key_header else None,
            (bool(key_header[1].strip()) if key_header else None),
            (scheme, bool(auth_key.strip())) if authorization is not None else None,
            recorded.header("content-type"),
        )
    size = recorded.body_bytes or 0
    return (
        version,
        recorded.method,
        path,
        query_key,
        headers is None,
        header_part,
        _body_kind(recorded.body),
        size > V2_BODY_CAP,
    )


def audit(
    paths: Sequence[str | Path],
    fmt: str = "auto",
    versions: Versions | None = None,
    requests_out: IO[str] | None = None,
    progress: Callable[[list[Input]], None] | None = None,
) -> Audit:
    """Audit every input (files, globs, ``-``); an input that cannot be read at all is listed in
    ``failed`` with why, and the others are still audited. ``requests_out``: every Postback request as a
    JSON line (input, line, method, masked path, version), for those who want them all."""
    auditor = Auditor(versions or Versions())
    bad = BadLines()
    inputs: list[Input] = []
    failed: list[str] = []
    names = [str(p) for p in paths]
    tick = (lambda: progress(inputs)) if progress is not None else (lambda: None)
    for name in names:
        try:
            for name_ in expand([name]):
                every = requests_out is not None  # every request wanted: no counting by kind
                for recorded in read_inputs([name_], fmt, bad, inputs, tick, aggregate=not every):
                    if auditor.add(recorded) and requests_out is not None:
                        requests_out.write(json.dumps(_request_line(recorded, auditor.versions)) + "\n")
        except TrafficError as exc:
            failed.append(str(exc))
    return Audit(
        inputs, auditor.groups(), auditor.warnings(", ".join(Path(n).name for n in names)), bad, failed
    )


def _request_line(recorded: Recorded, versions: Versions) -> dict[str, Any]:
    where, _, request = sample_line(recorded).partition(" ")
    method, _, path = request.partition(" ")
    return {
        "input": recorded.source,
        "line": recorded.line,
        "method": method,
        "path": path,
        "version": versions.of(recorded.url, recorded.version),
        "user_agent": client_family(recorded.user_agent),
    }


class Progress:
    """A progress line on a terminal (standard error) for inputs that take more than a moment."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown = 0.0

    def __call__(self, inputs: list[Input]) -> None:
        now = time.monotonic()
        if now - self.started < 1.0 or now - self.shown < 0.25 or not inputs:
            return
        self.shown = now
        current = inputs[-1]
        lines = sum(i.lines for i in inputs)
        self.stream.write(f"\raudit: {lines:,} lines read ({current.name}) {now - self.started:.0f} s ")
        self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="postback-conformance audit",
        description="Tell which recorded Postback requests would break on v2, grouped, with what to change.",
        epilog="Exit status: 0 nothing breaks, 1 some requests break or are at risk on v2, 2 an input could "
        "not be read at all (the others are still audited), 4 a wrong option. Unreadable lines are counted "
        "and shown, and cost nothing else.",
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="recorded traffic: HAR 1.2, JSON lines or access logs, mixed; globs; - for stdin; .gz/.zst",
    )
    parser.add_argument(
        "--input-format", choices=FORMATS, default="auto", help="what the inputs are (default: by content)"
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
        help="where to write the JSON result (groups, not requests) as well (default: reports/audit.json)",
    )
    parser.add_argument("--requests", type=Path, help="also write every Postback request, as JSON lines")
    parser.add_argument(
        "--api-version",
        choices=("legacy", "v2"),
        help="the endpoint version of requests whose host does not say it (access logs, proxies)",
    )
    parser.add_argument(
        "--legacy-host", action="append", default=[], help="a host serving legacy (repeatable)"
    )
    parser.add_argument("--v2-host", action="append", default=[], help="a host serving v2 (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    options = parser.parse_intermixed_args(argv)  # inputs may stand before and after the options
    versions = Versions(
        options.api_version,
        tuple(h.lower() for h in options.legacy_host),
        tuple(h.lower() for h in options.v2_host),
    )
    progress = Progress(sys.stderr) if sys.stderr.isatty() and not options.quiet else None
    try:
        with ExitStack() as stack:
            requests_out = None
            if options.requests is not None:
                options.requests.parent.mkdir(parents=True, exist_ok=True)
                requests_out = stack.enter_context(options.requests.open("w", encoding="utf-8"))
            result = audit(options.files, options.input_format, versions, requests_out, progress)
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        if progress is not None:
            progress.done()
    for failure in result.failed:
        print(f"error: {failure}", file=sys.stderr)
    if not result.inputs or (result.failed and not any(i.requests for i in result.inputs)):
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.bad.count:
        print(f"warning: {result.bad.count:,} line(s) could not be read, e.g.", file=sys.stderr)
        for shown in result.bad.shown:
            print(f"  {shown}", file=sys.stderr)
    text = audit_render.render(result, options.format)
    try:
        if options.output is not None:
            options.output.parent.mkdir(parents=True, exist_ok=True)
            options.output.write_text(text, encoding="utf-8")
            print(f"written: {options.output}", file=sys.stderr)
        else:
            print(text, end="")
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"written: {options.json}", file=sys.stderr)
    if result.failed:
        return 2
    return 1 if any(g.verdict in (BREAKS, AT_RISK) for g in result.groups) else 0
