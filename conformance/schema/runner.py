"""Running schemathesis' phases against one target through the suite's transport, and collecting failures.

One :class:`SchemaSession` per test: it sends every case of one phase, decides each answer
(:mod:`conformance.schema.judge`), registers read-back expectations for the probe records that land in the
run's table, and turns what failed into :class:`ConformanceFailure` s, bounded in number.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

from conformance.contract.catalog import Version
from conformance.contract.model import Body, Cred, Ingest, PathShape, is_valid_name
from conformance.contract.profile import Profile
from conformance.contract.spec import body_cap
from conformance.engine.checks import ConformanceFailure
from conformance.engine.context import Ingestion
from conformance.engine.probes import padded_record
from conformance.schema.judge import Judge, Verdict
from conformance.schema.loader import Generation, load_operation, phase_test
from conformance.schema.wire import BASE_URL, NotSendable, WireRequest, to_wire
from conformance.transport.client import event_path

MAX_REPORTED = 8  # distinct failures shown per test (every violated clause is shown at least once)
STOP_AFTER = 40  # failing requests after which a phase stops sending (a broken target; stay polite)
SILENT_AFTER = 3  # requests in a row without an answer after which a phase stops (each waits the timeout)
DESCRIPTION_CHARS = 160


def describe_case(case: Any, generation: Generation) -> str:
    """The schemathesis phase, mode and scenario of a case, on one line."""
    meta = case.meta
    if meta is None:
        return f"schemathesis {generation.phase} phase"
    data = meta.phase.data
    text = " ".join(str(getattr(data, "description", "") or "").replace("\n", " ").split())
    if len(text) > DESCRIPTION_CHARS:
        text = text[: DESCRIPTION_CHARS - 1] + "…"
    scenario = f": {text}" if text else ""
    return f"schemathesis {generation.phase} phase, {meta.generation.mode.value} case{scenario}"


class SchemaSession:
    """The schema layer against one target: send, decide, read back, collect."""

    def __init__(self, judge: Judge, seed: int, ingestion: Ingestion | None) -> None:
        self.judge = judge
        self.target = judge.target
        self.seed = seed
        self.ingestion = ingestion
        self.sent = 0
        self.skipped: Counter[str] = Counter()
        self.exercised: Counter[str] = Counter()
        self.groups: dict[tuple[tuple[str, ...], str], list[ConformanceFailure]] = {}
        self.failing = 0
        self.silent = 0

    @property
    def profile(self) -> Profile:
        return self.judge.profile

    # -- the phases ----------------------------------------------------------------------------------------
    def run(self, generation: Generation) -> None:
        spec = self.target.spec
        version = cast(Version, self.judge.version)
        operation = load_operation(
            version, spec.database, spec.table, self.seed, self.profile, generation.mode
        )

        def run_case(case: Any) -> None:
            self.run_case(case, generation)

        phase_test(operation, generation.phase, self.seed, run_case)()

    def run_case(self, case: Any, generation: Generation) -> None:
        if self.failing >= STOP_AFTER or self.silent >= SILENT_AFTER:
            why = (
                f"{STOP_AFTER} requests had failed"
                if self.failing >= STOP_AFTER
                else "the target stopped answering"
            )
            self.skipped[f"not sent: {why}"] += 1
            return
        try:
            wire = to_wire(case.as_transport_kwargs(base_url=BASE_URL), self.target.ids)
        except NotSendable as exc:
            self.skipped[f"not sent: {exc}"] += 1
            return
        credential = self.judge.credential_for(wire)
        exchange = self.judge.send(wire, credential)
        self.record(
            wire,
            credential,
            self.judge.decide(case, wire, credential, exchange),
            describe_case(case, generation),
        )

    # -- the suite's own probe: what the spec states but its JSON Schema cannot check ---------------------
    def over_cap_probe(self) -> bool:
        """SIZE-02: one byte over ``x-postback-max-body-bytes`` is answered 413; False without a cap."""
        cap = body_cap(cast(Version, self.judge.version))
        if cap is None:
            return False
        spec = self.target.spec
        cid = self.target.ids.next()
        body = padded_record(cid, cap + 1)
        wire = WireRequest(
            "POST",
            event_path(spec.database, spec.table),
            (),
            (("Content-Type", "application/json"),),
            body,
            cid,
            PathShape.OK,
            spec.database,
            spec.table,
            "application/json",
            Body.OBJECT,
        )
        note = f"a JSON probe record padded to {len(body):,} bytes (the spec's cap {cap:,} + 1)"
        exchange = self.judge.send(wire, Cred.VALID, body_note=note)
        self.record(
            wire,
            Cred.VALID,
            self.judge.decide(None, wire, Cred.VALID, exchange),
            f"x-postback-max-body-bytes is {cap:,}: {note}",
        )
        return True

    # -- bookkeeping ---------------------------------------------------------------------------------------
    def record(self, wire: WireRequest, credential: Cred, verdict: Verdict, context: str) -> None:
        self.sent += 1
        status = verdict.exchange.status
        self.silent = self.silent + 1 if verdict.exchange.response is None else 0
        touched = ["BODY-08", *verdict.expectation.status_clauses]
        if wire.path is PathShape.OK and (wire.database, wire.table) != self.judge.names:
            lengths = range(self.profile.name_min, self.profile.name_max + 1)
            if all(is_valid_name(n) and len(n) in lengths for n in (wire.database, wire.table)):
                touched.append("NAME-01")  # generated valid names of the lengths the profile allows
        if wire.method == "POST":
            touched.append("RESP-01")
        if status == 200:
            touched.append("EP-02")
        if status is not None and 400 <= status < 500:
            touched.append("RESP-02")
        self.exercised.update(list(dict.fromkeys(touched)))
        self.read_back(wire, credential, verdict)
        failure = verdict.failure(context)
        if failure is not None:
            self.failing += 1
            self.groups.setdefault((failure.clauses, verdict.exchange.outcome()), []).append(failure)

    def read_back(self, wire: WireRequest, credential: Cred, verdict: Verdict) -> None:
        """Probe records sent with the valid key to the run's table: ingested or not, as the contract says."""
        if (
            self.ingestion is None
            or wire.conformance_id is None
            or credential is not Cred.VALID
            or wire.path is not PathShape.OK
            or (wire.database, wire.table) != self.judge.names
            or verdict.expectation.ingest is Ingest.MAY
        ):
            return
        self.ingestion.expect_outcome(verdict.exchange, verdict.expectation)

    def summary(self, clauses: tuple[str, ...], label: str) -> dict[str, str]:
        """For each clause: how many of this test's requests exercised it (shown beside its verdict)."""
        skipped = sum(self.skipped.values())
        tail = f" ({skipped} generated cases not sent)" if skipped else ""
        out = {}
        for cid in clauses:
            count = self.exercised.get(cid, 0)
            out[cid] = (
                f"schemathesis {label}: {count} of {self.sent} requests exercised it{tail}"
                if count
                else f"schemathesis {label}: no request of this seed exercised it"
            )
        return out

    def failures(self) -> list[ConformanceFailure]:
        """One failure per kind (clauses, answer), with a count; every violated clause at least once."""
        chosen: list[ConformanceFailure] = []
        shown: set[str] = set()
        for group in self.groups.values():
            first = group[0]
            if len(chosen) >= MAX_REPORTED and set(first.clauses) <= shown:
                continue
            received = first.received
            if len(group) > 1:
                received += f" (and {len(group) - 1} more generated request(s) like it)"
            chosen.append(ConformanceFailure(first.clauses, first.expected, received, first.exchanges))
            shown.update(first.clauses)
        return chosen

    def raise_failures(self) -> None:
        failures = self.failures()
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ExceptionGroup(
                f"{self.failing} of {self.sent} requests got answers the contract does not allow", failures
            )
