"""The spec-driven layer: schemathesis' phases over the per-version view of specs/openapi.yaml.

Each test runs one schemathesis phase (examples, coverage, or fuzzing in one generation mode) against one
target, through the suite's own transport (one client per target, the run's credential, rate cap and
redaction). Every answer is held to the contract model and to schemathesis' built-in checks tuned to it;
every miss names the clauses it violates (conformance/schema/judge.py). Generation is seeded from the run's
seed and sized by the profile's budget (quick, ci, thorough).
"""

from __future__ import annotations

import pytest

from conformance.engine.context import Info, Ingestion
from conformance.engine.run import Run
from conformance.plugin.fixtures import marked_clauses
from conformance.schema import Generation, Judge, SchemaSession
from conformance.transport.client import Transport

pytestmark = pytest.mark.schema

# The clauses each phase exercises with every seed. The examples and coverage phases are the same for every
# seed and send probe records to the run's table (read back); the fuzzing phases draw 25, 100 or 500 cases
# per generation mode (the profile's budget), to generated names only, so they have nothing to read back.
SPEC_PHASES = (
    pytest.param(
        Generation("examples"), id="examples", marks=pytest.mark.clause("EP-02", "BODY-08", "RESP-01")
    ),
    pytest.param(
        Generation("coverage"),
        id="coverage",
        marks=pytest.mark.clause(
            "EP-02", "NAME-01", "NAME-02", "BODY-04", "BODY-07", "BODY-08", "RESP-01", "RESP-02", "RESP-03"
        ),
    ),
)
FUZZING = (
    pytest.param(
        Generation("fuzzing", "positive"),
        id="fuzzing-positive",
        marks=pytest.mark.clause("EP-02", "NAME-01", "BODY-08", "RESP-01"),
    ),
    pytest.param(
        Generation("fuzzing", "negative"),
        id="fuzzing-negative",
        marks=pytest.mark.clause("NAME-02", "BODY-03", "BODY-08", "RESP-01", "RESP-02"),
    ),
)


def run_generation(
    session: SchemaSession, generation: Generation, info: Info, request: pytest.FixtureRequest
) -> None:
    session.run(generation)
    clauses = marked_clauses(request.node)
    for cid, text in session.summary(clauses, generation.label).items():
        info.record(cid, text)
    # A phase that drew no request for a clause does not pass it.
    info.exercised(*(cid for cid in clauses if session.exercised.get(cid)))
    session.raise_failures()


@pytest.mark.versions("legacy", "v2")
@pytest.mark.parametrize("generation", SPEC_PHASES)
def test_spec_examples_and_coverage_cases_get_only_answers_the_contract_allows(
    generation: Generation,
    target: Transport,
    run: Run,
    ingestion: Ingestion,
    info: Info,
    request: pytest.FixtureRequest,
) -> None:
    """EP-02, NAME-01, NAME-02, BODY-04, BODY-08, RESP-01 (MUST); BODY-07, RESP-02, RESP-03 (SHOULD): every
    request of schemathesis' examples and coverage phases (the spec's examples, then each constraint of the
    spec's view met and broken in turn) gets an answer the contract allows: a 200 is exactly {}, a refusal
    has the status of the rule it breaks, nothing is 5xx or undocumented, a 4xx is JSON; and the probe
    records sent to the run's table are ingested, or not, as the contract says."""
    session = SchemaSession(Judge(target, run.settings.profile), run.seed, ingestion)
    run_generation(session, generation, info, request)


@pytest.mark.versions("legacy", "v2")
@pytest.mark.parametrize("generation", FUZZING)
def test_fuzzed_requests_get_only_answers_the_contract_allows(
    generation: Generation, target: Transport, run: Run, info: Info, request: pytest.FixtureRequest
) -> None:
    """EP-02, NAME-01, NAME-02, BODY-03, BODY-08, RESP-01 (MUST); RESP-02 (SHOULD): every request that
    schemathesis' fuzzing phase draws from the spec's view, valid (positive mode) or not (negative mode:
    broken names, bodies of random bytes, wrong JSON types), gets an answer the contract allows."""
    session = SchemaSession(Judge(target, run.settings.profile), run.seed, None)
    run_generation(session, generation, info, request)


@pytest.mark.clause("SIZE-02")
def test_body_one_byte_over_the_spec_cap_is_rejected_with_413(
    target: Transport, run: Run, ingestion: Ingestion
) -> None:
    """SIZE-02 (MUST, v2): a body one byte longer than the spec's x-postback-max-body-bytes is answered 413
    and not ingested. The spec states the cap, but no JSON Schema keyword can check it: a custom check."""
    session = SchemaSession(Judge(target, run.settings.profile), run.seed, ingestion)
    if not session.over_cap_probe():
        pytest.skip(f"the spec's {target.version} view declares no body cap (x-postback-max-body-bytes)")
    session.raise_failures()
