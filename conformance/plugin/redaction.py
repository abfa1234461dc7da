"""No write key in pytest's own output: tracebacks, ``-l`` locals, captured stdout/stderr/logs, properties.

The suite's texts are redacted where they are made, but pytest renders more than the suite controls: a
traceback with ``--showlocals`` prints the locals of every frame (a header list holding the key), and
captured output is printed as it was. The plugin passes every test report through :func:`redact_report`
before anything (terminal, ``--junitxml``, xdist) sees it. A report is rendered to text only when it
carries a traceback, and replaced by the redacted text only when that text holds a secret, so ordinary
failures keep pytest's own formatting.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.transport.redact import Redactor


def _leaks(text: str, redactor: Redactor) -> bool:
    return any(secret in text for secret in redactor.secrets)


def redact_report(report: pytest.TestReport | pytest.CollectReport, redactor: Redactor) -> None:
    if not redactor.secrets:
        return
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        report.longrepr = (longrepr[0], longrepr[1], redactor(str(longrepr[2])))
    elif isinstance(longrepr, str):
        report.longrepr = redactor(longrepr)
    elif longrepr is not None:
        text = report.longreprtext
        if _leaks(text, redactor):
            report.longrepr = redactor(text)
    report.sections = [(title, redactor(content)) for title, content in report.sections]
    if isinstance(report, pytest.TestReport):
        report.user_properties = [
            (name, redactor(value) if isinstance(value, str) else value)
            for name, value in report.user_properties
        ]
