"""The audit's outputs: a terminal table, Markdown (for a ticket or a wiki), CSV (for a spreadsheet), JSON.

Read top-down: first by verdict x reason, most urgent and biggest first; within each, by client family and
``database.table``, the biggest first, the tail folded into "and N more" (the table and Markdown), so a
million requests fit one screen. CSV and JSON hold every group. The audit keeps no key in what it hands
over (query keys are masked as values), so nothing is redacted here by replacing text.
"""

from __future__ import annotations

import csv
import io
import json

from conformance.cutover.audit_model import Audit, Group, when

RENDERERS = ("table", "markdown", "csv", "json")
COLUMNS = ("verdict", "reason", "database.table", "user agent", "count", "first seen", "last seen", "change")
SHOWN_PER_REASON = 5  # client x table rows shown under one verdict x reason before "and N more"


def short(name: str, limit: int = 64) -> str:
    return name if len(name) <= limit else f"{name[: limit - 24]}...({len(name)} characters)"


def _row(group: Group, full: bool = True) -> list[str]:
    return [
        group.verdict,
        "; ".join(r.text for r in group.reasons) or "-",
        group.table if full else short(group.table),
        group.user_agent,
        str(group.count),
        when(group.first),
        when(group.last),
        "; ".join(group.changes) or "nothing",
    ]


def _counts(result: Audit) -> str:
    return ", ".join(f"{n:,} {verdict}" for verdict, n in result.counts().items()) or "nothing"


def _by_reason(result: Audit) -> list[list[Group]]:
    """The groups under each verdict x reason, in the audit's order (most urgent, then biggest)."""
    sections: dict[tuple[str, tuple[str, ...]], list[Group]] = {}
    for group in result.groups:
        sections.setdefault((group.verdict, group.codes), []).append(group)
    return sorted(sections.values(), key=lambda gs: (gs[0].verdict_rank, -sum(g.count for g in gs)))


def render(result: Audit, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(_row(g) for g in result.groups)
        return out.getvalue()
    if fmt == "markdown":
        return _markdown(result)
    return _table(result)


def _tail(groups: list[Group]) -> str:
    rest = groups[SHOWN_PER_REASON:]
    return f"and {len(rest):,} more client x table group(s), {sum(g.count for g in rest):,} request(s)"


def _markdown(result: Audit) -> str:
    lines = [f"# Postback v2 cutover audit: {result.source}", ""]
    lines += [f"> **Warning:** {w}" for w in result.warnings]
    if result.bad.count:
        lines.append(
            f"> **Warning:** {result.bad.count:,} line(s) could not be read, e.g. {result.bad.shown[0]}"
        )
    if result.warnings or result.bad.count:
        lines.append("")
    if not result.groups:
        return "\n".join([*lines, "No request to /postback/v3/event/ in this input.", ""])
    lines += [f"{result.total:,} requests in {len(result.groups):,} groups: {_counts(result)}.", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for section in _by_reason(result):
        for group in section[:SHOWN_PER_REASON]:
            cells = [c.replace("|", "\\|").replace("\n", " ") for c in _row(group, full=False)]
            cells[2], cells[3] = f"`{cells[2]}`", f"`{cells[3]}`"
            lines.append("| " + " | ".join(cells) + " |")
        if len(section) > SHOWN_PER_REASON:
            lines.append(f"| {section[0].verdict} | {_tail(section)} |" + " |" * (len(COLUMNS) - 2))
    return "\n".join(lines) + "\n"


def _table(result: Audit) -> str:
    """Per verdict x reason: one heading (the reason and the change, once), then its biggest client x
    table groups, one line each, and the tail folded."""
    if not result.groups:
        return "no request to /postback/v3/event/ in this input\n"
    lines = []
    for section in _by_reason(result):
        first = section[0]
        total = sum(g.count for g in section)
        lines.append(
            f"{first.verdict.upper():15} {total:>8,} x  " + ("; ".join(r.text for r in first.reasons) or "-")
        )
        lines += [f"{'':17}=> {change}" for change in first.changes]
        for group in section[:SHOWN_PER_REASON]:
            seen = f"{when(group.first)} .. {when(group.last)}" if group.first else "time not recorded"
            lines.append(f"{'':17}{group.count:>8,} x  {short(group.table)}  UA: {group.user_agent}  {seen}")
            lines.append(f"{'':30}e.g. {short(group.example, 120)}")
        if len(section) > SHOWN_PER_REASON:
            lines.append(f"{'':17}{_tail(section)}")
    lines.append(f"{result.total:,} requests in {len(result.groups):,} groups: {_counts(result)}")
    return "\n".join(lines) + "\n"
