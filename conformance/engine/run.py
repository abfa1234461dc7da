"""One conformance run: settings, targets, keys, transports, ledger, evidence and outcomes. No pytest.

The plugin keeps one in ``config.stash``; a self-test may hold several in one process (nothing here is
module-level state: the test now running, the traffic and the read-back ledger all belong to the run).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any, cast

from conformance.contract.model import Ingest
from conformance.cutover.baseline import BaselineDiff
from conformance.engine import preflight
from conformance.engine.rundata import CUTOVER, Finding, Outcome, PlannedTarget, RunData, Settings
from conformance.readback import Expected, Ledger, RecordSource, open_readback
from conformance.transport.client import (
    NoConnection,
    ProbeIds,
    TargetError,
    TargetSpec,
    Throttled,
    Transport,
    probe_tables,
    ssl_context,
)
from conformance.transport.credentials import Keyring
from conformance.transport.exchange import Exchange
from conformance.transport.redact import Redactor, install_log_redaction


class Run(RunData):
    """Everything a run shares. Created at configure time; targets start when the first test is due."""

    def __init__(self, settings: Settings) -> None:
        run_id = settings.run_id or f"pc{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(3)}"
        super().__init__(settings, run_id, Redactor())
        self.ids = ProbeIds(self.run_id)
        self.rate_share = 1  # an xdist worker sends at most max_rps / workers
        self.target_specs: list[tuple[TargetSpec, str]] = []
        self.deferred_checks: list[Any] = []  # an xdist worker's read-back check items (the plugin's)
        self.ran_here: set[str] = set()  # node IDs of the tests this process ran
        self.deferred_reports: list[dict[str, object]] = []  # their reports, serialised for the controller
        self.transports: dict[str, Transport] = {}
        self.ledger = Ledger(settings.settle, {}, RunBarriers(self))
        self.infos: dict[str, list[tuple[str, str]]] = {}
        self.evidence: dict[str, list[Exchange]] = {}
        # Per test (node ID): the clauses it exercised, for tests that say (property tests, schemathesis
        # phases, read-back checks); and the clauses whose ingestion it could not verify (no read-back).
        self.exercised: dict[str, set[str]] = {}
        self.unverified: dict[str, set[str]] = {}
        # Per test: why a clause part it registered stayed undecided (a barrier never read back).
        self.skip_reasons: dict[str, dict[str, str]] = {}
        # Per test (node ID): the exchanges answered 5xx or not at all (BODY-08 holds for every request).
        self.crashes: dict[str, list[Exchange]] = {}
        self.baseline_diff: BaselineDiff | None = None
        self.started = False
        self.ready = False  # every target is up (reports are written only then)
        self.suite_items = 0
        self.deadline: float | None = None  # monotonic time after which no test starts (--max-duration)
        self._servers: list[object] = []
        for target in settings.given:
            if target.write_key:
                self.redactor.add(target.write_key, target.key_env)
        if settings.td_api_key:  # --readback=td: the TD API key (POSTBACK_TD_API_KEY only)
            self.redactor.add(settings.td_api_key, "POSTBACK_TD_API_KEY")
        install_log_redaction(self.redactor)

    def start(self) -> None:
        """Start the embedded targets, or check the given ones answer; TargetError says why not."""
        if self.started:
            return
        self.started = True
        self.connect(self._target_specs(), check=True)
        # One canary before any test; once per run (an xdist controller runs it before its workers start).
        with self.current.running(preflight.PREFLIGHT_TEST, ()):
            notes = preflight.canary_notices(self.transports, self.ledger.readbacks, self.settings.settle)
        self.notices += [self.redactor(note) for note in notes]
        self.ready = True  # reports are written from here on (a failed preflight writes none)

    def _target_specs(self) -> list[tuple[TargetSpec, str]]:
        """Every target with its valid key; starts the embedded reference targets first."""
        settings = self.settings
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
            for planned, options in zip(self.planned, settings.given, strict=True):
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
                            disposable=settings.disposable_account,
                        ),
                        options.write_key,
                    )
                )
        return specs

    def connect(self, specs: list[tuple[TargetSpec, str]], *, check: bool) -> None:
        """One transport (and read-back client) per target; ``check``: make sure remote targets answer.

        An xdist worker connects to the targets its controller started and checked (``check=False``), and
        takes its share of the run's rate cap (docs/contract.md: the cap is for all workers together).
        """
        self.started = True
        self.target_specs = specs
        settings = self.settings
        self.deadline = time.monotonic() + settings.max_duration  # --max-duration
        verify = ssl_context(settings.ca_bundle, settings.insecure, settings.client_cert)
        max_rps = settings.max_rps / self.rate_share if settings.max_rps else None
        readbacks: dict[str, RecordSource] = {}
        for spec, key in specs:
            self.redactor.add(key, spec.key_env)
            keyring = Keyring(key, self.seed)
            transport = Transport(
                spec,
                keyring,
                self.redactor,
                self.ids,
                timeout=settings.timeout,
                max_rps=max_rps,
                verify=verify,
            )
            transport.recorder = self.record_exchange  # traffic.har
            self.transports[spec.name] = transport
            self.urls[spec.name] = spec.url
            if check and not spec.embedded:
                transport.check_reachable()
            if spec.readback:
                readbacks[spec.name] = open_readback(
                    spec.readback, transport.client, self.redactor, settings.td_api_key
                )
        self.ledger.readbacks = readbacks

    def stop(self) -> None:
        self.finished_at = datetime.now(UTC)
        for transport in self.transports.values():
            transport.close()
        for server in self._servers:
            server.stop()  # type: ignore[attr-defined]
        self._servers.clear()

    def own_requests(self) -> int:
        return sum(t.sent for t in self.transports.values())

    def own_records_by_table(self) -> dict[str, dict[str, int]]:
        return {name: dict(t.records_by_table) for name, t in self.transports.items()}

    def own_throttles(self) -> dict[str, int]:
        return {name: t.throttles for name, t in self.transports.items()}

    def record_exchange(self, exchange: Exchange, started: datetime, elapsed: float) -> None:
        """traffic.har, and BODY-08's every-request rule: a 5xx or no answer is kept for its test."""
        super().record_exchange(exchange, started, elapsed)
        if exchange.response is None or exchange.response.status >= 500:
            nodeid = self.current.get()[0]
            self.crashes.setdefault(nodeid, []).append(exchange)

    def record_readback_stats(self) -> None:
        """results.json "readback": per target, the wait (seconds, why it stopped), polls, requests, jobs
        (each td job is a billed query on the user's account)."""
        ledger = self.ledger
        barriers = ledger.barrier_waits()
        stats = {
            name: {
                "waited_s": round(ledger.waited, 3),
                "stopped": ledger.stopped,
                "polls": ledger.polls,
                "requests": int(getattr(source, "requests", 0)),
                "jobs": int(getattr(source, "jobs", 0)),
                "barriers": barriers.get(name, {}),
            }
            for name, source in ledger.readbacks.items()
        }
        self.extra.setdefault("readback_stats", []).append(stats)

    def record_info(self, nodeid: str, clause_id: str, text: str) -> None:
        self.infos.setdefault(nodeid, []).append((clause_id, self.redactor(text)))

    def record_evidence(self, nodeid: str, *exchanges: Exchange) -> None:
        """Exchanges a report should show even when the test passes (e.g. a cutover difference)."""
        self.evidence.setdefault(nodeid, []).extend(exchanges)


