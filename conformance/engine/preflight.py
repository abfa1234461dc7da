"""The preflight: one canary record before the first test.

Each target gets one probe record with the valid key in the run's probe table. The preflight stops the run
(one line, exit status 4, through :class:`TargetError`) only where no verdict could mean anything: no
connection, a TLS or proxy failure, throttling that never ends, the valid key refused (401/403), the probe
database missing (404), a redirect (the line says where to), or, with read-back, a 2xx canary not read back
within ``--settle``. Any other answer (another 2xx, a 4xx or 5xx, no answer at all) lets the run go on: the
tests judge it (a target answering 201 fails the response-code clauses), and the canary's answer is shown
once at the top of the terminal summary, summary.md and report.html with its likely cause
(:attr:`RunData.notices`). What a target answers when the probe database does not exist is not in the
Postback docs: a 404 (RFC 9110 section 15.5.5) or a 400 are the likely answers; a target that validates
asynchronously answers 200 and the canary never arrives, which read-back then shows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

from conformance.readback import WINDOW_SLACK, ReadbackError, RecordSource
from conformance.readback.base import poll
from conformance.transport.client import EVENT_PATH, NoConnection, TargetError, Throttled, Transport
from conformance.transport.exchange import Exchange

POLL_FIRST, POLL_MAX = 0.5, 30.0  # seconds between read-back polls, doubling (a TD read-back is a query job)
CANARY_FIELD = "conformance_canary"
PREFLIGHT_TEST = "preflight"  # the canary's test in traffic.har (it judges no clause)


def canary_notices(
    transports: Mapping[str, Transport], readbacks: Mapping[str, RecordSource], settle: float
) -> list[str]:
    """Send the canary to every target and read it back; TargetError with one clear line when nothing could
    be judged; an unexpected answer that the tests will judge becomes a notice (the run shows them)."""
    notes = [check_target(t, readbacks.get(name), settle) for name, t in transports.items()]
    return [note for note in notes if note is not None]


def check_target(transport: Transport, readback: RecordSource | None, settle: float) -> str | None:
    spec = transport.spec
    where = f"{spec.database}.{spec.table}"
    prefix = f"preflight on target {spec.name} ({spec.url}): the canary record to {where}"
    try:
        exchange = transport.post(fields={CANARY_FIELD: True})
    except (NoConnection, Throttled) as exc:
        raise TargetError(f"{prefix} could not be sent: {exc}") from None
    if exchange.response is None:
        return f"{prefix} got no answer ({exchange.error}): every test will meet the same (BODY-08)"
    status = exchange.response.status
    if status in (401, 403):
        raise TargetError(f"{prefix} was refused ({status}): the write key is not accepted ({spec.key_env})")
    if status == 404:
        raise TargetError(
            f"{prefix} was answered 404: database {spec.database!r} (--database) does not exist on the "
            "target; create it first (the suite never creates a database)"
        )
    if 300 <= status < 400:
        raise TargetError(f"{prefix} was redirected ({status}){_redirect_hint(exchange)}")
    if not 200 <= status < 300:
        return f"{prefix} was answered {status}: {_likely_cause(status)}; the tests judge it"
    note = None if status == 200 else f"{prefix} was answered {status}, not 200 (EP-01, RESP-01 judge it)"
    if readback is None or exchange.request.conformance_id is None:
        return note
    sent_at = time.time()
    if not _arrives(readback, spec.database, spec.table, exchange.request.conformance_id, settle, sent_at):
        raise TargetError(
            f"{prefix} was answered {status} but not read back within --settle {settle:g} s: check that the "
            "database exists, that the key may write to it, the read-back settings and --settle"
        )
    return note


def _likely_cause(status: int) -> str:
    if status == 400:
        return "the probe database may not exist (--database), or the target refuses a valid record"
    if status >= 500:
        return "the target failed on a valid record"
    return "a valid record was refused"


def _redirect_hint(exchange: Exchange) -> str:
    """Where a redirect points, as the --target to use (the endpoint path taken off), if it says."""
    location = exchange.response.header("location") if exchange.response else None
    if not location:
        return ": the target must answer the endpoint itself"
    base = urljoin(exchange.request.url, location)
    path = urlsplit(base).path
    at = path.find(EVENT_PATH)
    if at >= 0:
        parts = urlsplit(base)
        base = f"{parts.scheme}://{parts.netloc}{path[:at]}"
    return f" to {location}: use --target={base.rstrip('/')}"


def _arrives(
    readback: RecordSource, database: str, table: str, cid: str, settle: float, sent_at: float
) -> bool:
    """Poll read-back until the canary is there or ``settle`` seconds have passed (at least one look).

    Each look is restricted to the time around the send (a td read-back needs a window, as the run's own
    read-back: the canary's ``time`` is its receive time, within WINDOW_SLACK of ``sent_at``)."""

    def look(_: float) -> bool:
        window = (int(sent_at - WINDOW_SLACK), int(time.time() + WINDOW_SLACK))
        try:
            return bool(readback.records(database, table, [cid], window))
        except ReadbackError as exc:
            raise TargetError(f"preflight: {exc}") from None

    return poll(look, time.monotonic() + settle, POLL_FIRST, POLL_MAX)
