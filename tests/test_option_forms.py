"""Options in anyone's pytest run (docs/contract.md, Running and Options).

Every option works as ``--opt value`` and ``--opt=value`` (or stops with one usage line, never running a
different set of tests); the plugin does nothing in a run that does not collect the suite; flags have
environment variables; pytest's cache works from a checkout.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.plugin.options import OPTIONS, RUN_ID_PATTERN
from conformance.report import results as results_module
from conformance.report import write_all
from conformance.report.results import schema
from tests.suite_runner import ROOT, TEST_KEY
from tests.test_reports import synthetic_run

pytest_plugins = ["pytester"]

CONFTEST = "from conformance.conftest import *  # noqa: F403 - the suite's fixtures\n"

SETTINGS_PROBE = """
import pytest
from conformance.plugin.state import get_run

def test_settings(request):
    config = request.config
    chosen = (config.rootpath.name, config.inipath.name, config.getoption("strict_markers"))
    print("SETTINGS", repr(get_run(config).settings), chosen)

@pytest.mark.clause("EP-02")
def test_collected_but_deselected():
    pass
"""


def _file(name: str, text: str) -> Callable[[Path], str]:
    def make(directory: Path) -> str:
        (directory / name).write_text(text, encoding="utf-8")
        return name

    return make


def _folder(name: str) -> Callable[[Path], str]:
    def make(directory: Path) -> str:
        (directory / name).mkdir(exist_ok=True)
        return name

    return make


def _value(text: str) -> Callable[[Path], str]:
    return lambda directory: text


# A valid value for every value-taking option; path-valued ones are made to exist, the hard case.
VALUES: dict[str, Callable[[Path], str]] = {
    "--target": _value("https://us01.records.in.treasuredata.com"),
    "--api-version": _value("v2"),
    "--write-key": _value(TEST_KEY),
    "--database": _value("db_a"),
    "--table": _value("tbl_b"),
    "--readback": _value("http://127.0.0.1:9/_readback"),
    "--settle": _value("2.5"),
    "--compare-target": _value("https://in.treasuredata.com"),
    "--compare-api-version": _value("legacy"),
    "--compare-write-key": _value("1/compare"),
    "--compare-readback": _value("http://127.0.0.1:9/_compare"),
    "--conformance-profile": _file("p.toml", 'budget = "quick"\n'),
    "--report-dir": _folder("out"),
    "--run-id": _value("ci-1"),
    "--seed": _value("77"),
    "--baseline": _file("last.json", '{"clauses": []}\n'),
    "--fail-on": _value("regression"),
    "--max-rps": _value("3"),
    "--request-timeout": _value("4"),
    "--ca-bundle": _file("ca.pem", "not checked before the first request\n"),
    "--max-duration": _value("600"),
    "--proxy": _value("http://127.0.0.1:3128"),
    "--client-cert": _file("client.pem", "not read before the first request\n"),
    "--client-key": _file("client.key", "not read before the first request\n"),
}
VALUED = [flag for flag, _, _, _, kind in OPTIONS if kind != "flag"]


@pytest.fixture
def suite_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider --strict-markers\n")
    pytester.makepyfile(SETTINGS_PROBE)
    return pytester


def _settings(result: pytest.RunResult) -> str:
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    return next(line for line in result.outlines if "SETTINGS " in line).split("SETTINGS ", 1)[1]


def test_every_value_taking_option_has_a_sample_value_here() -> None:
    """A new option joins the two-forms check below (add its sample to VALUES)."""
    assert sorted(VALUED) == sorted(VALUES)


def test_every_option_gives_the_same_run_in_the_space_and_the_equals_form(suite_dir: pytest.Pytester) -> None:
    """docs/contract.md: every option works as `--opt value` and `--opt=value`; path values that exist
    inside the
    project (`--report-dir out`) included: same settings, same tests."""
    values = {flag: make(suite_dir.path) for flag, make in VALUES.items()}
    spaced = [part for flag, value in values.items() for part in (flag, value)]
    joined = [f"{flag}={value}" for flag, value in values.items()]
    flags = [flag for flag, _, _, _, kind in OPTIONS if kind == "flag"]
    first = suite_dir.runpytest_subprocess("-s", "-k", "settings", *spaced, *flags)
    second = suite_dir.runpytest_subprocess("-s", "-k", "settings", *joined, *flags)
    assert _settings(first) == _settings(second)
    for result in (first, second):
        result.stdout.fnmatch_lines(["*1 passed, 1 deselected*"])
    assert "tbl_b" in _settings(first)
    assert "ci-1" in _settings(first)


def test_a_space_form_path_outside_the_project_gives_the_same_run_as_the_equals_form(
    suite_dir: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """pytest picks its rootdir before it knows the plugin's options: `--report-dir /elsewhere` would make
    it take /elsewhere for a test path, root the run there and collect other tests. The plugin makes the
    choice again from the real test paths: same rootdir, same inifile and its addopts, same tests."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    spaced = suite_dir.runpytest_subprocess(
        "-s", "-k", "settings", "--seed=1", "--report-dir", str(elsewhere)
    )
    joined = suite_dir.runpytest_subprocess("-s", "-k", "settings", "--seed=1", f"--report-dir={elsewhere}")
    assert _settings(spaced) == _settings(joined)
    assert f"PosixPath('{elsewhere}')" in _settings(spaced)
    assert _settings(spaced).endswith(f"('{suite_dir.path.name}', 'tox.ini', True)")
    for result in (spaced, joined):
        result.stdout.fnmatch_lines([f"rootdir: {suite_dir.path}", "*1 passed, 1 deselected*"])


