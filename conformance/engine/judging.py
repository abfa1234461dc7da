"""Judging: one phase of a check (what it raised, or that it passed) -> per-clause outcomes on its target.

A check names its clauses. A :class:`ConformanceFailure` names the clauses actually violated; its level on
the target's version decides the verdict: MUST -> fail, SHOULD -> warn (the check still counts as passed
unless ``--strict``), INFO -> info (never fails). Any other exception means the suite could not decide:
error. Each outcome speaks for one part of its clauses: a test for the answers, its read-back check for the
ingestion (docs/reports.md). No pytest: the plugin turns pytest's reports into :class:`Phase` and back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from conformance.contract.catalog import Level, clause
from conformance.contract.model import Ingest
from conformance.contract.value_mapping import Undecided
from conformance.engine.checks import LEVEL_STRENGTH, ConformanceFailure, capped_level, describe_ingest
from conformance.engine.context import PartUndecided, Skipped, not_caught_up, skip, undecidable
from conformance.engine.run import Run
from conformance.engine.rundata import Finding, Outcome
from conformance.readback import Expected
from conformance.transport.exchange import Exchange

MAX_LISTED = 5
NOT_EXERCISED = {
    "answer": "no request of this test exercised it in this run",
    "ingestion": "no record of this test was judged for it after the read-back",
}


@dataclass(frozen=True)
class CheckId:
    """A check as judged: its node ID, its target, the clauses it names, the part it speaks for."""

    nodeid: str
    target: str
    clauses: tuple[str, ...]
    part: str = "answer"  # "answer" (a test) or "ingestion" (its ``::read-back`` check)


@dataclass(frozen=True)
class Phase:
    """How one phase of a check ended: ``result`` passed, skipped or failed, with what it raised."""

    when: str  # setup | call | teardown
    result: str  # passed | skipped | failed
    error: BaseException | None = None
    duration: float = 0.0
    reason: str = ""  # a skip's reason; for an error that is no ConformanceFailure, its (redacted) text
    undecided: bool = False  # the skip leaves a part undecided whatever other checks decide


@dataclass
class Judged:
    """The outcomes of a phase, and what becomes of the phase: ``passes`` ("warn" or "info": a SHOULD or
    INFO miss, so the check counts as passed) or ``fails`` (BODY-08's every-request rule failed it)."""

    outcomes: list[Outcome]
    passes: str | None = None
    message: str = ""
    fails: str | None = None
    extra: list[str] = field(default_factory=list)


def phase_of(when: str, error: BaseException | None, duration: float, redact: Callable[[str], str]) -> Phase:
    """A phase that ran in-process (``conformance.engine.run_check``): what it raised decides its result."""
    if error is None:
        return Phase(when, "passed", None, duration)
    if isinstance(error, Skipped):
        return Phase(when, "skipped", error, duration, str(error), isinstance(error, PartUndecided))
    return Phase(when, "failed", error, duration, redact(f"{type(error).__name__}: {error}"))


def _failures(exc: BaseException) -> Iterator[ConformanceFailure]:
    if isinstance(exc, ConformanceFailure):
        yield exc
    elif isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _failures(inner)


def _level(cid: str, version: str) -> Level:
    return clause(cid).level_for(version)


def _violated_levels(
    violated: tuple[str, ...], failures: list[ConformanceFailure], version: str
) -> dict[str, Level]:
    """Each violated clause's level: its catalog level, lowered by a failure's ``level`` cap (a SHOULD part
    of a MUST clause, BODY-01); the strongest over the failures that name the clause."""
    levels: dict[str, Level] = {}
    for cid in violated:
        found = [capped_level(_level(cid, version), f.level) for f in failures if cid in f.clauses]
        levels[cid] = max(found or [_level(cid, version)], key=LEVEL_STRENGTH.index)
    return levels


def judge(run: Run, check: CheckId, phase: Phase) -> Judged:
    """The outcomes of one phase: the check's own, with BODY-08's every-request rule applied (one more
    outcome per other target a cutover test met a 5xx on)."""
    judged = _judge(run, check, phase)
    outcome = judged.outcomes[0]
    crashes = run.crashes.pop(check.nodeid, []) if phase.when == "call" else []
    failed = False
    for target in dict.fromkeys(x.target for x in crashes):
        met = [x for x in crashes if x.target == target]
        version = run.versions.get(target)
        if version is None or not clause(EVERY_REQUEST).applies_to(version):
            continue
        if target != outcome.target:
            judged.outcomes.append(Outcome(f"{check.nodeid}::every-request[{target}]", target, {}, {}))
        failed |= _every_request_failure(judged.outcomes[-1], met, run)
    if failed:
        judged.passes = None
        judged.fails = "\n".join(o.message for o in judged.outcomes if o.message)
    return judged


EVERY_REQUEST = "BODY-08"


def _every_request_failure(outcome: Outcome, crashes: list[Exchange], run: Run) -> bool:
    """BODY-08 speaks of every request: a 5xx or a dropped connection met by any test fails it, with those
    exchanges as its evidence (docs/requirements.md BODY-08: "no request makes the target answer 5xx,
    close the connection without an answer, or exceed the run's timeout")."""
    if outcome.statuses.get(EVERY_REQUEST) == "fail":
        return False
    received = "; ".join(x.outcome() for x in crashes[:3])
    if len(crashes) > 3:
        received += f" (and {len(crashes) - 3} more request(s) of this test)"
    finding = Finding(
        (EVERY_REQUEST,),
        "an answer within the timeout that is not 5xx, to every request (BODY-08)",
        run.redactor(received),
        tuple(crashes[:5]),
    )
    outcome.findings += (finding,)
    outcome.exchanges += finding.exchanges
    text = f"Expected: {finding.expected} / Received: {finding.received}"
    outcome.message = "\n".join(m for m in (outcome.message, text) if m)
    outcome.statuses[EVERY_REQUEST] = "fail"
    outcome.detail[EVERY_REQUEST] = text
    return True


def _judge(run: Run, check: CheckId, phase: Phase) -> Judged:
    target, marked, nodeid = check.target, check.clauses, check.nodeid
    version = run.versions.get(target, target)
    infos = dict(run.infos.get(nodeid, []))
    outcome = Outcome(
        nodeid,
        target,
        {},
        dict(infos),
        duration=phase.duration,
        exchanges=tuple(run.evidence.get(nodeid, ())),
        part=check.part,
        unverified=tuple(sorted(run.unverified.get(nodeid, ()))),
    )
    outcome.blocking = tuple(run.skip_reasons.get(nodeid, {}))
    judged = Judged([outcome])
    if phase.result == "skipped":
        outcome.statuses = dict.fromkeys(marked, "skip")
        outcome.detail = dict.fromkeys(marked, phase.reason)
        outcome.message = phase.reason
        if phase.undecided:
            outcome.blocking = marked
        return judged
    if phase.result == "passed":
        exercised = run.exercised.get(nodeid)
        for cid in marked:
            measured = cid in infos and _level(cid, version) is Level.INFO
            if exercised is not None and cid not in exercised and not measured:
                # The test said which clauses its requests exercised, and not this one. A read-back
                # check says nothing about a clause whose records nobody reads back.
                if outcome.part == "ingestion" and not clause(cid).needs_readback:
                    continue
                outcome.statuses[cid] = "skip"
                reasons = run.skip_reasons.get(nodeid, {})
                outcome.detail[cid] = infos.get(cid) or reasons.get(cid) or NOT_EXERCISED[outcome.part]
                continue
            outcome.statuses[cid] = "info" if _level(cid, version) is Level.INFO else "pass"
        for cid in infos:
            outcome.statuses.setdefault(cid, "info" if _level(cid, version) is Level.INFO else "pass")
        if not outcome.statuses:  # a read-back check that judged none of its test's clauses: say so
            outcome.statuses = dict.fromkeys(marked, "skip")
            outcome.detail = dict.fromkeys(marked, NOT_EXERCISED[outcome.part])
        return judged
    failures = list(_failures(phase.error)) if phase.error is not None else []
    if phase.when != "call" or not failures:
        # Only a ConformanceFailure says the target is at fault; anything else (a plain assert included:
        # those guard the suite's own assumptions) means the suite could not decide.
        text = run.redactor(phase.reason)
        outcome.statuses = dict.fromkeys(marked, "error")
        outcome.detail = {cid: f"the suite could not run this check: {text}" for cid in marked}
        outcome.message = text
        return judged
    violated = tuple(dict.fromkeys(c for f in failures for c in f.clauses))
    outcome.exchanges += tuple(x for f in failures for x in f.exchanges)
    outcome.findings = tuple(
        Finding(f.clauses, run.redactor(f.expected), run.redactor(f.received), f.exchanges) for f in failures
    )
    messages = [f"Expected: {f.expected} / Received: {f.received}" for f in failures]
    outcome.message = run.redactor("\n".join(messages))
    clause_levels = _violated_levels(violated, failures, version)
    levels = set(clause_levels.values())
    strict = run.settings.strict
    for cid in violated:
        level = clause_levels[cid]
        if level is Level.MUST or (level is Level.SHOULD and strict):
            outcome.statuses[cid] = "fail"
        elif level is Level.SHOULD:
            outcome.statuses[cid] = "warn"
        else:
            outcome.statuses[cid] = "info"
        outcome.detail[cid] = outcome.message
    if Level.MUST not in levels and not (Level.SHOULD in levels and strict):
        # A SHOULD miss is a warning, an INFO finding never fails: keep the run green (docs/contract.md).
        judged.passes = "warn" if Level.SHOULD in levels else "info"
        judged.message = outcome.message
    return judged


# -- the read-back checks ------------------------------------------------------------------------------


class ReadbackFailed(Exception):
    """The read-back service failed or answered garbage: the check is an error, not a verdict."""


def judge_readback(run: Run, nodeid: str, origin: str, marked: tuple[str, ...]) -> None:
    """Judge the records test ``origin``'s probes left behind (its ``::read-back`` check ``nodeid``), after
    the run's single wait (the first check waits). Raises a ConformanceFailure, a skip or ReadbackFailed."""
    if not run.ledger.resolved:
        run.ledger.resolve()
    if run.ledger.error:
        raise ReadbackFailed(run.ledger.error)
    entries = run.ledger.entries.get(origin, [])
    judgements = run.ledger.judgements.get(origin, [])
    if not entries and not judgements:
        skip("the test sent nothing to read back (it failed, skipped or had no read-back)")
    # Only the clauses whose records were judged here pass (verdicts.classify): an entry that must or
    # must not be ingested, or a judgement's own answer; INFO values count through record_info.
    decided = run.exercised.setdefault(nodeid, set())
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
            _report_may(run, nodeid, entry, found)
    if failures:
        raise _failure(failures, run.ledger.settle)
    for judge in judgements:
        said = judge(lambda cid, text: run.record_info(nodeid, cid, text))
        decided.update(marked if said is None else said)
    if not_caught:  # a clause is decided only when every part of it was
        decided.difference_update(not_caught)
        run.skip_reasons.setdefault(nodeid, {}).update(not_caught)
    if undecided:  # what the read-back's value mapping cannot decide is INFO, never a failure
        for entry, _, _ in undecided:
            decided.difference_update(entry.clauses)
        raise _failure(undecided, run.ledger.settle, Level.INFO)
    claimed = set(marked)
    if not decided & claimed and not claimed & {cid for cid, _ in run.infos.get(nodeid, [])}:
        if not_caught:
            undecidable(next(iter(not_caught.values())))
        skip("the records held, but none decides a clause this test claims")


def _report_may(run: Run, nodeid: str, entry: Expected, found: int) -> None:
    verdict = "ingested" if found else "not ingested"
    if found and entry.check is not None:
        verdict = entry.check(entry.records[0]) or verdict
    for cid in entry.clauses:
        if clause(cid).level is Level.INFO:
            run.record_info(nodeid, cid, f"{entry.exchange.request.method} probe: {verdict}")


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


# -- running a check in-process (no pytest) --------------------------------------------------------------


def run_check(run: Run, check: CheckId, call: Callable[[], object]) -> list[Outcome]:
    """Run one check in this process: the run marks it as sending, its phase is judged, its outcomes are
    kept in the run (what the plugin does through pytest's hooks, for a self-test or an embedding)."""
    with run.current.running(check.nodeid, check.clauses):
        started = time.monotonic()
        error: BaseException | None = None
        try:
            call()
        except Exception as exc:  # a ConformanceFailure, a skip, or a suite error: judged alike
            error = exc
    outcomes = judge(run, check, phase_of("call", error, time.monotonic() - started, run.redactor)).outcomes
    run.outcomes.extend(outcomes)
    return outcomes


def run_readback_check(run: Run, check: CheckId) -> list[Outcome]:
    """The ``::read-back`` check of ``check``, after the run's single wait (the first one waits)."""
    nodeid = f"{check.nodeid}::read-back"
    readback = CheckId(nodeid, check.target, check.clauses, "ingestion")
    return run_check(run, readback, lambda: judge_readback(run, nodeid, check.nodeid, check.clauses))
