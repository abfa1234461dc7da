"""Deferred read-back: tests register what must (not) be ingested; one check item per test decides later.

For every selected test that uses the ``ingestion`` fixture, the plugin appends a :class:`ReadbackCheck`
item (node ID ``<test>::read-back``) after all other tests. The first of them waits out the settle period
once and reads everything back; each then judges its own test's records.
"""

from __future__ import annotations

import json
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
from conformance.plugin.verdicts import marked_clauses, undecidable
from conformance.readback import Check, Expected
from conformance.transport.client import Transport
from conformance.transport.exchange import Exchange

MAX_LISTED = 5
# A judgement run after the read-back; it returns the clause IDs whose ingestion it decided (None: all the
# test's clauses), may raise a ConformanceFailure or skip.
Judge = Callable[[Callable[[str, str], None]], Iterable[str] | None]


def not_caught_up(run: Run, target: str, database: str, table: str) -> str | None:
    """Why a "never ingested" part of ``table`` stays undecided (the barrier standing for it was not read
    back), or None when the target caught up (or the run sends no barriers)."""
    if run.ledger.caught_up(target, database, table) is not False:
        return None
    _, bdb, btable = run.ledger.barrier_of.get((target, database, table), (target, database, table))
    return (
        f"'never ingested' not decided: the barrier record to {bdb}.{btable} was not read back within "
        f"--settle {run.ledger.settle:g} s, so the target may not have processed the probes yet"
    )


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
            # The answer part still decides; the ingestion part of these clauses stays undecided (skip).
            if ingest is not Ingest.MAY:
                self.run.unverified.setdefault(self.nodeid, set()).update(clauses)
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

    def expect_no_unidentified_record(self, exchange: Exchange, clauses: Iterable[str], table: str) -> None:
        """For a request whose body can carry no probe ID (an empty body, BODY-05), sent to a ``table`` of its
        own (``<table>_<suffix>``, docs/contract.md "Probe records") that no other request of the suite uses:
        after the read-back that table must hold no record received while it was sent (within the profile's
        clock tolerance) that lacks a ``conformance_id``."""
        clauses = tuple(clauses)
        if not self.enabled:
            self.run.unverified.setdefault(self.nodeid, set()).update(clauses)
            return
        run, spec, sent = self.run, self.target.spec, time.time()
        tolerance = run.settings.profile.clock_tolerance
        run.ledger.never_ingested(spec.name, spec.database, table)  # the barrier covers this table

        def judge(record_info: Callable[[str, str], None]) -> Iterable[str]:
            if late := not_caught_up(run, spec.name, spec.database, table):
                undecidable(f"{', '.join(clauses)}: {late}")
            source = run.ledger.readbacks[spec.name]
            window = (int(sent - tolerance), int(time.time() + tolerance))
            records = source.unidentified(spec.database, table, window)
            strays = [r for r in records if _received_near(r, sent, tolerance)]
            if strays:
                shown = ", ".join(json.dumps(r, ensure_ascii=False)[:120] for r in strays[:3])
                raise ConformanceFailure(
                    clauses,
                    f"no record ingested from it in {spec.database}.{table}",
                    f"{len(strays)} record(s) without a conformance_id received as it was sent: {shown}",
                    [exchange],
                )
            return clauses

        self.after_readback(judge)

    def not_caught_up(self, entry: Expected) -> str | None:
        """Why the absence of ``entry``'s record decides nothing yet (its barrier was never read back);
        None when it was found, or the target caught up."""
        return None if entry.records else not_caught_up(self.run, entry.target, entry.database, entry.table)

    def after_readback(self, judge: Judge) -> None:
        """Run ``judge(record_info)`` once the records are read back (it may raise a ConformanceFailure);
        ``record_info(clause_id, text)`` reports a measured value on the read-back check. The judge returns
        the clauses whose ingestion it decided, or None for all of the test's clauses."""
        self.run.ledger.judgements.setdefault(self.nodeid, []).append(judge)


def _received_near(record: dict[str, Any], sent: float, tolerance: float) -> bool:
    """Whether a record's ``time`` (UNIX seconds, a number or a string of digits) is within ``tolerance``
    of ``sent``; a record without a readable time counts as near (nothing places it elsewhere)."""
    value = record.get("time")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return True
    return abs(value - sent) <= tolerance


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
        # Only the clauses whose records were judged here pass (verdicts.classify): an entry that must or
        # must not be ingested, or a judgement's own answer; INFO values count through record_info.
        decided = run.exercised.setdefault(self.nodeid, set())
        failures: list[tuple[Expected, str, str]] = []
        undecided: list[tuple[Expected, str, str]] = []
        not_caught: dict[str, str] = {}  # clause -> why its "never ingested" part is undecided
        for entry in entries:
            if entry.ingest is not Ingest.MAY:
                decided.update(entry.clauses)
            found = len(entry.records)
            if entry.ingest is Ingest.MUST_NOT and not found:
                if late := not_caught_up(run, entry.target, entry.database, entry.table):
                    not_caught.update(dict.fromkeys(entry.clauses, late))
                continue
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
            said = judge(lambda cid, text: run.record_info(self.nodeid, cid, text))
            decided.update(marked_clauses(self) if said is None else said)
        if not_caught:  # a clause is decided only when every part of it was
            decided.difference_update(not_caught)
            run.skip_reasons.setdefault(self.nodeid, {}).update(not_caught)
        if undecided:  # what the read-back's value mapping cannot decide is INFO, never a failure
            for entry, _, _ in undecided:
                decided.difference_update(entry.clauses)
            raise self._failure(undecided, run.ledger.settle, Level.INFO)
        claimed = set(marked_clauses(self))
        if not decided & claimed and not claimed & {cid for cid, _ in run.infos.get(self.nodeid, [])}:
            if not_caught:
                undecidable(next(iter(not_caught.values())))
            pytest.skip("the records held, but none decides a clause this test claims")

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
