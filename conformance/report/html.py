"""report.html: one self-contained file (inline CSS, no script, no network) readable at a glance.

Order (docs/contract.md "Reports"): the verdict, the counts and what failed; the clause matrix
(clause x target, status word and colour, level, requirement, the measured value of INFO clauses); every
failure, warning and error with the exact request, the answer, what was expected and a ``curl`` line; the
run's settings; the cutover comparison when two targets were compared. Rendered with Jinja2 (autoescaped)
from ``templates/``; everything passes through the run's redactor before it is written.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path

import jinja2

from conformance import __version__
from conformance.contract.catalog import AREA_TITLES, catalog, catalog_sha256, catalog_version
from conformance.contract.spec import spec_sha256
from conformance.engine.rundata import CUTOVER, Outcome, RunData
from conformance.report.evidence import ExchangeView, printable
from conformance.report.results import (
    PRIORITY,
    ClauseResult,
    merge_phases,
    report_targets,
    strongest,
    undecided,
    verdict,
)
from conformance.transport.exchange import Exchange

TEMPLATES = Path(__file__).with_name("templates")
MAX_CARDS = 150  # failure cards shown in full; the rest are listed by test
MAX_EXCHANGES = 5  # exchanges shown per finding
SHORT = 160  # characters of a detail shown in a matrix cell (the whole text is on hover and below)
PROBLEMS = ("fail", "error", "warn")
AREAS = AREA_TITLES  # the catalog's area headings (conformance/contract/catalog.py)


@dataclass
class Cell:
    status: str  # a results.json status, or "n/a" when the clause does not apply to the target
    level: str = ""
    detail: str = ""
    anchor: str | None = None

    @property
    def short(self) -> str:
        first = self.detail.strip().splitlines()[0] if self.detail.strip() else ""
        return first if len(first) <= SHORT else first[: SHORT - 1] + "…"

    @property
    def longer(self) -> bool:
        return self.short != self.detail.strip()


@dataclass
class Row:
    id: str
    area: str
    level: str
    text: str
    source: str
    how: str
    cells: list[Cell]


@dataclass
class FindingView:
    clauses: str
    expected: str
    received: str
    exchanges: list[ExchangeView]
    more: int = 0  # exchanges not shown


@dataclass
class Card:
    anchor: str
    status: str
    target: str
    nodeid: str
    clauses: list[tuple[str, str, str, str]]  # (id, level, status, requirement)
    findings: list[FindingView]
    message: str


@dataclass
class Problem:
    id: str
    status: str
    level: str
    text: str
    targets: list[str]
    detail: str
    anchor: str | None


@dataclass
class CutoverProbe:
    name: str
    status: str
    clauses: str
    texts: list[str]
    pairs: list[tuple[ExchangeView | None, ExchangeView | None]]
    anchor: str | None = None


@dataclass
class Page:
    verdict: str
    counts: list[tuple[str, int]]
    targets: list[tuple[str, str]]
    target_counts: dict[str, dict[str, int]]
    areas: list[tuple[str, list[Row]]]
    problems: list[Problem]
    cards: list[Card]
    overflow: list[tuple[str, str, str]]
    cutover: list[CutoverProbe] | None
    cutover_results: list[tuple[ClauseResult, str]]  # with the requirement text
    settings: list[tuple[str, str]]
    profile: list[tuple[str, str]]
    run_id: str
    started: str
    tests: int
    requests: int
    undecided: list[ClauseResult]  # what makes the verdict incomplete, each with its reason
    strict: bool
    notices: list[str]  # run-level notices (the preflight canary's unexpected answer), shown first


def _status(outcome: Outcome) -> str:
    return strongest(list(outcome.statuses.values())) if outcome.statuses else "pass"


def _unique(exchanges: Iterable[Exchange]) -> list[Exchange]:
    seen: list[Exchange] = []
    for exchange in exchanges:
        if not any(exchange is other for other in seen):
            seen.append(exchange)
    return seen


def _finding_views(outcome: Outcome) -> list[FindingView]:
    views = []
    for finding in outcome.findings:
        exchanges = _unique(finding.exchanges)
        views.append(
            FindingView(
                ", ".join(finding.clauses),
                finding.expected,
                finding.received,
                [ExchangeView.of(x) for x in exchanges[:MAX_EXCHANGES]],
                max(0, len(exchanges) - MAX_EXCHANGES),
            )
        )
    return views


def _cards(run: RunData, outcomes: list[Outcome]) -> tuple[list[Card], list[tuple[str, str, str]]]:
    order = {cid: n for n, cid in enumerate(catalog())}
    targets = [name for name, _ in report_targets(run)]
    failing = [o for o in outcomes if _status(o) in PROBLEMS]

    def key(o: Outcome) -> tuple[int, int, int, str]:
        bad = [c for c, s in o.statuses.items() if s in PROBLEMS] or list(o.statuses)
        where = targets.index(o.target) if o.target in targets else len(targets)
        return PRIORITY.index(_status(o)), min(order.get(c, 999) for c in bad), where, o.nodeid

    failing.sort(key=key)
    cards = []
    for n, o in enumerate(failing[:MAX_CARDS], 1):
        version = run.versions.get(o.target, o.target)
        clauses = [
            (cid, catalog()[cid].level_for(version).value, status, catalog()[cid].text)
            for cid, status in o.statuses.items()
            if cid in catalog()
        ]
        clauses.sort(key=lambda c: (PRIORITY.index(c[2]), order.get(c[0], 999)))
        cards.append(Card(f"t{n}", _status(o), o.target, o.nodeid, clauses, _finding_views(o), o.message))
    overflow = [(_status(o), o.target, o.nodeid) for o in failing[MAX_CARDS:]]
    return cards, overflow


def _anchors(cards: list[Card]) -> dict[tuple[str, str], str]:
    """The first card that shows a failing/warning/error (clause, target)."""
    anchors: dict[tuple[str, str], str] = {}
    for card in cards:
        for cid, _, status, _ in card.clauses:
            if status in PROBLEMS:
                anchors.setdefault((cid, card.target), card.anchor)
    return anchors


def _rows(
    run: RunData, results: list[ClauseResult], anchors: dict[tuple[str, str], str]
) -> list[tuple[str, list[Row]]]:
    targets = report_targets(run)
    by_key = {(r.id, r.target): r for r in results}
    areas: dict[str, list[Row]] = {}
    for clause in catalog().values():
        cells = []
        for name, version in targets:
            result = by_key.get((clause.id, name))
            if result is None:
                cells.append(Cell("n/a", detail=f"does not apply to {version}"))
            else:
                cells.append(Cell(result.status, result.level, result.detail, anchors.get((clause.id, name))))
        levels = {c.level for c in cells if c.level}
        if len(levels) > 1:
            level = ", ".join(
                f"{c.level} ({name})" for c, (name, _) in zip(cells, targets, strict=True) if c.level
            )
        else:
            level = next(iter(levels), clause.level.value)
        if all(c.status == "n/a" for c in cells):
            continue
        row = Row(clause.id, clause.area, level, clause.text, clause.source, clause.how, cells)
        areas.setdefault(clause.area, []).append(row)
    return [(AREAS.get(area, area), rows) for area, rows in areas.items()]


def _problems(results: list[ClauseResult], anchors: dict[tuple[str, str], str]) -> list[Problem]:
    problems: dict[tuple[str, str], Problem] = {}
    for r in results:
        if r.status not in PROBLEMS:
            continue
        problem = problems.get((r.id, r.status))
        if problem is None:
            first = r.detail.strip().splitlines()[0] if r.detail.strip() else ""
            problem = Problem(r.id, r.status, r.level, catalog()[r.id].text, [], first, None)
            problems[(r.id, r.status)] = problem
        problem.targets.append(r.target)
        problem.anchor = problem.anchor or anchors.get((r.id, r.target))
    order = {cid: n for n, cid in enumerate(catalog())}
    return sorted(problems.values(), key=lambda p: (PRIORITY.index(p.status), order.get(p.id, 999)))


def _probe_name(nodeid: str) -> str:
    match = re.search(r"\[([^\]]*)\]", nodeid)
    name = match.group(1) if match else nodeid.rpartition("::")[2]
    if name == "legacy-vs-v2":  # no probe parameter: CUT-01's property over drawn requests
        return "shared contract (drawn requests)"
    return name.removeprefix("legacy-vs-v2-") or name


def _cutover(run: RunData, outcomes: list[Outcome], anchors: dict[str, str]) -> list[CutoverProbe]:
    """CUT outcomes grouped by test (its read-back check folded in), each with its (legacy, v2) exchanges."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.target == CUTOVER:
            groups.setdefault(o.nodeid.removesuffix("::read-back"), []).append(o)
    legacy = next((t.name for t in run.planned if t.version == "legacy"), "legacy")
    probes = []
    for nodeid, group in groups.items():
        statuses = {cid: s for o in group for cid, s in o.statuses.items()}
        status = strongest(list(statuses.values())) if statuses else "pass"
        texts = [text for o in group for text in o.detail.values() if text]
        if status in PROBLEMS and not texts:
            texts = [o.message for o in group if o.message]
        exchanges = _unique(x for o in group for x in o.exchanges)
        left = [ExchangeView.of(x) for x in exchanges if x.target == legacy]
        right = [ExchangeView.of(x) for x in exchanges if x.target != legacy]
        pairs = list(zip_longest(left, right))[:MAX_EXCHANGES]
        anchor = next((anchors[o.nodeid] for o in group if o.nodeid in anchors), None)
        clauses = ", ".join(dict.fromkeys(statuses))
        probes.append(
            CutoverProbe(_probe_name(nodeid), status, clauses, list(dict.fromkeys(texts)), pairs, anchor)
        )
    return probes


