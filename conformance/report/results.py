"""results.json (CONTRACT.md, "Reports"): one entry per (clause, target), aggregated over every test.

The shape is fixed by CONTRACT.md and checked by ``results.schema.json`` beside this module (JSON Schema
draft 2020-12); the one field beyond CONTRACT.md's example is ``run_id``, the prefix of every probe
record's ``conformance_id`` (how a user finds and deletes them afterwards).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.contract.catalog import catalog
from conformance.contract.spec import spec_sha256
from conformance.rundata import CUTOVER, Outcome, RunData

SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
# The strongest status wins when several tests speak about one clause on one target: any failure fails it;
# a test that could not run (error) outweighs a warning or a pass, which outweigh a skip.
PRIORITY = ("fail", "error", "warn", "pass", "info", "skip")
STATUSES = frozenset(PRIORITY)
MAX_DETAILS = 12  # distinct detail lines kept per entry; the rest are counted
NOT_SELECTED = "no test for this clause was selected in this run"


@dataclass
class ClauseResult:
    id: str
    level: str
    target: str
    status: str
    tests: list[str]
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "level": self.level,
            "target": self.target,
            "status": self.status,
            "tests": self.tests,
            "detail": self.detail,
        }


def report_targets(run: RunData) -> list[tuple[str, str]]:
    """(name, version) for every certified target, plus ("cutover", "cutover") when two are compared."""
    targets = [(t.name, t.version) for t in run.planned]
    if len({version for _, version in targets}) == 2:
        targets.append((CUTOVER, CUTOVER))
    return targets


def strongest(statuses: list[str]) -> str:
    return min(statuses, key=PRIORITY.index)


def merge_phases(outcomes: list[Outcome]) -> list[Outcome]:
    """One outcome per test node: a failing teardown is folded into its call phase (strongest status wins)."""
    merged: dict[str, Outcome] = {}
    for o in outcomes:
        seen = merged.get(o.nodeid)
        if seen is None:
            merged[o.nodeid] = replace(o, statuses=dict(o.statuses), detail=dict(o.detail))
            continue
        for cid, status in o.statuses.items():
            if cid not in seen.statuses or status == strongest([status, seen.statuses[cid]]):
                seen.statuses[cid] = status
                seen.detail[cid] = o.detail.get(cid, "")
        seen.message = "\n".join(m for m in (seen.message, o.message) if m)
        seen.exchanges += o.exchanges
        seen.findings += o.findings
        seen.duration += o.duration
    return list(merged.values())


def _join(details: list[str]) -> str:
    unique = [d for d in dict.fromkeys(details) if d]
    if len(unique) > MAX_DETAILS:
        unique = [*unique[:MAX_DETAILS], f"(and {len(unique) - MAX_DETAILS} more; see report.html)"]
    return "\n".join(unique)


def _entry(clause_id: str, level: str, target: str, outcomes: list[Outcome]) -> ClauseResult:
    tests = list(dict.fromkeys(o.nodeid for o in outcomes))
    if not outcomes:
        return ClauseResult(clause_id, level, target, "skip", tests, NOT_SELECTED)
    status = strongest([o.statuses[clause_id] for o in outcomes])
    same = [o.detail.get(clause_id, "") for o in outcomes if o.statuses[clause_id] == status]
    detail = _join(same)
    if status == "pass":
        # Measured values (e.g. the status seen, AUTH-08) and partial skips stay visible on a pass.
        skipped = [o.detail.get(clause_id, "") for o in outcomes if o.statuses[clause_id] == "skip"]
        detail = _join([f"partly skipped: {d}" for d in skipped if d] + same)
    elif not detail:
        detail = {
            "fail": "failed (the test gave no message)",
            "warn": "missed (the test gave no message)",
            "error": "the suite could not run this check",
            "skip": "skipped (no reason given)",
            "info": "checked; the test recorded no value",
        }[status]
    return ClauseResult(clause_id, level, target, status, tests, detail)


def aggregate(run: RunData) -> list[ClauseResult]:
    """Every clause that applies to each report target, in catalog order, target by target."""
    results: list[ClauseResult] = []
    for name, version in report_targets(run):
        on_target = [o for o in run.outcomes if o.target == name]
        for clause in catalog().values():
            if clause.applies_to(version):
                outcomes = [o for o in on_target if clause.id in o.statuses]
                results.append(_entry(clause.id, clause.level_for(version).value, name, outcomes))
    return results


def verdict(results: list[ClauseResult]) -> str:
    """``not-conformant`` when a clause failed (MUST, or SHOULD under --strict) or could not be run."""
    return "not-conformant" if any(r.status in ("fail", "error") for r in results) else "conformant"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(run: RunData, results: list[ClauseResult]) -> dict[str, Any]:
    finished = run.finished_at or datetime.now(UTC)
    data: dict[str, Any] = {
        "suite_version": __version__,
        "spec_sha256": spec_sha256(),
        "seed": run.seed,
        "run_id": run.run_id,
        "started_at": _timestamp(run.started_at),
        "finished_at": _timestamp(finished),
        "verdict": verdict(results),
        "targets": [
            {
                "name": t.name,
                "url": run.urls.get(t.name),
                "api_version": t.version,
                "readback": t.readback,
            }
            for t in run.planned
        ],
        "profile_overrides": run.settings.profile.overrides(),
        "requests_sent": run.requests_sent,
        "records_by_table": run.records_by_table,
        "throttled": run.throttles,
        "clauses": [r.as_json() for r in results],
    }
    if run.workers:
        # pytest-xdist: how many processes ran tests, and when each waited for ingestion (UNIX times).
        data["parallel"] = {"workers": run.workers, "readback_waits": run.extra.get("readback_waits", [])}
    return data


def write(run: RunData, results: list[ClauseResult], path: Path) -> dict[str, Any]:
    """Write results.json, validated against results.schema.json first: a suite bug is one clear error,
    never a file that CI tools reject."""
    import jsonschema

    data = build(run, results)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()).iter_errors(data))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ValueError(
            run.redactor(f"results.json does not match results.schema.json at {where}: {error.message}")
        )
    text = run.redactor(json.dumps(data, indent=2, ensure_ascii=False))
    path.write_text(text + "\n", encoding="utf-8")
    return data


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded
