"""report.html: a self-contained conformance report (no network, no external assets)."""

from __future__ import annotations

import html
from pathlib import Path

from conformance.contract.catalog import catalog
from conformance.plugin.session import Run
from conformance.report.results import ClauseResult, verdict


def render(run: Run, results: list[ClauseResult]) -> str:
    rows = []
    for r in results:
        text = catalog()[r.id].text
        rows.append(
            f"<tr class='{r.status}'><td>{r.id}</td><td>{r.level}</td><td>{html.escape(r.target)}</td>"
            f"<td>{r.status}</td><td>{html.escape(text)}</td><td><pre>{html.escape(r.detail)}</pre></td></tr>"
        )
    body = "\n".join(rows)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Postback conformance</title>
<style>body{{font-family:sans-serif}} .fail{{background:#fdd}} .warn{{background:#ffd}} .pass{{background:#dfd}}
.error{{background:#fcc}} .info{{background:#def}} pre{{white-space:pre-wrap;margin:0}}</style></head><body>
<h1>Postback conformance: {verdict(results)}</h1>
<table border=1><tr><th>clause</th><th>level</th><th>target</th><th>status</th><th>requirement</th><th>detail</th></tr>
{body}</table><p>seed {run.seed}, run {run.run_id}, {run.requests_sent} requests</p></body></html>"""


def write(run: Run, results: list[ClauseResult], path: Path) -> None:
    path.write_text(run.redactor(render(run, results)), encoding="utf-8")
