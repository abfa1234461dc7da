"""RESP: answers in general ([L] Response; [V2]; the published OpenAPI files; RFC 9110).

RESP-01 and RESP-02 look at the answers to a spread of POSTs of every kind (valid, bad names, bad bodies, odd
credentials and media types, oversized), listed and generated. RESP-01 names a status only when it is
outside every status the contract allows; a status that is allowed but wrong for the request is the business
of the clause that decides that request (its own module), so it is left alone here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conformance.contract.model import (
    V2_BODY_CAP,
    Authorization,
    Body,
    Cred,
    Ingest,
    PathShape,
    RequestShape,
    allowed_statuses,
    expect,
)
from conformance.contract.profile import Profile
from conformance.engine.checks import ConformanceFailure, check_status, fail
from conformance.engine.context import Info, Ingestion
from conformance.engine.probes import on_target, send_shape
from conformance.transport.client import Transport
from conformance.transport.credentials import Credentials
from conformance.transport.exchange import Exchange

pytestmark = pytest.mark.responses

LONG_NAME = "n" * 1024  # NAME-05 measures it; any answer but an undocumented status is fine here


@dataclass(frozen=True)
class Post:
    """One POST on the endpoint path, described abstractly (credentials by kind, never a key)."""

    credentials: Credentials = field(default_factory=Credentials)
    database: str | None = None
    table: str | None = None
    path: PathShape = PathShape.OK
    body: Body = Body.OBJECT
    content_type: str | None = "application/json"
    oversized: bool = False  # a probe record over the v2 cap (SIZE-02 on v2, SIZE-07 on legacy)
    chunked: bool = False

    def send(self, target: Transport) -> tuple[Exchange, RequestShape]:
        """Send it to ``target`` as the engine sends any request shape (``probes.send_shape``: the run's
        names, a body of its kind carrying a conformance_id, and to other names a well-formed unknown key
        instead of the valid one, docs/contract.md "Probe records"); the exchange, and the shape judged: it
        keeps the valid key, as EP-05 has the unknown key answered alike, so the statuses the model allows
        are the same and RESP-01 blames the same clauses."""
        sent = on_target(target, self.shape(target.version))
        return send_shape(target, sent), replace(sent, **self.credentials.shape_fields())

    def shape(self, version: str) -> RequestShape:
        defaults = RequestShape(version)
        return RequestShape(
            version,
            database=self.database if self.database is not None else defaults.database,
            table=self.table if self.table is not None else defaults.table,
            path=self.path,
            content_type=self.content_type,
            body=self.body,
            body_bytes=V2_BODY_CAP + 1 if self.oversized else defaults.body_bytes,
            chunked=self.chunked,
            **self.credentials.shape_fields(),
        )


NO_KEY = Credentials(header=None)
POSTS = [
    pytest.param(Post(), id="valid"),
    pytest.param(Post(Credentials(header=Cred.UNKNOWN)), id="unknown-key"),
    pytest.param(Post(Credentials(header=Cred.MALFORMED)), id="malformed-key"),
    pytest.param(Post(Credentials(header=Cred.EMPTY)), id="empty-key"),
    pytest.param(Post(NO_KEY), id="no-credential"),
    pytest.param(Post(Credentials(header=None, query=Cred.VALID)), id="url-key-only"),
    pytest.param(Post(Credentials(header=None, authorization=Authorization("Bearer"))), id="bearer-only"),
    pytest.param(Post(database="bad-name"), id="database-with-hyphen"),
    pytest.param(Post(table="t/x"), id="table-with-encoded-slash"),
    pytest.param(Post(database="caf\u00e9"), id="database-non-ascii"),
    pytest.param(Post(database=LONG_NAME), id="database-1024-characters"),
    pytest.param(Post(path=PathShape.EMPTY_SEGMENT), id="empty-path-segment"),
    pytest.param(Post(path=PathShape.EXTRA_SEGMENT), id="extra-path-segment"),
    pytest.param(Post(body=Body.INVALID_JSON), id="invalid-json"),
    pytest.param(Post(body=Body.NON_OBJECT), id="json-array"),
    pytest.param(Post(body=Body.EMPTY), id="empty-body"),
    pytest.param(Post(body=Body.INVALID_UTF8), id="invalid-utf8"),
    pytest.param(Post(content_type="text/plain"), id="text-plain"),
    pytest.param(Post(content_type="application/x-www-form-urlencoded"), id="form-urlencoded"),
    pytest.param(Post(content_type=None), id="no-content-type"),
    pytest.param(Post(content_type="Application/JSON; charset=utf-8"), id="json-with-charset"),
    pytest.param(
        Post(NO_KEY, database="bad-name", body=Body.NON_OBJECT, content_type="text/plain"),
        id="everything-wrong",
    ),
    pytest.param(Post(oversized=True), id="oversized"),
    pytest.param(Post(oversized=True, chunked=True), id="oversized-chunked"),
    pytest.param(Post(NO_KEY, oversized=True, content_type="text/plain"), id="oversized-no-key-text"),
]
# RFC 9110 section 15.5.6: a method the resource does not support.
METHODS = [pytest.param(m, id=m.lower()) for m in ("PUT", "PATCH", "DELETE")]


def _send(post: Post, target: Transport) -> tuple[Exchange, RequestShape]:
    """Send ``post``; over v2's cap on legacy too, where RESP-01 allows what SIZE-07 allows (413 included)."""
    return post.send(target)


