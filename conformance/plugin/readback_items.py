"""Deferred read-back: for every selected test that uses the ``ingestion`` fixture, the plugin appends a
:class:`ReadbackCheck` item (node ID ``<test>::read-back``) after all other tests. The first of them waits
out the settle period once; each then judges its own test's records (conformance/engine/judging.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import pytest

from conformance.engine.judging import judge_readback
from conformance.plugin.state import get_run
from conformance.plugin.verdicts import marked_clauses


class ReadbackCheck(pytest.Item):
    """Judges the records one test's probes left behind, after the run's single settle period."""

    def __init__(self, *, origin: pytest.Item, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.origin_nodeid = origin.nodeid
        callspec = getattr(origin, "callspec", None)
        params = callspec.params if callspec is not None else {}
        self.target_name = "cutover" if "pair" in params else params.get("target")
        self.own_markers.extend(origin.iter_markers())
        self.keywords.update(origin.keywords)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name

    def runtest(self) -> None:
        run = get_run(self.config)
        if not run.ledger.resolved:
            run.ledger.progress = progress_line(self.config)
            run.ledger.resolve()
            run.ledger.progress = None
        judge_readback(run, self.nodeid, self.origin_nodeid, marked_clauses(self))


def progress_line(config: pytest.Config) -> Callable[[int, int, float], None] | None:
    """A terminal line during the read-back wait: records found / expected, seconds left.

    Written through the terminal reporter with capture suspended (so it never lands in a test's captured
    output), at most every 5 s on a terminal and every 15 s otherwise; none without a terminal reporter (an
    xdist worker, ``-p no:terminal``) or with ``-qq``.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or hasattr(config, "workerinput") or config.get_verbosity() < -1:
        return None
    every = 5.0 if reporter.isatty() else 15.0
    last: list[float] = []

    def show(found: int, expected: int, left: float) -> None:
        now = time.monotonic()
        if last and now - last[-1] < every:
            return
        last.append(now)
        line = f"postback read-back: {found}/{expected} records found, {left:.0f} s left of the settle period"
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)

    return show