BARRIER_TEST = "read-back barrier"  # the barrier records' test in traffic.har (it judges no clause)
BARRIER_FIELD = "conformance_barrier"


class RunBarriers:
    """The run's barrier records (conformance/readback, :class:`~conformance.readback.Barriers`): one
    valid-key record to each probe table that "never ingested" probes went to; a table the valid key may
    not reach (another database, a forbidden name) is stood for by the target's own --table."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def table_for(self, target: str, database: str, table: str) -> tuple[str, str]:
        spec = self.run.transports[target].spec
        if database == spec.database and table in probe_tables(spec.table):
            return database, table
        return spec.database, spec.table

    def send(self, target: str, database: str, table: str) -> Expected | None:
        transport = self.run.transports[target]
        try:
            with self.run.current.running(BARRIER_TEST, ()):
                exchange = transport.post(fields={BARRIER_FIELD: True}, database=database, table=table)
        except (NoConnection, Throttled):
            return None  # no barrier: the "never ingested" parts of this table stay undecided
        cid = exchange.request.conformance_id
        if cid is None:
            return None
        return Expected(BARRIER_TEST, target, database, table, cid, Ingest.MUST, (), exchange)


__all__ = ["CUTOVER", "Finding", "Outcome", "PlannedTarget", "Run", "TargetError"]
