"""From pytest's test reports to the engine's judging (conformance/engine/judging.py) and back.

A test names its clauses with ``@pytest.mark.clause(...)``; the engine judges each phase; a SHOULD or INFO
miss is reported passed (unless ``--strict``), a request answered 5xx fails the test (BODY-08).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from conformance.engine.context import PartUndecided, Skipped
from conformance.engine.judging import CheckId, Phase, judge
from conformance.engine.run import Run
from conformance.engine.rundata import CUTOVER, Outcome


class UndecidedSkip(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """The engine's PartUndecided as pytest sees it: a skip that leaves a part of the clauses undecided."""


def translate_skips() -> Generator[None, object, object]:
    """Around a test's call: the engine's skips become pytest's (its PartUndecided an UndecidedSkip)."""
    try:
        return (yield)
    except PartUndecided as exc:
        raise UndecidedSkip(str(exc), pytrace=False) from None
    except Skipped as exc:
        raise pytest.skip.Exception(str(exc), pytrace=False) from None


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


def check_id(item: pytest.Item) -> CheckId:
    part = "ingestion" if getattr(item, "origin_nodeid", None) else "answer"
    return CheckId(item.nodeid, target_of(item), marked_clauses(item), part)


def phase(call: pytest.CallInfo[None], report: pytest.TestReport, run: Run) -> Phase:
    raised = call.excinfo.value if call.excinfo is not None else None
    if report.skipped:
        undecided = isinstance(raised, UndecidedSkip)
        reason = str(raised.msg) if undecided else _skip_reason(report)  # type: ignore[union-attr]
        return Phase(report.when, "skipped", raised, report.duration, reason, undecided)
    if report.passed:
        return Phase(report.when, "passed", None, report.duration)
    text = call.excinfo.exconly() if call.excinfo is not None else report.longreprtext
    return Phase(report.when, "failed", raised, report.duration, run.redactor(text))


def classify(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, run: Run
) -> list[Outcome]:
    """The engine's outcomes of one test phase; adjusts ``report`` for SHOULD and INFO misses (passed, not
    with --strict) and for a request that got a 5xx or no answer (failed)."""
    judged = judge(run, check_id(item), phase(call, report, run))
    if judged.passes is not None:
        report.outcome = "passed"
        report.user_properties.append(("verdict", judged.passes))
        report.sections.append((f"postback {judged.passes}", judged.message))
    if judged.fails is not None:
        report.outcome = "failed"
        report.longrepr = judged.fails
    return judged.outcomes


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "skipped")
