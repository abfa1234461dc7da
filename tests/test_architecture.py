"""The imports obey ARCHITECTURE.md ("Who may import whom"): the layers stay layers, with no cycle.

Read from the source with ``ast`` (nothing is imported), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
TESTS = {
    "contract",
    "transport",
    "checks",
    "probes",
    "bodies",
    "plugin",
    "readback",
    "cutover",
    "schema",
    "json_kinds",
}
# part -> the parts of conformance it may import (the package root, for __version__, is always allowed).
ALLOWED: dict[str, set[str]] = {
    "engine": set(),
    "contract": set(),
    "transport": {"contract"},
    "traffic": {"transport.exchange"},
    "rundata": {"contract", "traffic", "transport.exchange", "transport.redact"},
    "readback": {"contract", "transport"},
    "checks": {"contract", "transport"},
    "probes": {"contract", "transport"},
    "bodies": {"contract", "json_kinds"},
    "json_kinds": {"contract"},
    "cutover": {"contract", "transport"},
    "report": {"contract", "rundata", "transport.exchange", "transport.redact"},
    "schema": TESTS - {"schema", "cutover"},
    "tests": TESTS,
    "cli": {
        "engine",
        "contract",
        "cutover",
        "transport",
        "readback",
        "report",
        "rundata",
        "replay",
        "cleanup",
    },
    "cleanup": {"contract", "transport"},
    "replay": {"transport"},
    "reference": set(),
    "plugin": {
        "engine",
        "traffic",
        "contract",
        "transport",
        "rundata",
        "readback",
        "checks",
        "probes",
        "bodies",
        "cutover",
        "report",
        "reference",
        "schema",
    },
}
# The oracle and the reference: the standard library and what ARCHITECTURE.md names, nothing else.
THIRD_PARTY = {"engine": set(), "contract": {"yaml"}, "reference": {"uvicorn", "orjson", "msgpack"}}


def part_of(module: str) -> str:
    """``conformance.transport.client`` -> ``transport``; the suite's test modules and conftest: ``tests``."""
    name = module.split(".")[1] if module.count(".") else ""
    if name.startswith("test_") or name == "conftest":
        return "tests"
    return name


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def allowed(importer: str, imported: str) -> bool:
    if (
        imported == "conformance"
        or imported.startswith("conformance.__")
        or part_of(imported) == part_of(importer)
    ):
        return True
    inner = imported.split(".", 1)[1]
    return any(inner == rule or inner.startswith(rule + ".") for rule in ALLOWED[part_of(importer)])


@pytest.mark.parametrize(("module", "path"), list(modules()), ids=[name for name, _ in modules()])
def test_a_module_imports_only_what_its_layer_may(module: str, path: Path) -> None:
    """ARCHITECTURE.md: each part imports only the parts below it (reports never the plugin)."""
    assert part_of(module) in ALLOWED or module == "conformance", f"{module}: a part ARCHITECTURE.md lacks"
    if module == "conformance":
        return
    own = [name for name in imports(path) if name.startswith("conformance.")]
    # "from conformance.x import y" yields both conformance.x and conformance.x.y: judge the module only.
    real = {name for name in own if not any(other != name and name.startswith(other + ".") for other in own)}
    wrong = sorted(name for name in real if not allowed(module, name) and not allowed(module, name + ".x"))
    may = sorted(ALLOWED[part_of(module)])
    assert not wrong, f"Expected: {module} imports only {may} / Received: {wrong}"


@pytest.mark.parametrize("part", sorted(THIRD_PARTY))
def test_the_oracle_and_the_reference_use_only_the_libraries_they_are_allowed(part: str) -> None:
    """ARCHITECTURE.md: the contract model and the reference share no code and depend on almost nothing."""
    found: set[str] = set()
    for module, path in modules():
        if part_of(module) == part:
            found |= {name.split(".")[0] for name in imports(path)}
    foreign = found - set(sys.stdlib_module_names) - {"conformance", "__future__"} - THIRD_PARTY[part]
    assert not foreign, (
        f"Expected: {part} uses the standard library and {THIRD_PARTY[part]} / Received: {foreign}"
    )


def test_no_part_imports_the_parts_above_it_in_a_cycle() -> None:
    """No cycle between parts (the plugin imports the reports; the reports never import the plugin)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        if module == "conformance":
            continue
        for name in imports(path):
            if name.startswith("conformance.") and part_of(name) != part_of(module):
                graph.setdefault(part_of(module), set()).add(part_of(name))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(part for part in graph if reaches(part, part, {part}))
    assert not cycles, f"Expected: no cycle between parts / Received: cycles through {cycles}"