def _timestamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "(running)"


def _settings(run: RunData) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    s = run.settings
    rows: list[tuple[str, str]] = []
    options = s.given if not s.embedded else (None,) * len(run.planned)
    for planned, opts in zip(run.planned, options, strict=False):
        url = run.urls.get(planned.name, "(not started)")
        if s.embedded:
            readback = "embedded read-back"
            url += " (embedded reference target)"
        else:
            readback = (
                opts.readback if opts is not None else None
            ) or "none: answers decide, ingestion parts stay undecided"
        rows.append(
            (f"target {planned.name}", f"{url}  ·  API version {planned.version}  ·  read-back: {readback}")
        )
    elapsed = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    rows += [
        ("suite version", f"postback-conformance {__version__}"),
        ("spec sha256", f"{spec_sha256()} (specs/openapi.yaml)"),
        ("seed", f"{run.seed}  (from {run.seed_source}; rerun the same requests with --seed {run.seed})"),
        ("test selection", _selection(run)),
        ("clause catalog", f"version {catalog_version()}, sha256 {catalog_sha256()} (clauses.toml)"),
        ("run ID", f"{run.run_id}  (every probe record's conformance_id starts with {run.run_id}-)"),
        (
            "requests sent",
            f"{run.requests_sent:,}; probe records went to {s.database}.{s.table}: delete the records whose "
            f"conformance_id starts with {run.run_id}- after a run against a real service",
        ),
        ("started", f"{_timestamp(run.started_at)}, {elapsed:.1f} s"),
        ("strict", "yes: SHOULD misses fail the run" if s.strict else "no: SHOULD misses are warnings"),
        ("settle", f"{s.settle:g} s"),
        (
            "timeout, rate cap",
            f"{s.timeout:g} s per request, " + (f"{s.max_rps:g}/s" if s.max_rps else "none"),
        ),
        ("example budget", f"{s.profile.budget} ({s.profile.examples} examples per property test)"),
        ("records per table, throttled", f"{run.records_by_table}; 429/503 waited out: {run.throttles}"),
        ("Python, pytest", f"{platform.python_version()}, {_pytest_version()}"),
    ]
    overrides = s.profile.overrides()
    profile = [(k, str(v)) for k, v in overrides.items()]
    if s.profile_path:
        profile.insert(0, ("profile file", str(s.profile_path)))
    return rows, profile


