"""The installed package (docs/contract.md, Running): slow, it builds a wheel and a virtualenv.

Installed from a built wheel into a fresh virtualenv outside the checkout, beside the most used pytest
plugins, the suite runs as `pytest --pyargs conformance` and as `postback-conformance`, none of its options
collides with a plugin's, and a project's own tests in that environment run as if the suite were not there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.reference.server import ReferenceServer
from tests.suite_runner import ROOT, TEST_KEY

pytestmark = pytest.mark.installed

# The most used pytest plugins: none of their options may collide with the suite's.
PLUGINS = (
    "pytest-timeout",
    "pytest-profiling",
    "pytest-randomly",
    "pytest-base-url",
    "pytest-xdist",
    "pytest-html",
    "pytest-rerunfailures",
    "pytest-env",
)
PLUGIN_NAMES = ("timeout", "profiling", "randomly", "base-url", "xdist", "html", "rerunfailures", "env")


def _run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("POSTBACK_", "PYTEST_"))}
    environ.pop("VIRTUAL_ENV", None)
    environ.pop("PYTHONPATH", None)
    environ.update(env or {})
    return subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the checkout holding the built wheel and the plugins (pip's cache helps)."""
    base = tmp_path_factory.mktemp("installed")
    wheels = base / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)], base
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("postback_conformance-*.whl")
    # No pip inside the new virtualenv and no byte-compiling: this pip installs into it, which is faster.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base / "venv")], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(base / "venv" / "bin" / "python"), "install"]
    installed = _run([*pip, "--quiet", "--no-compile", str(wheel), *PLUGINS], base)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return base / "venv"


def test_the_built_wheel_runs_beside_common_plugins_and_leaves_other_runs_alone(
    venv: Path, tmp_path: Path
) -> None:
    """One test on purpose: the virtualenv is built once (under xdist each worker would build its own)."""
    bin_dir = venv / "bin"
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_unrelated.py").write_text("def test_unrelated():\n    assert True\n")

    # A project's own tests: the suite's plugin loads (beside every other plugin) and does nothing, even
    # with stray POSTBACK_* variables in the environment.
    stray = {"POSTBACK_TARGET": "ftp://stray", "POSTBACK_REPORT_DIR": str(tmp_path / "stray")}
    own = _run([str(bin_dir / "pytest"), "tests", "--timeout=60"], project, stray)
    assert own.returncode == 0, own.stdout[-3000:] + own.stderr[-3000:]
    plugins_line = next(line for line in own.stdout.splitlines() if line.startswith("plugins:"))
    for name in ("postback-conformance", *PLUGIN_NAMES):
        assert name in plugins_line, plugins_line
    assert "1 passed" in own.stdout
    assert "postback target" not in own.stdout
    assert not (tmp_path / "stray").exists()
    assert not (project / "reports").exists()

    # `pytest --target=URL` there would run the project's tests as if certified: it stops with one line.
    misplaced = _run([str(bin_dir / "pytest"), "--target=https://in.treasuredata.com"], project)
    assert misplaced.returncode == 4, misplaced.stdout[-3000:] + misplaced.stderr[-3000:]
    assert "pytest --pyargs conformance" in misplaced.stderr
    assert "passed" not in misplaced.stdout

    with ReferenceServer("v2", [TEST_KEY]) as server:
        target = [f"--target={server.url}", "--api-version=v2", f"--readback={server.readback_url}"]
        key = {"POSTBACK_WRITE_KEY": TEST_KEY}
        # The whole suite, installed, through pytest, with the plugins active (randomly reorders the tests).
        suite = _run(
            [
                str(bin_dir / "pytest"),
                "--pyargs",
                "conformance",
                *target,
                "--disposable-account",  # the reference target is ours: NAME-02's ingestion decided too
                "--report-dir=out",
                "--timeout=120",
            ],
            project,
            key,
        )
        assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-3000:]
        assert "verdict: CONFORMANT" in suite.stdout
        assert (project / "out" / "results.json").is_file()
        # The console script: the packaged suite with its own settings (pytest's cache stays off there).
        cli = _run(
            [str(bin_dir / "postback-conformance"), *target, "--report-dir=cli", "-m", "endpoint"],
            project,
            key,
        )
        assert cli.returncode == 0, cli.stdout[-4000:] + cli.stderr[-3000:]
        assert "verdict: INCOMPLETE" in cli.stdout  # -m endpoint: the other clauses are deselected
        assert (project / "cli" / "results.json").is_file()
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not (site / ".pytest_cache").exists()
