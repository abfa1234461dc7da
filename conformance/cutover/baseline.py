"""Baselines: compare this run's clause verdicts with an earlier results.json (``--baseline FILE``).

Per clause and target: what regressed (got worse), what was fixed, what is new. With
``--fail-on regression`` only regressions fail the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# How bad a status is; a rise is a regression, a fall a fix. skip means "not decided": never compared.
RANK = {"pass": 0, "info": 0, "warn": 1, "fail": 2, "error": 2}


class BaselineError(ValueError):
    """An unusable baseline file; the message says why."""


@dataclass
class Change:
    id: str
    target: str
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.id} on {self.target}: {self.before} -> {self.after}"


@dataclass
class BaselineDiff:
    file: str
    regressed: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. the baseline was judged by another catalog

    def as_json(self) -> dict[str, Any]:
        return {
            "baseline": self.file,
            **{name: [c.__dict__ for c in getattr(self, name)] for name in ("regressed", "fixed", "new")},
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        out = [
            f"baseline {self.file}: {len(self.regressed)} regressed, {len(self.fixed)} fixed, "
            f"{len(self.new)} new"
        ]
        out += [f"  WARNING   {w}" for w in self.warnings]
        for label, changes in (("REGRESSED", self.regressed), ("fixed", self.fixed), ("new", self.new)):
            out += [f"  {label:9} {c.describe()}" for c in changes]
        return out


def load(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror}") from None
    except ValueError:
        raise BaselineError(f"baseline {path} is not JSON (expected an earlier results.json)") from None
    clauses = data.get("clauses") if isinstance(data, dict) else None
    if not isinstance(clauses, list) or not all(
        isinstance(c, dict) and "id" in c and "status" in c and "target" in c for c in clauses
    ):
        raise BaselineError(f"baseline {path} is not a results.json (no clauses list)")
    return clauses


def catalog_warning(file: str, baseline: dict[str, Any], current: dict[str, str]) -> str | None:
    """A warning when the baseline was judged by another clause catalog (version or clauses.toml hash):
    a clause may then mean something else, so a change of status need not be a change of the target."""
    before = baseline.get("catalog") if isinstance(baseline, dict) else None
    if not isinstance(before, dict):
        return (
            f"baseline {file} records no catalog (made before results.json recorded it); this run uses "
            f"catalog {current['version']}: clause statuses may not compare"
        )
    if before.get("sha256") == current["sha256"]:
        return None
    return (
        f"baseline {file} was made with clause catalog {before.get('version')} "
        f"(sha256 {str(before.get('sha256'))[:12]}...), this run uses {current['version']} "
        f"(sha256 {current['sha256'][:12]}...): clause statuses may not compare"
    )


def _key(entry: dict[str, Any], single: bool) -> tuple[str, str]:
    target = str(entry["target"])
    return str(entry["id"]), ("cutover" if target == "cutover" else "*") if single else target


def compare(file: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> BaselineDiff:
    """Match entries by (clause, target); when each run certified one target, by clause alone."""

    def targets(entries: list[dict[str, Any]]) -> set[str]:
        return {str(e["target"]) for e in entries if e["target"] != "cutover"}

    single = len(targets(before)) == 1 and len(targets(after)) == 1
    old = {_key(e, single): str(e["status"]) for e in before}
    diff = BaselineDiff(file)
    for entry in after:
        key = _key(entry, single)
        now = str(entry["status"])
        was = old.get(key)
        change = Change(key[0], str(entry["target"]), was or "absent", now)
        if now == "skip":
            continue
        if was is None or was == "skip":
            diff.new.append(change)
        elif RANK[now] > RANK[was]:
            diff.regressed.append(change)
        elif RANK[now] < RANK[was]:
            diff.fixed.append(change)
    return diff
