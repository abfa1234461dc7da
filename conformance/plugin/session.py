"""The state of one conformance run, kept in ``config.stash``: settings, targets, keys, ledger, outcomes."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import pytest

from conformance.cutover.baseline import BaselineDiff
from conformance.plugin.options import Settings
from conformance.readback import Ledger, ReadbackClient
from conformance.transport.client import ProbeIds, TargetError, TargetSpec, Transport, ssl_context
from conformance.transport.credentials import Keyring
from conformance.transport.exchange import Exchange
from conformance.transport.redact import Redactor, install_log_redaction

CUTOVER = "cutover"


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
    primary = settings.primary
    assert primary.api_version is not None
    planned = [PlannedTarget(primary.api_version, primary.api_version, primary.readback is not None)]
    if settings.compare is not None:
        compare = settings.compare
        assert compare.api_version is not None
        name = compare.api_version if compare.api_version != primary.api_version else "compare"
        planned.append(PlannedTarget(name, compare.api_version, compare.readback is not None))
    return planned


class Run:
    """Everything a run shares. Created at configure time; targets start when the first test is due."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seed = settings.seed
        self.run_id = settings.run_id or f"pc{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(3)}"
        self.planned = plan_targets(settings)
        self.redactor = Redactor()
        self.ids = ProbeIds(self.run_id)
        self.transports: dict[str, Transport] = {}
        self.ledger = Ledger(settings.settle, {})
        self.outcomes: list[Outcome] = []
        self.infos: dict[str, list[tuple[str, str]]] = {}
        self.evidence: dict[str, list[Exchange]] = {}
        self.baseline_diff: BaselineDiff | None = None
        self.started_at = datetime.now(UTC)
        self.finished_at: datetime | None = None
        self.started = False
        self.ready = False  # every target is up (reports are written only then)
        self.suite_items = 0
        self.deadline: float | None = None  # monotonic time after which no test starts (--max-duration)
        self._servers: list[object] = []
        for target in (settings.primary, settings.compare):
            if target is not None and target.write_key:
                self.redactor.add(target.write_key, target.key_env)
        install_log_redaction(self.redactor)

    @property
    def versions(self) -> dict[str, str]:
        return {t.name: t.version for t in self.planned}

    def start(self) -> None:
        """Start the embedded targets, or check the given ones answer; TargetError says why not."""
        if self.started:
            return
        self.started = True
        self.deadline = time.monotonic() + self.settings.max_duration  # --max-duration
        settings = self.settings
        verify = ssl_context(settings.ca_bundle, settings.insecure, settings.client_cert)
        specs: list[tuple[TargetSpec, str]] = []
        if settings.embedded:
            from conformance.reference.app import ApiVersion
            from conformance.reference.server import ReferenceServer  # only the embedded run needs it

            key = f"1/{secrets.token_hex(20)}"
            self.redactor.add(key, "POSTBACK_WRITE_KEY")
            for planned in self.planned:
                server = ReferenceServer(cast(ApiVersion, planned.version), [key])
                server.start()
                self._servers.append(server)
                specs.append(
                    (
                        TargetSpec(
                            planned.name,
                            server.url,
                            planned.version,
                            settings.database,
                            settings.table,
                            server.readback_url,
                            embedded=True,
                        ),
                        key,
                    )
                )
        else:
            for planned, options in zip(self.planned, (settings.primary, settings.compare), strict=False):
                assert options is not None
                assert options.url is not None
                assert options.write_key is not None
                specs.append(
                    (
                        TargetSpec(
                            planned.name,
                            options.url,
                            planned.version,
                            settings.database,
                            settings.table,
                            options.readback,
                            options.key_env,
                            proxy=settings.proxy,
                        ),
                        options.write_key,
                    )
                )
        readbacks: dict[str, ReadbackClient] = {}
        for spec, key in specs:
            keyring = Keyring(key, self.seed)
            transport = Transport(
                spec,
                keyring,
                self.redactor,
                self.ids,
                timeout=settings.timeout,
                max_rps=settings.max_rps,
                verify=verify,
            )
            self.transports[spec.name] = transport
            if not spec.embedded:
                transport.check_reachable()
            if spec.readback:
                readbacks[spec.name] = ReadbackClient(spec.readback, transport.client, self.redactor)
        self.ledger.readbacks = readbacks
        from conformance.plugin.preflight import run_preflight  # issue 11: one canary before any test

        run_preflight(self)
        self.ready = True

    def stop(self) -> None:
        self.finished_at = datetime.now(UTC)
        for transport in self.transports.values():
            transport.close()
        for server in self._servers:
            server.stop()  # type: ignore[attr-defined]
        self._servers.clear()

    @property
    def requests_sent(self) -> int:
        return sum(t.sent for t in self.transports.values())

    @property
    def records_by_table(self) -> dict[str, dict[str, int]]:
        """Per target, "database.table" -> probe records sent there with the valid key (for cleanup)."""
        return {name: dict(t.records_by_table) for name, t in self.transports.items()}

    @property
    def throttles(self) -> dict[str, int]:
        """Per target, answers 429/503 with Retry-After that were waited out (INFO, never judged)."""
        return {name: t.throttles for name, t in self.transports.items()}

    def record_info(self, nodeid: str, clause_id: str, text: str) -> None:
        self.infos.setdefault(nodeid, []).append((clause_id, self.redactor(text)))

    def record_evidence(self, nodeid: str, *exchanges: Exchange) -> None:
        """Exchanges a report should show even when the test passes (e.g. a cutover difference)."""
        self.evidence.setdefault(nodeid, []).extend(exchanges)


run_key = pytest.StashKey[Run]()


def get_run(config: pytest.Config) -> Run:
    return config.stash[run_key]


def elapsed(start: float) -> float:
    return time.monotonic() - start


__all__ = ["CUTOVER", "Finding", "Outcome", "Run", "TargetError", "get_run", "run_key"]
