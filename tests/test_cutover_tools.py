"""Cutover tooling: the two-target comparison (CUT-01..03) and baselines."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.contract.model import V2_BODY_CAP, Cred, RequestShape, in_shared_contract
from conformance.cutover.baseline import BaselineError, compare, load
from conformance.cutover.compare import PROBES, CutoverProbe, Observed, judge
from conformance.cutover.differential import BODY_SIZES, SharedRequest, shared_requests
from conformance.reference.app import PostbackApp
from tests.mutants.cutover import RejectsLongNames, RejectsUpperCaseNames
from tests.suite_runner import SuiteRun, run_against

PROBE = {p.id: p for p in PROBES}
PROBE["header-key"] = CutoverProbe("header-key", "valid X-TD-Write-Key, JSON object", RequestShape("legacy"))


SHORT_NAMES_V2 = RejectsLongNames.app  # fine alone (NAME-01 covers 1..128), refuses 200-character names


def _compare_run(tmp_path: Path, v2_app: type[PostbackApp] = PostbackApp, *args: str) -> SuiteRun:
    """The cutover module with a correct legacy reference target and ``v2_app`` as the v2 side."""
    return run_against(v2_app, "cutover", tmp_path, *args, modules=("test_cutover.py",))


def test_two_correct_targets_show_documented_differences_and_no_cut01_failure(tmp_path: Path) -> None:
    """CUT-01 passes, CUT-02 confirms the three documented differences, CUT-03 is reported as info."""
    run = _compare_run(tmp_path)
    assert run.exit_code == 0, run.stdout[-3000:]
    assert run.status("CUT-01", "cutover") == "pass"
    assert run.status("CUT-02", "cutover") == "info"
    cut02 = next(c for c in run.results["clauses"] if c["id"] == "CUT-02")
    assert cut02["detail"].count("confirmed") >= 3
    assert "NOT as documented" not in cut02["detail"]
    assert run.status("CUT-03", "cutover") == "info"


def _cut01_detail(run: SuiteRun) -> str:
    return str(next(c for c in run.results["clauses"] if c["id"] == "CUT-01")["detail"])


def test_a_pair_differing_inside_the_shared_contract_fails_cut01(tmp_path: Path) -> None:
    """A v2 that rejects a valid 200-character name, unlike legacy, fails CUT-01 and nothing else."""
    run = _compare_run(tmp_path, SHORT_NAMES_V2)
    assert run.exit_code == 1
    assert run.status("CUT-01", "cutover") == "fail"
    assert "(200 characters)" in _cut01_detail(run)
    failing = {(c["id"], c["target"]) for c in run.results["clauses"] if c["status"] in ("fail", "error")}
    assert failing == {("CUT-01", "cutover")}


def test_a_difference_the_fixed_probes_miss_is_shrunk_to_a_minimal_request(tmp_path: Path) -> None:
    """CUT-01 as a property: a v2 refusing upper-case names (none of the fixed probes has one) fails CUT-01,
    shown as the minimal request: the run's table with a one-letter upper-case suffix, a small body."""
    run = _compare_run(tmp_path, RejectsUpperCaseNames.app, "--seed", "1234")
    assert run.exit_code == 1
    assert run.status("CUT-01", "cutover") == "fail"
    detail = _cut01_detail(run)
    assert re.search(r"conformance\.probe_[A-Z], small object with value null: legacy 200; v2 400", detail), (
        detail
    )
    assert "Failing test case" in run.stdout or "Falsifying example" in run.stdout


class DropsValues(PostbackApp):
    """A v2 that answers 200 to a record with a non-null ``payload`` field, and loses it (the valid key goes
    to the run's table only, so the difference lies in the body, not the name)."""

    def store_record(self, database: str, table: str, record: dict[str, Any]) -> None:
        if record.get("payload") is None:
            super().store_record(database, table, record)


def test_an_ingestion_difference_is_decided_at_read_back_and_listed_with_its_request(tmp_path: Path) -> None:
    """Same status, different ingestion: not visible until the settle period; the read-back check fails
    CUT-01, each differing request listed (database.table, body) with both outcomes."""
    run = _compare_run(tmp_path, DropsValues, "--seed", "1234")
    assert run.status("CUT-01", "cutover") == "fail"
    detail = _cut01_detail(run)
    assert "requests read back differ" in detail
    assert re.search(r"\[1\] valid key in [^,]*, conformance\.probe, ", detail), detail
    assert "legacy 200, ingested; v2 200, not ingested" in detail
    assert "::read-back" in run.stdout


class SilentOnUpperCase(PostbackApp):
    """A v2 that never answers a request whose table name has an upper-case letter."""

    async def handle_event(self, request: Any, database_segment: bytes, table_segment: bytes) -> Any:
        if table_segment != table_segment.lower():
            await asyncio.sleep(5)
        return await super().handle_event(request, database_segment, table_segment)


