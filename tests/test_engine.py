"""The engine runs without pytest and holds no module-level state: two runs share one process.

Two engine runs against two different targets (a correct v2 reference and a mutant that ingests records
whatever their key), their checks interleaved one by one, give each the outcomes it gets alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from itertools import zip_longest
from pathlib import Path
from threading import Thread

import pytest

from conformance import test_auth, test_body, test_endpoint
from conformance.contract.profile import Profile
from conformance.engine.attribution import Attribution
from conformance.engine.context import Info, Ingestion
from conformance.engine.judging import CheckId, run_check, run_readback_check
from conformance.engine.run import Run
from conformance.engine.rundata import Settings, TargetOptions
from conformance.reference.app import PostbackApp
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store
from tests.mutants.auth import InvalidKeysIngested
from tests.suite_runner import TEST_KEY

Check = Callable[[Run, str], None]


def _endpoint(run: Run, nodeid: str) -> None:
    target = run.transports["v2"]
    test_endpoint.test_valid_request_is_accepted_and_ingested_once(target, Ingestion(run, nodeid, target))


def _empty_json(run: Run, nodeid: str) -> None:
    test_endpoint.test_success_answer_is_an_empty_json_object(run.transports["v2"])


def _invalid_keys(run: Run, nodeid: str) -> None:
    target = run.transports["v2"]
    attribution = Attribution(target, Ingestion(run, nodeid, target))
    test_auth.test_invalid_keys_are_never_ingested(attribution, Info(run, nodeid))


def _values(run: Run, nodeid: str) -> None:
    target = run.transports["v2"]
    test_body.test_strings_integers_and_booleans_are_ingested_with_their_type_and_value(
        target, Ingestion(run, nodeid, target), "strings"
    )


CHECKS: list[tuple[CheckId, Check]] = [
    (CheckId("endpoint::valid[v2]", "v2", ("EP-01",)), _endpoint),
    (CheckId("endpoint::empty-json[v2]", "v2", ("EP-02",)), _empty_json),
    (CheckId("auth::invalid-keys[v2]", "v2", ("AUTH-08",)), _invalid_keys),
    (CheckId("body::values[v2]", "v2", ("BODY-01",)), _values),
]


NO_READBACK = {"endpoint::empty-json[v2]"}


def _run(server: ReferenceServer, tmp_path: Path) -> Run:
    settings = Settings(
        primary=TargetOptions(server.url, "v2", TEST_KEY, server.readback_url, "POSTBACK_WRITE_KEY"),
        compare=None,
        database="conformance",
        table="probe",
        settle=10.0,
        profile=Profile(),
        profile_path=None,
        report_dir=tmp_path,
        seed=7,
        strict=False,
        max_rps=None,
        timeout=10.0,
        ca_bundle=None,
        insecure=False,
        allow_insecure_http=True,
        disposable_account=True,
    )
    run = Run(settings)
    run.start()
    return run


def _verdicts(run: Run, prefix: str = "") -> dict[str, dict[str, str]]:
    """Per check (its node ID, ``prefix`` removed): clause -> status (exchanges and durations differ)."""
    out: dict[str, dict[str, str]] = {}
    for outcome in run.outcomes:
        out.setdefault(outcome.nodeid.removeprefix(prefix), {}).update(outcome.statuses)
    return out


def _steps(run: Run, prefix: str = "") -> Iterator[None]:
    """Each check, then each read-back check, of one run; a step at a time."""
    for check, call in CHECKS:
        named = replace(check, nodeid=prefix + check.nodeid)
        run_check(run, named, lambda named=named, call=call: call(run, named.nodeid))  # type: ignore[misc]
        yield
    for check, _ in CHECKS:
        if check.nodeid not in NO_READBACK:  # the plugin adds one only to a test that uses ``ingestion``
            run_readback_check(run, replace(check, nodeid=prefix + check.nodeid))
            yield


def _alone(server: ReferenceServer, tmp_path: Path) -> dict[str, dict[str, str]]:
    run = _run(server, tmp_path)
    for _ in _steps(run):
        pass
    run.stop()
    return _verdicts(run)


@pytest.fixture
def servers() -> Iterator[tuple[ReferenceServer, ReferenceServer]]:
    with ExitStack() as stack:
        good = stack.enter_context(ReferenceServer("v2", app=PostbackApp("v2", [TEST_KEY], Store())))
        bad = stack.enter_context(
            ReferenceServer("v2", app=InvalidKeysIngested.app("v2", [TEST_KEY], Store()))
        )
        yield good, bad


def test_two_interleaved_engine_runs_give_the_outcomes_of_each_run_alone(
    servers: tuple[ReferenceServer, ReferenceServer], tmp_path: Path
) -> None:
    """Issue "engine": no module-level state. Runs A (correct) and B (ingests invalid-key records), their
    checks and read-back checks interleaved step by step in one thread, each judged as when run alone."""
    good, bad = servers
    alone = _alone(good, tmp_path / "good"), _alone(bad, tmp_path / "bad")
    a, b = _run(good, tmp_path / "a"), _run(bad, tmp_path / "b")
    for _ in zip_longest(_steps(a, "a/"), _steps(b, "b/")):
        pass
    a.stop()
    b.stop()
    assert (_verdicts(a, "a/"), _verdicts(b, "b/")) == alone
    assert alone[0] == {
        "endpoint::valid[v2]": {"EP-01": "pass"},
        "endpoint::valid[v2]::read-back": {"EP-01": "pass"},
        "endpoint::empty-json[v2]": {"EP-02": "pass"},
        "auth::invalid-keys[v2]": {"AUTH-08": "pass"},
        "auth::invalid-keys[v2]::read-back": {"AUTH-08": "pass"},
        "body::values[v2]": {"BODY-01": "pass"},
        "body::values[v2]::read-back": {"BODY-01": "pass"},
    }
    # B differs from A exactly where its fault is: its invalid-key records are ingested.
    differing = {k: v for k, v in alone[1].items() if alone[0][k] != v}
    assert differing == {"auth::invalid-keys[v2]::read-back": {"AUTH-08": "fail"}}


def test_two_engine_runs_in_two_threads_keep_their_own_verdicts_and_traffic(
    servers: tuple[ReferenceServer, ReferenceServer], tmp_path: Path
) -> None:
    """Two runs at the same time in two threads: each exchange is labelled with its own run's check (the
    test now sending belongs to the run, not to the process), and the verdicts are those of each alone."""
    good, bad = servers
    alone = _alone(good, tmp_path / "good"), _alone(bad, tmp_path / "bad")
    a, b = _run(good, tmp_path / "a"), _run(bad, tmp_path / "b")
    threads = [Thread(target=lambda r=r, p=p: list(_steps(r, p))) for r, p in ((a, "a/"), (b, "b/"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    a.stop()
    b.stop()
    assert (_verdicts(a, "a/"), _verdicts(b, "b/")) == alone
    for run, prefix, server in ((a, "a/", good), (b, "b/", bad)):
        labels = {e["test"] for e in run.traffic}
        assert {label for label in labels if not label.startswith(prefix)} <= {
            "preflight",
            "read-back barrier",
        }
        assert all(e["request"]["url"].startswith(server.url) for e in run.traffic)
