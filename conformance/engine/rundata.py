"""The data of one conformance run, below both the plugin and the reports.

Reports are built from a :class:`RunData`: the validated settings, the planned targets, every test's
:class:`Outcome` and a few counters. The engine's run (``conformance.engine.run.Run``) is one;
so is what the controller of an xdist run merges from its workers. Nothing here does I/O or knows pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.contract.profile import Profile
from conformance.engine import traffic
from conformance.transport.exchange import Exchange
from conformance.transport.redact import Redactor

CUTOVER = "cutover"


@dataclass(frozen=True)
class TargetOptions:
    url: str | None
    api_version: str | None
    write_key: str | None
    readback: str | None
    key_env: str


@dataclass(frozen=True)
class Settings:
    """Every option of the run, validated (``conformance.plugin.options.settings_from_config``)."""

    primary: TargetOptions
    compare: TargetOptions | None
    database: str
    table: str
    settle: float
    profile: Profile
    profile_path: str | None
    report_dir: Path
    seed: int
    strict: bool
    max_rps: float | None
    timeout: float
    ca_bundle: str | None
    insecure: bool
    allow_insecure_http: bool
    baseline: Path | None = None
    fail_on: str = "any"
    run_id: str | None = None
    td_api_key: str | None = field(default=None, repr=False)  # POSTBACK_TD_API_KEY, for --readback=td
    max_duration: float = 1800.0  # --max-duration: no test starts after that many seconds
    proxy: str | None = None
    client_cert: tuple[str, str | None] | None = None
    require_complete: bool = False  # an incomplete verdict fails the run (--require-complete)
    disposable_account: bool = False  # --disposable-account: forbidden names may get the valid key
    extra: tuple[TargetOptions, ...] = ()  # the second and later --target, in their order

    @property
    def embedded(self) -> bool:
        return self.primary.url is None

    @property
    def given(self) -> tuple[TargetOptions, ...]:
        """The given targets in the order of :func:`plan_targets`: every --target, then --compare-target."""
        return (self.primary, *self.extra, *((self.compare,) if self.compare is not None else ()))


@dataclass(frozen=True)
class Finding:
    """One violation a test found (a ConformanceFailure, redacted): what was expected, what came, and how."""

    clauses: tuple[str, ...]
    expected: str
    received: str
    exchanges: tuple[Exchange, ...] = ()


@dataclass
class Outcome:
    """What one test (or read-back check) found, per clause, on one target."""

    nodeid: str
    target: str
    statuses: dict[str, str]  # clause ID -> pass | fail | warn | skip | error | info
    detail: dict[str, str] = field(default_factory=dict)
    exchanges: tuple[Exchange, ...] = ()
    message: str = ""
    duration: float = 0.0
    findings: tuple[Finding, ...] = ()  # the violations behind a fail/warn/info verdict (for reports)
    # Which part of its clauses the outcome speaks for: "answer" (the test: the HTTP answers) or
    # "ingestion" (its ``::read-back`` check). A clause passes only when every part it has was decided.
    part: str = "answer"
    # Clauses whose ingestion this test registered but could not verify (the target has no read-back).
    unverified: tuple[str, ...] = ()
    # Clauses a part of which this outcome leaves undecided whatever other tests decide (a "never ingested"
    # part that cannot be observed on this account, a barrier never read back): the clause stays skip.
    blocking: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedTarget:
    name: str
    version: str
    readback: bool


def plan_targets(settings: Settings) -> list[PlannedTarget]:
    """The targets of this run, known before any I/O (test parametrization needs them at collection)."""
    if settings.embedded:
        versions = [settings.primary.api_version] if settings.primary.api_version else ["legacy", "v2"]
        return [PlannedTarget(v, v, True) for v in versions]
    targets = (settings.primary, *settings.extra)
    versions = [str(t.api_version) for t in targets]
    planned: list[PlannedTarget] = []
    for options, version in zip(targets, versions, strict=True):
        # A target is named by its version; where several share one, by its version and its place among
        # them (v2-1, v2-2: the order of the --target options).
        same = [n for n, v in enumerate(versions) if v == version]
        name = version if len(same) == 1 else f"{version}-{same.index(len(planned)) + 1}"
        planned.append(PlannedTarget(name, version, options.readback is not None))
    if settings.compare is not None:
        compare = settings.compare
        assert compare.api_version is not None
        name = compare.api_version if compare.api_version not in versions else "compare"
        planned.append(PlannedTarget(name, compare.api_version, compare.readback is not None))
    return planned


class RunData:
    """What the reports need of a run. ``urls`` fill in as targets start; ``outcomes`` as tests end."""

    def __init__(self, settings: Settings, run_id: str, redactor: Redactor | None = None) -> None:
        self.settings = settings
        self.seed = settings.seed
        self.run_id = run_id
        self.planned = plan_targets(settings)
        self.redactor = redactor or Redactor()
        self.urls: dict[str, str] = {}
        self.outcomes: list[Outcome] = []
        self.started_at = datetime.now(UTC)
        self.finished_at: datetime | None = None
        self.merged_requests = 0  # requests sent by other processes (xdist workers) of this run
        self.workers = 0  # xdist workers whose part was merged into this run (0: a serial run)
        self.extra: dict[str, Any] = {}  # further run facts reported as they are (counters, selection)
        # Run-level notices shown first in every report (the preflight canary's unexpected answer).
        self.notices: list[str] = []
        self.traffic = traffic.TrafficLog()  # every exchange as plain data (traffic.entry): traffic.har
        self.current = traffic.CurrentTest()  # the test now sending (its exchanges are its in traffic.har)
        # The reports' aggregation of this run and the problems met writing them (conformance.report).
        self.written: tuple[list[Any], list[str]] | None = None
        # Where the seed came from: "--seed", "--hypothesis-seed" (it overrides) or "random".
        self.seed_source = "--seed"
        # The test selection: -k and -m expressions, and how many tests they (or --deselect) left out.
        self.selection: dict[str, Any] = {"keyword": None, "markers": None, "deselected": 0}
        # target name -> clause IDs that a deselected test would have decided on it (verdict reasons).
        self.deselected: dict[str, list[str]] = {}

    @property
    def versions(self) -> dict[str, str]:
        return {t.name: t.version for t in self.planned}

    @property
    def requests_sent(self) -> int:
        return self.merged_requests + self.own_requests()

    def own_requests(self) -> int:
        """Requests this process sent (the plugin's run counts its transports)."""
        return 0

    @property
    def records_by_table(self) -> dict[str, dict[str, int]]:
        """Per target, "database.table" -> probe records sent there with the valid key (for cleanup)."""
        counts = self.own_records_by_table()
        for name, tables in self.extra.get("records_by_table", {}).items():
            mine = counts.setdefault(name, {})
            for table, n in tables.items():
                mine[table] = mine.get(table, 0) + n
        return counts

    @property
    def throttles(self) -> dict[str, int]:
        """Per target, answers 429/503 with Retry-After that were waited out (INFO, never judged)."""
        counts = self.own_throttles()
        for name, n in self.extra.get("throttles", {}).items():
            counts[name] = counts.get(name, 0) + n
        return counts

    def own_records_by_table(self) -> dict[str, dict[str, int]]:
        return {}

    def own_throttles(self) -> dict[str, int]:
        return {}

    def record_exchange(self, exchange: Exchange, started: datetime, elapsed: float) -> None:
        """A transport's recorder: keep ``exchange`` in :attr:`traffic`, with the test now running."""
        version = self.versions.get(exchange.target, "")
        self.traffic.append(traffic.entry(exchange, started, elapsed, self.current.get(), version))
