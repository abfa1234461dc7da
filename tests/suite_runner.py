"""Run the conformance suite (in a subprocess, as a user would) against a target served in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.reference.app import PostbackApp
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance"
TEST_KEY = "4242/feedfacecafebeef0123456789abcdef01234567"


@dataclass
class SuiteRun:
    exit_code: int
    stdout: str
    stderr: str
    report_dir: Path

    @property
    def results(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report_dir / "results.json").read_text())
        return data

    def status(self, clause_id: str, target: str | None = None) -> str:
        for entry in self.results["clauses"]:
            if entry["id"] == clause_id and (target is None or entry["target"] == target):
                return str(entry["status"])
        raise KeyError(f"{clause_id} not in results.json")

    def statuses(self, status: str) -> set[str]:
        return {entry["id"] for entry in self.results["clauses"] if entry["status"] == status}


def run_pytest(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> SuiteRun:
    report_dir = tmp_path / "reports"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POSTBACK_")}
    environ.update(env or {})
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        # "=": a separate existing path would be taken for a test path when pytest picks its rootdir.
        f"--report-dir={report_dir}",
        *args,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout)
    return SuiteRun(proc.returncode, proc.stdout, proc.stderr, report_dir)


def self_signed_certificate(directory: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 made with the openssl command (the CA bundle is the certificate itself)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    ]
    subprocess.run(command, check=True, capture_output=True)
    return str(cert), str(key)


def run_against(
    app_class: type[PostbackApp],
    version: str,
    tmp_path: Path,
    *args: str,
    modules: tuple[str, ...] = (),
    lag: float = 0.0,
    tls: bool = False,
    readback: bool = True,
    disposable: bool = True,
    store: Store | None = None,
) -> SuiteRun:
    """Serve ``app_class`` as ``version`` on loopback and run the suite (or ``modules`` of it) against it.

    ``version="cutover"``: serve it as the v2 side of a comparison with a correct legacy reference target.
    ``readback=False``: the suite gets no read-back service (the answers alone decide what they can).
    ``disposable``: the target is ours and in memory, so ``--disposable-account`` (NAME-02 decided).
    ``store``: where the target keeps what it ingests (for tests that look at it after the run).
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed_certificate(tmp_path) if tls else (None, None)
    served = "v2" if version == "cutover" else version
    app = app_class(served, [TEST_KEY], store if store is not None else Store(lag=lag))  # type: ignore[arg-type]
    targets = [str(SUITE / m) for m in modules] or [str(SUITE)]
    tls_args = [f"--ca-bundle={cert}"] if cert else []
    with ExitStack() as stack:
        server = stack.enter_context(ReferenceServer(served, app=app, tls_cert=cert, tls_key=key))  # type: ignore[arg-type]
        if version == "cutover":
            legacy = stack.enter_context(ReferenceServer("legacy", [TEST_KEY], tls_cert=cert, tls_key=key))
            target_args = [
                "--target",
                legacy.url,
                "--api-version",
                "legacy",
                "--readback",
                legacy.readback_url,
                "--compare-target",
                server.url,
                "--compare-api-version",
                "v2",
                "--compare-readback",
                server.readback_url,
            ]
        else:
            target_args = ["--target", server.url, "--api-version", version]
            target_args += ["--readback", server.readback_url] if readback else []
        env = {"POSTBACK_WRITE_KEY": TEST_KEY}
        account = ["--disposable-account"] if disposable else []
        return run_pytest([*targets, *target_args, *tls_args, *account, *args], tmp_path, env=env)


def run_against_many(
    targets: list[tuple[type[PostbackApp], str]], tmp_path: Path, *args: str, modules: tuple[str, ...] = ()
) -> SuiteRun:
    """Serve each (app class, version) on loopback and run the suite once against all of them: one
    ``--target=VERSION=URL`` and one ``--readback`` each, in this order (``--disposable-account``)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = [str(SUITE / m) for m in modules] or [str(SUITE)]
    with ExitStack() as stack:
        servers = [
            stack.enter_context(ReferenceServer(version, app=app(version, [TEST_KEY], Store())))  # type: ignore[arg-type]
            for app, version in targets
        ]
        target_args = [
            f"--target={version}={s.url}" for (_, version), s in zip(targets, servers, strict=True)
        ]
        target_args += [f"--readback={s.readback_url}" for s in servers]
        env = {"POSTBACK_WRITE_KEY": TEST_KEY}
        return run_pytest([*paths, *target_args, "--disposable-account", *args], tmp_path, env=env)
