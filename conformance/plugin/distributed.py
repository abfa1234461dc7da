"""pytest-xdist: one run over many processes, one set of reports (docs/contract.md, Running: ``pytest -n N``).

The controller plans the run (seed, run ID), starts the embedded targets or checks the given ones answer,
and hands every worker the same targets through ``workerinput``. Workers run tests, classify them as a
serial run does, and keep their read-back checks to themselves: the checks of a worker's tests run on that
worker after its last test (the ledger lives there), so every worker waits out the settle period at about
the same time and the run waits one settle period in wall time. At the end each worker ships its outcomes
and counters through ``workeroutput``; the controller merges them and writes the reports once.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Literal

import pytest

from conformance.engine.run import Run
from conformance.engine.rundata import Outcome, Settings
from conformance.plugin.verdicts import marked_clauses
from conformance.transport.client import TargetSpec

INPUT = "postback_conformance"
OUTPUT = "postback_conformance"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """A pytest-xdist controller: it runs no test itself (``-n 0`` and ``-p no:xdist`` are serial runs)."""
    return not is_worker(config) and getattr(config.option, "dist", "no") != "no"


def worker_settings(config: pytest.Config, settings: Settings) -> Settings:
    """A worker's settings: the controller's seed and run ID (both are random unless given)."""
    given = getattr(config, "workerinput", {}).get(INPUT)
    if not given:
        return settings
    return replace(settings, seed=given["seed"], run_id=given["run_id"])


def worker_input(run: Run) -> dict[str, Any]:
    """What every worker needs of the controller's run: plain data only (execnet serialises it)."""
    return {
        "seed": run.seed,
        "run_id": run.run_id,
        "targets": [(asdict(spec), key) for spec, key in run.target_specs],
    }


def connect_worker(config: pytest.Config, run: Run) -> None:
    """Connect a worker to the controller's targets, with its share of the rate cap and its own probe IDs."""
    workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
    given = workerinput[INPUT]
    run.rate_share = max(1, int(workerinput.get("workercount", 1)))
    run.ids = type(run.ids)(run.run_id, str(workerinput.get("workerid", "gw")))
    run.connect([(TargetSpec(**spec), key) for spec, key in given["targets"]], check=False)
    run.ready = True


def worker_output(run: Run) -> bytes:
    """The worker's part of the run for the controller (pickled: outcomes hold exchanges and bytes)."""
    spool = run.traffic.hand_over()
    payload = {
        "outcomes": run.outcomes,
        "requests_sent": run.own_requests(),
        # The spool file: the controller reads the entries from there (none: the worker sent nothing).
        "traffic": str(spool) if spool is not None else None,
        # Counters the reports show per target (the worker's own; it merged nobody's).
        "extra": {
            **run.extra,
            "records_by_table": run.own_records_by_table(),
            "throttles": run.own_throttles(),
        },
        "reports": run.deferred_reports,
        # Every worker collects the same tests, so each saw the same deselection and the same seed.
        "selection": run.selection,
        "deselected": run.deselected,
        "seed_source": run.seed_source,
    }
    return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def merge_worker(config: pytest.Config, run: Run, data: bytes) -> None:
    """Fold one worker's part into the controller's run."""
    payload = pickle.loads(data)  # noqa: S301 - our own worker, through execnet's private channel
    outcomes: list[Outcome] = payload["outcomes"]
    run.outcomes.extend(outcomes)
    if not run.workers:
        run.selection, run.deselected = payload["selection"], payload["deselected"]
        run.seed_source = payload["seed_source"]
    run.workers += 1
    run.merged_requests += int(payload["requests_sent"])
    if payload["traffic"] is not None:
        run.traffic.absorb(Path(payload["traffic"]))  # traffic.har sorts the entries by time
    for key, value in payload["extra"].items():
        merge_extra(run.extra, key, value)
    log_deferred_reports(config, payload["reports"])


def merge_extra(into: dict[str, Any], key: str, value: Any) -> None:
    """Counters add up, lists concatenate, dicts merge key by key; anything else: the first one kept."""
    seen = into.get(key)
    if seen is None:
        into[key] = value
    elif isinstance(seen, bool) or not isinstance(seen, int | float | list | dict):
        return
    elif isinstance(seen, int | float) and isinstance(value, int | float):
        into[key] = seen + value
    elif isinstance(seen, list) and isinstance(value, list):
        seen.extend(value)
    elif isinstance(seen, dict) and isinstance(value, dict):
        for inner_key, inner in value.items():
            merge_extra(seen, inner_key, inner)


def run_deferred_checks(session: pytest.Session, run: Run) -> None:
    """A worker's read-back checks, after its last test, through pytest's own run-test protocol.

    The controller never scheduled these items, so their failures travel with the worker's output and
    the controller logs them (terminal, exit status, --junitxml) as if they had run there; every check's
    outcome is in the worker's outcomes, and so in the reports.
    """
    checks = [c for c in run.deferred_checks if getattr(c, "origin_nodeid", None) in run.ran_here]
    run.deferred_checks = []
    config = session.config
    if checks:
        started = time.time()
        run.ledger.resolve()  # the settle period, waited by every worker at about the same time
        run.extra.setdefault("readback_waits", []).append([round(started, 3), round(time.time(), 3)])
    for index, item in enumerate(checks):
        if session.shouldfail or session.shouldstop:
            break
        nextitem = checks[index + 1] if index + 1 < len(checks) else None
        with run.current.running(item.nodeid, marked_clauses(item)):
            reports = _run_unlogged(item, nextitem)
        for report in reports:
            if report.failed:  # passes and skips are in the reports; the terminal counts failures
                data = config.hook.pytest_report_to_serializable(config=config, report=report)
                run.deferred_reports.append(data)


def _run_unlogged(item: pytest.Item, nextitem: pytest.Item | None) -> list[pytest.TestReport]:
    """Set up, call and tear down ``item`` through its public hooks, making its reports without logging
    them (the worker's xdist channel would announce an item the controller never scheduled)."""
    hooks = item.ihook
    phases: list[tuple[Literal["setup", "call", "teardown"], Any]] = [
        ("setup", lambda: hooks.pytest_runtest_setup(item=item)),
        ("call", lambda: hooks.pytest_runtest_call(item=item)),
        ("teardown", lambda: hooks.pytest_runtest_teardown(item=item, nextitem=nextitem)),
    ]
    reports: list[pytest.TestReport] = []
    for when, run_phase in phases:
        if when == "call" and not reports[0].passed:
            continue  # a failed or skipped setup: no call, as pytest does
        call = pytest.CallInfo.from_call(
            run_phase, when=when, reraise=(pytest.exit.Exception, KeyboardInterrupt)
        )
        reports.append(hooks.pytest_runtest_makereport(item=item, call=call))
    return reports


def log_deferred_reports(config: pytest.Config, reports: list[dict[str, Any]]) -> None:
    for data in reports:
        report = config.hook.pytest_report_from_serializable(config=config, data=data)
        if report is not None:
            config.hook.pytest_runtest_logreport(report=report)
