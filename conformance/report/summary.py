"""summary.md and GitHub workflow commands: the result where CI shows it (docs/contract.md, "Reports").

``summary.md`` holds the verdict, the clause matrix (clause x target) and every failure with its clause,
what was expected, what came and a ``curl`` line; when ``GITHUB_STEP_SUMMARY`` names a file (GitHub
Actions), the same Markdown is appended to it. :func:`workflow_commands` gives one ``::error`` (a failed MUST
clause, or any clause that fails the run) or ``::warning`` (a missed SHOULD) workflow command per clause
and target, escaped as GitHub's "Workflow commands for GitHub Actions" page says.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from conformance.engine.rundata import Finding, RunData
from conformance.report import results as results_json
from conformance.report.results import ClauseResult

SYMBOLS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️", "info": "ℹ️", "error": "💥"}
HEADLINES = {
    "conformant": "✅ conformant",
    "not-conformant": "❌ not conformant",
    "incomplete": "⚠️ incomplete",
}
MAX_FAILURES = 40  # failures written out in full; the rest are listed by clause (report.html has all)
MAX_TEXT = 1500  # characters of an expected / received / curl text
FAILING = ("fail", "error", "warn")


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text):,} characters in all)"


def _fence(text: str, lang: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text}\n{fence}"


def _labelled(label: str, text: str) -> list[str]:
    """``label: `text` `` for a short one-line text, else the label and a fenced block."""
    if "\n" not in text and "`" not in text and len(text) <= 160:
        return [f"{label}: `{text}`  "]
    return [f"{label}:", "", _fence(_clip(text)), ""]


def _findings(run: RunData, result: ClauseResult) -> list[Finding]:
    found = [
        f
        for o in run.outcomes
        if o.target == result.target and result.id in o.statuses
        for f in o.findings
        if result.id in f.clauses
    ]
    return list({(f.expected, f.received): f for f in found}.values())


def _matrix(results: list[ClauseResult]) -> list[str]:
    targets = list(dict.fromkeys(r.target for r in results))
    cells: dict[str, dict[str, str]] = {}
    for r in results:
        cells.setdefault(r.id, {})[r.target] = SYMBOLS.get(r.status, r.status)
    lines = [
        "| clause | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    lines += [
        f"| {cid} | " + " | ".join(row.get(t, "") for t in targets) + " |" for cid, row in cells.items()
    ]
    legend = ", ".join(f"{symbol} {status}" for status, symbol in SYMBOLS.items())
    return [*lines, "", legend]


def _failure(run: RunData, result: ClauseResult) -> list[str]:
    lines = [f"### {SYMBOLS.get(result.status, '')} {result.id} [{result.level}] on {result.target}", ""]
    findings = _findings(run, result)
    if not findings:
        lines += [_fence(_clip(result.detail or result.status)), ""]
    for finding in findings[:2]:
        lines += [*_labelled("Expected", finding.expected), *_labelled("Received", finding.received)]
        if finding.exchanges:
            lines += ["", "Reproduce (the key from `$POSTBACK_WRITE_KEY`):", ""]
            lines += [_fence(_clip(finding.exchanges[0].request.curl()), "sh")]
        lines.append("")
    if len(findings) > 2:
        lines += [f"({len(findings) - 2} more finding(s) for this clause in report.html)", ""]
    return lines


def build(run: RunData, results: list[ClauseResult], undecided: list[ClauseResult] | None = None) -> str:
    """The Markdown summary; ``undecided``: applicable MUST clauses left undecided (``incomplete``)."""
    verdict = results_json.verdict(results)
    counts = Counter(r.status for r in results)
    tally = ", ".join(f"{counts[s]} {s}" for s in results_json.PRIORITY if counts[s])
    targets = ", ".join(f"{t.name} ({t.version}) {run.urls.get(t.name, '')}".strip() for t in run.planned)
    lines = [
        f"## Postback conformance: {HEADLINES.get(verdict, verdict)}",
        "",
        f"Targets: {targets}  ",
        f"Clause verdicts: {tally}  ",
        f"Seed {run.seed}, run ID `{run.run_id}`, {run.requests_sent:,} requests "
        "(reports: report.html, results.json, junit.xml, traffic.har)",
        "",
    ]
    if run.notices:
        lines += ["### Before the tests", "", *(f"- ⚠️ {notice}" for notice in run.notices), ""]
    if undecided:
        lines += ["### Undecided MUST clauses", ""]
        lines += [
            f"- {r.id} on {r.target}: {r.detail.splitlines()[0] if r.detail else ''}" for r in undecided
        ]
        lines.append("")
    failing = sorted(
        (r for r in results if r.status in FAILING), key=lambda r: results_json.PRIORITY.index(r.status)
    )
    if failing:
        lines += ["## Failures", ""]
        for r in failing[:MAX_FAILURES]:
            lines += _failure(run, r)
        if len(failing) > MAX_FAILURES:
            rest = ", ".join(f"{r.id} on {r.target}" for r in failing[MAX_FAILURES:])
            lines += [f"And {len(failing) - MAX_FAILURES} more: {rest}", ""]
    lines += ["<details><summary>Clause matrix</summary>", "", *_matrix(results), "", "</details>", ""]
    return run.redactor("\n".join(lines))


def write(
    run: RunData, results: list[ClauseResult], path: Path, undecided: list[ClauseResult] | None = None
) -> None:
    text = build(run, results, undecided)
    path.write_text(text, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as summary:
            summary.write(text + "\n")


def escape_data(text: str) -> str:
    """A workflow command's message: "%", CR and LF percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as :func:`escape_data`, and ":" and "," too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(run: RunData, results: list[ClauseResult]) -> list[str]:
    """One ``::error`` / ``::warning`` command per failing clause and target (GITHUB_ACTIONS=true)."""
    commands = []
    for r in results:
        if r.status not in FAILING:
            continue
        kind = "warning" if r.status == "warn" else "error"
        message = f"{r.id} [{r.level}] on {r.target}: {_clip(r.detail or r.status, 1000)}"
        commands.append(f"::{kind} title={escape_property(f'{r.id} ({r.target})')}::{escape_data(message)}")
    return [run.redactor(c) for c in commands]
