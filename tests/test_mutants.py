"""No blind spot: each mutant is reported failing (MUST) or warning (SHOULD) exactly the clauses it breaks.

The whole suite runs against every mutant (no blind spot, no collateral false alarm anywhere). Mutants of
one version and area run together, one suite run with one ``--target`` each (the suite's several-targets
run: a failing target fails only its own rows, so each mutant is judged on its own rows exactly as when it
runs alone); mutants served over TLS or as the v2 side of a cutover comparison run alone.
POSTBACK_MUTANT_SCOPE=module runs each mutant alone against its own modules, for a quick local loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conformance.contract.catalog import Level, clause
from tests.mutants import all_mutants
from tests.mutants.base import Mutant
from tests.suite_runner import SuiteRun, run_against, run_against_many

BATCH = 7  # mutants a suite run serves at once (a run of several targets)
MODULE_SCOPE = os.environ.get("POSTBACK_MUTANT_SCOPE") == "module"


def target_of(version: str) -> str:
    return "v2" if version == "cutover" else version


def _batches() -> list[Any]:
    """pytest params: (version, mutants) for each run, named by version and area (``v2-auth``)."""
    alone = [(v, [m]) for m in all_mutants() for v in m.versions if MODULE_SCOPE or m.tls or v == "cutover"]
    params = [pytest.param(v, ms, id=f"{ms[0].name}-{v}") for v, ms in alone]
    if MODULE_SCOPE:
        return params
    groups: dict[tuple[str, str], list[Mutant]] = {}
    for m in all_mutants():
        for v in m.versions:
            if v != "cutover" and not m.tls:
                area = m.modules[0].removeprefix("test_").removesuffix(".py") if m.modules else "other"
                groups.setdefault((v, area), []).append(m)
    for (version, area), members in groups.items():
        chunks = [members[i : i + BATCH] for i in range(0, len(members), BATCH)]
        for n, chunk in enumerate(chunks, 1):
            name = f"{version}-{area}" + (f"-{n}" if len(chunks) > 1 else "")
            params.append(pytest.param(version, chunk, id=name))
    return params


def _run(version: str, mutants: list[Mutant], tmp_path: Path) -> tuple[SuiteRun, list[str]]:
    """Run the suite against ``mutants``; the report target name of each, in their order."""
    if len(mutants) == 1:
        (m,) = mutants
        modules = m.modules if MODULE_SCOPE else ()
        return run_against(m.app, version, tmp_path, modules=modules, tls=m.tls), [target_of(version)]
    run = run_against_many([(m.app, version) for m in mutants], tmp_path)
    return run, [f"{version}-{n}" for n in range(1, len(mutants) + 1)]


def _problems(mutant: Mutant, version: str, target: str, run: SuiteRun) -> list[str]:
    """What is wrong with the verdicts on ``mutant``'s rows (``target``); empty when exactly its clauses
    fail (MUST) or warn (SHOULD) and nothing else fails or errors."""
    results = run.results
    rows = {e["id"]: e for e in results["clauses"] if e["target"] in (target, "cutover")}
    problems: list[str] = []
    for cid in mutant.breaks:
        where = "cutover" if cid.startswith("CUT-") else target_of(version)
        if not clause(cid).applies_to(where):
            continue  # e.g. a v2-only clause of a mutant served as both versions
        wanted = "fail" if clause(cid).level_for(where) is Level.MUST else "warn"
        got = rows[cid]["status"] if cid in rows else "missing"
        if got != wanted:
            detail = rows[cid]["detail"][:300] if cid in rows else ""
            problems.append(f"Expected: {cid} {wanted} / Received: {got} {detail}")
    collateral = [
        f"{cid}={e['status']}: {e['detail'][:300]}"
        for cid, e in rows.items()
        if e["status"] in ("fail", "error") and cid not in mutant.breaks
    ]
    if collateral:
        problems.append(f"Expected: no other clause fails / Received: {collateral}")
    must = any(clause(c).level is Level.MUST for c in mutant.breaks)
    # A run narrowed to the mutant's modules leaves the other MUST clauses undecided: incomplete.
    wanted_verdict = "not-conformant" if must else "incomplete" if MODULE_SCOPE else "conformant"
    # A cutover mutant breaks the pair's rows (CUT-*), whose verdict is the run's.
    judged = "run" if version == "cutover" else target
    got_verdict = results["verdict"] if judged == "run" else results.get("verdicts", {}).get(target)
    if got_verdict != wanted_verdict:
        problems.append(f"Expected: verdict {wanted_verdict} on {judged} / Received: {got_verdict}")
    return [f"{mutant.name} ({mutant.description}) on {version}: {p}" for p in problems]


@pytest.mark.parametrize(("version", "mutants"), _batches())
def test_suite_reports_exactly_the_clauses_a_mutant_breaks(
    version: str, mutants: list[Mutant], tmp_path: Path
) -> None:
    """Each mutant's clauses come out fail (MUST) or warn (SHOULD) on its own rows; no other clause fails or
    errors; its verdict is not-conformant exactly when it breaks a MUST clause (exit status 1)."""
    run, targets = _run(version, mutants, tmp_path)
    assert run.exit_code in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    problems = [p for m, t in zip(mutants, targets, strict=True) for p in _problems(m, version, t, run)]
    assert not problems, "\n".join(problems) + "\n" + run.stdout[-3000:]
    must = any(clause(c).level is Level.MUST for m in mutants for c in m.breaks)
    assert run.exit_code == (1 if must else 0)
