"""Secrecy (docs/requirements.md, "What the suite must prove about itself"): no write key in anything written.

The suite runs with a recognisable key against a leaky, faulty target that repeats every credential it gets
(header, ``Authorization``, ``?td_write_key``) in its answers, so that failures, reproductions, hypothesis
falsifying examples and schemathesis failure texts all have the key in hand. Every byte the run writes is
then searched for the key, plain and in each URL-encoded form: stdout, stderr, every file under the
report directory (traffic.har and summary.md included), pytest's own JUnit file, with locals in tracebacks
(``-l``) and all captured output.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from conformance.contract.model import Cred
from conformance.engine.run import Finding, Outcome
from conformance.reference.app import READBACK_RECORDS, PostbackApp, Rejection
from conformance.reference.asgi import Request, Response, json_response
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from conformance.report import write_all
from conformance.transport.client import ProbeIds, TargetSpec, Transport
from conformance.transport.credentials import Credentials, Keyring
from conformance.transport.redact import Redactor
from tests.suite_runner import SUITE, SuiteRun, run_pytest
from tests.test_reports import synthetic_run

# Recognisable, well-formed (account ID "/" 40 hex digits), and with the "/" that URL-encoding changes.
KEY = "8675309/0ddba11c0ffee5eed0ddba11c0ffee5eed0ddba1"
COMPARE_KEY = "4711/5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2"  # the second target's own key (cutover runs)
PLACEHOLDER = "$POSTBACK_WRITE_KEY"


def forms(key: str) -> set[str]:
    """The key as it could be written: plain, percent-encoded (upper and lower hex), "+"-form encoded."""
    encoded = {quote(key, safe=""), quote(key), quote_plus(key), quote_plus(key, safe="/")}
    return {key} | encoded | {e.replace("%2F", "%2f") for e in encoded}


def leaks(data: bytes | str) -> list[str]:
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    return [form for key in (KEY, COMPARE_KEY) for form in forms(key) if form.encode() in raw]


def every_file(root: Path) -> list[Path]:
    return [path for path in sorted(root.rglob("*")) if path.is_file()]


class LeakyTarget(PostbackApp):
    """Repeats the credentials it got in every answer (body and header), and breaks NAME-01 (names over
    64 characters refused: a property test fails with a falsifying example) and EP-02 (a chatty 200)."""

    def is_valid_name(self, name: str) -> bool:
        return super().is_valid_name(name) and len(name) <= 64

    async def route(self, request: Request) -> Response:
        if request.raw_path == READBACK_RECORDS:
            return await super().route(request)
        echo = (
            f"x-td-write-key={request.header('x-td-write-key')}; "
            f"authorization={request.header('authorization')}; query={request.query_string.decode('latin-1')}"
        )
        try:
            response = await super().route(request)
        except Rejection as rejection:
            raise Rejection(
                rejection.status, f"{rejection.message} (you sent {echo})", rejection.headers
            ) from None
        if response.status == 200:
            response = json_response(200, {"received": echo})
        return response.with_header("x-echo", echo)


def _serve(tmp_path: Path, versions: tuple[str, ...], *args: str) -> SuiteRun:
    keys = (KEY, COMPARE_KEY)
    apps = [LeakyTarget(v, [keys[n]], Store()) for n, v in enumerate(versions)]  # type: ignore[arg-type]
    servers = [ReferenceServer(app.version, app=app) for app in apps]
    for server in servers:
        server.start()
    try:
        target = [str(SUITE), "--target", servers[0].url, "--api-version", versions[0]]
        target += ["--readback", servers[0].readback_url]
        if len(servers) == 2:
            target += ["--compare-target", servers[1].url, "--compare-api-version", versions[1]]
            target += ["--compare-readback", servers[1].readback_url]
        env = {"POSTBACK_WRITE_KEY": KEY, "POSTBACK_COMPARE_WRITE_KEY": COMPARE_KEY}
        return run_pytest([*target, *args], tmp_path, env=env)
    finally:
        for server in servers:
            server.stop()


def _assert_nothing_leaked(run: SuiteRun, root: Path) -> None:
    assert run.exit_code == 1, (
        "the leaky target must fail clauses\n" + run.stdout[-3000:] + run.stderr[-3000:]
    )
    found = {"stdout": leaks(run.stdout), "stderr": leaks(run.stderr)}
    files = every_file(root)
    assert {"results.json", "junit.xml", "report.html", "traffic.har", "summary.md"} <= {
        p.name for p in files
    }
    found |= {str(path.relative_to(root)): leaks(path.read_bytes()) for path in files}
    assert not {where: what for where, what in found.items() if what}, "the write key was written"
    # The key was at hand: where it would have been printed, its placeholder is.
    page = (run.report_dir / "report.html").read_text(encoding="utf-8")
    assert PLACEHOLDER in run.stdout
    assert PLACEHOLDER in page
    assert "x-echo" in page.lower(), "the answers that repeat the key are in the report"
    # traffic.har holds every request and answer: the key's placeholder, in headers and answers that echo it.
    har = (run.report_dir / "traffic.har").read_text(encoding="utf-8")
    assert PLACEHOLDER in har
    assert "x-echo" in har.lower()
    assert PLACEHOLDER in (run.report_dir / "summary.md").read_text(encoding="utf-8")


def test_no_write_key_anywhere_in_a_verbose_failing_cutover_run(tmp_path: Path) -> None:
    """Both versions, each with its own key (so ?td_write_key and Authorization: TD1 are sent), verbose,
    locals in tracebacks, every captured section, debug logs, pytest's own JUnit file."""
    run = _serve(
        tmp_path,
        ("legacy", "v2"),
        "-v", "--tb=long", "-l", "-rA", "--log-level=DEBUG", "--hypothesis-show-statistics",
        f"--junitxml={tmp_path / 'pytest-junit.xml'}",
    )  # fmt: skip
    # hypothesis names its minimal example "Falsifying example" or (recent versions) "Failing test case".
    assert re.search("Falsifying example|Failing test case", run.stdout), (
        "a property test printed its example"
    )
    _assert_nothing_leaked(run, tmp_path)
    page = (run.report_dir / "report.html").read_text(encoding="utf-8")
    assert "$POSTBACK_COMPARE_WRITE_KEY" in page, "the second key was at hand too"


