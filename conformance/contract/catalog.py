"""The clause catalog: every requirement the suite certifies, keyed by its stable ID.

The data lives in ``clauses.toml`` beside this module; ``docs/requirements.md`` is generated from it
(``python -m conformance.contract.catalog > docs/requirements.md``; a self-test fails when it is stale).
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


AREA_TITLES = {
    "endpoint": "EP: the endpoint and its success answer",
    "auth": "AUTH: credentials and their precedence",
    "names": "NAME: database and table names",
    "body": "BODY: the request body and the ingested record",
    "size": "SIZE: the v2 body cap (1,048,064 bytes)",
    "responses": "RESP: answers in general",
    "cutover": "CUT: cutover from legacy to v2 (two targets compared)",
}


def markdown() -> str:
    """docs/requirements.md: the catalog as tables, area by area."""
    lines = [
        "# Requirements: the clause catalog",
        "",
        f"Catalog version {catalog_version()}. Generated from `conformance/contract/clauses.toml` by "
        "`python -m conformance.contract.catalog > docs/requirements.md`; a self-test fails when it is "
        "stale.",
        "",
        "Every clause has a stable ID; every test names the clauses it checks, every report is organised by "
        "clause. **level**: MUST (a failure means not conformant), SHOULD (a warning; fails only under "
        "`--strict`), INFO (never fails: measured and reported). **how**: `sync` is decided from the HTTP "
        "answer alone, `read-back` needs to see what was ingested ([readback.md](readback.md)); a read-back "
        "part without read-back is `skip` with that reason, never `pass`. Sources: [L] the legacy Postback "
        "doc, [V2] the v2 quickstart, [TD-OAS] Treasure Data's published OpenAPI files, RFCs by number.",
    ]
    by_area: dict[str, list[Clause]] = {}
    for item in catalog().values():
        by_area.setdefault(item.area, []).append(item)
    for area, items in by_area.items():
        lines += [
            "",
            f"## {AREA_TITLES.get(area, area)}",
            "",
            "| ID | level | versions | how | requirement | source |",
        ]
        lines.append("|---|---|---|---|---|---|")
        for item in items:
            level = item.level.value
            if item.level_overrides:
                level = ", ".join(f"{item.level_for(v).value} ({v})" for v in item.versions)
            text = item.text.replace("|", "\\|")
            versions = ", ".join(item.versions)
            lines.append(f"| {item.id} | {level} | {versions} | {item.how} | {text} | {item.source} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
