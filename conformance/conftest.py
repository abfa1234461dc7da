"""Fixtures of the conformance suite: the target under test, read-back expectations, measured values."""

from __future__ import annotations

import pytest

from conformance.contract.profile import Profile
from conformance.engine.context import Info, Ingestion
from conformance.engine.run import Run
from conformance.plugin.state import get_run
from conformance.transport.client import Transport


@pytest.fixture
def run(request: pytest.FixtureRequest) -> Run:
    return get_run(request.config)


@pytest.fixture
def target(request: pytest.FixtureRequest, run: Run) -> Transport:
    """The target under test (parametrized by the plugin over the run's targets of a fitting version)."""
    return run.transports[request.param]


@pytest.fixture
def pair(request: pytest.FixtureRequest, run: Run) -> tuple[Transport, Transport]:
    """The (legacy, v2) targets of a cutover comparison."""
    legacy, v2 = request.param
    return run.transports[legacy], run.transports[v2]


@pytest.fixture
def profile(run: Run) -> Profile:
    return run.settings.profile


@pytest.fixture
def info(request: pytest.FixtureRequest, run: Run) -> Info:
    return Info(run, request.node.nodeid)


@pytest.fixture
def ingestion(request: pytest.FixtureRequest, run: Run, target: Transport) -> Ingestion:
    """Register read-back expectations. Without read-back the test still runs and its answers decide;
    the ingestion part of its clauses stays undecided (``skip`` with the reason, never ``pass``)."""
    return Ingestion(run, request.node.nodeid, target)


@pytest.fixture
def pair_ingestion(
    request: pytest.FixtureRequest, run: Run, pair: tuple[Transport, Transport]
) -> tuple[Ingestion, Ingestion]:
    """Read-back for both targets of a cutover comparison."""
    return Ingestion(run, request.node.nodeid, pair[0]), Ingestion(run, request.node.nodeid, pair[1])
