"""Reports: results.json, junit.xml and report.html, all written on every run to ``--report-dir``."""

from __future__ import annotations

from collections import Counter

from conformance.plugin.session import Run
from conformance.report import results as results_json
from conformance.report.results import ClauseResult, aggregate

_last: dict[int, list[ClauseResult]] = {}


def write_all(run: Run) -> None:
    directory = run.settings.report_dir
    directory.mkdir(parents=True, exist_ok=True)
    results = aggregate(run)
    _last[id(run)] = results
    results_json.write(run, results, directory / "results.json")
    from conformance.report import html, junit

    junit.write(run, directory / "junit.xml")
    html.write(run, results, directory / "report.html")


def summary_lines(run: Run) -> list[str]:
    results = _last.get(id(run)) or aggregate(run)
    counts = Counter(r.status for r in results)
    verdict = results_json.verdict(results)
    lines = [f"verdict: {verdict.upper()}  ("
             + ", ".join(f"{counts[s]} {s}" for s in results_json.PRIORITY if counts[s]) + " clause verdicts)"]
    for r in results:
        if r.status in ("fail", "error", "warn"):
            first = r.detail.splitlines()[0] if r.detail else ""
            lines.append(f"  {r.status.upper():5} {r.id:8} [{r.level}] on {r.target}: {first[:160]}")
    lines.append(f"requests sent: {run.requests_sent}; probe records carry conformance_id {run.run_id}-*")
    d = run.settings.report_dir
    lines.append(f"reports: {d / 'report.html'}, {d / 'results.json'}, {d / 'junit.xml'}")
    return lines
