"""The cutover comparison (CUT-01..03): the same probe on a legacy and a v2 target, and what differs.

Pure: the probes are contract-model shapes, and :func:`judge` sorts two observations into a verdict with
the contract model ([V2] "What's different from the legacy Postback API").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from conformance.contract.model import (
    V2_BODY_CAP,
    Authorization,
    Body,
    Cred,
    PathShape,
    RequestShape,
    documented_difference,
    expect,
    in_shared_contract,
)


@dataclass(frozen=True)
class CutoverProbe:
    id: str
    description: str
    shape: RequestShape  # the legacy form; the v2 form differs only in its version

    def for_version(self, version: str) -> RequestShape:
        return replace(self.shape, version=version)

    @property
    def clause(self) -> str:
        if in_shared_contract(self.shape):
            return "CUT-01"
        if documented_difference(self.shape):
            return "CUT-02"
        return "CUT-03"


L = "legacy"
# Inside the shared contract (CUT-01) the comparison is a property over drawn requests
# (conformance/cutover/differential.py); these fixed probes lie outside it.
PROBES: tuple[CutoverProbe, ...] = (
    # The documented differences (CUT-02).
    CutoverProbe(
        "query-key-only",
        "?td_write_key as the only credential",
        RequestShape(L, header_key=None, query_key=Cred.VALID),
    ),
    CutoverProbe(
        "td1-only",
        "Authorization: TD1 as the only credential",
        RequestShape(L, header_key=None, authorization=Authorization("TD1", Cred.VALID)),
    ),
    CutoverProbe(
        "over-the-cap", "a body one byte over 1,048,064 bytes", RequestShape(L, body_bytes=V2_BODY_CAP + 1)
    ),
    # Outside the shared contract, undocumented: any difference is a cutover risk (CUT-03).
    CutoverProbe("no-credential", "no credential at all", RequestShape(L, header_key=None)),
    CutoverProbe("empty-key", "an empty X-TD-Write-Key", RequestShape(L, header_key=Cred.EMPTY)),
    CutoverProbe(
        "bearer-beside-header",
        "valid X-TD-Write-Key plus Authorization: Bearer",
        RequestShape(L, authorization=Authorization("Bearer", Cred.VALID)),
    ),
    CutoverProbe("json-array", "a JSON array body", RequestShape(L, body=Body.NON_OBJECT)),
    CutoverProbe("invalid-json", "a truncated JSON body", RequestShape(L, body=Body.INVALID_JSON)),
    CutoverProbe("empty-body", "an empty body", RequestShape(L, body=Body.EMPTY)),
    CutoverProbe("text-plain", "Content-Type: text/plain", RequestShape(L, content_type="text/plain")),
    CutoverProbe(
        "invalid-name",
        "a database name with a hyphen (unknown key)",
        RequestShape(L, header_key=Cred.UNKNOWN, database="bad-name"),
    ),
    CutoverProbe("extra-segment", "an extra path segment", RequestShape(L, path=PathShape.EXTRA_SEGMENT)),
    CutoverProbe("put-method", "PUT instead of POST", RequestShape(L, method="PUT")),
)


@dataclass(frozen=True)
class Observed:
    """One side's answer: the status (None: no answer) and whether the record was ingested (None: unknown)."""

    status: int | None
    ingested: bool | None = None

    def describe(self) -> str:
        status = "no answer" if self.status is None else str(self.status)
        if self.ingested is None:
            return status
        return f"{status}, {'ingested' if self.ingested else 'not ingested'}"


@dataclass(frozen=True)
class Finding:
    clause: str
    differs: bool
    failed: bool  # a CUT-01 violation
    text: str


def _conforms(shape: RequestShape, seen: Observed) -> bool:
    expectation = expect(shape)
    if seen.status not in expectation.statuses:
        return False
    if seen.ingested is None or expectation.ingest.value == "may":
        return True
    return seen.ingested == (expectation.ingest.value == "must")


def judge(probe: CutoverProbe, legacy: Observed, v2: Observed) -> Finding:
    """Sort the pair of observations of ``probe`` into CUT-01 / CUT-02 / CUT-03."""
    differs = legacy.status != v2.status or (
        legacy.ingested is not None and v2.ingested is not None and legacy.ingested != v2.ingested
    )
    both = f"legacy {legacy.describe()}; v2 {v2.describe()}"
    cid = probe.clause
    if cid == "CUT-01":
        text = f"{probe.description}: {both}" + (
            " (the shared contract says they must agree)" if differs else ""
        )
        return Finding(cid, differs, differs, text)
    if cid == "CUT-02":
        confirmed = _conforms(probe.for_version("legacy"), legacy) and _conforms(probe.for_version("v2"), v2)
        verdict = "confirmed" if confirmed else "NOT as documented"
        return Finding(
            cid,
            differs,
            False,
            f"{probe.description}: {both} - {documented_difference(probe.shape)}: {verdict}",
        )
    text = f"{probe.description}: {both}" + (
        " - cutover risk: clients see a different answer" if differs else " - same on both"
    )
    return Finding(cid, differs, False, text)
