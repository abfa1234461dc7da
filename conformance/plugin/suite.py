"""Run-level glue of the plugin: which tests run against which target, header, reports, summary."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

import conformance
from conformance.contract.catalog import clause
from conformance.engine.run import CUTOVER, Run
from conformance.plugin.readback_items import ReadbackCheck
from conformance.plugin.verdicts import marked_clauses

PACKAGE_DIR = Path(conformance.__file__).resolve().parent
READBACK_SUFFIX = "::read-back"


def suite_mode(config: pytest.Config) -> bool:
    """Whether this pytest run collects the conformance suite; the plugin does nothing in any other run.

    True when a test argument points into the suite's package (or names it with ``--pyargs``), when it points
    at a checkout that holds the suite, or when a loaded conftest provides the suite's fixtures (a suite
    written against the plugin, as the self-tests do). Decided once, at configure time.
    """
    pyargs = bool(config.getoption("pyargs", False))
    checkout = (PACKAGE_DIR.parent / "pyproject.toml").is_file()  # not an installed copy in site-packages
    for arg in config.args:
        part = arg.split("::", 1)[0]
        module = _module_path(part) if pyargs and part.split(".")[0] == PACKAGE_DIR.name else None
        path = module or Path(part)
        path = (Path(config.invocation_params.dir) / path).resolve() if not path.is_absolute() else path
        if path == PACKAGE_DIR or PACKAGE_DIR in path.parents or (checkout and path in PACKAGE_DIR.parents):
            return True
    return _suite_fixtures_loaded(config)


def _module_path(name: str) -> Path | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    origin = Path(spec.origin).resolve()
    return origin.parent if origin.name == "__init__.py" else origin


def _suite_fixtures_loaded(config: pytest.Config) -> bool:
    suite_conftest = sys.modules.get("conformance.conftest")
    if suite_conftest is None:
        return False
    fixture = vars(suite_conftest).get("target")
    return any(
        plugin is suite_conftest or (isinstance(plugin, ModuleType) and vars(plugin).get("target") is fixture)
        for plugin in config.pluginmanager.get_plugins()
    )


def refuse_options_without_suite(config: pytest.Config) -> None:
    """Suite options on a run that does not collect the suite would certify nothing and exit 0: stop instead.

    Environment variables are not read at all in such a run (a stray POSTBACK_TARGET changes nothing).
    """
    from conformance.plugin.options import OPTIONS

    for flag, _, dest, _, _ in OPTIONS:
        if config.getoption(dest) not in (None, False):
            raise pytest.UsageError(
                f"{flag} was given, but this pytest run does not collect the conformance suite; "
                f"run it with `pytest --pyargs conformance {flag}=...` or `postback-conformance {flag}=...`"
            )


class LastFailedOrigins:
    """`--lf` after a failed ``::read-back`` check reruns the test that sent its probes too: the check only
    judges what that test sent in the same run, so alone it would have nothing to read back."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid.endswith(READBACK_SUFFIX):
            lastfailed = getattr(self.config.pluginmanager.get_plugin("lfplugin"), "lastfailed", None)
            if isinstance(lastfailed, dict):
                lastfailed[report.nodeid.removesuffix(READBACK_SUFFIX)] = True


def configure_hypothesis(config: pytest.Config, run: Run) -> None:
    """One seed for the whole run; no example database, so the same seed gives the same requests."""
    from hypothesis import HealthCheck, core, settings

    forced = config.getoption("hypothesis_seed", None)
    if forced is None:
        config.option.hypothesis_seed = run.seed
        core.global_force_seed = run.seed  # type: ignore[assignment]
        if not (config.getoption("pb_seed", None) or os.environ.get("POSTBACK_SEED")):
            run.seed_source = "random"
    else:
        # --hypothesis-seed overrides the run's seed: the whole run (schemathesis included) uses it, and the
        # reports say so.
        try:
            run.seed = int(forced)
        except ValueError:
            raise pytest.UsageError(f"--hypothesis-seed must be an integer, got {forced!r}") from None
        run.seed_source = "--hypothesis-seed"
    run.selection["keyword"] = config.getoption("keyword", None) or None
    run.selection["markers"] = config.getoption("markexpr", None) or None
    try:
        # schemathesis swaps hypothesis' printer for one that prints nothing, which blanks every falsifying
        # example; run its setup now, then put the real printer back (our schema is small).
        from hypothesis.vendor import pretty
        from schemathesis.generation.hypothesis import setup as schemathesis_setup

        schemathesis_setup()
        core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - schemathesis is a dependency
        pass
    settings.register_profile(
        "postback-conformance",
        database=None,
        deadline=None,
        max_examples=run.settings.profile.examples,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        print_blob=False,
    )
    settings.load_profile("postback-conformance")


def record_deselected(run: Run, items: list[pytest.Item]) -> None:
    """-k, -m or --deselect left these tests out: their clauses are undecided for that reason."""
    run.selection["deselected"] = int(run.selection.get("deselected", 0)) + len(items)
    planned = [t.name for t in run.planned]
    for item in items:
        clauses = marked_clauses(item)
        if not clauses:
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("pair"):
            names = [CUTOVER]
        elif params.get("target"):
            names = [str(params["target"])]
        else:
            names = planned
        for name in names:
            known = run.deselected.setdefault(name, [])
            known.extend(c for c in clauses if c not in known)


