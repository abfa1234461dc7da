"""results.json (CONTRACT.md, "Reports"): one entry per (clause, target), aggregated over every test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.contract.catalog import catalog
from conformance.contract.spec import spec_sha256
from conformance.plugin.session import CUTOVER, Run

# The strongest status wins when several tests speak about one clause on one target.
PRIORITY = ("fail", "error", "warn", "pass", "info", "skip")


@dataclass
class ClauseResult:
    id: str
    level: str
    target: str
    status: str
    tests: list[str]
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "target": self.target, "status": self.status,
                "tests": self.tests, "detail": self.detail}


def report_targets(run: Run) -> list[tuple[str, str]]:
    """(name, version) for every certified target, plus ("cutover", "cutover") when two are compared."""
    targets = [(t.name, t.version) for t in run.planned]
    if len({version for _, version in targets}) == 2:
        targets.append((CUTOVER, CUTOVER))
    return targets


def aggregate(run: Run) -> list[ClauseResult]:
    results: list[ClauseResult] = []
    for name, version in report_targets(run):
        for clause in catalog().values():
            if not clause.applies_to(version):
                continue
            outcomes = [o for o in run.outcomes if o.target == name and clause.id in o.statuses]
            tests = list(dict.fromkeys(o.nodeid for o in outcomes))
            if not outcomes:
                results.append(ClauseResult(clause.id, clause.level_for(version).value, name, "skip", tests,
                                            "no test for this clause was selected in this run"))
                continue
            statuses = [o.statuses[clause.id] for o in outcomes]
            status = min(statuses, key=PRIORITY.index)
            details = [o.detail.get(clause.id, "") for o in outcomes if o.statuses[clause.id] == status]
            details = [d for d in dict.fromkeys(details) if d]
            if status == "pass":
                skipped = [o.detail.get(clause.id, "") for o in outcomes if o.statuses[clause.id] == "skip"]
                details = [f"partly skipped: {d}" for d in dict.fromkeys(skipped) if d] + details
            results.append(ClauseResult(clause.id, clause.level_for(version).value, name, status, tests,
                                        "\n".join(details)))
    return results


def verdict(results: list[ClauseResult]) -> str:
    return "not-conformant" if any(r.status in ("fail", "error") for r in results) else "conformant"


def build(run: Run, results: list[ClauseResult]) -> dict[str, Any]:
    finished = run.finished_at or datetime.now(UTC)
    return {
        "suite_version": __version__,
        "spec_sha256": spec_sha256(),
        "seed": run.seed,
        "run_id": run.run_id,
        "started_at": run.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verdict": verdict(results),
        "targets": [
            {"name": t.name, "url": run.transports[t.name].spec.url if t.name in run.transports else None,
             "api_version": t.version, "readback": t.readback}
            for t in run.planned
        ],
        "profile_overrides": run.settings.profile.overrides(),
        "requests_sent": run.requests_sent,
        "clauses": [r.as_json() for r in results],
    }


def write(run: Run, results: list[ClauseResult], path: Path) -> dict[str, Any]:
    data = build(run, results)
    text = run.redactor(json.dumps(data, indent=2, ensure_ascii=False))
    path.write_text(text + "\n", encoding="utf-8")
    return data
