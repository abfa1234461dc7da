"""The pytest plugin (entry point ``pytest11``): options, target parametrization, verdicts, reports.

Thin on purpose: options live in :mod:`.options`, run state in :mod:`.session` (kept in ``config.stash``),
verdicts in :mod:`.verdicts`, read-back checks in :mod:`.readback_items`, reports in
:mod:`conformance.report`.
The plugin stays inert in a pytest run that collects none of the suite's tests.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from conformance.plugin import options, suite, verdicts
from conformance.plugin.session import Run, TargetError, get_run, run_key

MARKERS = (
    "clause(*ids): the clause IDs of REQUIREMENTS.md a test decides",
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


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = options.settings_from_config(config)
    run = Run(settings)
    config.stash[run_key] = run
    if suite.suite_mode(config):
        suite.configure_hypothesis(config, run)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not suite.suite_mode(config):
        return []
    return suite.header_lines(get_run(config))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    suite.parametrize_targets(metafunc, get_run(metafunc.config))


def pytest_itemcollected(item: pytest.Item) -> None:
    # Clause IDs become keywords, so `-k AUTH-04` selects the tests that decide AUTH-04.
    item.extra_keyword_matches.update(verdicts.marked_clauses(item))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    suite.add_readback_checks(config, get_run(config), items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        suite.record_deselected(get_run(items[0].config), items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    run = get_run(session.config)
    if run.suite_items and not session.config.option.collectonly:
        try:
            run.start()
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    run = get_run(item.config)
    from conformance.report.redaction import redact_report  # lazy: conformance.report imports the plugin

    redact_report(report, run.redactor)  # no write key in tracebacks, -l locals or captured output
    if not run.started or not verdicts.marked_clauses(item):
        return report
    if (
        report.when == "call"
        or (report.when == "setup" and not report.passed)
        or (report.when == "teardown" and report.failed)
    ):
        outcome = verdicts.classify(item, call, report, run)
        run.outcomes.append(outcome)
        for cid in verdicts.marked_clauses(item):
            report.user_properties.append(("clause", cid))
        report.user_properties.append(("target", outcome.target))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = get_run(session.config)
    if run.started:
        run.stop()
    if run.ready:
        suite.write_reports(session.config, run)
        session.exitstatus = suite.exit_status(run, int(session.exitstatus))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    run = get_run(config)
    if run.ready:
        suite.terminal_summary(terminalreporter, run)