def test_no_write_key_anywhere_in_a_strict_legacy_run(tmp_path: Path) -> None:
    """Legacy alone, as a user runs it, with --strict so that SHOULD misses are failures too."""
    run = _serve(tmp_path, ("legacy",), "--strict", "--tb=short")
    _assert_nothing_leaked(run, tmp_path)


def test_pytest_output_is_redacted_even_for_a_key_held_in_a_local(tmp_path: Path) -> None:
    """A traceback with -l, captured stdout and logs, a skip reason: pytest's own texts pass the redactor."""
    # A suite written against the plugin (its fixtures): the plugin is active only in a run of the suite.
    (tmp_path / "conftest.py").write_text("from conformance.conftest import *  # noqa: F403\n")
    module = tmp_path / "test_leak.py"
    module.write_text(
        textwrap.dedent(
            f"""
            import logging
            import pytest

            def test_key_in_locals_output_and_logs():
                headers = [("X-TD-Write-Key", "{KEY}")]
                url = "http://127.0.0.1:9/x?td_write_key={quote(KEY, safe="")}"
                print("sending", headers, url)
                logging.getLogger("suite").warning("sending %s", headers)
                assert headers == [], url

            def test_key_in_a_skip_reason():
                pytest.skip("skipping {KEY}")
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(module), "-p", "no:cacheprovider", "-l", "--tb=long", "-rA",
         f"--junitxml={tmp_path / 'junit.xml'}", "--write-key", KEY],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 skipped" in proc.stdout
    assert not leaks(proc.stdout)
    assert not leaks(proc.stderr)
    assert not leaks((tmp_path / "junit.xml").read_bytes())
    assert proc.stdout.count(PLACEHOLDER) >= 4  # locals, assertion message, captured stdout and log, skip


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param(Credentials(header=None, query=Cred.VALID), id="query-key"),
        pytest.param(Credentials(header=Cred.VALID), id="header-key"),
    ],
)
def test_an_exchange_and_its_reports_never_hold_the_key(credentials: Credentials, tmp_path: Path) -> None:
    """In process: the transport's exchange, its failure text and reports of it, the objects' reprs."""
    redactor = Redactor()
    redactor.add(KEY, "POSTBACK_WRITE_KEY")
    app = LeakyTarget("legacy", [KEY], Store())
    with ReferenceServer("legacy", app=app) as server:
        spec = TargetSpec("legacy", server.url, "legacy")
        keys = Keyring(KEY, 1)
        transport = Transport(spec, keys, redactor, ProbeIds("pc1"))
        try:
            exchange = transport.post(credentials=credentials)
        finally:
            transport.close()
    assert exchange.response is not None
    assert exchange.response.status == 200
    texts = [repr(exchange), exchange.describe(), exchange.request.curl(), repr(transport), repr(keys)]
    assert not [t for t in texts if leaks(t)]
    assert PLACEHOLDER in exchange.request.curl()
    run = synthetic_run(tmp_path)
    finding = Finding(("EP-02",), "the body {}", f"the body {exchange.response.body!r}", (exchange,))
    run.outcomes.append(
        Outcome("m::t[legacy]", "legacy", {"EP-02": "fail"}, {"EP-02": "x"}, (exchange,), "x", 0, (finding,))
    )
    assert write_all(run) == []
    assert not {p.name: leaks(p.read_bytes()) for p in every_file(tmp_path) if leaks(p.read_bytes())}
