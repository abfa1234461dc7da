"""The preflight (issue 11, "Safe on a real account"): one canary record before the first test.

Each target gets one probe record with the valid key in the run's probe table. It must be answered 200
and, with read-back, be read back within ``--settle``; otherwise the run stops before any test with one
line saying what to fix (the plugin turns the :class:`TargetError` into a usage error: exit status 4).
What a target answers when the probe database does not exist is not in the Postback docs: a 404 (the
resource is not there, RFC 9110 section 15.5.5) or a 400 are the likely answers; a target that validates
asynchronously answers 200 and the canary never arrives, which read-back then shows.
"""

from __future__ import annotations

import time

from conformance import traffic
from conformance.plugin.session import Run
from conformance.readback import WINDOW_SLACK, ReadbackError, RecordSource
from conformance.transport.client import NoConnection, TargetError, Throttled, Transport

POLL_FIRST, POLL_MAX = 0.5, 30.0  # seconds between read-back polls, doubling (a TD read-back is a query job)
CANARY_FIELD = "conformance_canary"
PREFLIGHT_TEST = "preflight"  # the canary's test in traffic.har (it judges no clause)


def run_preflight(run: Run) -> None:
    """Send the canary to every target and read it back; TargetError with one clear line on failure."""
    traffic.CURRENT.set(PREFLIGHT_TEST, ())
    try:
        for name, transport in run.transports.items():
            check_target(transport, run.ledger.readbacks.get(name), run.settings.settle)
    finally:
        traffic.CURRENT.clear()


def check_target(transport: Transport, readback: RecordSource | None, settle: float) -> None:
    spec = transport.spec
    where = f"{spec.database}.{spec.table}"
    prefix = f"preflight on target {spec.name} ({spec.url}): the canary record to {where}"
    try:
        exchange = transport.post(fields={CANARY_FIELD: True})
    except (NoConnection, Throttled) as exc:
        raise TargetError(f"{prefix} could not be sent: {exc}") from None
    if exchange.response is None:
        raise TargetError(f"{prefix} got no answer: {exchange.error}")
    status = exchange.response.status
    if status in (401, 403):
        raise TargetError(f"{prefix} was refused ({status}): the write key is not accepted ({spec.key_env})")
    if status == 404:
        raise TargetError(
            f"{prefix} was answered 404: database {spec.database!r} (--database) does not exist on the "
            "target; create it first (the suite never creates a database)"
        )
    if status != 200:
        raise TargetError(
            f"{prefix} was answered {status}: check that database {spec.database!r} exists and that "
            f"--database/--table name it"
        )
    if readback is None or exchange.request.conformance_id is None:
        return
    sent_at = time.time()
    if not _arrives(readback, spec.database, spec.table, exchange.request.conformance_id, settle, sent_at):
        raise TargetError(
            f"{prefix} was answered 200 but not read back within --settle {settle:g} s: check that the "
            "database exists, that the key may write to it, the read-back settings and --settle"
        )


def _arrives(
    readback: RecordSource, database: str, table: str, cid: str, settle: float, sent_at: float
) -> bool:
    """Poll read-back until the canary is there or ``settle`` seconds have passed (at least one look).

    Each look is restricted to the time around the send (a td read-back needs a window, as the run's own
    read-back: the canary's ``time`` is its receive time, within WINDOW_SLACK of ``sent_at``)."""
    end = time.monotonic() + settle
    interval = POLL_FIRST
    while True:
        window = (int(sent_at - WINDOW_SLACK), int(time.time() + WINDOW_SLACK))
        try:
            if readback.records(database, table, [cid], window):
                return True
        except ReadbackError as exc:
            raise TargetError(f"preflight: {exc}") from None
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(interval, left))
        interval = min(interval * 2, POLL_MAX)