def resp01_failure(exchange: Exchange, shape: RequestShape, profile: Profile) -> ConformanceFailure | None:
    """RESP-01: the status is one the contract allows a POST on this version at all.

    A status outside that set is also outside what the request's own clauses allow: they are named too, unless
    the contract leaves the request's outcome open (then RESP-01 alone judges it).
    No answer at all is BODY-08's (an answer within the timeout, on an open connection).
    """
    if exchange.response is None:
        return fail(["BODY-08"], "an HTTP answer", f"no answer: {exchange.error}", exchange)
    allowed = allowed_statuses(shape.version, profile, shape.body_bytes)
    status = exchange.response.status
    if status in allowed:
        return None
    expectation = expect(shape, profile)
    clauses = ["RESP-01"]
    if status not in expectation.statuses and expectation.ingest is not Ingest.MAY:
        # The request's own clauses decide it (where the contract leaves it open, only RESP-01 speaks).
        clauses += expectation.status_clauses
    listed = ", ".join(str(s) for s in sorted(allowed))
    return fail(
        clauses,
        f"a status the {shape.version} contract allows ({listed}); for this request {expectation.describe()}",
        f"status {status}",
        exchange,
    )


def resp02_failure(exchange: Exchange) -> ConformanceFailure | None:
    """RESP-02: a 4xx answer is ``application/json`` (media type, any parameters) with a JSON body."""
    response = exchange.response
    if response is None or not 400 <= response.status < 500:
        return None
    if response.media_type != "application/json":
        return fail(
            ["RESP-02"],
            f"a {response.status} answer with Content-Type application/json",
            f"Content-Type {response.header('content-type')!r}",
            exchange,
        )
    try:
        json.loads(response.body)
    except ValueError:
        return fail(
            ["RESP-02"],
            f"a {response.status} answer with a JSON body",
            f"a body that is not JSON: {response.body[:120]!r}",
            exchange,
        )
    return None


@pytest.mark.clause("RESP-01")
@pytest.mark.parametrize("post", POSTS)
def test_every_post_answer_has_a_status_the_contract_allows(
    target: Transport, post: Post, profile: Profile
) -> None:
    """RESP-01 (MUST): the answer to a POST on the endpoint has a status the contract allows."""
    exchange, shape = _send(post, target)
    if (failure := resp01_failure(exchange, shape, profile)) is not None:
        raise failure


@pytest.mark.clause("RESP-02")
@pytest.mark.parametrize("post", POSTS)
def test_every_4xx_answer_to_a_post_is_json(target: Transport, post: Post) -> None:
    """RESP-02 (SHOULD): a 4xx answer has media type application/json and a JSON body."""
    exchange, _ = _send(post, target)
    if (failure := resp02_failure(exchange)) is not None:
        raise failure


