"""CUT: a legacy and a v2 target compared request by request ([V2] "What's different").

CUT-01 is a differential property: requests drawn from the contract both versions share go to both targets;
hypothesis shrinks a status difference to a minimal request, and ingestion differences are decided after
the run's single settle period. CUT-02 and CUT-03 compare fixed probes outside the shared contract.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given

from conformance.contract.model import Cred
from conformance.cutover.compare import PROBES, CutoverProbe, Observed, judge
from conformance.cutover.differential import SharedRequest, shared_requests
from conformance.engine.checks import fail
from conformance.engine.comparison import Differential, ingested
from conformance.engine.context import Info, Ingestion
from conformance.engine.probes import send_shape
from conformance.engine.run import Run
from conformance.transport.client import Transport
from conformance.transport.exchange import Exchange

pytestmark = pytest.mark.cutover

CASES = [pytest.param(p, id=p.id, marks=pytest.mark.clause(p.clause)) for p in PROBES]


@pytest.mark.clause("CUT-01")
def test_both_versions_agree_on_every_request_inside_the_shared_contract(
    pair: tuple[Transport, Transport],
    pair_ingestion: tuple[Ingestion, Ingestion],
    info: Info,
    run: Run,
    request: pytest.FixtureRequest,
) -> None:
    """CUT-01 (MUST): inside the shared contract (X-TD-Write-Key in any letter case, valid names, a JSON
    object up to the cap) legacy and v2 give the same status and the same ingestion outcome."""
    differential = Differential(
        pair, pair_ingestion, run, request.node.nodeid, readback_budget=run.settings.profile.examples
    )

    @given(shared=shared_requests())
    @example(shared=SharedRequest())
    @example(shared=SharedRequest(header_name="x-td-write-key"))
    @example(shared=SharedRequest(key=Cred.UNKNOWN))
    @example(shared=SharedRequest(key=Cred.UNKNOWN, suffix="t" * 200, table_limit=200))  # 200-character table
    @example(shared=SharedRequest(size=1_000_000))  # under the v2 cap
    def both_agree(shared: SharedRequest) -> None:
        differential.check(shared)

    both_agree()
    differential.check_answered()
    info.record("CUT-01", f"{differential.sent} requests from the shared contract: the same status on both")


@pytest.mark.parametrize("probe", CASES)
def test_both_versions_answer_as_the_cutover_contract_says(
    pair: tuple[Transport, Transport],
    pair_ingestion: tuple[Ingestion, Ingestion],
    probe: CutoverProbe,
    info: Info,
    run: Run,
    request: pytest.FixtureRequest,
) -> None:
    """CUT-02 (INFO): the documented differences are confirmed. CUT-03 (INFO): other differences are risks."""
    legacy, v2 = pair
    exchanges = (send_shape(legacy, probe.for_version("legacy")), send_shape(v2, probe.for_version("v2")))
    run.record_evidence(request.node.nodeid, *exchanges)
    statuses = Observed(exchanges[0].status), Observed(exchanges[1].status)
    entries = pair_ingestion[0].observe(exchanges[0]), pair_ingestion[1].observe(exchanges[1])
    _decide(probe, statuses, exchanges, info.record)
    if entries[0] is not None and entries[1] is not None:

        def after_readback(record: Callable[[str, str], None]) -> None:
            observed = (
                Observed(statuses[0].status, ingested(entries[0])),
                Observed(statuses[1].status, ingested(entries[1])),
            )
            _decide(probe, observed, exchanges, record)

        pair_ingestion[0].after_readback(after_readback)


def _decide(
    probe: CutoverProbe,
    observed: tuple[Observed, Observed],
    exchanges: tuple[Exchange, Exchange],
    record: Callable[[str, str], None],
) -> None:
    finding = judge(probe, *observed)
    if finding.failed:
        raise fail(
            [finding.clause],
            "the same status and ingestion outcome on legacy and v2",
            finding.text,
            *exchanges,
        )
    record(finding.clause, finding.text)
