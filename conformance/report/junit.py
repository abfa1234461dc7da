"""junit.xml: one testcase per test, with its clause IDs, level and target as properties.

The layout is the common JUnit XML one (``testsuites/testsuite/testcase`` with ``properties``, ``failure``,
``error``, ``skipped``, ``system-out``) that CI viewers render. Each testcase has one ``clause`` property per
clause ID, ``level`` (the strongest level among the clauses that decided it), ``target`` and ``verdict``
(pass, fail, warn, skip, error, info). The suite's properties hold the run's verdict (conformant,
incomplete, not-conformant) and one ``undecided`` property per clause that makes it incomplete. A SHOULD
miss is a passing testcase (CI stays green) whose ``verdict`` is ``warn``, whose name is not changed, and
whose system-out starts with ``WARNING``; ``--strict`` makes it a failure. A test's read-back check
(``<test>::read-back``) is a testcase of its own.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import UTC
from pathlib import Path

from conformance import __version__
from conformance.contract.catalog import Level, catalog_sha256, catalog_version, clause
from conformance.contract.spec import spec_sha256
from conformance.engine.rundata import CUTOVER, Outcome, RunData
from conformance.report.evidence import ExchangeView, printable
from conformance.report.results import ClauseResult, merge_phases, strongest, undecided, verdict

LEVELS = (Level.MUST, Level.SHOULD, Level.INFO)
MAX_EXCHANGES = 5


def _level(outcome: Outcome, run: RunData, status: str) -> str:
    version = run.versions.get(outcome.target, outcome.target)
    deciding = [c for c, s in outcome.statuses.items() if s == status] or list(outcome.statuses)
    levels = {clause(c).level_for(version) for c in deciding}
    return next((lv.value for lv in LEVELS if lv in levels), Level.INFO.value)


def failure_text(outcome: Outcome) -> str:
    """Expected/Received of each finding with its exchanges and curl lines; the message for other errors."""
    if not outcome.findings:
        return outcome.message
    parts = []
    for finding in outcome.findings:
        parts += [
            f"[{', '.join(finding.clauses)}]",
            f"Expected: {finding.expected}",
            f"Received: {finding.received}",
        ]
        for exchange in finding.exchanges[:MAX_EXCHANGES]:
            parts += ["", ExchangeView.of(exchange).text()]
        parts.append("")
    return "\n".join(parts).rstrip()


def _testcase(suite: ET.Element, outcome: Outcome, run: RunData, targets: set[str]) -> tuple[str, float]:
    module, _, name = outcome.nodeid.partition("::")
    case = ET.SubElement(
        suite,
        "testcase",
        classname=module.removesuffix(".py").replace("/", "."),
        name=name,
        file=module,
        time=f"{outcome.duration:.3f}",
    )
    status = strongest(list(outcome.statuses.values())) if outcome.statuses else "pass"
    props = ET.SubElement(case, "properties")
    for cid in outcome.statuses:
        ET.SubElement(props, "property", name="clause", value=cid)
    target = outcome.target if outcome.target in targets else "n/a"
    for key, value in (("level", _level(outcome, run, status)), ("target", target), ("verdict", status)):
        ET.SubElement(props, "property", name=key, value=value)
    first = outcome.message.splitlines()[0] if outcome.message else status
    if status == "fail":
        ET.SubElement(case, "failure", message=first[:500], type="NonConformance").text = failure_text(
            outcome
        )
    elif status == "error":
        ET.SubElement(case, "error", message=first[:500], type="SuiteError").text = outcome.message
    elif status == "skip":
        ET.SubElement(case, "skipped", message=first[:500])
    elif status == "warn":
        warned = ", ".join(c for c, s in outcome.statuses.items() if s == "warn")
        text = f"WARNING (SHOULD {warned} not met; a failure under --strict)\n{failure_text(outcome)}"
        ET.SubElement(case, "system-out").text = text
    elif status == "info" or any(outcome.detail.values()):
        values = "\n".join(f"{cid}: {text}" for cid, text in outcome.detail.items() if text)
        ET.SubElement(case, "system-out").text = f"[{status}] {values or outcome.message}"
    return status, outcome.duration


def build(run: RunData, results: list[ClauseResult]) -> ET.Element:
    root = ET.Element("testsuites", name="postback-conformance")
    suite = ET.SubElement(
        root,
        "testsuite",
        name="postback-conformance",
        timestamp=run.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname(),
    )
    props = ET.SubElement(suite, "properties")
    settings = {
        "verdict": verdict(results),
        "suite_version": __version__,
        "spec_sha256": spec_sha256(),
        "seed": str(run.seed),
        "run_id": run.run_id,
        "requests_sent": str(run.requests_sent),
        "strict": "yes" if run.settings.strict else "no",
    }
    for t in run.planned:
        settings[f"target.{t.name}"] = f"{t.version} " + (run.urls.get(t.name, "(not started)"))
    settings["seed_source"] = run.seed_source
    settings["catalog"] = f"{catalog_version()} sha256 {catalog_sha256()}"
    for key in ("keyword", "markers", "deselected"):
        if run.selection.get(key):
            settings[f"selection.{key}"] = str(run.selection[key])
    for name, text in settings.items():
        ET.SubElement(props, "property", name=name, value=text)
    # verdict incomplete: one property per clause the verdict needs but no test decided, with the reason.
    for r in undecided(results):
        reason = r.detail.splitlines()[0]
        ET.SubElement(
            props, "property", name="undecided", value=f"{r.id} [{r.level}] on {r.target}: {reason}"
        )
    targets = {t.name for t in run.planned} | {CUTOVER}
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    for outcome in merge_phases(run.outcomes):
        status, duration = _testcase(suite, outcome, run, targets)
        counts["tests"] += 1
        counts["failures"] += status == "fail"
        counts["errors"] += status == "error"
        counts["skipped"] += status == "skip"
        total += duration
    for element in (root, suite):
        for key, value in counts.items():
            element.set(key, str(value))
        element.set("time", f"{total:.3f}")
    return root


def write(run: RunData, results: list[ClauseResult], path: Path) -> None:
    root = build(run, results)
    ET.indent(root)
    data = ET.tostring(root, encoding="unicode", xml_declaration=True)
    path.write_text(printable(run.redactor(data)) + "\n", encoding="utf-8")
