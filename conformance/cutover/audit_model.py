"""The audit's findings as data: the verdicts and reason codes, and the groups of requests with their
tallies (``conformance.cutover.audit`` finds them, ``conformance.cutover.audit_render`` renders them).

Every text kept here is free of keys: a query key is masked as a value (``td_write_key=$POSTBACK_WRITE_KEY``)
in every example, and header and body values are never kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance.contract.model import V2_BODY_CAP
from conformance.cutover.traffic import BadLines, Input, Recorded

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
NOT_A_PROBLEM = ("valid key in", "legacy documents no cap")


SAMPLES = 3  # redacted example requests kept per group
MAX_HOSTS = 20  # hosts of unknown version named in the warning


@dataclass
class Tally:
    """Requests of one group from one client family: how many, when, and a few redacted examples."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    samples: list[str] = field(default_factory=list)

    def add(self, recorded: Recorded) -> None:
        self.count += recorded.count
        for line in recorded.lines or (recorded.line,):
            if len(self.samples) < SAMPLES:
                self.samples.append(sample_line(recorded, line))
        for moment in (recorded.seen, recorded.last_seen):
            if moment is not None:
                self.first = moment if self.first is None or moment < self.first else self.first
                self.last = moment if self.last is None or moment > self.last else self.last

    def merge(self, other: Tally) -> None:
        self.count += other.count
        self.samples = (self.samples + other.samples)[:SAMPLES]
        for moment in (other.first, other.last):
            if moment is not None:
                self.first = moment if self.first is None or moment < self.first else self.first
                self.last = moment if self.last is None or moment > self.last else self.last


@dataclass
class Group:
    """One verdict x reason x ``database.table`` x client family, with its tally."""

    verdict: str
    reasons: tuple[Reason, ...]
    table: str
    user_agent: str  # the client family
    version: str | None
    tally: Tally = field(default_factory=Tally)

    @property
    def count(self) -> int:
        return self.tally.count

    @property
    def first(self) -> datetime | None:
        return self.tally.first

    @property
    def last(self) -> datetime | None:
        return self.tally.last

    @property
    def example(self) -> str:
        return self.tally.samples[0].split(" ", 1)[1] if self.tally.samples else ""

    @property
    def changes(self) -> list[str]:
        return [r.change for r in self.reasons if r.change]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def verdict_rank(self) -> int:
        return SEVERITY.index(self.verdict)

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": list(self.codes),
            "reason_text": [r.text for r in self.reasons],
            "table": self.table,
            "user_agent": self.user_agent,
            "version": self.version,
            "count": self.count,
            "first_seen": when(self.first),
            "last_seen": when(self.last),
            "change": self.changes,
            "example": self.example,
            "samples": list(self.tally.samples),
        }


@dataclass
class Audit:
    """What the audit found: groups (most urgent and biggest first), warnings, the inputs and the lines
    that could not be read. Every text in it is already free of keys (query keys masked as values, header
    and body values never kept), so it is serialized as it is."""

    inputs: list[Input]
    groups: list[Group]
    warnings: list[str]
    bad: BadLines
    failed: list[str] = field(default_factory=list)  # inputs that could not be read at all

    @property
    def source(self) -> str:
        return ", ".join(i.name for i in self.inputs) or "(no input)"

    @property
    def format(self) -> str:
        formats = {i.format for i in self.inputs if i.format}
        return formats.pop() if len(formats) == 1 else "mixed" if formats else ""

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for group in self.groups:
            out[group.verdict] = out.get(group.verdict, 0) + group.count
        return dict(sorted(out.items(), key=lambda item: SEVERITY.index(item[0])))

    def summary(self) -> list[dict[str, Any]]:
        """Per verdict x reason code: the requests, and the groups (client family x table) they fall in."""
        out: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        for g in self.groups:
            row = out.setdefault(
                (g.verdict, g.codes),
                {"verdict": g.verdict, "reasons": list(g.codes), "count": 0, "groups": 0},
            )
            row["count"] += g.count
            row["groups"] += 1
        return sorted(out.values(), key=lambda r: (SEVERITY.index(r["verdict"]), -r["count"]))

    def as_json(self) -> dict[str, Any]:
        return {
            "input": self.source,
            "inputs": [
                {"name": i.name, "format": i.format, "lines": i.lines, "requests": i.requests}
                for i in self.inputs
            ],
            "format": self.format,
            "warnings": self.warnings,
            "unreadable": {"lines": self.bad.count, "first": list(self.bad.shown), "inputs": self.failed},
            "requests": self.total,
            "summary": self.summary(),
            "groups": [g.as_json() for g in self.groups],
        }


def sample_line(recorded: Recorded, line: int | None = None) -> str:
    """``<input>:<line> METHOD path?query`` with every query key masked as a value: nothing secret."""
    url = urlsplit(recorded.url)
    query = "&".join(
        f"{k}=${KEY_ENV}" if k == "td_write_key" else f"{k}={v}" if v else k
        for k, v in parse_qsl(url.query, keep_blank_values=True)
    )
    line = recorded.line if line is None else line
    where = f"{recorded.source}:{line}" if recorded.source else str(line)
    return f"{where} {recorded.method} {url.path}{'?' + query if query else ''}"


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""
