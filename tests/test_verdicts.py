"""Honest verdicts: a clause passes only when every part of it was decided; ``incomplete`` when
nothing failed but a clause the verdict needs was not decided; ``--require-complete``; the selection, the
seed used and the catalog recorded in results.json.

Suite runs here are narrowed to one module (each a few seconds); aggregation rules are checked on synthetic
outcomes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance.contract.catalog import catalog_sha256, catalog_version
from conformance.cutover.baseline import catalog_warning
from conformance.engine.run import Outcome, Run
from conformance.plugin.options import TargetOptions
from conformance.reference.app import PostbackApp, Rejection
from conformance.reference.asgi import Request, Response
from conformance.report import summary_lines, write_all
from conformance.report.results import aggregate, schema, undecided, verdict
from tests.mutants.auth import InvalidKeysIngested, Td1NotSupported
from tests.suite_runner import SUITE, SuiteRun, run_against, run_pytest
from tests.test_reports import synthetic_run as reports_run

AUTH = ("test_auth.py",)
ENDPOINT = ("test_endpoint.py",)


def entry(run: SuiteRun, cid: str, target: str) -> dict[str, Any]:
    return next(e for e in run.results["clauses"] if e["id"] == cid and e["target"] == target)


def undecided_ids(run: SuiteRun) -> dict[str, str]:
    return {f"{u['id']}@{u['target']}": u["reason"] for u in run.results["undecided"]}


def validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema()).validate(data)


# ----------------------------------------------------------------------------------- runs of the suite


def test_a_target_that_ingests_invalid_key_records_is_incomplete_without_read_back(tmp_path: Path) -> None:
    """Without read-back, AUTH-08 (a 200 answer is allowed, the ingestion cannot be seen) is undecided: the
    verdict is incomplete, never conformant, and says why."""
    run = run_against(InvalidKeysIngested.app, "v2", tmp_path, modules=AUTH, readback=False)
    assert run.exit_code == 0, run.stdout[-3000:] + run.stderr[-2000:]
    validate(run.results)
    assert run.results["verdict"] == "incomplete"
    auth08 = entry(run, "AUTH-08", "v2")
    assert auth08["status"] == "skip"
    assert auth08["detail"].startswith("answer conformant; ingestion not verified: no read-back")
    assert "no read-back" in undecided_ids(run)["AUTH-08@v2"]
    assert "INCOMPLETE" in run.stdout
    assert any(
        "UNDECIDED" in line and "AUTH-08" in line and "no read-back" in line
        for line in run.stdout.splitlines()
    )


def test_the_same_target_with_read_back_is_not_conformant(tmp_path: Path) -> None:
    run = run_against(InvalidKeysIngested.app, "v2", tmp_path, modules=AUTH)
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.results["verdict"] == "not-conformant"
    assert entry(run, "AUTH-08", "v2")["status"] == "fail"


def test_a_v2_target_refusing_td1_fails_auth_05_without_read_back(tmp_path: Path) -> None:
    """The answer part decides without read-back: 403 to ``Authorization: TD1 <valid key>`` fails AUTH-05."""
    run = run_against(Td1NotSupported.app, "v2", tmp_path, modules=AUTH, readback=False)
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.results["verdict"] == "not-conformant"
    assert entry(run, "AUTH-05", "v2")["status"] == "fail"
    assert not run.results["targets"][0]["readback"]


class ServerError(PostbackApp):
    """Answers the first event request (the preflight's canary) properly, then 500 to every one after it.

    A 500 to the canary itself stops the run at the preflight (exit 4, test_safety), before any verdict.
    """

    canary_answered = False

    async def handle_event(self, request: Request, database_segment: bytes, table_segment: bytes) -> Response:
        if not self.canary_answered:
            self.canary_answered = True
            return await super().handle_event(request, database_segment, table_segment)
        await self.drain_body(request)
        return Response(500, b"oops", (("content-type", "text/plain"),))


def test_a_500_fails_ep_01_without_read_back(tmp_path: Path) -> None:
    run = run_against(ServerError, "legacy", tmp_path, "-k", "EP-01", modules=ENDPOINT, readback=False)
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert entry(run, "EP-01", "legacy")["status"] == "fail"


class ArraysCrash(PostbackApp):
    """Answers a JSON array body 500 (every other request as the reference does)."""

    def parse_body(self, body: bytes) -> object:
        value = super().parse_body(body)
        if isinstance(value, list):
            raise Rejection(500, "internal error")
        return value


def test_a_500_met_by_a_body_04_test_fails_body_08_too_with_that_exchange_as_evidence(tmp_path: Path) -> None:
    """BODY-08 (MUST) speaks of every request: a 5xx met by a test of another clause (here BODY-04's JSON
    arrays) fails BODY-08 as well, with the exchange that got it as the evidence, on the test's target."""
    run = run_against(ArraysCrash, "v2", tmp_path, "-k", "not_an_object", modules=("test_body.py",))
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert entry(run, "BODY-04", "v2")["status"] == "fail"
    body_08 = entry(run, "BODY-08", "v2")
    assert body_08["status"] == "fail"
    assert "Received: 500" in body_08["detail"]
    assert any("not_an_object" in t for t in body_08["tests"]), body_08["tests"]
    junit = (run.report_dir / "junit.xml").read_text()
    assert 'name="clause" value="BODY-04"' in junit


def test_require_complete_makes_an_incomplete_verdict_exit_1(tmp_path: Path) -> None:
    """A correct target without read-back: incomplete, exit 0; with --require-complete (or its variable)
    the same run exits 1."""
    lenient = run_against(PostbackApp, "v2", tmp_path / "a", modules=ENDPOINT, readback=False)
    assert lenient.exit_code == 0, lenient.stdout[-3000:] + lenient.stderr[-2000:]
    assert lenient.results["verdict"] == "incomplete"
    assert entry(lenient, "EP-01", "v2")["status"] == "skip"
    assert entry(lenient, "EP-02", "v2")["status"] == "pass"
    strict = run_against(
        PostbackApp, "v2", tmp_path / "b", "--require-complete", modules=ENDPOINT, readback=False
    )
    assert strict.exit_code == 1, strict.stdout[-3000:]
    assert "exit status 1: --require-complete" in strict.stdout


def test_dash_k_deselection_is_recorded_and_makes_the_verdict_incomplete(tmp_path: Path) -> None:
    """-k leaves tests out: results.json says so, the clauses only they decide are undecided ("deselected"),
    and --hypothesis-seed, which overrides the run's seed, is the seed recorded."""
    run = run_pytest(
        [str(SUITE / "test_endpoint.py"), "-k", "EP-02 or EP-05", "--hypothesis-seed=4321", "--seed=5"],
        tmp_path,
    )
    assert run.exit_code == 0, run.stdout[-3000:] + run.stderr[-2000:]
    data = run.results
    validate(data)
    assert data["selection"]["keyword"] == "EP-02 or EP-05"
    assert data["selection"]["markers"] is None
    assert data["selection"]["deselected"] >= 6
    assert data["verdict"] == "incomplete"
    reasons = undecided_ids(run)
    assert "deselected" in reasons["EP-01@v2"]
    assert "deselected" not in reasons["AUTH-01@v2"]  # no test of the run's files decides it at all
    assert entry(run, "EP-02", "v2")["status"] == "pass"
    assert (data["seed"], data["seed_source"]) == (4321, "--hypothesis-seed")
    assert data["catalog"] == {"version": catalog_version(), "sha256": catalog_sha256()}
    junit = (run.report_dir / "junit.xml").read_text()
    assert 'name="verdict" value="incomplete"' in junit
    assert 'name="undecided" value="EP-01 [MUST] on v2: deselected' in junit
    html = (run.report_dir / "report.html").read_text()
    assert "INCOMPLETE" in html
    assert "--require-complete" in html


# ----------------------------------------------------------------------------------- aggregation rules


def synthetic_run(
    tmp_path: Path, readback: str | None = "http://127.0.0.1:9/rb", strict: bool = False
) -> Run:
    """A v2 target run that never started: outcomes are added by hand."""
    primary = TargetOptions("http://127.0.0.1:9", "v2", "k", readback, "POSTBACK_WRITE_KEY")
    return reports_run(tmp_path, primary, strict)


def status(run: Run, cid: str) -> tuple[str, str]:
    result = next(r for r in aggregate(run) if r.id == cid)
    return result.status, result.detail


def test_a_read_back_clause_passes_only_when_its_answer_and_its_ingestion_were_decided(
    tmp_path: Path,
) -> None:
    run = synthetic_run(tmp_path)
    run.outcomes.append(Outcome("m::a[v2]", "v2", {"EP-01": "pass", "AUTH-01": "pass"}))
    assert status(run, "EP-01") == (
        "skip",
        "answer conformant; ingestion not verified: no test of this run read its records back",
    )
    run.outcomes.append(Outcome("m::a[v2]::read-back", "v2", {"EP-01": "pass"}, part="ingestion"))
    assert status(run, "EP-01")[0] == "pass"
    assert status(run, "AUTH-01")[0] == "skip"
    run.outcomes.append(
        Outcome("m::b[v2]::read-back", "v2", {"AUTH-01": "fail"}, {"AUTH-01": "x"}, part="ingestion")
    )
    assert status(run, "AUTH-01") == ("fail", "x")


def test_without_read_back_the_reason_says_so_and_answers_still_fail(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path, readback=None)
    run.outcomes += [
        Outcome("m::a[v2]", "v2", {"EP-01": "pass"}),
        Outcome("m::b[v2]", "v2", {"AUTH-05": "fail"}, {"AUTH-05": "Expected: status 200 / Received: 403"}),
        # NAME-03 is decided by its answer, but this test's "never ingested" part could not be seen.
        Outcome("m::c[v2]", "v2", {"NAME-03": "pass"}, unverified=("NAME-03",)),
    ]
    assert status(run, "EP-01") == (
        "skip",
        "answer conformant; ingestion not verified: no read-back (--readback)",
    )
    assert status(run, "AUTH-05")[0] == "fail"
    assert status(run, "NAME-03")[0] == "skip"
    results = aggregate(run)
    assert verdict(results) == "not-conformant"
    assert {r.id for r in undecided(results)} >= {"EP-01", "NAME-03"}


def test_a_clause_no_request_exercised_is_undecided_and_only_must_clauses_make_a_run_incomplete(
    tmp_path: Path,
) -> None:
    run = synthetic_run(tmp_path)
    for cid in [c for c in ("EP-02", "EP-05")]:
        run.outcomes.append(Outcome(f"m::{cid}[v2]", "v2", {cid: "pass"}))
    run.outcomes.append(
        Outcome("m::p[v2]", "v2", {"NAME-04": "skip"}, {"NAME-04": "no request of this test exercised it"})
    )
    assert status(run, "NAME-04") == ("skip", "no request of this test exercised it")
    results = aggregate(run)
    assert "NAME-04" not in {r.id for r in undecided(results)}  # SHOULD: not needed unless --strict
    strict = synthetic_run(tmp_path, strict=True)
    strict.outcomes = list(run.outcomes)
    assert "NAME-04" in {r.id for r in undecided(aggregate(strict))}


def test_reports_of_an_incomplete_run_validate_and_list_the_undecided_clauses(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path, readback=None)
    run.outcomes.append(Outcome("m::a[v2]", "v2", {"EP-01": "pass"}))
    assert write_all(run) == []
    data = json.loads((run.settings.report_dir / "results.json").read_text())
    validate(data)
    assert data["verdict"] == "incomplete"
    assert {"id": "EP-01", "target": "v2", "level": "MUST", "reason": status(run, "EP-01")[1]} in data[
        "undecided"
    ]
    lines = summary_lines(run)
    assert lines[0].startswith("verdict: INCOMPLETE")
    assert (
        "  UNDECIDED EP-01 on v2: answer conformant; ingestion not verified: no read-back (--readback)"
        in lines
    )


def test_schema_ties_the_verdict_to_the_undecided_list(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path, readback=None)
    run.outcomes.append(Outcome("m::a[v2]", "v2", {"EP-01": "pass"}))
    assert write_all(run) == []
    data = json.loads((run.settings.report_dir / "results.json").read_text())
    for wrong in ("conformant", "not-conformant"):
        with pytest.raises(jsonschema.ValidationError):
            validate({**data, "verdict": wrong})


def test_a_baseline_made_with_another_catalog_is_warned_about() -> None:
    same = {"catalog": {"version": catalog_version(), "sha256": catalog_sha256()}}
    assert catalog_warning("old.json", same, same["catalog"]) is None
    other = {"catalog": {"version": "0.9", "sha256": "0" * 64}}
    warning = catalog_warning("old.json", other, same["catalog"])
    assert warning is not None
    assert "0.9" in warning
    assert catalog_version() in warning
    assert "no catalog" in (catalog_warning("old.json", {}, same["catalog"]) or "")
