"""The clause catalog: every requirement the suite certifies, keyed by its stable ID.

The data lives in ``clauses.toml`` beside this module (the project's own wording of REQUIREMENTS.md).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal

Version = Literal["legacy", "v2"]
VERSIONS: tuple[Version, ...] = ("legacy", "v2")
CATALOG_PATH = Path(__file__).with_name("clauses.toml")


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    INFO = "INFO"


@dataclass(frozen=True)
class Clause:
    id: str
    area: str
    level: Level
    versions: tuple[str, ...]
    how: str
    text: str
    source: str
    level_overrides: tuple[tuple[str, Level], ...] = ()

    def level_for(self, version: str) -> Level:
        """The clause's level for one endpoint version (EP-04 is SHOULD on v2, INFO on legacy)."""
        return dict(self.level_overrides).get(version, self.level)

    def applies_to(self, version: str) -> bool:
        return version in self.versions

    @property
    def needs_readback(self) -> bool:
        return "read-back" in self.how

    @property
    def readback_only(self) -> bool:
        return self.how == "read-back"


@cache
def catalog() -> dict[str, Clause]:
    """All clauses, in catalog order."""
    raw = tomllib.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    clauses: dict[str, Clause] = {}
    for cid, row in raw.items():
        if not isinstance(row, dict):  # catalog_version
            continue
        overrides = tuple(
            (version, Level(row[f"level_{version}"])) for version in VERSIONS if f"level_{version}" in row
        )
        clauses[cid] = Clause(
            id=cid,
            area=row["area"],
            level=Level(row["level"]),
            versions=tuple(row["versions"]),
            how=row["how"],
            text=row["text"],
            source=row["source"],
            level_overrides=overrides,
        )
    return clauses


@cache
def catalog_version() -> str:
    """The catalog's own version (``catalog_version`` in clauses.toml)."""
    raw = tomllib.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return str(raw.get("catalog_version", "0"))


@cache
def catalog_sha256() -> str:
    """The sha256 of clauses.toml as shipped: two runs with the same hash judged by the same clauses."""
    return hashlib.sha256(CATALOG_PATH.read_bytes()).hexdigest()


def clause(cid: str) -> Clause:
    try:
        return catalog()[cid]
    except KeyError:
        raise KeyError(f"unknown clause ID {cid!r}") from None


def clauses_for(version: str) -> list[Clause]:
    """The clauses that apply to one endpoint version, or to "cutover"."""
    return [c for c in catalog().values() if c.applies_to(version)]


AREAS = ("endpoint", "auth", "names", "body", "size", "responses", "cutover", "schema")
