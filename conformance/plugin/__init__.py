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
from conformance.plugin.session import Run, TargetError, run_key

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


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    options.check_rootdir_choice(early_config, args)


def pytest_configure(config: pytest.Config) -> None:
    if not suite.suite_mode(config):
        suite.refuse_options_without_suite(config)  # and no environment variable is read: the plugin is inert
        return
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    run = Run(options.settings_from_config(config))
    config.stash[run_key] = run
    suite.configure_hypothesis(config, run)
    config.pluginmanager.register(suite.LastFailedOrigins(config), "postback-lastfailed-origins")


def _run(config: pytest.Config) -> Run | None:
    """The run, or None in a pytest run that does not collect the suite."""
    return config.stash.get(run_key, None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = _run(config)
    return suite.header_lines(run) if run else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = _run(metafunc.config)
    if run:
        suite.parametrize_targets(metafunc, run)


def pytest_itemcollected(item: pytest.Item) -> None:
    # Clause IDs become keywords, so `-k AUTH-04` selects the tests that decide AUTH-04.
    if _run(item.config):
        item.extra_keyword_matches.update(verdicts.marked_clauses(item))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = _run(config)
    if run:
        suite.add_readback_checks(config, run, items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    run = _run(session.config)
    if run and run.suite_items and not session.config.option.collectonly:
        try:
            run.start()
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    run = _run(item.config)
    if run is None:
        return report
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
    run = _run(session.config)
    if run is None:
        return
    if run.started:
        run.stop()
    if run.ready:
        suite.write_reports(session.config, run)
        session.exitstatus = suite.exit_status(run, int(session.exitstatus))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    run = _run(config)
    if run and run.ready:
        suite.terminal_summary(terminalreporter, run)
