"""The pytest plugin: options and their environment variables, usage errors, exit statuses, verdicts."""

from __future__ import annotations

import json

import pytest

from conformance.reference.server import ReferenceServer
from tests.suite_runner import TEST_KEY

pytest_plugins = ["pytester"]

CONFTEST = "from conformance.conftest import *  # noqa: F403 - the suite's fixtures\n"

SETTINGS_PROBE = """
from conformance.plugin.state import get_run

def test_settings(request):
    s = get_run(request.config).settings
    print("SETTINGS", s.primary.url, s.primary.api_version, s.database, s.table, s.settle, s.seed, s.max_rps,
          s.strict, s.report_dir)
"""

VERDICTS = """
import pytest
from conformance.engine.checks import fail

@pytest.mark.clause("EP-02")
def test_must_clause_ok(target):
    assert target.post().status == 200

@pytest.mark.clause("EP-03")
def test_should_clause_missed(target):
    raise fail(["EP-03"], "the connection kept open", "Connection: close")

@pytest.mark.clause("NAME-05")
def test_info_clause_measured(target, info):
    info.record("NAME-05", "129 characters: 200")
"""

MUST_FAILURE = """
import pytest
from conformance.engine.checks import fail

@pytest.mark.clause("EP-02")
def test_must_clause_missed(target):
    raise fail(["EP-02"], "the body {}", "the body []")
"""


@pytest.fixture
def suite_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


def _settings(result: pytest.RunResult) -> list[str]:
    line = next(line for line in result.outlines if "SETTINGS " in line)
    return line.split("SETTINGS ", 1)[1].split()


