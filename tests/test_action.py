"""The composite GitHub Action (action.yml): its ``run:`` steps, run as the runner's bash would.

action.yml is parsed with PyYAML; ``${{ inputs.* }}``, ``${{ steps.*.outputs.* }}`` and
``${{ github.action_path }}`` are filled in as GitHub does; each ``run:`` step goes to
``bash --noprofile --norc -eo pipefail`` (GitHub's ``shell: bash``) with the step's ``env:``,
``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ACTION_PATH`` and ``GITHUB_ACTIONS=true``.
``uses:`` steps (setup-python, upload-artifact) are GitHub's own and are skipped with a note. The install
step really installs the suite, into a fresh virtual environment that borrows the dependencies of this one
(no network).
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from tests.mutants.auth import LegacyIgnoresQueryKey
from tests.suite_runner import ROOT, TEST_KEY

ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return loaded


def evaluate(expression: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    """The few expressions action.yml uses: inputs.X, steps.ID.outputs.X, github.action_path, a || 'b'."""
    left, _, fallback = expression.partition("||")
    left = left.strip()
    value: str | None
    if left.startswith("inputs."):
        value = inputs[left.removeprefix("inputs.")]
    elif left.startswith("steps."):
        step, _, name = left.removeprefix("steps.").partition(".outputs.")
        value = outputs.get(step, {}).get(name, "")
    elif left == "github.action_path":
        value = str(ROOT)
    else:
        raise AssertionError(f"action.yml uses an expression this test does not know: {expression}")
    if not value and fallback:
        value = fallback.strip().strip("'")
    return value or ""


def substitute(text: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    return EXPRESSION.sub(lambda m: evaluate(m.group(1), inputs, outputs), text)


def outputs_of(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def isolated_python(tmp_path: Path) -> Path:
    """A virtual environment whose pip installs the suite from source, offline, on this one's packages."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    # The dependencies come from this environment (its site-packages, not its editable suite: a path
    # listed in a .pth file is importable, but .pth files inside it are not processed).
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return venv / "bin"


def run_action(
    tmp_path: Path, inputs: dict[str, str], env: dict[str, str]
) -> tuple[list[str], dict[str, Any]]:
    spec = action()
    given = {name: str(value.get("default", "")) for name, value in spec["inputs"].items()}
    given.update(inputs)
    bin_dir = isolated_python(tmp_path)
    github_output = tmp_path / "github_output"
    step_summary = tmp_path / "step_summary.md"
    base_env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_STEP_SUMMARY": str(step_summary),
        # Offline: dependencies are borrowed; the suite's own build uses this environment's setuptools.
        "PIP_NO_INDEX": "1",
        "PIP_NO_DEPS": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        **env,
    }
    notes: list[str] = []
    outputs: dict[str, dict[str, str]] = {}
    results: dict[str, Any] = {"steps": []}
    for step in spec["runs"]["steps"]:
        name = step.get("name", step.get("uses", "?"))
        if "uses" in step:
            notes.append(f"skipped {name}: uses {step['uses']} (GitHub's own action)")
            continue
        assert step.get("shell") == "bash", f"{name}: every run step says shell: bash"
        github_output.write_text("", encoding="utf-8")
        step_env = {k: substitute(str(v), given, outputs) for k, v in (step.get("env") or {}).items()}
        script = tmp_path / "step.sh"
        script.write_text(substitute(step["run"], given, outputs), encoding="utf-8")
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=tmp_path,
            env={**base_env, **step_env, "GITHUB_OUTPUT": str(github_output)},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if "id" in step:
            outputs[step["id"]] = outputs_of(github_output)
        results["steps"].append((name, proc.returncode, proc.stdout, proc.stderr))
    results["outputs"] = outputs
    results["summary"] = step_summary.read_text(encoding="utf-8") if step_summary.exists() else ""
    return notes, results


def test_the_action_declares_the_inputs_users_set() -> None:
    spec = action()
    assert {"target", "api-version", "readback", "report-dir"} <= set(spec["inputs"])
    assert spec["runs"]["using"] == "composite"
    uses = [s["uses"] for s in spec["runs"]["steps"] if "uses" in s]
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    assert "write-key" not in spec["inputs"], "the key comes through the environment, never an input"


@pytest.mark.parametrize("broken", [False, True], ids=["correct-target", "faulty-target"])
def test_the_actions_run_steps_certify_a_reference_target(tmp_path: Path, broken: bool) -> None:
    """Install, run, verdict: against a correct legacy target the action passes; against one that ignores
    ?td_write_key it fails with an ::error annotation, and the summary lands on the run's page either way."""
    app_class = LegacyIgnoresQueryKey.app if broken else None
    app = app_class("legacy", [TEST_KEY], Store()) if app_class else None
    with ReferenceServer("legacy", [TEST_KEY], app=app) as server:  # type: ignore[arg-type]
        inputs = {
            "target": server.url,
            "api-version": "legacy",
            "readback": server.readback_url,
            "report-dir": str(tmp_path / "out"),
            "args": "-k AUTH-03",
        }
        notes, results = run_action(tmp_path, inputs, {"POSTBACK_WRITE_KEY": TEST_KEY})
    steps = {name: (code, out, err) for name, code, out, err in results["steps"]}
    assert notes == [
        "skipped Set up Python: uses actions/setup-python@v5 (GitHub's own action)",
        "skipped Upload the reports: uses actions/upload-artifact@v4 (GitHub's own action)",
    ]
    install_code, install_out, install_err = steps["Install the suite"]
    assert install_code == 0, install_out + install_err
    code, out, err = steps["Run the suite"]
    assert code == 0, out[-3000:] + err[-3000:]
    assert (tmp_path / "out" / "summary.md").is_file()
    assert {"report.html", "results.json", "junit.xml", "traffic.har"} <= {
        p.name for p in (tmp_path / "out").iterdir()
    }
    assert (tmp_path / "venv" / "bin" / "postback-conformance").is_file(), "the action's install was used"
    verdict_code = steps["Verdict"][0]
    run_outputs = results["outputs"]["run"]
    if broken:
        assert run_outputs == {"exit-code": "1", "verdict": "not-conformant"}
        assert verdict_code == 1
        assert "::error title=AUTH-03 (legacy)::" in out
        assert "❌ not conformant" in results["summary"]
    else:
        # -k AUTH-03 leaves the other MUST clauses undecided: incomplete, which exits 0.
        assert run_outputs == {"exit-code": "0", "verdict": "incomplete"}
        assert verdict_code == 0
        assert "::error" not in out
        assert "⚠️ incomplete" in results["summary"]
    assert TEST_KEY not in out + err + results["summary"]


def test_the_action_says_so_on_the_summary_page_when_the_suite_writes_no_report(tmp_path: Path) -> None:
    """An unreachable target: usage error (exit 2), no reports; the page still says what happened."""
    inputs = {"target": "http://127.0.0.1:9", "api-version": "v2", "report-dir": str(tmp_path / "out")}
    _, results = run_action(tmp_path, inputs, {"POSTBACK_WRITE_KEY": TEST_KEY})
    assert results["outputs"]["run"]["exit-code"] not in ("0", "1")
    assert results["outputs"]["run"]["verdict"] == "none"
    assert "no verdict (exit status" in results["summary"]
    assert dict((n, c) for n, c, _, _ in results["steps"])["Verdict"] != 0
