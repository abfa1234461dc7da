"""No blind spot, enforced: every MUST and SHOULD clause has a mutant, and docs/kill-matrix.md is current."""

from __future__ import annotations

from pathlib import Path

from tests.kill_matrix import killable, kills, render

DOC = Path(__file__).resolve().parents[1] / "docs" / "kill-matrix.md"


def test_every_must_and_should_clause_is_killed_by_at_least_one_mutant() -> None:
    """A new clause without a mutant fails CI."""
    table = kills()
    unkilled = [cid for cid in killable() if not table[cid]]
    assert not unkilled, f"MUST/SHOULD clauses no mutant breaks: {unkilled}"


def test_the_committed_kill_matrix_is_up_to_date() -> None:
    """Regenerate with: python -m tests.kill_matrix > docs/kill-matrix.md"""
    assert DOC.read_text(encoding="utf-8") == render()
