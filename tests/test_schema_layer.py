"""Self-tests of the spec-driven layer (conformance/test_schema.py, conformance/schema/).

- Alone (``-m schema``), the module passes the reference target and reports each schema mutant's clause,
  with the schemathesis context and a reproduction that never shows the key.
- Its generation is reproducible: the same seed gives the same requests, each without a generated
  credential and, wherever the body is a JSON object, with a probe ID.
- The per-version view works with the schemathesis CLI as the README shows (export, ``st run``, the
  contract hook): clean against the reference, failing against a mutant.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.contract.model import Body
from conformance.contract.profile import Profile
from conformance.contract.spec import Version
from conformance.reference.app import PostbackApp
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from conformance.schema.loader import Generation, load_operation, phase_test
from conformance.schema.wire import BASE_URL, CREDENTIAL_HEADERS, NotSendable, WireRequest, to_wire
from conformance.transport.client import ProbeIds
from tests.mutants import schema as schema_mutants
from tests.mutants.base import Mutant
from tests.suite_runner import ROOT, SUITE, TEST_KEY, SuiteRun, run_against, run_pytest

MODULE = ("test_schema.py",)
# One version each here (tests/test_mutants.py runs every mutant on all its versions).
MUTANT_CASES = [
    pytest.param(schema_mutants.NameDotsAndHyphens, "legacy", id="NAME-02"),
    pytest.param(schema_mutants.BodyNotJsonKeptRaw, "v2", id="BODY-03"),
    pytest.param(schema_mutants.NonObjectWrapped, "legacy", id="BODY-04"),
    pytest.param(schema_mutants.RecordTimeCrash, "v2", id="BODY-08"),
    pytest.param(schema_mutants.RecordTime422, "legacy", id="RESP-01"),
]
UNKNOWN_KEY = "1/" + "0" * 40  # well-formed, no target's key: answered 200, never ingested (EP-05)


def _failing(run: SuiteRun) -> list[str]:
    return [
        f"{e['id']}@{e['target']}={e['status']}"
        for e in run.results["clauses"]
        if e["status"] in ("fail", "error")
    ]


def _assert_secret_kept(run: SuiteRun) -> None:
    texts = [run.stdout, run.stderr] + [p.read_text(encoding="utf-8") for p in run.report_dir.iterdir()]
    assert not any(TEST_KEY in text for text in texts), "the write key leaked into the output or a report"


@pytest.mark.parametrize(("mutant", "version"), MUTANT_CASES)
def test_schema_module_alone_reports_the_clause_a_mutant_breaks(
    mutant: Mutant, version: str, tmp_path: Path
) -> None:
    """``pytest -m schema`` against a schema mutant: its clause fails, nothing else does, and the report shows
    the schemathesis case and a curl reproduction with the key as $POSTBACK_WRITE_KEY."""
    run = run_against(mutant.app, version, tmp_path, "-m", "schema", modules=MODULE)
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert _failing(run) == [f"{cid}@{version}=fail" for cid in mutant.breaks], run.stdout[-4000:]
    detail = next(e["detail"] for e in run.results["clauses"] if e["id"] == mutant.breaks[0])
    assert "schemathesis" in detail, detail
    report = (run.report_dir / "report.html").read_text(encoding="utf-8")
    assert "curl" in report
    assert "$POSTBACK_WRITE_KEY" in report
    _assert_secret_kept(run)


class CapOffByOne(PostbackApp):
    """v2 with the cap counted inclusively one byte too far: 1,048,065 bytes are accepted (SIZE-02 only;
    the size area has its own mutants for the rest, so this one is not a registered mutant)."""

    def body_cap(self, request: Any) -> int | None:
        cap = super().body_cap(request)
        return None if cap is None else cap + 1


def test_schema_module_alone_checks_the_spec_cap(tmp_path: Path) -> None:
    """The custom check of the spec's x-postback-max-body-bytes: one byte over the cap accepted is SIZE-02."""
    run = run_against(CapOffByOne, "v2", tmp_path, "-m", "schema", modules=MODULE)
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert _failing(run) == ["SIZE-02@v2=fail"], run.stdout[-4000:]
    _assert_secret_kept(run)


def test_schema_module_passes_the_reference_targets(tmp_path: Path) -> None:
    """``pytest -m schema`` against the embedded reference targets (legacy and v2): nothing fails, and every
    clause the module marks passes on both; the verdict is incomplete (the layer alone leaves most MUST
    clauses undecided)."""
    run = run_pytest([str(SUITE / MODULE[0]), "-m", "schema"], tmp_path)
    assert run.exit_code == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert run.results["verdict"] == "incomplete"
    assert "AUTH-01" in {u["id"] for u in run.results["undecided"]}
    assert not _failing(run)
    for target in ("legacy", "v2"):
        for cid in ("EP-02", "NAME-01", "BODY-08", "RESP-01", "RESP-03"):
            assert run.status(cid, target) == "pass", (cid, target)
        # The layer reads back only probe records sent to the run's table: the "never ingested" part of a
        # refused name or body is left to the modules that read it back (never a pass unseen).
        for cid in ("NAME-02", "BODY-03", "BODY-04"):
            entry = next(e for e in run.results["clauses"] if e["id"] == cid and e["target"] == target)
            assert entry["status"] == "skip", (cid, target)
            assert entry["detail"].startswith("answer conformant; ingestion not verified"), entry
    assert run.status("SIZE-02", "v2") == "pass"
    _assert_secret_kept(run)


