"""The imports obey ARCHITECTURE.md ("Who may import whom"): the layers stay layers, with no cycle.

Read from the source with ``ast`` (nothing is imported), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
ARCHITECTURE = PACKAGE.parent / "ARCHITECTURE.md"
ROW = re.compile(r"^\| `([\w.]+)` \| (.+?) \| (.+?) \|$")


def layer_table() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """ARCHITECTURE.md's "Who may import whom": part -> the parts (or modules) of conformance it may
    import, and part -> the libraries beyond the standard library it may import."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Who may import whom", 1)[1].split("\n## ", 1)[0]
    allowed: dict[str, set[str]] = {}
    libraries: dict[str, set[str]] = {}
    for line in section.splitlines():
        if match := ROW.match(line):
            part, inner, libs = match.groups()
            allowed[part] = set(re.findall(r"`([\w.]+)`", inner))
            libraries[part] = set(re.findall(r"`([\w.]+)`", libs))
    return allowed, libraries


ALLOWED, THIRD_PARTY = layer_table()


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


MODULES = dict(modules())


def conformance_imports(path: Path) -> set[str]:
    """The modules of conformance a file imports (``from conformance.x import y``: conformance.x.y where
    that is a module, else conformance.x), lazy and TYPE_CHECKING imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("conformance")
        ):
            module = str(node.module)
            found |= {f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("conformance")}
    return found


def rule_matches(rule: str, imported: str) -> bool:
    inner = imported.partition(".")[2]
    return inner == rule or inner.startswith(rule + ".")


def allowed(importer: str, imported: str) -> bool:
    if imported == "conformance" or part_of(imported) == part_of(importer):
        return True
    return any(rule_matches(rule, imported) for rule in ALLOWED[part_of(importer)])


@pytest.mark.parametrize(("module", "path"), list(MODULES.items()), ids=list(MODULES))
def test_a_module_imports_only_what_its_layer_may(module: str, path: Path) -> None:
    """ARCHITECTURE.md, "Who may import whom": each module imports only what its part's row allows."""
    if module == "conformance":
        return
    assert part_of(module) in ALLOWED, f"Expected: a row for {part_of(module)} / Received: none ({module})"
    wrong = sorted(name for name in conformance_imports(path) if not allowed(module, name))
    may = sorted(ALLOWED[part_of(module)])
    assert not wrong, f"Expected: {module} imports only {may} / Received: {wrong}"


def libraries_of(part: str) -> set[str]:
    found: set[str] = set()
    for module, path in MODULES.items():
        if part_of(module) == part:
            found |= {name.split(".")[0] for name in imports(path)}
    return found - set(sys.stdlib_module_names) - {"conformance", "__future__"}


@pytest.mark.parametrize("part", sorted(THIRD_PARTY))
def test_a_part_uses_only_the_libraries_its_row_names(part: str) -> None:
    """ARCHITECTURE.md: the oracle and the reference depend on almost nothing, the engine on no pytest."""
    foreign = libraries_of(part) - THIRD_PARTY[part]
    assert not foreign, (
        f"Expected: {part} uses only {sorted(THIRD_PARTY[part])} / Received: {sorted(foreign)}"
    )


def test_the_engine_imports_no_pytest() -> None:
    """The engine runs without pytest: no engine module imports pytest or its internals."""
    assert not libraries_of("engine") & {"pytest", "_pytest", "pluggy"}


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_every_permission_of_the_table_is_used(part: str) -> None:
    """Checked the other way: a row allows nothing that no module does (the table is the rule set)."""
    used = {
        rule
        for module, path in MODULES.items()
        if part_of(module) == part
        for name in conformance_imports(path)
        for rule in ALLOWED[part]
        if part_of(name) != part and rule_matches(rule, name)
    }
    assert ALLOWED[part] <= used, (
        f"Expected: every import {part} may make is made / Received: unused {sorted(ALLOWED[part] - used)}"
    )
    unused = THIRD_PARTY[part] - libraries_of(part)
    assert not unused, f"Expected: every library of {part}'s row is used / Received: unused {sorted(unused)}"


def test_every_part_of_the_package_has_a_row() -> None:
    parts = {part_of(module) for module in MODULES if module != "conformance"}
    assert parts == set(ALLOWED), f"Expected: rows for {sorted(parts)} / Received: {sorted(ALLOWED)}"


def test_no_module_imports_one_that_imports_it_back() -> None:
    """No import cycle between modules, lazy and TYPE_CHECKING imports included (each is a design knot)."""
    graph = {module: conformance_imports(path) - {module} for module, path in MODULES.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    shown = [" -> ".join(cycle) for cycle in cycles]
    assert not cycles, f"Expected: no import cycle / Received: {shown}"


def test_no_part_imports_the_parts_above_it_in_a_cycle() -> None:
    """No cycle between parts (the plugin imports the reports; the reports never import the plugin)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        if module == "conformance":
            continue
        for name in conformance_imports(path):
            if part_of(name) != part_of(module):
                graph.setdefault(part_of(module), set()).add(part_of(name))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(part for part in graph if reaches(part, part, {part}))
    assert not cycles, f"Expected: no cycle between parts / Received: cycles through {cycles}"
