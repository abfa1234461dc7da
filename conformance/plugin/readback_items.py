"""Deferred read-back: tests register what must (not) be ingested; one check item per test decides later.

For every selected test that uses the ``ingestion`` fixture, the plugin appends a :class:`ReadbackCheck`
item (node ID ``<test>::read-back``) after all other tests. The first of them waits out the settle period
once and reads everything back; each then judges its own test's records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import pytest

from conformance.checks import ConformanceFailure, describe_ingest
from conformance.contract import value_mapping
from conformance.contract.catalog import Level, clause
from conformance.contract.model import Expectation, Ingest
from conformance.contract.value_mapping import Undecided
from conformance.plugin.session import Run, get_run
from conformance.readback import Check, Expected
from conformance.transport.client import Transport
from conformance.transport.exchange import Exchange

MAX_LISTED = 5
Judge = Callable[[Callable[[str, str], None]], None]


class Ingestion:
    """The ``ingestion`` fixture: register what a probe's record must become; decided after the run."""

    def __init__(self, run: Run, nodeid: str, target: Transport) -> None:
        self.run = run
        self.nodeid = nodeid
        self.target = target
        self.enabled = target.spec.readback is not None

    def expect(
        self,
        exchange: Exchange,
        ingest: Ingest,
        clauses: Iterable[str],
        *,
        check: Check | None = None,
        database: str | None = None,
        table: str | None = None,
    ) -> None:
        if not self.enabled:
            return
        cid = exchange.request.conformance_id
        if cid is None:
            raise ValueError("only probe records (bodies with a conformance_id) can be read back")
        self.run.ledger.add(
            Expected(
                nodeid=self.nodeid,
                target=self.target.spec.name,
                database=database or self.target.spec.database,
                table=table or self.target.spec.table,
                conformance_id=cid,
                ingest=ingest,
                clauses=tuple(clauses),
                exchange=exchange,
                check=check,
            )
        )

    def expect_outcome(self, exchange: Exchange, expectation: Expectation, **kwargs: Any) -> None:
        self.expect(exchange, expectation.ingest, expectation.ingest_clauses, **kwargs)

    def observe(
        self, exchange: Exchange, *, database: str | None = None, table: str | None = None
    ) -> Expected | None:
        """Read the probe back without expecting anything; ``.records`` is filled after the read-back.
        ``database``/``table``: where it was sent, if not the run's own names."""
        if not self.enabled or exchange.request.conformance_id is None:
            return None
        entry = Expected(
            nodeid=self.nodeid,
            target=self.target.spec.name,
            database=database or self.target.spec.database,
            table=table or self.target.spec.table,
            conformance_id=exchange.request.conformance_id,
            ingest=Ingest.MAY,
            clauses=(),
            exchange=exchange,
        )
        self.run.ledger.add(entry)
        return entry

    def after_readback(self, judge: Judge) -> None:
        """Run ``judge(record_info)`` once the records are read back (it may raise a ConformanceFailure);
        ``record_info(clause_id, text)`` reports a measured value on the read-back check."""
        self.run.ledger.judgements.setdefault(self.nodeid, []).append(judge)


class ReadbackCheck(pytest.Item):
    """Judges the records one test's probes left behind, after the run's single settle period."""

    def __init__(self, *, origin: pytest.Item, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.origin_nodeid = origin.nodeid
        callspec = getattr(origin, "callspec", None)
        params = callspec.params if callspec is not None else {}
        self.target_name = "cutover" if "pair" in params else params.get("target")
        self.own_markers.extend(origin.iter_markers())
        self.keywords.update(origin.keywords)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name

    def runtest(self) -> None:
        run = get_run(self.config)
        if not run.ledger.resolved:
            run.ledger.progress = progress_line(self.config)
            run.ledger.resolve()
            run.ledger.progress = None
        if run.ledger.error:
            raise ReadbackFailed(run.ledger.error)
        readback = run.ledger.readbacks.get(self.target_name or "")
        mapping = getattr(readback, "mapping", "identity")
        with value_mapping.using(mapping):
            self._judge(run)

    def _judge(self, run: Run) -> None:
        entries = run.ledger.entries.get(self.origin_nodeid, [])
        judgements = run.ledger.judgements.get(self.origin_nodeid, [])
        if not entries and not judgements:
            pytest.skip("the test sent nothing to read back (it failed, skipped or had no read-back)")
        failures: list[tuple[Expected, str, str]] = []
        undecided: list[tuple[Expected, str, str]] = []
        for entry in entries:
            found = len(entry.records)
            if entry.ingest is Ingest.MUST:
                if found != 1:
                    failures.append(
                        (
                            entry,
                            "the record ingested exactly once",
                            f"found {found} time(s) after the settle period",
                        )
                    )
                elif entry.check is not None and (problem := entry.check(entry.records[0])):
                    found_in = undecided if isinstance(problem, Undecided) else failures
                    found_in.append((entry, "the record ingested as sent", problem))
            elif entry.ingest is Ingest.MUST_NOT and found:
                failures.append((entry, "the record not ingested", f"ingested {found} time(s)"))
            elif entry.ingest is Ingest.MAY:
                self._report_may(run, entry, found)
        if failures:
            raise self._failure(failures, run.ledger.settle)
        for judge in judgements:
            judge(lambda cid, text: run.record_info(self.nodeid, cid, text))
        if undecided:  # what the read-back's value mapping cannot decide is INFO, never a failure
            raise self._failure(undecided, run.ledger.settle, Level.INFO)

    def _report_may(self, run: Run, entry: Expected, found: int) -> None:
        verdict = "ingested" if found else "not ingested"
        if found and entry.check is not None:
            verdict = entry.check(entry.records[0]) or verdict
        for cid in entry.clauses:
            if clause(cid).level is Level.INFO:
                run.record_info(self.nodeid, cid, f"{entry.exchange.request.method} probe: {verdict}")

    @staticmethod
    def _failure(
        failures: list[tuple[Expected, str, str]], settle: float, level: Level | None = None
    ) -> ConformanceFailure:
        clauses = [c for entry, _, _ in failures for c in entry.clauses]
        first, expected, received = failures[0]
        if len(failures) > 1:
            received += f" (and {len(failures) - 1} more probe(s) of this test)"
        note = f" [{describe_ingest(first.ingest)}; settle {settle:g} s]"
        return ConformanceFailure(
            clauses,
            expected + note,
            received,
            [entry.exchange for entry, _, _ in failures[:MAX_LISTED]],
            level,
        )


class ReadbackFailed(Exception):
    """The read-back service failed or answered garbage: the check is an error, not a verdict."""


def progress_line(config: pytest.Config) -> Callable[[int, int, float], None] | None:
    """A terminal line during the read-back wait: records found / expected, seconds left.

    Written through the terminal reporter with capture suspended (so it never lands in a test's captured
    output), at most every 5 s on a terminal and every 15 s otherwise; none without a terminal reporter (an
    xdist worker, ``-p no:terminal``) or with ``-qq``.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or hasattr(config, "workerinput") or config.get_verbosity() < -1:
        return None
    every = 5.0 if reporter.isatty() else 15.0
    last: list[float] = []

    def show(found: int, expected: int, left: float) -> None:
        now = time.monotonic()
        if last and now - last[-1] < every:
            return
        last.append(now)
        line = f"postback read-back: {found}/{expected} records found, {left:.0f} s left of the settle period"
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)

    return show
