"""The clause catalog matches REQUIREMENTS.md: same IDs, levels, versions and observation method."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.contract.catalog import Level, catalog

REQUIREMENTS = Path(__file__).resolve().parents[2] / "shared" / "REQUIREMENTS.md"
ROW = re.compile(r"^\| ((?:EP|AUTH|NAME|BODY|SIZE|RESP|CUT)-\d\d) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", re.M)


def _rows() -> dict[str, tuple[str, str, str]]:
    if not REQUIREMENTS.exists():
        pytest.skip(f"{REQUIREMENTS} is not beside this checkout")
    return {m[1]: (m[2].strip(), m[3].strip(), m[4].strip()) for m in ROW.finditer(REQUIREMENTS.read_text())}


def test_every_requirement_id_is_in_the_catalog_and_no_other() -> None:
    """A clause missing from, or unknown to, REQUIREMENTS.md fails: the catalog is the definition of done."""
    assert sorted(catalog()) == sorted(_rows())


@pytest.mark.parametrize("cid", sorted(catalog()))
def test_catalog_entry_agrees_with_the_requirement_row(cid: str) -> None:
    rows = _rows()
    if cid not in rows:
        pytest.fail(f"{cid} is not in REQUIREMENTS.md")
    level, versions, how = rows[cid]
    clause = catalog()[cid]
    if "(" in level:  # "SHOULD (V2), INFO (L)"
        parts = re.findall(r"(MUST|SHOULD|INFO) \((L|V2)\)", level)
        assert parts
        for name, version in parts:
            assert clause.level_for({"V2": "v2", "L": "legacy"}[version]) is Level(name)
    else:
        assert clause.level is Level(level)
    expected = {"L": "legacy", "V2": "v2", "L vs V2": "cutover"}
    assert set(clause.versions) == {
        expected[v.strip()] for v in ([versions] if "vs" in versions else versions.split(","))
    }
    assert clause.how == how.replace(" ", "")
