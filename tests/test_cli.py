"""The command line a new user meets: ``--help`` of the suite's own, ``--version``, a mistyped option named
with the nearest one, and the options page generated from the one option table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance import __main__ as cli
from conformance import __version__
from conformance.contract.catalog import catalog
from conformance.engine.options import OPTIONS, markdown, nearest
from tests.suite_runner import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "conformance.__main__", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_help_is_the_suites_own_in_at_most_60_lines_with_every_option_by_group(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("usage: postback-conformance")
    assert len(lines) <= 60
    for option in OPTIONS:
        assert any(line.strip().startswith(option.flag) for line in lines), option.flag
    for section in (
        "target and keys:",
        "read-back:",
        "verdict and reports:",
        "speed and bounds:",
        "commands:",
    ):
        assert section in lines
    assert "--strict" in out
    assert "SHOULD failures fail the run" in out
    assert "exit status:" in out
    assert "--help-pytest" in out
    assert "pytest.main()" not in out


def test_version_names_the_suite_the_spec_and_the_catalog_then_pytest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--version"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first == f"postback-conformance {__version__} (spec 1.0.0, {len(catalog())} clauses)"
    assert second.startswith("pytest ")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        pytest.param("--targt=x", "--target", id="targt"),
        pytest.param("--readbak", "--readback", id="readbak"),
        pytest.param("--require-compelte", "--require-complete", id="require-compelte"),
    ],
)
def test_a_mistyped_option_names_the_suite_and_the_nearest_option_with_exit_4(typed: str, meant: str) -> None:
    """Both ways in: the installed command and pytest in a checkout (one line, not pytest's list of every
    unrecognized argument)."""
    line = f"postback-conformance: unknown option {typed.split('=')[0]} (did you mean {meant}?)"
    for command in (["-m", "conformance.__main__"], ["-m", "pytest", "-p", "no:cacheprovider"]):
        proc = subprocess.run(
            [sys.executable, *command, typed],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 4, proc.stderr
        assert line in proc.stderr, proc.stderr
        assert "unrecognized arguments" not in proc.stderr


def test_an_option_of_pytest_near_a_suite_option_is_left_to_pytest() -> None:
    """``--durations`` is one typo from ``--max-duration``, but pytest knows it: the run goes on."""
    assert nearest("--tb=short") is None
    assert nearest("--target") is None
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--co",
            "-q",
            "--durations=1",
            "tests/test_cli.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_every_subcommand_has_its_own_help() -> None:
    for command in ("audit", "replay", "export-spec", "cleanup"):
        proc = run_cli(command, "--help")
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stdout.startswith(f"usage: postback-conformance {command}"), proc.stdout[:200]


def test_the_options_page_is_generated_from_the_option_table_and_current() -> None:
    page = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    assert page == markdown(), (
        "docs/options.md is stale: python -m conformance.engine.options > docs/options.md"
    )
    for option in OPTIONS:
        assert f"`{option.flag}" in page
        if option.env:
            assert f"`{option.env}`" in page


def test_the_option_table_has_no_pytest_import() -> None:
    import ast

    source = Path(sys.modules["conformance.engine.options"].__file__ or "").read_text(encoding="utf-8")
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not imported & {"pytest", "_pytest"}, imported
