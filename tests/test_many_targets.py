"""Several targets in one run (``--target`` given several times): one report, a verdict per target, and a
failing target fails only its own rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.reference.app import PostbackApp
from tests.mutants.auth import InvalidKeysIngested
from tests.suite_runner import run_against_many

THREE = [(PostbackApp, "v2"), (InvalidKeysIngested.app, "v2"), (PostbackApp, "legacy")]


@pytest.mark.parametrize(
    "workers", [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="two-workers")]
)
def test_three_targets_give_one_report_where_only_the_faulty_one_fails(
    tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """Two v2 targets (named v2-1, v2-2 by their order) and a legacy one: results.json holds every clause
    row of all three; the mutant (v2-2 ingests invalid-key records) fails AUTH-08 and nothing else, the
    others are conformant; the run is not conformant (exit 1); no cutover pair among three targets."""
    run = run_against_many(THREE, tmp_path, *workers)
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    results = run.results
    assert [t["name"] for t in results["targets"]] == ["v2-1", "v2-2", "legacy"]
    assert results["verdicts"] == {"v2-1": "conformant", "v2-2": "not-conformant", "legacy": "conformant"}
    assert results["verdict"] == "not-conformant"
    failing = sorted((e["id"], e["target"]) for e in results["clauses"] if e["status"] in ("fail", "error"))
    assert failing == [("AUTH-08", "v2-2")]
    rows = {(e["id"], e["target"]) for e in results["clauses"]}
    v2_rows = {cid for cid, target in rows if target == "v2-1"}
    assert v2_rows == {cid for cid, target in rows if target == "v2-2"}
    assert {target for _, target in rows} == {"v2-1", "v2-2", "legacy"}
    assert "by target: v2-1 CONFORMANT, v2-2 NOT-CONFORMANT, legacy CONFORMANT" in run.stdout
