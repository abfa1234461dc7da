"""junit.xml: one testcase per test, with its clause IDs, level and target as properties.

A SHOULD miss is a passing testcase with the property ``verdict=warn`` and the finding in system-out, so
CI stays green while the warning stays visible; ``--strict`` makes it a failure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.contract.catalog import clause
from conformance.plugin.session import Outcome, Run

PRIORITY = ("fail", "error", "warn", "pass", "info", "skip")


def _status(outcome: Outcome) -> str:
    if not outcome.statuses:
        return "pass"
    return min(outcome.statuses.values(), key=PRIORITY.index)


def _level(outcome: Outcome, run: Run) -> str:
    version = run.versions.get(outcome.target, outcome.target)
    levels = {clause(c).level_for(version).value for c in outcome.statuses}
    for level in ("MUST", "SHOULD", "INFO"):
        if level in levels:
            return level
    return "INFO"


def build(run: Run) -> ET.Element:
    suite = ET.Element("testsuite", name="postback-conformance")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    for outcome in run.outcomes:
        module, _, name = outcome.nodeid.partition("::")
        case = ET.SubElement(suite, "testcase", classname=module.removesuffix(".py").replace("/", "."),
                             name=name, time=f"{outcome.duration:.3f}")
        props = ET.SubElement(case, "properties")
        status = _status(outcome)
        for key, value in (("clauses", " ".join(outcome.statuses)), ("level", _level(outcome, run)),
                           ("target", outcome.target), ("verdict", status)):
            ET.SubElement(props, "property", name=key, value=value)
        counts["tests"] += 1
        total += outcome.duration
        message = run.redactor(outcome.message)
        first = message.splitlines()[0] if message else status
        if status == "fail":
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=first[:500]).text = message
        elif status == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=first[:500]).text = message
        elif status == "skip":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=first[:500])
        elif status in ("warn", "info"):
            details = "\n".join(f"{cid}: {text}" for cid, text in outcome.detail.items() if text)
            ET.SubElement(case, "system-out").text = f"[{status}] {details or message}"
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total:.3f}")
    return suite


def write(run: Run, path: Path) -> None:
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(build(run))
    ET.indent(tree)
    data = ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True)
    path.write_text(run.redactor(data) + "\n", encoding="utf-8")