def _generated(version: Version, seed: int, generation: Generation) -> list[WireRequest | str]:
    """The requests the layer would send for one phase (a fixed probe-ID sequence, nothing sent)."""
    operation = load_operation(version, "conformance", "probe", seed, Profile(), generation.mode)
    ids = ProbeIds("determinism")
    requests: list[WireRequest | str] = []

    def collect(case: Any) -> None:
        try:
            requests.append(to_wire(case.as_transport_kwargs(base_url=BASE_URL), ids))
        except NotSendable as exc:
            requests.append(f"not sent: {exc}")

    phase_test(operation, generation.phase, seed, collect)()
    return requests


@pytest.mark.parametrize("version", ["legacy", "v2"])
def test_the_same_seed_generates_the_same_requests(version: Version) -> None:
    """Determinism (docs/requirements.md, "What the suite must prove"): same seed, same requests; another seed
    draws other fuzzing cases. No request carries a generated credential; every JSON object body carries a
    probe ID (docs/contract.md, Probe records)."""
    for generation in (Generation("coverage"), Generation("fuzzing", "negative")):
        first = _generated(version, 7, generation)
        assert first == _generated(version, 7, generation), generation.label
        sent = [request for request in first if isinstance(request, WireRequest)]
        assert len(sent) > len(first) / 2
        for request in sent:
            assert not any(name.lower() in CREDENTIAL_HEADERS for name, _ in request.headers)
            if request.kind in (Body.OBJECT, Body.STRESS):
                assert request.body.startswith(b'{"conformance_id":"determinism-'), request.body[:80]
    assert _generated(version, 7, Generation("fuzzing", "negative")) != _generated(
        version, 8, Generation("fuzzing", "negative")
    )


def _st_command() -> list[str]:
    script = Path(sys.executable).with_name("st")
    return [str(script)] if script.exists() else []


def _st_run(view: Path, url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``st run`` as the README shows it, with the contract hook and a tiny budget."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTBACK_", "SCHEMATHESIS_"))}
    env["SCHEMATHESIS_HOOKS"] = "conformance.schema.st_hooks"
    command = [
        *_st_command(), "run", str(view), "--url", url,
        "--header", f"X-TD-Write-Key: {UNKNOWN_KEY}",
        "--generation-with-security-parameters", "false",
        "--exclude-checks", "ignored_auth,unsupported_method",
        "--phases", "examples,coverage,fuzzing", "--mode", "all",
        "--max-examples", "5", "--seed", "1", "--workers", "1", "--no-color",
    ]  # fmt: skip
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not _st_command(), reason="the schemathesis CLI (st) is not installed")
def test_the_exported_view_runs_with_the_schemathesis_cli(tmp_path: Path) -> None:
    """The README's recipe: export the v2 view, run ``st run`` on it with the contract hook. The reference
    passes; a mutant accepting invalid names (NAME-02) fails with schemathesis' own finding."""
    view = tmp_path / "openapi-v2.yaml"
    export = [sys.executable, "-m", "conformance.__main__", "export-spec", "v2", "-o", str(view)]
    subprocess.run(export, cwd=ROOT, check=True, capture_output=True, timeout=120)
    with ReferenceServer("v2", [TEST_KEY]) as server:
        clean = _st_run(view, server.url, tmp_path)
    assert clean.returncode == 0, clean.stdout[-4000:] + clean.stderr[-2000:]
    mutant = schema_mutants.NameDotsAndHyphens.app("v2", [TEST_KEY], Store())
    with ReferenceServer("v2", app=mutant) as server:
        faulty = _st_run(view, server.url, tmp_path)
    assert faulty.returncode == 1, faulty.stdout[-4000:] + faulty.stderr[-2000:]
    assert "Schema-violating request accepted" in faulty.stdout


def test_reference_app_is_the_base_of_the_schema_mutants() -> None:
    """Each schema mutant overrides the reference app, and is declared for the schema module only."""
    mutants = [value for value in vars(schema_mutants).values() if isinstance(value, Mutant)]
    assert {m.breaks[0] for m in mutants} == {"NAME-02", "BODY-03", "BODY-04", "BODY-08", "RESP-01"}
    for m in mutants:
        assert issubclass(m.app, PostbackApp)
        assert m.modules == MODULE
        assert len(m.breaks) == 1