@pytest.mark.clause("RESP-02")
@pytest.mark.parametrize("method", [*METHODS, pytest.param("GET", id="get")])
def test_every_4xx_answer_to_another_method_is_json(target: Transport, method: str) -> None:
    """RESP-02 (SHOULD): a 4xx answer to another method on the endpoint is application/json, a JSON body."""
    exchange = (
        target.post(method=method)
        if method != "GET"
        else target.post(method="GET", body=b"", content_type=None)
    )
    if (failure := resp02_failure(exchange)) is not None:
        raise failure


@st.composite
def posts(draw: st.DrawFn) -> Post:
    """Any combination of credential, names, path, body, media type and size: the errors pile up."""
    credentials = draw(
        st.sampled_from(
            [
                Credentials(),
                Credentials(header=Cred.UNKNOWN),
                Credentials(header=Cred.MALFORMED),
                Credentials(header=Cred.EMPTY),
                NO_KEY,
                Credentials(header=None, query=Cred.VALID),
                Credentials(header=Cred.MALFORMED, authorization=Authorization("TD1", Cred.VALID)),
                Credentials(header=None, authorization=Authorization("Basic", Cred.VALID)),
            ]
        )
    )
    names = st.sampled_from(
        [None, "a-b", "a.b", "a b", "\u00df", "\uff15", "\u212a", "a\n", "a\x00", "a/b", LONG_NAME]
    )
    return Post(
        credentials=credentials,
        database=draw(names),
        table=draw(names),
        path=draw(st.sampled_from(list(PathShape))),
        body=draw(st.sampled_from([b for b in Body if b is not Body.STRESS])),
        content_type=draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/json; charset=utf-8",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "application/xml",
                    None,
                ]
            )
        ),
        oversized=draw(st.booleans()),
        chunked=draw(st.booleans()),
    )


@pytest.mark.clause("RESP-01", "RESP-02")
@given(post=posts())
@example(post=Post(body=Body.INVALID_JSON))  # a 4xx on every run (RESP-02 judges only 4xx answers)
def test_generated_posts_get_allowed_statuses_and_json_errors(
    target: Transport, profile: Profile, post: Post
) -> None:
    """RESP-01 (MUST), RESP-02 (SHOULD): any mix of faults gets an allowed status, and a 4xx is JSON."""
    if target.version != "v2":
        post = replace(post, oversized=False)  # the listed posts cover legacy's large bodies (SIZE-07)
    exchange, shape = post.send(target)
    failures = [
        f for f in (resp01_failure(exchange, shape, profile), resp02_failure(exchange)) if f is not None
    ]
    if len(failures) > 1:
        raise ExceptionGroup("RESP-01 and RESP-02", failures)
    if failures:
        raise failures[0]


@pytest.mark.clause("RESP-03")
@pytest.mark.parametrize("method", METHODS)
def test_other_methods_are_refused_and_ingest_nothing(
    target: Transport, ingestion: Ingestion, method: str, profile: Profile
) -> None:
    """RESP-03 (SHOULD): PUT, PATCH, DELETE with a probe record are answered 404 or 405 and not ingested."""
    expectation = expect(RequestShape(target.version, method=method), profile)
    exchange = target.post(method=method)
    ingestion.expect_outcome(exchange, expectation)
    check_status(exchange, expectation.statuses, expectation.status_clauses, f" ({method} on the endpoint)")


@pytest.mark.clause("RESP-03")
@pytest.mark.versions("v2")
def test_get_on_v2_is_refused(target: Transport, profile: Profile) -> None:
    """RESP-03 (SHOULD): GET on the v2 endpoint is answered 404 or 405."""
    expectation = expect(RequestShape(target.version, method="GET"), profile)
    exchange = target.post(method="GET", body=b"", content_type=None)
    check_status(exchange, expectation.statuses, expectation.status_clauses, " (GET on the v2 endpoint)")


@pytest.mark.clause("RESP-03")
@pytest.mark.versions("legacy")
def test_get_on_legacy_is_reported(target: Transport, info: Info) -> None:
    """RESP-03 (INFO part): GET on legacy is the deprecated pixel form; its answer is reported, not judged."""
    exchange = target.post(method="GET", body=b"", content_type=None)
    media = exchange.response.media_type if exchange.response is not None else None
    info.record(
        "RESP-03",
        f"GET on the legacy endpoint (no body): {exchange.outcome()}" + (f", {media}" if media else ""),
    )