def test_options_are_read_from_environment_variables(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every option has an environment variable (docs/contract.md, Options)."""
    for name, value in {
        "POSTBACK_TARGET": "https://eu01.records.in.treasuredata.com",
        "POSTBACK_WRITE_KEY": TEST_KEY,
        "POSTBACK_DATABASE": "envdb",
        "POSTBACK_TABLE": "envtbl",
        "POSTBACK_SETTLE": "7",
        "POSTBACK_SEED": "99",
        "POSTBACK_MAX_RPS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    suite_dir.makepyfile(SETTINGS_PROBE)
    result = suite_dir.runpytest_subprocess("-s")
    assert _settings(result)[:7] == [
        "https://eu01.records.in.treasuredata.com",
        "v2",
        "envdb",
        "envtbl",
        "7.0",
        "99",
        "3.0",
    ]


def test_an_option_wins_over_its_environment_variable(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTBACK_TABLE", "from_env")
    monkeypatch.setenv("POSTBACK_SEED", "1")
    suite_dir.makepyfile(SETTINGS_PROBE)
    result = suite_dir.runpytest_subprocess("-s", "--table", "from_option", "--seed", "2")
    settings = _settings(result)
    assert settings[3] == "from_option"
    assert settings[5] == "2"


def test_the_api_version_is_inferred_from_treasure_data_hosts(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTBACK_WRITE_KEY", TEST_KEY)
    suite_dir.makepyfile(SETTINGS_PROBE)
    result = suite_dir.runpytest_subprocess("-s", "--target", "https://in.treasuredata.com")
    assert _settings(result)[1] == "legacy"
    assert _settings(result)[6] == "20.0"  # a polite default rate cap for a real service


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--target", "ftp://example.com"], "must be an http(s) URL", id="bad-scheme"),
        pytest.param(["--target", "http://[::1"], "must be an http(s) URL", id="bad-url"),
        pytest.param(["--target", "https://example.com"], "cannot tell the API version", id="unknown-host"),
        pytest.param(
            ["--target", "https://example.com", "--api-version", "v3"],
            "unknown API version",
            id="unknown-version",
        ),
        pytest.param(
            ["--target", "http://example.com", "--api-version", "v2"], "plain http", id="key-over-plain-http"
        ),
        pytest.param(["--settle", "soon"], "--settle must be a number", id="bad-number"),
        pytest.param(
            ["--compare-target", "https://x.records.in.treasuredata.com"],
            "needs --target",
            id="compare-without-target",
        ),
        pytest.param(["--fail-on", "regression"], "needs --baseline", id="fail-on-without-baseline"),
        pytest.param(["--conformance-profile", "missing.toml"], "cannot read profile", id="missing-profile"),
    ],
)
def test_usage_errors_give_one_clear_line_and_exit_status_4(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("POSTBACK_WRITE_KEY", TEST_KEY)
    suite_dir.makepyfile(SETTINGS_PROBE)
    result = suite_dir.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert message in errors[0]
    assert "Traceback" not in result.stderr.str()
    assert TEST_KEY not in result.stdout.str() + result.stderr.str()


def test_a_write_key_is_required_for_a_target(suite_dir: pytest.Pytester) -> None:
    suite_dir.makepyfile(SETTINGS_PROBE)
    result = suite_dir.runpytest_subprocess("--target", "https://in.treasuredata.com")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: a write key is needed*POSTBACK_WRITE_KEY*"])


def test_an_unreachable_target_fails_fast_with_one_line(
    suite_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTBACK_WRITE_KEY", TEST_KEY)
    suite_dir.makepyfile(VERDICTS)
    result = suite_dir.runpytest_subprocess(
        "--target", "http://127.0.0.1:1", "--api-version", "v2", "--request-timeout", "2"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: target http://127.0.0.1:1 is unreachable*"])
    assert "Traceback" not in result.stderr.str()


def _run_verdicts(suite_dir: pytest.Pytester, source: str, *args: str) -> tuple[pytest.RunResult, dict]:  # type: ignore[type-arg]
    suite_dir.makepyfile(source)
    with ReferenceServer("v2", [TEST_KEY]) as server:
        result = suite_dir.runpytest_subprocess(
            "--target", server.url, "--api-version", "v2", "--report-dir=out", *args
        )
    results = json.loads((suite_dir.path / "out" / "results.json").read_text())
    return result, results


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTBACK_WRITE_KEY", TEST_KEY)


@pytest.mark.usefixtures("with_key")
def test_should_misses_warn_and_info_never_fails_so_the_run_passes(suite_dir: pytest.Pytester) -> None:
    """Exit 0 when nothing failed: a SHOULD miss is a warning, an INFO value never fails. Three tests decide
    only three clauses, so the verdict is incomplete (every other MUST clause undecided), not conformant."""
    result, results = _run_verdicts(suite_dir, VERDICTS)
    assert result.ret == 0
    statuses = {(c["id"]): c["status"] for c in results["clauses"]}
    assert (statuses["EP-02"], statuses["EP-03"], statuses["NAME-05"]) == ("pass", "warn", "info")
    assert results["verdict"] == "incomplete"
    assert "EP-01" in {u["id"] for u in results["undecided"]}
    result.stdout.fnmatch_lines(["*WARN*EP-03*"])


@pytest.mark.usefixtures("with_key")
def test_strict_makes_a_should_miss_fail_the_run(suite_dir: pytest.Pytester) -> None:
    result, results = _run_verdicts(suite_dir, VERDICTS, "--strict")
    assert result.ret == 1
    assert {c["id"]: c["status"] for c in results["clauses"]}["EP-03"] == "fail"


@pytest.mark.usefixtures("with_key")
def test_a_must_failure_fails_the_run_with_exit_status_1(suite_dir: pytest.Pytester) -> None:
    result, results = _run_verdicts(suite_dir, MUST_FAILURE)
    assert result.ret == 1
    assert results["verdict"] == "not-conformant"
    result.stdout.fnmatch_lines(["*Expected: the body {}*", "*Received: the body []*"])


@pytest.mark.usefixtures("with_key")
def test_clauses_without_read_back_are_skipped_with_the_reason(suite_dir: pytest.Pytester) -> None:
    """A read-back clause without --readback is skip, never pass (docs/contract.md): the test runs, its answer
    holds, its ingestion part stays undecided and the reason says so."""
    suite_dir.makepyfile("""
        import pytest
        from conformance.contract.model import Ingest

        @pytest.mark.clause("EP-01")
        def test_needs_read_back(target, ingestion):
            exchange = target.post()
            assert exchange.status == 200
            ingestion.expect(exchange, Ingest.MUST, ["EP-01"])
    """)
    with ReferenceServer("v2", [TEST_KEY]) as server:
        result = suite_dir.runpytest_subprocess(
            "--target", server.url, "--api-version", "v2", "--report-dir=o"
        )
    assert result.ret == 0
    entry = next(
        c
        for c in json.loads((suite_dir.path / "o" / "results.json").read_text())["clauses"]
        if c["id"] == "EP-01"
    )
    assert entry["status"] == "skip"
    assert entry["detail"] == "answer conformant; ingestion not verified: no read-back (--readback)"


def test_the_plugin_stays_inert_for_other_test_suites(pytester: pytest.Pytester) -> None:
    """A project's own tests run with the plugin installed: no header, no reports, no targets started."""
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0
    assert "postback target" not in result.stdout.str()
    assert "postback seed" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_clause_ids_select_tests_with_dash_k(suite_dir: pytest.Pytester) -> None:
    """`-k EP-03` selects the tests that decide EP-03 (clause IDs are keywords)."""
    suite_dir.makepyfile(VERDICTS)
    result = suite_dir.runpytest_subprocess("--collect-only", "-q", "-k", "EP-03")
    assert any("test_should_clause_missed" in line for line in result.outlines)
    assert not any("test_must_clause_ok" in line for line in result.outlines)
