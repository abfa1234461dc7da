"""The pytest plugin (entry point ``pytest11``): options, target parametrization, verdicts, reports.

Thin on purpose: it adapts pytest to the engine (conformance/engine/): options in :mod:`.options`, the
engine's run in ``config.stash`` (:mod:`.state`), pytest reports to the engine's judging in :mod:`.verdicts`,
read-back check items in :mod:`.readback_items`, xdist in :mod:`.distributed`; reports in
:mod:`conformance.report`.
The plugin stays inert in a pytest run that collects none of the suite's tests.
"""

from __future__ import annotations

import time
from collections.abc import Generator

import pytest

from conformance.engine.run import Run, TargetError
from conformance.plugin import distributed, options, suite, verdicts
from conformance.plugin.state import find_run, run_key

MARKERS = (
    "clause(*ids): the clause IDs of docs/requirements.md a test decides",
    "endpoint: EP clauses",
    "auth: AUTH clauses",
    "names: NAME clauses",
    "body: BODY clauses",
    "size: SIZE clauses",
    "responses: RESP clauses",
    "cutover: CUT clauses (two targets compared)",
    "schema: the spec-driven (schemathesis) layer",
    "versions(*versions): endpoint versions a test applies to (default: from its clauses)",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    options.check_rootdir_choice(early_config, args)
    options.refuse_mistyped_options(parser, args)


def pytest_configure(config: pytest.Config) -> None:
    if not suite.suite_mode(config):
        suite.refuse_options_without_suite(config)  # and no environment variable is read: the plugin is inert
        return
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    run = Run(distributed.worker_settings(config, options.settings_from_config(config)))
    config.stash[run_key] = run
    suite.configure_hypothesis(config, run)
    config.pluginmanager.register(suite.LastFailedOrigins(config), "postback-lastfailed-origins")


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = find_run(config)
    return suite.header_lines(run) if run else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = find_run(metafunc.config)
    if run:
        suite.parametrize_targets(metafunc, run)


def pytest_itemcollected(item: pytest.Item) -> None:
    # Clause IDs become keywords, so `-k AUTH-04` selects the tests that decide AUTH-04.
    if find_run(item.config):
        item.extra_keyword_matches.update(verdicts.marked_clauses(item))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = find_run(config)
    if run:
        suite.add_readback_checks(config, run, items)


def _start(run: Run) -> None:
    try:
        run.start()
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_deselected(items: list[pytest.Item]) -> None:
    run = find_run(items[0].config) if items else None
    if run:
        suite.record_deselected(run, items)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # xdist: the controller starts (or checks) the targets once, before its workers start.
    config = session.config
    run = find_run(config)
    if run and distributed.is_controller(config) and not config.option.collectonly:
        _start(run)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    run = find_run(node.config)  # type: ignore[attr-defined]
    if run and run.ready:
        node.workerinput[distributed.INPUT] = distributed.worker_input(run)  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    output = getattr(node, "workeroutput", {}).get(distributed.OUTPUT)
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    run = find_run(config)
    if run and output is not None:
        distributed.merge_worker(config, run, output)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    config = session.config
    run = find_run(config)
    if run is None:
        return (yield)
    if run.suite_items and not config.option.collectonly:
        if distributed.INPUT in getattr(config, "workerinput", {}):
            distributed.connect_worker(config, run)
        else:
            _start(run)
    result = yield
    if run.deferred_checks:
        distributed.run_deferred_checks(session, run)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    run = find_run(item.config)
    if run is None:
        return (yield)
    # traffic.har: every exchange from setup to teardown (read-back items too) is this test's.
    with run.current.running(item.nodeid, verdicts.marked_clauses(item)):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    if find_run(item.config) is None:
        return (yield)
    return (yield from verdicts.translate_skips())


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = find_run(item.config)
    if run and run.deadline is not None and time.monotonic() > run.deadline and verdicts.marked_clauses(item):
        pytest.skip(f"not started: the run reached --max-duration ({run.settings.max_duration:g} s)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    run = find_run(item.config)
    if run is None:
        return report
    run.ran_here.add(item.nodeid)
    from conformance.plugin.redaction import redact_report

    redact_report(report, run.redactor)  # no write key in tracebacks, -l locals or captured output
    if not run.started or not verdicts.marked_clauses(item):
        return report
    if (
        report.when == "call"
        or (report.when == "setup" and not report.passed)
        or (report.when == "teardown" and report.failed)
    ):
        outcomes = verdicts.classify(item, call, report, run)
        run.outcomes.extend(outcomes)
        for cid in verdicts.marked_clauses(item):
            report.user_properties.append(("clause", cid))
        report.user_properties.append(("target", outcomes[0].target))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = find_run(config)
    if run is None:
        return
    if run.started:
        run.record_readback_stats()  # every process's read-back cost, the preflight's and judges' included
        run.stop()
    if distributed.is_worker(config):
        if run.ready:  # the controller writes the reports, from every worker's part
            config.workeroutput[distributed.OUTPUT] = distributed.worker_output(run)  # type: ignore[attr-defined]
        return
    if run.ready:
        suite.write_reports(session.config, run)
        session.exitstatus = suite.exit_status(run, int(session.exitstatus))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    run = find_run(config)
    if run and run.ready and not distributed.is_worker(config):
        suite.terminal_summary(terminalreporter, run)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = find_run(config)
    if run is not None and not distributed.is_worker(config):  # a worker's spool is the controller's to drop
        run.traffic.close()