def test_a_target_that_stops_answering_fails_cut01_without_shrinking_for_ever(tmp_path: Path) -> None:
    """No answer is not shrunk (each try would wait out the timeout): listed, and after three the property
    stops sending, so the run ends in seconds."""
    started = time.monotonic()
    run = _compare_run(tmp_path, SilentOnUpperCase, "--request-timeout=0.5", "--seed", "1234")
    assert run.status("CUT-01", "cutover") == "fail"
    assert "without an answer" in _cut01_detail(run)
    assert "v2 no answer (no answer within the deadline" in _cut01_detail(run)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("probe", "legacy", "v2", "clause", "failed"),
    [
        pytest.param(
            "header-key", Observed(200, True), Observed(200, True), "CUT-01", False, id="shared-same"
        ),
        pytest.param(
            "header-key",
            Observed(200, True),
            Observed(200, False),
            "CUT-01",
            True,
            id="shared-ingest-differs",
        ),
        pytest.param("header-key", Observed(200), Observed(400), "CUT-01", True, id="shared-status-differs"),
        pytest.param(
            "query-key-only", Observed(200, True), Observed(403, False), "CUT-02", False, id="documented"
        ),
        pytest.param("json-array", Observed(400), Observed(422), "CUT-03", False, id="undocumented-risk"),
    ],
)
def test_judge_sorts_differences_by_the_contract(
    probe: str, legacy: Observed, v2: Observed, clause: str, failed: bool
) -> None:
    """CUT-01 fails only inside the shared contract; CUT-02 and CUT-03 differences only inform."""
    finding = judge(PROBE[probe], legacy, v2)
    assert (finding.clause, finding.failed) == (clause, failed)


def test_documented_difference_not_seen_is_reported_as_not_documented() -> None:
    """CUT-02: a v2 that still takes the query key is reported as 'NOT as documented'."""
    finding = judge(PROBE["query-key-only"], Observed(200, True), Observed(200, True))
    assert "NOT as documented" in finding.text


# -- the differential property's requests --------------------------------------------------------------


@settings(max_examples=200, database=None)
@given(shared=shared_requests(), table=st.sampled_from(["probe", "t" * 100, "t" * 127, "t" * 128]))
def test_drawn_requests_stay_inside_the_shared_contract_and_the_safe_names(
    shared: SharedRequest, table: str
) -> None:
    """Every drawn request is in the shared contract; with the valid key it goes to the run's database and
    to the run's table or <table>_<suffix> of at most 128 characters."""
    for version in ("legacy", "v2"):
        assert in_shared_contract(shared.shape(version, "conformance", table))
    database, name = shared.names("conformance", table)
    if shared.key is Cred.VALID:
        assert database == "conformance"
        assert name == table or (
            name.startswith(table + "_") and len(name) <= 128 and len(name) > len(table) + 1
        )
        assert shared.in_run_space()


@pytest.mark.parametrize("size", BODY_SIZES)
def test_drawn_bodies_are_json_objects_of_the_drawn_size(size: int) -> None:
    """The body is exactly ``size`` bytes (or as small as it comes) and never over the v2 cap."""
    body = SharedRequest(value={"f_a": [1, 2.5, None, True, "\u00e9"]}, size=size).body("pc-000001")
    assert json.loads(body)["conformance_id"] == "pc-000001"
    assert len(body) == size or (size == 0 and len(body) < 100)
    assert len(body) <= V2_BODY_CAP


def test_a_valid_key_request_cannot_name_another_database_or_table() -> None:
    """Safety on real accounts: records go to --database and --table (or <table>_<suffix>) only."""
    with pytest.raises(ValueError, match="valid key"):
        SharedRequest(key=Cred.VALID, database="other")
    assert SharedRequest(key=Cred.UNKNOWN, database="other", table="x").names("db", "t") == ("other", "x")


# -- baselines ---------------------------------------------------------------------------------------


def _entry(cid: str, status: str, target: str = "v2") -> dict[str, str]:
    return {"id": cid, "status": status, "target": target}


def test_baseline_sorts_regressions_fixes_and_new_clauses() -> None:
    """A worse status is a regression, a better one a fix, one checked for the first time is new."""
    before = [_entry("A", "pass"), _entry("B", "fail"), _entry("C", "skip"), _entry("D", "warn")]
    after = [_entry("A", "fail"), _entry("B", "pass"), _entry("C", "pass"), _entry("D", "warn")]
    diff = compare("base.json", before, after)
    assert [c.id for c in diff.regressed] == ["A"]
    assert [c.id for c in diff.fixed] == ["B"]
    assert [c.id for c in diff.new] == ["C"]


def test_baseline_of_another_single_target_matches_by_clause() -> None:
    """Last month's legacy run against today's v2 run: one target each, matched by clause ID."""
    diff = compare("b", [_entry("EP-01", "pass", "legacy")], [_entry("EP-01", "fail", "v2")])
    assert [c.id for c in diff.regressed] == ["EP-01"]


@pytest.mark.parametrize(
    "content", [pytest.param("not json", id="not-json"), pytest.param('{"x": 1}', id="not-results")]
)
def test_unusable_baseline_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match="baseline"):
        load(path)


def test_fail_on_regression_fails_only_on_regressions(tmp_path: Path) -> None:
    """--fail-on regression: a run no worse than its baseline exits 0, a regression exits 1."""
    baseline = tmp_path / "base.json"
    baseline.write_text(json.dumps({"clauses": [_entry("CUT-01", "pass", "cutover")]}))
    same = _compare_run(tmp_path / "same", PostbackApp, f"--baseline={baseline}", "--fail-on", "regression")
    assert same.exit_code == 0, same.stdout[-2000:]
    worse = _compare_run(
        tmp_path / "worse",
        SHORT_NAMES_V2,
        f"--baseline={baseline}",
        "--fail-on",
        "regression",
    )
    assert worse.exit_code == 1
    assert "REGRESSED CUT-01 on cutover: pass -> fail" in worse.stdout
    assert json.loads((worse.report_dir / "baseline.json").read_text())["regressed"][0]["id"] == "CUT-01"


# The traffic audit (postback-conformance audit) is tested in tests/test_audit.py.