def _selection(run: RunData) -> str:
    selection = run.selection
    parts = [f"-k {selection['keyword']!r}"] if selection.get("keyword") else []
    parts += [f"-m {selection['markers']!r}"] if selection.get("markers") else []
    deselected = int(selection.get("deselected") or 0)
    parts.append(f"{deselected} test(s) deselected" if deselected else "no test deselected")
    return "; ".join(parts)


def _pytest_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest")
    except PackageNotFoundError:  # pragma: no cover - the suite runs under pytest
        return "unknown"


def page(run: RunData, results: list[ClauseResult]) -> Page:
    outcomes = merge_phases(run.outcomes)
    cards, overflow = _cards(run, outcomes)
    anchors = _anchors(cards)
    targets = report_targets(run)
    counts = {status: 0 for status in PRIORITY}
    per_target: dict[str, dict[str, int]] = {name: {s: 0 for s in PRIORITY} for name, _ in targets}
    for r in results:
        counts[r.status] += 1
        per_target.setdefault(r.target, {s: 0 for s in PRIORITY})[r.status] += 1
    settings, profile = _settings(run)
    by_node = {card.nodeid: card.anchor for card in cards}
    has_cutover = any(name == CUTOVER for name, _ in targets)
    return Page(
        verdict=verdict(results),
        counts=[(s, counts[s]) for s in PRIORITY],
        targets=targets,
        target_counts=per_target,
        areas=_rows(run, results, anchors),
        problems=_problems(results, anchors),
        cards=cards,
        overflow=overflow,
        cutover=_cutover(run, outcomes, by_node) if has_cutover else None,
        cutover_results=[(r, catalog()[r.id].text) for r in results if r.target == CUTOVER],
        settings=settings,
        profile=profile,
        run_id=run.run_id,
        started=_timestamp(run.started_at),
        tests=len(outcomes),
        requests=run.requests_sent,
        undecided=undecided(results),
        strict=run.settings.strict,
        notices=list(run.notices),
    )


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["printable"] = printable
    return env


def render(run: RunData, results: list[ClauseResult]) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(page=page(run, results), version=__version__)


def write(run: RunData, results: list[ClauseResult], path: Path) -> None:
    path.write_text(printable(run.redactor(render(run, results))), encoding="utf-8")
