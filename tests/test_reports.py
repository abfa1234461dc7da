"""The reports of a run: results.json (schema), junit.xml (a JUnit consumer), report.html (a browser).

Two real runs are made once per module: the embedded run (a correct target: conformant) and a cutover run
against a target with several faults (not conformant). The faulty targets stay up while the tests run, so
that the ``curl`` lines of report.html can be replayed against them.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from junitparser import JUnitXml, Properties, TestCase

from conformance.contract.catalog import catalog
from conformance.contract.profile import Profile
from conformance.engine.run import Finding, Outcome, Run
from conformance.plugin.options import Settings, TargetOptions
from conformance.reference.app import V2_BODY_CAP, PostbackApp, Rejection
from conformance.reference.asgi import Request, Response
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from conformance.report import summary_lines, write_all
from conformance.report.evidence import body_text, printable, reproduction
from conformance.report.results import aggregate, schema
from conformance.transport.exchange import Exchange, Received, SentRequest
from tests.suite_runner import ROOT, SUITE, TEST_KEY, SuiteRun, run_pytest

SCREENSHOT = ROOT / "docs" / "report-screenshot.png"


class FaultyTarget(PostbackApp):
    """Several faults at once: a chatty success answer (EP-02), ``Connection: close`` after every answer
    (EP-03, a SHOULD: a warning), and on v2 a cap counted in characters, not bytes (SIZE-03)."""

    def success_response(self) -> Response:
        return Response(
            200, b'{"status":"ok"}', (("content-type", "application/json"), ("connection", "close"))
        )

    async def read_body(self, request: Request) -> bytes:
        if self.version != "v2":
            return await super().read_body(request)
        parts = []
        while (chunk := await request.next_chunk()) is not None:
            parts.append(chunk)
        body = b"".join(parts)
        if len(body.decode("utf-8", errors="replace")) > V2_BODY_CAP:
            raise Rejection(413, "the request body is too large")
        return body


@dataclass
class FaultyRun:
    run: SuiteRun
    legacy: ReferenceServer
    v2: ReferenceServer

    @property
    def reports(self) -> Path:
        return self.run.report_dir

    @property
    def html(self) -> str:
        return (self.reports / "report.html").read_text(encoding="utf-8")


def compare_args(legacy: ReferenceServer, v2: ReferenceServer) -> list[str]:
    return [
        str(SUITE),
        "--target", legacy.url, "--api-version", "legacy", "--readback", legacy.readback_url,
        "--compare-target", v2.url, "--compare-api-version", "v2", "--compare-readback", v2.readback_url,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyRun]:
    legacy_app = FaultyTarget("legacy", [TEST_KEY], Store())
    v2_app = FaultyTarget("v2", [TEST_KEY], Store())
    with ReferenceServer("legacy", app=legacy_app) as legacy, ReferenceServer("v2", app=v2_app) as v2:
        tmp = tmp_path_factory.mktemp("faulty")
        run = run_pytest(compare_args(legacy, v2), tmp, env={"POSTBACK_WRITE_KEY": TEST_KEY})
        assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-3000:]
        yield FaultyRun(run, legacy, v2)


@pytest.fixture(scope="module")
def correct(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    run = run_pytest([str(SUITE)], tmp_path_factory.mktemp("correct"))
    assert run.exit_code == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def validate(data: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema()).validate(data)


def applicable(version: str) -> set[str]:
    return {c.id for c in catalog().values() if c.applies_to(version)}


# ------------------------------------------------------------------------------------------ results.json


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_results_of_a_correct_run_validate_and_are_conformant(correct: SuiteRun) -> None:
    data = correct.results
    validate(data)
    assert data["verdict"] == "conformant"
    for target, version in (("legacy", "legacy"), ("v2", "v2"), ("cutover", "cutover")):
        ids = [e["id"] for e in data["clauses"] if e["target"] == target]
        assert sorted(ids) == sorted(applicable(version)), f"one entry per applicable clause on {target}"
    assert not correct.statuses("fail")
    assert not correct.statuses("error")


def test_results_of_a_faulty_run_validate_and_name_the_failures(faulty: FaultyRun) -> None:
    run = faulty.run
    data = run.results
    validate(data)
    assert data["verdict"] == "not-conformant"
    assert run.status("EP-02", "legacy") == run.status("EP-02", "v2") == "fail"
    assert run.status("SIZE-03", "v2") == "fail"
    assert run.status("EP-03", "legacy") == run.status("EP-03", "v2") == "warn"
    entry = next(e for e in data["clauses"] if e["id"] == "EP-02" and e["target"] == "v2")
    assert "Expected: the body {}" in entry["detail"]
    assert "conformance/test_endpoint.py::test_success_answer_is_an_empty_json_object[v2]" in entry["tests"]
    assert [t["name"] for t in data["targets"]] == ["legacy", "v2"]
    assert data["targets"][1]["url"] == faulty.v2.url
    assert data["requests_sent"] > 100
    assert data["run_id"] in run.stdout
    assert str(data["seed"]) in run.stdout
    assert data["profile_overrides"] == {}


def _minimal() -> dict[str, Any]:
    clause = {"id": "EP-02", "level": "MUST", "target": "v2", "status": "pass", "tests": ["t"], "detail": ""}
    return {
        "suite_version": "0.1.0",
        "spec_sha256": "0" * 64,
        "seed": 1,
        "run_id": "pc20261123000000abcdef",
        "started_at": "2026-11-23T10:00:00Z",
        "finished_at": "2026-11-23T10:00:12Z",
        "verdict": "conformant",
        "targets": [{"name": "v2", "url": "http://127.0.0.1:8081", "api_version": "v2", "readback": True}],
        "profile_overrides": {},
        "requests_sent": 3,
        "seed_source": "--seed",
        "strict": False,
        "selection": {"keyword": None, "markers": None, "deselected": 0},
        "catalog": {"version": "1.1", "sha256": "1" * 64},
        "undecided": [],
        "clauses": [clause],
    }


def _set(path: str, value: object) -> dict[str, Any]:
    data = _minimal()
    where: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        where = where[int(key)] if key.isdigit() else where[key]
    where[keys[-1]] = value
    return data


BROKEN = [
    pytest.param(_set("extra", 1), id="unknown-top-level-field"),
    pytest.param(_set("clauses.0.status", "passed"), id="unknown-status"),
    pytest.param(_set("clauses.0.status", "fail"), id="conformant-with-a-failure"),
    pytest.param(
        _set("clauses", [{**_minimal()["clauses"][0], "status": "skip", "detail": ""}]),
        id="skip-without-reason",
    ),
    pytest.param(_set("clauses.0.target", "cutover"), id="non-cut-clause-on-cutover"),
    pytest.param(_set("clauses.0.id", "EP-2"), id="malformed-clause-id"),
    pytest.param(_set("targets.0.api_version", "v3"), id="unknown-api-version"),
    pytest.param(_set("started_at", "yesterday"), id="free-form-time"),
    pytest.param(_set("verdict", "not-conformant"), id="not-conformant-without-a-failure"),
    pytest.param(_set("verdict", "incomplete"), id="incomplete-without-an-undecided-clause"),
    pytest.param(
        _set("undecided", [{"id": "EP-01", "target": "v2", "level": "MUST", "reason": "no read-back"}]),
        id="conformant-with-an-undecided-clause",
    ),
    pytest.param(_set("seed_source", "somewhere"), id="unknown-seed-source"),
]


def test_schema_accepts_the_contract_example_shape() -> None:
    validate(_minimal())


@pytest.mark.parametrize("data", BROKEN)
def test_schema_rejects_what_the_contract_rules_out(data: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(data)


# ------------------------------------------------------------------------ aggregation (synthetic outcomes)


def synthetic_run(tmp_path: Path, primary: TargetOptions | None = None, strict: bool = False) -> Run:
    """A run that never started (default: the embedded targets, legacy, v2 and cutover); outcomes are added
    by hand."""
    settings = Settings(
        primary=primary or TargetOptions(None, None, None, None, "POSTBACK_WRITE_KEY"),
        compare=None,
        database="conformance",
        table="probe",
        settle=0.0,
        profile=Profile(),
        profile_path=None,
        report_dir=tmp_path / "reports",
        seed=7,
        strict=strict,
        max_rps=None,
        timeout=10.0,
        ca_bundle=None,
        insecure=False,
        allow_insecure_http=False,
    )
    return Run(settings)


def _status_of(run: Run, cid: str, target: str) -> tuple[str, str]:
    entry = next(r for r in aggregate(run) if r.id == cid and r.target == target)
    return entry.status, entry.detail


def test_any_failing_test_fails_its_clause_and_errors_are_never_failures(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    run.outcomes += [
        Outcome("m::a[v2]", "v2", {"EP-02": "pass"}),
        Outcome("m::b[v2]", "v2", {"EP-02": "fail"}, {"EP-02": "Expected: {} / Received: []"}),
        Outcome("m::c[v2]", "v2", {"EP-05": "pass"}),
        Outcome("m::d[v2]", "v2", {"EP-05": "error"}, {"EP-05": "the suite could not run this check: boom"}),
        Outcome("m::e[v2]", "v2", {"EP-03": "warn"}, {"EP-03": "closed"}),
        Outcome("m::e[v2]", "v2", {"EP-03": "error"}, {"EP-03": "teardown broke"}),
        Outcome("m::f[v2]", "v2", {"EP-01": "pass"}),
        Outcome("m::f[v2]::read-back", "v2", {"EP-01": "pass"}, part="ingestion"),
        Outcome("m::g[v2]", "v2", {"EP-01": "skip"}, {"EP-01": "needs read-back"}),
        Outcome("m::h[legacy]", "legacy", {"EP-04": "info"}),
    ]
    assert _status_of(run, "EP-02", "v2") == ("fail", "Expected: {} / Received: []")
    assert _status_of(run, "EP-05", "v2")[0] == "error"
    assert _status_of(run, "EP-03", "v2")[0] == "error"
    assert _status_of(run, "EP-01", "v2") == ("pass", "partly skipped: needs read-back")
    assert _status_of(run, "EP-04", "legacy") == ("info", "checked; the test recorded no value")
    assert _status_of(run, "EP-02", "legacy")[0] == "skip"
    assert {r.target for r in aggregate(run)} == {"legacy", "v2", "cutover"}


def test_reports_of_a_synthetic_run_validate_and_render(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    request = SentRequest(
        "POST", "http://127.0.0.1:9/postback/v3/event/d/t", (("content-type", "application/json"),)
    )
    exchange = Exchange("v2", request, Received(500, (("content-type", "text/plain"),), b"oops \x00"))
    finding = Finding(("EP-02",), "status 200", "status 500", (exchange,))
    crash = "the suite could not run this check: RuntimeError: read-back service down"
    legacy = Exchange("legacy", request, Received(200, (), b"{}"))
    run.outcomes += [
        Outcome("m::x[v2]", "v2", {"EP-02": "fail"}, {"EP-02": "x"}, (exchange,), "x", 0.1, (finding,)),
        Outcome(
            "m::y[v2]", "v2", {"EP-01": "error"}, {"EP-01": crash}, message="RuntimeError: read-back down"
        ),
        Outcome("m::c[legacy-vs-v2-probe]", "cutover", {"CUT-03": "info"}, {"CUT-03": "same on both"}),
    ]
    run.outcomes[-1].exchanges = (legacy, exchange)  # the pair a cutover probe records as evidence
    assert write_all(run) == []
    data = json.loads((run.settings.report_dir / "results.json").read_text())
    validate(data)
    page = (run.settings.report_dir / "report.html").read_text()
    assert "oops \\x00" in page
    assert "\x00" not in page
    cards = _cards(page)
    assert ">ERROR</span>" in cards["m::y[v2]"]
    assert "RuntimeError: read-back down" in cards["m::y[v2]"]
    cutover = page[page.index('<section id="cutover">') :]
    assert "same on both" in cutover
    assert re.search(r"<td>200</td>\s*<td>500</td>", cutover), "each side's answer in its column"
    lines = summary_lines(run)
    assert any("FAIL  EP-02" in line for line in lines)
    assert any("ERROR EP-01" in line for line in lines)


# ------------------------------------------------------------------------------------------- evidence


def test_a_large_body_shows_its_head_and_tail_on_whole_characters() -> None:
    body = ('{"pad":"' + "é" * 600_000 + '"}').encode()
    text = body_text(body)
    assert len(text) < 3000
    assert "1,200,010 bytes in all" in text
    assert text.endswith('é"}')
    assert "\\x" not in text  # the cuts fall between characters


def test_control_characters_are_shown_as_escapes() -> None:
    assert printable("a\x00b\x1bc\n") == "a\\x00b\\x1bc\n"
    assert body_text(b"\xff{") == "\\xff{"


def test_a_large_binary_body_is_rebuilt_exactly_by_its_reproduction(tmp_path: Path) -> None:
    body = b"\x00\xff" + os.urandom(64) + b"{" * 1_100_000
    request = SentRequest(
        "POST", "http://127.0.0.1:9/postback/v3/event/d/t", (("x-td-write-key", "$POSTBACK_WRITE_KEY"),), body
    )
    script = reproduction(request)
    assert "@body.bin" in script
    assert "base64 -d" in script
    build = "\n".join(line for line in script.splitlines() if not line.startswith("curl"))
    subprocess.run(["bash", "-c", build], cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / "body.bin").read_bytes() == body


def test_a_small_printable_body_stays_on_the_curl_line() -> None:
    request = SentRequest("POST", "http://127.0.0.1:9/x", (("content-type", "application/json"),), b'{"a":1}')
    assert reproduction(request) == request.curl()
    assert "--data-binary '{\"a\":1}'" in reproduction(request)


# ---------------------------------------------------------------------------------------------- junit.xml


def _properties(case: TestCase) -> list[tuple[str, str]]:
    props = case.child(Properties)
    return [(p.name, p.value) for p in props] if props is not None else []


def test_junit_parses_with_one_testcase_per_test_and_clause_properties(faulty: FaultyRun) -> None:
    xml = JUnitXml.fromfile(str(faulty.reports / "junit.xml"))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    cases = list(suite)
    names = [(c.classname, c.name) for c in cases]
    assert len(names) == len(set(names)), "one testcase per test"
    summary = re.search(r"(\d+) failed, (\d+) passed(?:, (\d+) skipped)?", faulty.run.stdout)
    assert summary is not None
    failed, passed, skipped = (int(n or 0) for n in summary.groups())
    # On a mismatch, say which tests pytest and junit.xml count differently.
    pytest_failed = sorted(line for line in faulty.run.stdout.splitlines() if line.startswith("FAILED "))
    junit_not_passed = sorted(f"{c.name}: {c.result[0]._tag}" for c in cases if c.result)
    diagnosis = "\n".join([*pytest_failed, "--- junit.xml:", *junit_not_passed])
    assert len(cases) == suite.tests == failed + passed + skipped, diagnosis
    assert suite.failures == failed, diagnosis
    assert suite.errors == 0, diagnosis
    assert suite.skipped == skipped, diagnosis
    for case in cases:
        props = _properties(case)
        keys = {k for k, _ in props}
        assert {"clause", "level", "target", "verdict"} <= keys, case.name
        assert dict(props)["level"] in ("MUST", "SHOULD", "INFO")
    ep02 = next(c for c in cases if c.name == "test_success_answer_is_an_empty_json_object[v2]")
    assert ep02.is_failure
    assert ("clause", "EP-02") in _properties(ep02)
    assert ("target", "v2") in _properties(ep02)
    assert ("level", "MUST") in _properties(ep02)
    assert "Reproduce:" in ep02.result[0].text
    assert "$POSTBACK_WRITE_KEY" in ep02.result[0].text
    suite_props = dict((p.name, p.value) for p in suite.properties())
    assert suite_props["verdict"] == "not-conformant"


def test_junit_shows_should_warnings_as_passing_testcases_marked_warn(faulty: FaultyRun) -> None:
    cases = list(next(iter(JUnitXml.fromfile(str(faulty.reports / "junit.xml")))))
    warned = [c for c in cases if ("verdict", "warn") in _properties(c)]
    assert warned, "the Connection: close fault must give SHOULD warnings"
    for case in warned:
        assert case.is_passed, "a warning keeps CI green (without --strict)"
        assert ("level", "SHOULD") in _properties(case)
        assert (case.system_out or "").startswith("WARNING (SHOULD ")


# -------------------------------------------------------------------------------------------- report.html


def _cards(page: str) -> dict[str, str]:
    """The failure cards of report.html, by test node ID."""
    cards = {}
    for card in re.findall(r'<article class="card.*?</article>', page, re.S):
        node = re.search(r'<div class="node">(.*?)</div>', card)
        assert node is not None
        cards[html.unescape(node.group(1))] = card
    return cards


def test_html_is_self_contained(faulty: FaultyRun) -> None:
    page = faulty.html
    assert "<script" not in page.lower()
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"\b(src|srcset)\s*=", page, re.I)
    assert "@import" not in page
    assert "url(" not in page
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', page))


def test_html_first_screen_names_the_failing_clauses(faulty: FaultyRun) -> None:
    page = faulty.html
    first = page[: page.index('<section id="matrix">')]
    assert "NOT CONFORMANT" in first
    for cid in ("EP-02", "SIZE-03", "EP-03"):
        assert f'href="#clause-{cid}">{cid}</a>' in first, f"{cid} is listed before the matrix"
    assert first.index("EP-02") < first.index("EP-03"), "failures come before warnings"


def test_html_matrix_has_a_cell_per_clause_and_target_with_status_words(faulty: FaultyRun) -> None:
    page = faulty.html
    row = re.search(r'<tr id="clause-EP-02">.*?</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r'<td class="cell (s-[a-z]+)"', row.group())
    assert cells == ["s-fail", "s-fail", "s-na"]
    assert row.group().count(">FAIL<") == 2
    info = re.search(r'<tr id="clause-CUT-02">.*?</tr>', page, re.S)
    assert info is not None
    assert ">INFO<" in info.group()
    assert "td_write_key" in info.group()


def test_html_failures_show_request_answer_expectation_and_curl(faulty: FaultyRun) -> None:
    cards = _cards(faulty.html)
    card = cards["conformance/test_endpoint.py::test_success_answer_is_an_empty_json_object[legacy]"]
    text = html.unescape(card)
    assert "Expected</dt><dd>the body {}" in text
    assert "POST " + faulty.legacy.url + "/postback/v3/event/" in text
    assert "x-td-write-key: $postback_write_key" in text.lower()
    assert '{"status":"ok"}' in text
    assert "curl -sS -i -X POST" in text


def _replay(card: str, tmp_path: Path) -> str:
    scripts = re.findall(r'<div class="repro">.*?<pre>(.*?)</pre>', card, re.S)
    assert scripts, "the card has a reproduction"
    env = {**os.environ, "POSTBACK_WRITE_KEY": TEST_KEY}
    proc = subprocess.run(
        ["bash", "-c", html.unescape(scripts[0])], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8", errors="replace")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_each_failure_is_reproduced_from_the_report_alone(faulty: FaultyRun, tmp_path: Path) -> None:
    cards = _cards(faulty.html)
    small = cards["conformance/test_endpoint.py::test_success_answer_is_an_empty_json_object[v2]"]
    answer = _replay(small, tmp_path)
    assert answer.startswith("HTTP/1.1 200")
    assert '{"status":"ok"}' in answer
    large = next(card for node, card in cards.items() if "test_cap_counts_bytes_not_characters" in node)
    length = re.search(r"content-length: (\d+)", large, re.I)
    assert length is not None
    assert int(length.group(1)) > V2_BODY_CAP
    answer = _replay(large, tmp_path)
    assert answer.startswith("HTTP/1.1 200"), "the faulty target takes the over-cap body again"
    assert (tmp_path / "body.bin").stat().st_size == int(length.group(1))


def test_html_has_a_cutover_section_and_the_run_settings(faulty: FaultyRun) -> None:
    page = html.unescape(faulty.html)
    data = faulty.run.results
    cutover = page[page.index('<section id="cutover">') :]
    assert "query-key-only" in cutover
    assert "td1-only" in cutover
    settings = page[page.index('<section id="settings">') : page.index('<section id="cutover">')]
    for value in (data["run_id"], str(data["seed"]), data["spec_sha256"], faulty.v2.url, "0.1.0"):
        assert value in settings
    assert f"{data['requests_sent']:,}" in settings
    assert "profile overrides" in settings


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium_args(profile: Path) -> list[str]:
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={profile}",
    ]  # fmt: skip


@pytest.mark.skipif(
    _chromium() is None, reason="headless Chromium is not installed (apt-get install chromium)"
)
def test_html_renders_in_headless_chromium_showing_the_failing_clause(
    faulty: FaultyRun, tmp_path: Path
) -> None:
    browser = _chromium()
    assert browser is not None
    url = (faulty.reports / "report.html").as_uri()
    dom = subprocess.run(
        [browser, *_chromium_args(tmp_path / "dom"), "--dump-dom", url], capture_output=True, timeout=120
    ).stdout.decode()
    assert "NOT CONFORMANT" in dom
    assert 'id="clause-EP-02"' in dom
    shot = SCREENSHOT if os.environ.get("POSTBACK_UPDATE_SCREENSHOT") else tmp_path / "report.png"
    subprocess.run(
        [browser, *_chromium_args(tmp_path / "shot"), f"--screenshot={shot}", "--window-size=1280,1600", url],
        capture_output=True,
        timeout=120,
    )
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 50_000, "a rendered page, not a blank one"


def test_reports_are_written_without_extra_flags(correct: SuiteRun) -> None:
    """docs/contract.md, Reports: a plain run writes results.json (one row per applicable clause and target,
    valid against its schema), junit.xml (one testcase per test pytest ran) and report.html (one section
    per clause)."""
    results = correct.results
    validate(results)
    assert results["verdict"] == "conformant"
    rows = {(e["id"], e["target"]) for e in results["clauses"]}
    assert rows == {(cid, t) for t in ("legacy", "v2", "cutover") for cid in applicable(t)}
    counts = re.search(r"(\d+) passed, (\d+) skipped in", correct.stdout)
    assert counts is not None, correct.stdout[-2000:]
    (suite,) = JUnitXml.fromfile(str(correct.report_dir / "junit.xml"))
    assert len(list(suite)) == int(counts[1]) + int(counts[2])
    html = (correct.report_dir / "report.html").read_text(encoding="utf-8")
    assert set(re.findall(r'id="clause-([A-Z]+-[0-9]+)"', html)) == set(catalog())
    assert "verdict: CONFORMANT" in correct.stdout


def test_reports_go_to_reports_in_the_working_directory_by_default(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTBACK_")}
    module = SUITE / "test_endpoint.py"
    config = str(ROOT / "pyproject.toml")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider", "-c", config],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    written = {p.name for p in (tmp_path / "reports").iterdir()}
    assert {"junit.xml", "report.html", "results.json"} <= written
    validate(json.loads((tmp_path / "reports" / "results.json").read_text()))


def test_no_report_is_left_half_written_when_one_report_fails(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    run.outcomes.append(Outcome("m::y[v2]", "v2", {"NO-SUCH-01": "fail"}))  # a suite bug: an unknown ID
    problems = write_all(run)
    assert problems
    assert all("NO-SUCH-01" in p or "KeyError" in p for p in problems)
    assert (run.settings.report_dir / "results.json").exists()
    assert any(line.startswith("REPORT ERROR") for line in summary_lines(run))