def header_lines(run: Run) -> list[str]:
    s = run.settings
    lines = []
    if s.embedded:
        lines.append(
            "postback targets: embedded reference targets on loopback ("
            + ", ".join(t.name for t in run.planned)
            + "), read-back on"
        )
    else:
        for t, options in zip(run.planned, s.given, strict=True):
            readback = options.readback or "none (answers decide; ingestion parts stay undecided)"
            lines.append(f"postback target {t.name}: {options.url} (api {t.version}), read-back: {readback}")
    lines.append(
        f"postback seed: {run.seed}  run ID: {run.run_id}  settle: {s.settle:g} s  "
        f"strict: {'yes' if s.strict else 'no'}  budget: {s.profile.budget}"
    )
    lines.append(
        f"postback reports: {s.report_dir}/ (junit.xml, report.html, results.json, traffic.har, summary.md)"
    )
    overrides = s.profile.overrides()
    if overrides:
        lines.append(f"postback profile overrides ({s.profile_path}): {overrides}")
    return lines


def test_versions(definition: pytest.Item) -> list[str]:
    marks = list(definition.iter_markers("versions"))
    if marks:
        return [str(v) for m in marks for v in m.args]
    versions: list[str] = []
    for cid in marked_clauses(definition):
        for version in clause(cid).versions:
            if version not in versions:
                versions.append(version)
    return versions


def parametrize_targets(metafunc: pytest.Metafunc, run: Run) -> None:
    if "target" in metafunc.fixturenames:
        versions = test_versions(metafunc.definition)
        params = [pytest.param(t.name, id=t.name) for t in run.planned if t.version in versions]
        if not params:
            reason = (
                f"applies to {' and '.join(versions) or 'no version'} only; this run certifies "
                + ", ".join(f"{t.name} ({t.version})" for t in run.planned)
            )
            params = [pytest.param(None, id="n/a", marks=pytest.mark.skip(reason=reason))]
        metafunc.parametrize("target", params, indirect=True)
    if "pair" in metafunc.fixturenames:
        by_version = {t.version: t.name for t in run.planned}
        if len(by_version) == 2 and len(run.planned) == 2:  # one legacy and one v2 target: compared
            param = pytest.param((by_version["legacy"], by_version["v2"]), id="legacy-vs-v2")
        else:
            param = pytest.param(
                None,
                id="n/a",
                marks=pytest.mark.skip(
                    reason="cutover compares exactly two targets, one legacy and one v2 (--compare-target)"
                ),
            )
        metafunc.parametrize("pair", [param], indirect=True)


def add_readback_checks(config: pytest.Config, run: Run, items: list[pytest.Item]) -> None:
    suite = [item for item in items if marked_clauses(item)]
    run.suite_items = len(suite)
    readback = {t.name for t in run.planned if t.readback}
    checks: list[pytest.Item] = []
    for item in suite:
        if not {"ingestion", "pair_ingestion"} & set(getattr(item, "fixturenames", ())):
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("target") in readback or (params.get("pair") and readback):
            assert item.parent is not None
            checks.append(
                ReadbackCheck.from_parent(item.parent, name=item.name + READBACK_SUFFIX, origin=item)
            )
    if hasattr(config, "workerinput"):
        # xdist: every worker must collect the same items, and a check must run where its test's ledger is:
        # each worker runs the checks of its own tests after its last test (plugin.distributed).
        run.deferred_checks = checks
    else:
        items.extend(checks)


def write_reports(config: pytest.Config, run: Run) -> None:
    import json

    from conformance.report import write_all

    write_all(run)  # traffic.har replaces the former requests.jsonl
    if run.settings.baseline is not None:
        from conformance.cutover.baseline import catalog_warning, compare, load

        current = json.loads((run.settings.report_dir / "results.json").read_text(encoding="utf-8"))
        diff = compare(str(run.settings.baseline), load(run.settings.baseline), current["clauses"])
        before = json.loads(run.settings.baseline.read_text(encoding="utf-8"))
        warning = catalog_warning(str(run.settings.baseline), before, current["catalog"])
        diff.warnings += [warning] if warning else []
        run.baseline_diff = diff
        path = run.settings.report_dir / "baseline.json"
        path.write_text(json.dumps(diff.as_json(), indent=2) + "\n", encoding="utf-8")


def exit_status(run: Run, status: int) -> int:
    """``--fail-on regression``: only a regression against the baseline fails the run.
    ``--require-complete``: an ``incomplete`` verdict (an applicable MUST clause undecided) fails it too."""
    if run.settings.fail_on == "regression" and run.baseline_diff is not None and status in (0, 1):
        status = 1 if run.baseline_diff.regressed else 0
    if status == 0 and run.settings.require_complete:
        from conformance.report.results import aggregate, verdict

        if verdict(aggregate(run)) == "incomplete":
            return 1
    return status


def terminal_summary(tr: pytest.TerminalReporter, run: Run) -> None:
    from conformance.report import summary_lines

    tr.section("postback conformance")
    for line in summary_lines(run):
        tr.write_line(line)
    if os.environ.get("GITHUB_ACTIONS") == "true":  # annotations on the workflow run (report/summary.py)
        from conformance.report import github_annotations

        for line in github_annotations(run):
            tr.write_line(line)
    if run.baseline_diff is not None:
        for line in run.baseline_diff.lines():
            tr.write_line(line)
