"""CUT: a legacy and a v2 target compared request by request ([V2] "What's different")."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.checks import fail
from conformance.cutover.compare import PROBES, CutoverProbe, Observed, judge
from conformance.plugin.fixtures import Info
from conformance.plugin.readback_items import Ingestion
from conformance.plugin.session import Run
from conformance.probes import send_shape
from conformance.readback import Expected
from conformance.transport.client import Transport
from conformance.transport.exchange import Exchange

pytestmark = pytest.mark.cutover

CASES = [pytest.param(p, id=p.id, marks=pytest.mark.clause(p.clause)) for p in PROBES]


def _ingested(entry: Expected | None) -> bool | None:
    return None if entry is None else bool(entry.records)


@pytest.mark.parametrize("probe", CASES)
def test_both_versions_answer_as_the_cutover_contract_says(
    pair: tuple[Transport, Transport],
    pair_ingestion: tuple[Ingestion, Ingestion],
    probe: CutoverProbe,
    info: Info,
    run: Run,
    request: pytest.FixtureRequest,
) -> None:
    """CUT-01 (MUST): inside the shared contract both give the same status and ingestion outcome.
    CUT-02 (INFO): the documented differences are confirmed. CUT-03 (INFO): other differences are risks."""
    legacy, v2 = pair
    exchanges = (send_shape(legacy, probe.for_version("legacy")), send_shape(v2, probe.for_version("v2")))
    run.record_evidence(request.node.nodeid, *exchanges)
    statuses = Observed(exchanges[0].status), Observed(exchanges[1].status)
    entries = pair_ingestion[0].observe(exchanges[0]), pair_ingestion[1].observe(exchanges[1])
    _decide(probe, statuses, exchanges, info.record)
    if entries[0] is not None and entries[1] is not None:

        def after_readback(record: Callable[[str, str], None]) -> None:
            observed = (
                Observed(statuses[0].status, _ingested(entries[0])),
                Observed(statuses[1].status, _ingested(entries[1])),
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