def test_a_space_form_path_into_another_pytest_project_still_gives_the_run_of_the_equals_form(
    suite_dir: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Even where the option's value holds another project's ini file, the run is started again with the
    option written `--report-dir=...`: this project's rootdir and ini file, the same tests."""
    other = tmp_path_factory.mktemp("other")
    (other / "pytest.ini").write_text("[pytest]\n")
    spaced = suite_dir.runpytest_subprocess("-s", "-k", "settings", "--seed=1", "--report-dir", str(other))
    joined = suite_dir.runpytest_subprocess("-s", "-k", "settings", "--seed=1", f"--report-dir={other}")
    assert _settings(spaced) == _settings(joined)
    spaced.stdout.fnmatch_lines([f"rootdir: {suite_dir.path}", "*1 passed, 1 deselected*"])


def test_a_space_form_path_in_process_stops_with_one_usage_line(
    suite_dir: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Run through ``pytest.main`` (no command line to start again), the option must be written with `=`:
    one line says so, and no test runs."""
    other = tmp_path_factory.mktemp("other")
    result = suite_dir.runpytest_inprocess("--report-dir", str(other))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert errors == [
        f"ERROR: pytest took the value of `--report-dir {other}` for a test path when it chose its rootdir; "
        f"write --report-dir={other}"
    ]
    assert "passed" not in result.stdout.str()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", "insecure=True"), ("true", "insecure=True"), ("0", "insecure=False"), ("no", "insecure=False")],
)
def test_the_insecure_flag_is_read_from_postback_insecure(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("POSTBACK_INSECURE", value)
    assert expected in _settings(suite_dir.runpytest_subprocess("-s", "-k", "settings"))


def test_a_flag_variable_that_is_neither_yes_nor_no_is_a_usage_error(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTBACK_ALLOW_INSECURE_HTTP", "maybe")
    result = suite_dir.runpytest_subprocess("-k", "settings")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: POSTBACK_ALLOW_INSECURE_HTTP must be 1, true, yes or 0, false, no*"])


def test_every_option_has_an_environment_variable() -> None:
    """COMMON rules and docs/contract.md, Options: each option is also read from its environment variable."""
    assert [flag for flag, env, _, _, _ in OPTIONS if not env] == []


def test_stray_environment_variables_change_nothing_in_an_unrelated_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed, the plugin reads no POSTBACK_* variable in a run that does not collect the suite: a stray
    (even invalid) POSTBACK_TARGET neither stops nor changes a project's own tests."""
    monkeypatch.setenv("POSTBACK_TARGET", "ftp://not-a-target")
    monkeypatch.setenv("POSTBACK_INSECURE", "maybe")
    monkeypatch.setenv("POSTBACK_REPORT_DIR", "stray-reports")
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0
    assert "postback target" not in result.stdout.str()
    assert "postback seed" not in result.stdout.str()
    assert not (pytester.path / "stray-reports").exists()
    assert not (pytester.path / "reports").exists()


def test_suite_options_on_a_run_without_the_suite_stop_with_one_usage_line(pytester: pytest.Pytester) -> None:
    """`pytest --target=URL` in a project folder would run the project's tests and exit 0 as if certified;
    it stops and says how to run the installed suite instead."""
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--target=https://in.treasuredata.com")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert "does not collect the conformance suite" in errors[0]
    assert "pytest --pyargs conformance" in errors[0]
    assert "postback-conformance" in errors[0]
    assert "passed" not in result.stdout.str()


def test_last_failed_reruns_only_the_failed_test_with_the_checkouts_settings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a checkout, pytest's cache works (`--lf`, `--ff`): the project's pytest settings do not turn
    the cache off; only the installed suite's own ini (conformance/suite.ini) does."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]
    addopts = config["ini_options"]["addopts"]
    assert "no:cacheprovider" not in addopts
    assert "no:cacheprovider" in (ROOT / "conformance" / "suite.ini").read_text(encoding="utf-8")
    pytester.makeini("[pytest]\naddopts = " + " ".join(addopts) + "\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import pytest
        from conformance.engine.checks import fail

        @pytest.mark.clause("EP-02")
        def test_holds(target):
            pass

        @pytest.mark.clause("EP-03")
        def test_missed(target):
            raise fail(["EP-03"], "kept open", "closed")
        """
    )
    monkeypatch.setenv("POSTBACK_WRITE_KEY", TEST_KEY)
    args = ("--api-version=v2", "--strict", "--report-dir=out")
    first = pytester.runpytest_subprocess(*args)
    assert first.ret == 1
    first.stdout.fnmatch_lines(["*1 failed, 1 passed*"])
    again = pytester.runpytest_subprocess("--lf", *args)
    again.stdout.fnmatch_lines(["*run-last-failure*", "*= 1 failed in *"])
    first_failed = pytester.runpytest_subprocess("--ff", "-v", *args)
    first_failed.stdout.fnmatch_lines(["*test_missed*FAILED*", "*test_holds*PASSED*"])


@pytest.mark.parametrize("run_id", ["ci-1", "a", "Build_42", "x" * 64, "-x", "x" * 65, "a b", "ci.1", ""])
def test_the_run_ids_the_option_takes_are_the_ones_results_json_takes(run_id: str) -> None:
    """`--run-id=ci-1` must not give a results.json that breaks its own schema."""
    pattern = schema()["properties"]["run_id"]["pattern"]
    assert (re.fullmatch(RUN_ID_PATTERN, run_id) is not None) == (re.search(pattern, run_id) is not None)


def test_results_json_that_breaks_its_schema_is_one_clear_error_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """results.json is validated before it is written: a suite bug is one report error, not a bad file."""
    run = synthetic_run(tmp_path)
    real_build = results_module.build
    monkeypatch.setattr(results_module, "build", lambda *a: {**real_build(*a), "verdict": "maybe"})
    problems = write_all(run)
    assert len(problems) == 1
    assert problems[0].startswith("could not write results.json: ValueError: results.json does not match")
    assert "at verdict: 'maybe' is not one of" in problems[0]
    assert not (tmp_path / "reports" / "results.json").exists()
    assert (tmp_path / "reports" / "junit.xml").exists()


def test_last_failed_after_a_failed_read_back_reruns_the_test_that_sent_the_probe(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `::read-back` check judges what its test sent in the same run: `--lf` reruns both."""
    suite_dir.makeini("[pytest]\n")  # the cache on, as from a checkout
    suite_dir.makepyfile(
        test_probe="""
        import pytest
        from conformance.engine.checks import fail

        @pytest.mark.clause("EP-01")
        def test_sends(target, ingestion):
            target.post(fields={"number": 1})

            def judge(record_info):
                raise fail(["EP-01"], "the record as sent", "a judge that always fails")

            ingestion.after_readback(judge)
        """
    )
    args = ("--api-version=v2", "--report-dir=out", "test_probe.py")
    first = suite_dir.runpytest_subprocess(*args)
    first.stdout.fnmatch_lines(["*1 failed, 1 passed*"])
    again = suite_dir.runpytest_subprocess("--lf", "-v", *args)
    again.stdout.fnmatch_lines(
        ["*test_sends?v2? PASSED*", "*test_sends?v2?::read-back FAILED*", "*1 failed, 1 passed*"]
    )
