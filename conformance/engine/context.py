"""What a check uses: the ``ingestion`` of its probes (read back after the run), measured values (``info``),
and the ways to say that it decides nothing (``skip``) or that a part of its clauses cannot be decided
(``undecidable``). No pytest: the plugin's fixtures hand these to the suite's tests.

A test registers what each probe's record must become (:meth:`Ingestion.expect`) or a judgement to run once
the records are read back (:meth:`Ingestion.after_readback`); its ``::read-back`` check decides them all
after the run's single wait (``conformance.engine.judging.judge_readback``).
"""

from __future__ import annotations

import json
import time
import unittest
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from conformance.contract.model import Expectation, Ingest
from conformance.engine.checks import ConformanceFailure
from conformance.engine.run import Run
from conformance.readback import Check, Expected
from conformance.transport.client import Transport
from conformance.transport.exchange import Exchange


class Skipped(unittest.SkipTest):
    """The check decides nothing on this run, for the reason given (the plugin reports a pytest skip).

    A ``unittest.SkipTest``, so hypothesis re-raises it at once instead of shrinking it as a failure."""


class PartUndecided(Skipped):
    """A part of the check's clauses stays undecided whatever other tests decide ("never ingested" not
    observable on this account, or its barrier never read back): the clause is skip."""


def skip(reason: str) -> NoReturn:
    raise Skipped(reason)


def undecidable(reason: str) -> NoReturn:
    raise PartUndecided(reason)


# A judgement run after the read-back; it returns the clause IDs whose ingestion it decided (None: all the
# test's clauses), may raise a ConformanceFailure or skip.
Judge = Callable[[Callable[[str, str], None]], Iterable[str] | None]


class Info:
    """Records a measured value for a clause (INFO clauses report it; others show it as detail)."""

    def __init__(self, run: Run, nodeid: str) -> None:
        self.run = run
        self.nodeid = nodeid

    def record(self, clause_id: str, text: str) -> None:
        self.run.record_info(self.nodeid, clause_id, text)

    def exercised(self, *clause_ids: str) -> None:
        """Say which of the test's clauses a request of this run really exercised.

        A test that calls this (even with no ID) is judged on those alone: its other clauses come out
        ``skip`` ("no request of this run exercised it"), never ``pass``. For property tests and
        schemathesis phases, whose draws may miss a combination.
        """
        self.run.exercised.setdefault(self.nodeid, set()).update(clause_ids)


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

    @property
    def mapping(self) -> str:
        """How the target's read-back returns values ("identity", or "td": contract/value_mapping.py)."""
        source = self.run.ledger.readbacks.get(self.target.spec.name)
        return str(getattr(source, "mapping", "identity"))

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
