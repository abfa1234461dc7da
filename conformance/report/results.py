"""results.json (docs/contract.md, "Reports"): one entry per (clause, target), aggregated over every test.

The shape is fixed by docs/contract.md and checked by ``results.schema.json`` beside this module (JSON Schema
draft 2020-12). Beyond docs/contract.md's example: ``run_id`` (the prefix of every probe record's
``conformance_id``), ``seed_source`` (``--seed``, ``--hypothesis-seed`` or ``random``), ``strict``,
``selection`` (``-k``, ``-m``, how many tests were deselected), ``catalog`` (the clause catalog's version and
sha256) and ``undecided`` (the clauses that make a verdict ``incomplete``, each with its reason).

A clause has parts: the answer, and the ingestion where read-back decides it. Per (clause, target) it is
``fail`` when any decided part failed, ``pass`` only when every part was decided and held, ``skip`` with
the reason otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.contract.catalog import Clause, Level, catalog, catalog_sha256, catalog_version
from conformance.contract.spec import spec_sha256
from conformance.engine.rundata import CUTOVER, Outcome, RunData

SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
# The strongest status wins when several tests speak about one clause on one target: any failure fails it;
# a test that could not run (error) outweighs a warning or a pass, which outweigh a skip.
PRIORITY = ("fail", "error", "warn", "pass", "info", "skip")
STATUSES = frozenset(PRIORITY)
MAX_DETAILS = 12  # distinct detail lines kept per entry; the rest are counted
NOT_SELECTED = "not selected: no test of this run decides it (the run was limited to some test files)"
DESELECTED = "deselected by -k/-m: the tests that decide it were left out of this run"
NO_READBACK = "no read-back (--readback)"
NOT_READ_BACK = "no test of this run read its records back"
DEFAULT_DETAIL = {
    "fail": "failed (the test gave no message)",
    "warn": "missed (the test gave no message)",
    "error": "the suite could not run this check",
    "skip": "skipped (no reason given)",
    "info": "checked; the test recorded no value",
}


@dataclass
class ClauseResult:
    id: str
    level: str
    target: str
    status: str
    tests: list[str]
    detail: str
    # Whether the verdict needs it decided: MUST, and SHOULD under --strict (not part of results.json).
    required: bool = False

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
    """(name, version) for every certified target, plus ("cutover", "cutover") when two are compared (one
    legacy and one v2 target: the embedded run, --compare-target, or two --target)."""
    targets = [(t.name, t.version) for t in run.planned]
    if len(targets) == 2 and len({version for _, version in targets}) == 2:
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


def _parts(clause: Clause, outcomes: list[Outcome]) -> list[str]:
    """The parts a clause has: its answer always; its ingestion where the catalog says read-back decides
    it, or where a test of this run registered an ingestion expectation it could not verify."""
    if clause.needs_readback or any(clause.id in o.unverified for o in outcomes):
        return ["answer", "ingestion"]
    return ["answer"]


def _undecided_reason(clause: Clause, missing: list[str], outcomes: list[Outcome], readback: bool) -> str:
    """Why some part of a clause that nothing failed was not decided."""
    cid = clause.id
    skipped = {
        part: [o.detail.get(cid, "") for o in outcomes if o.part == part and o.statuses[cid] == "skip"]
        for part in ("answer", "ingestion")
    }
    if "answer" in missing:
        return _join(skipped["answer"]) or "skipped (no reason given)"
    if not readback:
        why = NO_READBACK
    else:
        why = "; ".join(d for d in dict.fromkeys(skipped["ingestion"]) if d) or NOT_READ_BACK
    return f"answer conformant; ingestion not verified: {why}"


def _entry(
    clause: Clause, level: str, target: str, outcomes: list[Outcome], readback: bool, absent: str
) -> ClauseResult:
    """One (clause, target): fail when any decided part failed, pass only when every part was decided and
    held, skip (saying which part and why) otherwise; INFO clauses give their measured value."""
    clause_id = clause.id
    tests = list(dict.fromkeys(o.nodeid for o in outcomes))
    if not outcomes:
        return ClauseResult(clause_id, level, target, "skip", tests, absent)
    statuses = [o.statuses[clause_id] for o in outcomes]
    status = strongest(statuses)
    if status in ("fail", "error", "warn", "info") or level == "INFO":
        same = [o.detail.get(clause_id, "") for o in outcomes if o.statuses[clause_id] == status]
        return ClauseResult(clause_id, level, target, status, tests, _join(same) or DEFAULT_DETAIL[status])
    blocked = [o.detail.get(clause_id, "") for o in outcomes if clause_id in o.blocking]
    if blocked:
        return ClauseResult(clause_id, level, target, "skip", tests, _join(blocked) or DEFAULT_DETAIL["skip"])
    held = {o.part for o in outcomes if o.statuses[clause_id] == "pass"}
    parts = _parts(clause, outcomes)
    missing = [part for part in parts if part not in held]
    if missing:
        return ClauseResult(
            clause_id, level, target, "skip", tests, _undecided_reason(clause, missing, outcomes, readback)
        )
    # Measured values (e.g. the status seen, AUTH-08) and partial skips stay visible on a pass.
    same = [o.detail.get(clause_id, "") for o in outcomes if o.statuses[clause_id] == "pass"]
    skipped = [
        o.detail.get(clause_id, "") for o in outcomes if o.statuses[clause_id] == "skip" and o.part in parts
    ]
    detail = _join([f"partly skipped: {d}" for d in skipped if d] + same)
    return ClauseResult(clause_id, level, target, "pass", tests, detail)


def _absent(run: RunData, clause_id: str, target: str) -> str:
    """Why no test of this run speaks about a clause on a target."""
    if clause_id in run.deselected.get(target, ()):
        return DESELECTED
    return NOT_SELECTED


def aggregate(run: RunData) -> list[ClauseResult]:
    """Every clause that applies to each report target, in catalog order, target by target."""
    results: list[ClauseResult] = []
    readback = {t.name: t.readback for t in run.planned}
    readback[CUTOVER] = all(t.readback for t in run.planned)
    for name, version in report_targets(run):
        on_target = [o for o in run.outcomes if o.target == name]
        for clause in catalog().values():
            if clause.applies_to(version):
                outcomes = [o for o in on_target if clause.id in o.statuses]
                level = clause.level_for(version)
                entry = _entry(
                    clause, level.value, name, outcomes, readback[name], _absent(run, clause.id, name)
                )
                entry.required = level is Level.MUST or (level is Level.SHOULD and run.settings.strict)
                results.append(entry)
    return results


def undecided(results: list[ClauseResult]) -> list[ClauseResult]:
    """The clauses the verdict needs (MUST; SHOULD under --strict) that nothing failed but no test decided,
    each with its reason in ``detail``: what makes a verdict ``incomplete``."""
    return [r for r in results if r.required and r.status == "skip"]


def verdict(results: list[ClauseResult]) -> str:
    """``not-conformant`` when a clause failed (MUST, or SHOULD under --strict) or could not be run;
    ``incomplete`` when nothing failed but a clause the verdict needs was not decided; else ``conformant``."""
    if any(r.status in ("fail", "error") for r in results):
        return "not-conformant"
    return "incomplete" if undecided(results) else "conformant"


def verdicts(results: list[ClauseResult]) -> dict[str, str]:
    """The verdict of each report target on its own rows (the run's verdict is the worst of them)."""
    targets = dict.fromkeys(r.target for r in results)
    return {t: verdict([r for r in results if r.target == t]) for t in targets}


def undecided_json(results: list[ClauseResult]) -> list[dict[str, str]]:
    return [
        {"id": r.id, "target": r.target, "level": r.level, "reason": r.detail.splitlines()[0]}
        for r in undecided(results)
    ]


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(run: RunData, results: list[ClauseResult]) -> dict[str, Any]:
    finished = run.finished_at or datetime.now(UTC)
    data: dict[str, Any] = {
        "suite_version": __version__,
        "spec_sha256": spec_sha256(),
        "seed": run.seed,
        "seed_source": run.seed_source,
        "run_id": run.run_id,
        "started_at": _timestamp(run.started_at),
        "finished_at": _timestamp(finished),
        "verdict": verdict(results),
        "verdicts": verdicts(results),
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
        "notices": list(run.notices),
        "readback": combine_readback(run.extra.get("readback_stats", [])),
        "strict": run.settings.strict,
        "selection": dict(run.selection),
        "catalog": {"version": catalog_version(), "sha256": catalog_sha256()},
        "undecided": undecided_json(results),
        "clauses": [r.as_json() for r in results],
    }
    if run.workers:
        # pytest-xdist: how many processes ran tests, and when each waited for ingestion (UNIX times).
        data["parallel"] = {"workers": run.workers, "readback_waits": run.extra.get("readback_waits", [])}
    return data


STOP_ORDER = ("read-back failed", "settle reached", "barrier + margin", "all arrived", "nothing to read back")


def combine_readback(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One read-back figure per target from each process's (xdist workers wait at the same time): the
    longest wait, the reason that stopped the slowest, polls, requests and jobs added up."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for target, stats in part.items():
            seen = out.get(target)
            if seen is None:
                out[target] = {**stats, "barriers": dict(stats.get("barriers", {}))}
                continue
            seen["waited_s"] = max(seen["waited_s"], stats["waited_s"])
            seen["stopped"] = min(seen["stopped"], stats["stopped"], key=STOP_ORDER.index)
            for counter in ("polls", "requests", "jobs"):
                seen[counter] += stats[counter]
            seen["barriers"].update(stats.get("barriers", {}))
    return out


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
