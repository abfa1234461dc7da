"""From pytest's test reports to clause verdicts.

A test names its clauses with ``@pytest.mark.clause(...)``. A :class:`ConformanceFailure` names the
clauses actually violated; its level on the target's version decides the verdict: MUST -> fail,
SHOULD -> warn (the test is reported passed unless ``--strict``), INFO -> info (never fails).
Any other exception means the suite could not decide: error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import pytest

from conformance.checks import LEVEL_STRENGTH, ConformanceFailure, capped_level
from conformance.contract.catalog import Level, clause
from conformance.plugin.session import CUTOVER, Finding, Outcome, Run
from conformance.transport.exchange import Exchange


class PartUndecided(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """A skip that leaves a part of the test's clauses undecided whatever other tests decide ("never
    ingested" not observable on this account, or its barrier never read back): the clause is skip."""


def undecidable(reason: str) -> NoReturn:
    raise PartUndecided(reason, pytrace=False)


NOT_EXERCISED = {
    "answer": "no request of this test exercised it in this run",
    "ingestion": "no record of this test was judged for it after the read-back",
}


def marked_clauses(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers("clause"):
        ids.extend(str(a) for a in mark.args)
    return tuple(dict.fromkeys(ids))


def target_of(item: pytest.Item) -> str:
    explicit = getattr(item, "target_name", None)
    if explicit:
        return str(explicit)
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        if "pair" in callspec.params:
            return CUTOVER
        if callspec.params.get("target"):
            return str(callspec.params["target"])
    return CUTOVER if any(c.startswith("CUT-") for c in marked_clauses(item)) else "?"


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


def classify(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, run: Run
) -> list[Outcome]:
    """The outcomes of one test phase: the test's own, with BODY-08's every-request rule applied (one more
    outcome per other target a cutover test met a 5xx on). Adjusts ``report`` for SHOULD and INFO misses
    (not with --strict), and fails it when any of its requests got a 5xx or no answer."""
    outcome = _classify(item, call, report, run)
    crashes = run.crashes.pop(item.nodeid, []) if report.when == "call" else []
    outcomes = [outcome]
    failed = False
    for target in dict.fromkeys(x.target for x in crashes):
        met = [x for x in crashes if x.target == target]
        version = run.versions.get(target)
        if version is None or not clause(EVERY_REQUEST).applies_to(version):
            continue
        if target != outcome.target:
            outcomes.append(Outcome(f"{item.nodeid}::every-request[{target}]", target, {}, {}))
        failed |= _every_request_failure(outcomes[-1], met, run)
    if failed:
        report.outcome = "failed"
        report.longrepr = "\n".join(o.message for o in outcomes if o.message)
    return outcomes


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


def _classify(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, run: Run) -> Outcome:
    """The outcome of one test phase; adjusts ``report`` for SHOULD and INFO misses (not with --strict)."""
    target = target_of(item)
    version = run.versions.get(target, target)
    marked = marked_clauses(item)
    infos = dict(run.infos.get(item.nodeid, []))
    detail = {cid: text for cid, text in infos.items()}
    outcome = Outcome(
        item.nodeid,
        target,
        {},
        detail,
        duration=report.duration,
        exchanges=tuple(run.evidence.get(item.nodeid, ())),
        part="ingestion" if getattr(item, "origin_nodeid", None) else "answer",
        unverified=tuple(sorted(run.unverified.get(item.nodeid, ()))),
    )
    outcome.blocking = tuple(run.skip_reasons.get(item.nodeid, {}))
    if report.skipped:
        raised = call.excinfo.value if call.excinfo is not None else None
        undecided = isinstance(raised, PartUndecided)
        reason = str(raised.msg) if undecided else _skip_reason(report)  # type: ignore[union-attr]
        outcome.statuses = dict.fromkeys(marked, "skip")
        outcome.detail = {cid: reason for cid in marked}
        outcome.message = reason
        if undecided:
            outcome.blocking = marked
        return outcome
    if report.passed:
        exercised = run.exercised.get(item.nodeid)
        for cid in marked:
            measured = cid in infos and _level(cid, version) is Level.INFO
            if exercised is not None and cid not in exercised and not measured:
                # The test said which clauses its requests exercised, and not this one. A read-back
                # check says nothing about a clause whose records nobody reads back.
                if outcome.part == "ingestion" and not clause(cid).needs_readback:
                    continue
                outcome.statuses[cid] = "skip"
                reasons = run.skip_reasons.get(item.nodeid, {})
                outcome.detail[cid] = infos.get(cid) or reasons.get(cid) or NOT_EXERCISED[outcome.part]
                continue
            outcome.statuses[cid] = "info" if _level(cid, version) is Level.INFO else "pass"
        for cid in infos:
            outcome.statuses.setdefault(cid, "info" if _level(cid, version) is Level.INFO else "pass")
        if not outcome.statuses:  # a read-back check that judged none of its test's clauses: say so
            outcome.statuses = dict.fromkeys(marked, "skip")
            outcome.detail = dict.fromkeys(marked, NOT_EXERCISED[outcome.part])
        return outcome
    excinfo = call.excinfo
    failures = list(_failures(excinfo.value)) if excinfo is not None else []
    if report.when != "call" or not failures:
        # Only a ConformanceFailure says the target is at fault; anything else (a plain assert included:
        # those guard the suite's own assumptions) means the suite could not decide.
        text = run.redactor(excinfo.exconly() if excinfo is not None else report.longreprtext)
        outcome.statuses = dict.fromkeys(marked, "error")
        outcome.detail = {cid: f"the suite could not run this check: {text}" for cid in marked}
        outcome.message = text
        return outcome
    violated = tuple(dict.fromkeys(c for f in failures for c in f.clauses))
    outcome.exchanges += tuple(x for f in failures for x in f.exchanges)
    outcome.findings = tuple(
        Finding(f.clauses, run.redactor(f.expected), run.redactor(f.received), f.exchanges) for f in failures
    )
    messages = [f"Expected: {f.expected} / Received: {f.received}" for f in failures]
    outcome.message = run.redactor("\n".join(messages))
    clause_levels = _violated_levels(violated, failures, version)
    levels = set(clause_levels.values())
    for cid in violated:
        level = clause_levels[cid]
        if level is Level.MUST or (level is Level.SHOULD and run.settings.strict):
            outcome.statuses[cid] = "fail"
        elif level is Level.SHOULD:
            outcome.statuses[cid] = "warn"
        else:
            outcome.statuses[cid] = "info"
        outcome.detail[cid] = outcome.message
    if Level.MUST not in levels and not (Level.SHOULD in levels and run.settings.strict):
        # A SHOULD miss is a warning, an INFO finding never fails: keep the run green (docs/contract.md).
        report.outcome = "passed"
        kind = "warn" if Level.SHOULD in levels else "info"
        report.user_properties.append(("verdict", kind))
        report.sections.append((f"postback {kind}", outcome.message))
    return outcome


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "skipped")
