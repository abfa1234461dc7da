"""Reports: results.json, junit.xml, report.html, traffic.har and summary.md, written on every run.

The plugin calls :func:`write_all` at the end of the session and :func:`summary_lines` for the terminal.
Every text passes through the run's redactor: no write key reaches a report or the terminal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from conformance.engine.rundata import RunData
from conformance.report import results as results_json
from conformance.report.results import ClauseResult, aggregate

MAX_SUMMARY = 25  # clause lines in the terminal summary; report.html has them all


def write_all(run: RunData) -> list[str]:
    """Write the three reports; returns the problems met (each report is attempted whatever the others do)."""
    from conformance.report import har, html, junit, summary

    directory = run.settings.report_dir
    results = aggregate(run)
    writers: list[tuple[str, Callable[[Path], object]]] = [
        ("results.json", lambda path: results_json.write(run, results, path)),
        ("junit.xml", lambda path: junit.write(run, results, path)),
        ("report.html", lambda path: html.write(run, results, path)),
        ("traffic.har", lambda path: har.write(run, path)),
        ("summary.md", lambda path: summary.write(run, results, path, results_json.undecided(results))),
    ]
    problems: list[str] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problems.append(f"cannot create the report directory {directory}: {exc.strerror}")
        writers = []
    for name, writer in writers:
        try:
            writer(directory / name)
        except Exception as exc:  # one broken report must not cost the other two
            problems.append(run.redactor(f"could not write {name}: {type(exc).__name__}: {exc}"))
    run.written = (results, problems)
    return problems


def undecided_lines(results: list[ClauseResult], require_complete: bool) -> list[str]:
    """The clauses that keep the verdict from being conformant although nothing failed, grouped by reason."""
    missing = results_json.undecided(results)
    if not missing:
        return []
    grouped: dict[tuple[str, str], list[str]] = {}
    for r in missing:
        name = r.id if r.level == "MUST" else f"{r.id} ({r.level})"
        grouped.setdefault((r.detail.splitlines()[0], r.target), []).append(name)
    consequence = (
        "exit status 1: --require-complete" if require_complete else "exit status 0 unless --require-complete"
    )
    lines = [
        f"undecided: {len(missing)} clause verdict(s) the verdict needs were not decided ({consequence}):"
    ]
    for (reason, target), ids in list(grouped.items())[:MAX_SUMMARY]:
        lines.append(f"  UNDECIDED {', '.join(ids)} on {target}: {reason[:160]}")
    if len(grouped) > MAX_SUMMARY:
        lines.append(
            f"  ... and {len(grouped) - MAX_SUMMARY} more (results.json lists them all under undecided)"
        )
    return lines


def summary_lines(run: RunData) -> list[str]:
    results, problems = run.written or (aggregate(run), [])
    counts = Counter(r.status for r in results)
    verdict = results_json.verdict(results)
    tally = ", ".join(f"{counts[s]} {s}" for s in results_json.PRIORITY if counts[s])
    lines = [f"notice: {notice}" for notice in run.notices]
    lines.append(f"verdict: {verdict.upper()}  ({tally} clause verdicts)")
    per_target = results_json.verdicts(results)
    if len(set(per_target.values())) > 1:  # the targets differ: say which is which
        lines.append("  by target: " + ", ".join(f"{t} {v.upper()}" for t, v in per_target.items()))
    grouped: dict[tuple[str, str], list[ClauseResult]] = {}
    for r in results:
        if r.status in ("fail", "error", "warn"):
            grouped.setdefault((r.status, r.id), []).append(r)
    ordered = sorted(grouped.items(), key=lambda item: results_json.PRIORITY.index(item[0][0]))
    for (status, cid), entries in ordered[:MAX_SUMMARY]:
        first = entries[0].detail.splitlines()[0] if entries[0].detail else ""
        targets = ", ".join(e.target for e in entries)
        lines.append(f"  {status.upper():5} {cid:8} [{entries[0].level}] on {targets}: {first[:160]}")
    if len(ordered) > MAX_SUMMARY:
        lines.append(f"  ... and {len(ordered) - MAX_SUMMARY} more (report.html lists them all)")
    lines += undecided_lines(results, run.settings.require_complete)
    sent = f"seed: {run.seed}; requests sent: {run.requests_sent}"
    lines.append(f"{sent}; probe records carry conformance_id {run.run_id}-*")
    d = run.settings.report_dir
    lines.append(f"reports: {d / 'report.html'}, {d / 'results.json'}, {d / 'junit.xml'}")
    lines.append(f"traffic: {d / 'traffic.har'}; summary: {d / 'summary.md'}")
    lines += [f"REPORT ERROR: {problem}" for problem in problems]
    return [run.redactor(line) for line in lines]


def github_annotations(run: RunData) -> list[str]:
    """``::error`` / ``::warning`` workflow commands, one per failing clause and target (GitHub Actions)."""
    from conformance.report.summary import workflow_commands

    results, _ = run.written or (aggregate(run), [])
    return workflow_commands(run, results)
