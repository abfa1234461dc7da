"""No blind spot: each mutant is reported failing (MUST) or warning (SHOULD) exactly the clauses it breaks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.contract.catalog import Level, clause
from tests.mutants import all_mutants
from tests.mutants.base import Mutant
from tests.suite_runner import run_against

CASES = [pytest.param(m, v, id=f"{m.name}-{v}") for m in all_mutants() for v in m.versions]


def target_of(version: str) -> str:
    return "v2" if version == "cutover" else version


@pytest.mark.parametrize(("mutant", "version"), CASES)
def test_suite_reports_exactly_the_clauses_a_mutant_breaks(
    mutant: Mutant, version: str, tmp_path: Path
) -> None:
    """Each mutant's clauses come out fail (MUST) or warn (SHOULD); no other clause fails or errors."""
    # The whole suite runs against every mutant (no blind spot, no collateral false alarm anywhere);
    # POSTBACK_MUTANT_SCOPE=module narrows each run to the mutant's own modules for a quick local loop.
    modules = mutant.modules if os.environ.get("POSTBACK_MUTANT_SCOPE") == "module" else ()
    run = run_against(mutant.app, version, tmp_path, modules=modules, tls=mutant.tls)
    assert run.exit_code in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    results = run.results
    for cid in mutant.breaks:
        if not clause(cid).applies_to("cutover" if cid.startswith("CUT-") else target_of(version)):
            continue  # e.g. a v2-only clause of a mutant served as both versions
        target = "cutover" if cid.startswith("CUT-") else target_of(version)
        level = clause(cid).level_for(target)
        wanted = "fail" if level is Level.MUST else "warn"
        assert run.status(cid, target) == wanted, (
            f"{mutant.name} ({mutant.description}) should make {cid} {wanted} on {version}\n"
            + run.stdout[-4000:]
        )
    collateral = [
        f"{e['id']}={e['status']}: {e['detail'][:300]}"
        for e in results["clauses"]
        if e["status"] in ("fail", "error") and e["id"] not in mutant.breaks
    ]
    assert not collateral, f"{mutant.name} made other clauses fail: {collateral}"
    must = any(clause(c).level is Level.MUST for c in mutant.breaks)
    # A run narrowed to the mutant's modules leaves the other MUST clauses undecided: incomplete.
    assert results["verdict"] == ("not-conformant" if must else "incomplete" if modules else "conformant")
    assert run.exit_code == (1 if must else 0)
