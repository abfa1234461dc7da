"""The audit's outputs: a terminal table, Markdown (for a ticket or a wiki), CSV (for a spreadsheet), JSON.

One row per group (verdict x reason x ``database.table`` x User-Agent), most urgent first. The caller
passes every text through the redactor before it leaves the process.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.cutover.audit import Audit, Group

RENDERERS = ("table", "markdown", "csv", "json")
COLUMNS = ("verdict", "reason", "database.table", "user agent", "count", "first seen", "last seen", "change")


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


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
    total: dict[str, int] = {}
    for judged in result.requests:
        total[judged.verdict] = total.get(judged.verdict, 0) + 1
    return ", ".join(f"{n} {verdict}" for verdict, n in total.items()) or "nothing"


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


def _markdown(result: Audit) -> str:
    lines = [f"# Postback v2 cutover audit: {result.source}", ""]
    lines += [f"> **Warning:** {w}" for w in result.warnings]
    if result.warnings:
        lines.append("")
    if not result.requests:
        return "\n".join([*lines, "No request to /postback/v3/event/ in this file.", ""])
    lines += [f"{len(result.requests)} requests in {len(result.groups)} groups: {_counts(result)}.", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for group in result.groups:
        cells = [c.replace("|", "\\|").replace("\n", " ") for c in _row(group, full=False)]
        cells[2], cells[3] = f"`{cells[2]}`", f"`{cells[3]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _table(result: Audit) -> str:
    if not result.requests:
        return "no request to /postback/v3/event/ in this file\n"
    lines = []
    for group in result.groups:
        seen = f"{when(group.first)} .. {when(group.last)}" if group.first else "time not recorded"
        head = f"{group.verdict.upper():15} {group.count:>6} x  {short(group.table)}"
        lines.append(f"{head}  UA: {group.user_agent}  {seen}")
        lines += [f"{'':17}- {r.text}" for r in group.reasons]
        lines += [f"{'':17}=> {change}" for change in group.changes]
        lines.append(f"{'':17}e.g. {short(group.example, 120)}")
    lines.append(f"{len(result.requests)} requests in {len(result.groups)} groups: {_counts(result)}")
    return "\n".join(lines) + "\n"
