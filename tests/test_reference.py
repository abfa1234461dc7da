"""Self-tests of the embedded reference target (conformance.reference), seen from the outside over HTTP.

The reference target is the suite's demo target and the base of its mutants, so it must satisfy every clause
of docs/requirements.md (CUT clauses aside: they compare two targets). Each test names the clause(s) it
covers.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from conformance.reference.app import V2_BODY_CAP, PostbackApp
from conformance.reference.cli import main
from conformance.reference.server import ReferenceServer
from conformance.reference.store import Store

REPO_ROOT = Path(__file__).resolve().parent.parent
KEY = "1/" + secrets.token_hex(20)
UNKNOWN_KEY = "1/" + secrets.token_hex(20)
DB = "refdb"
JSON = {"content-type": "application/json"}
VERSIONS = [pytest.param("legacy", id="legacy"), pytest.param("v2", id="v2")]
# One TLS context shared by all clients: httpx builds one (~50 ms) per client otherwise. Targets are http.
_TLS = ssl.create_default_context()


# --------------------------------------------------------------------------------------------------- helpers


def new_client(base_url: str = "") -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10, verify=_TLS)


def new_id() -> str:
    return "reftest-" + uuid.uuid4().hex


def new_table() -> str:
    return "t_" + uuid.uuid4().hex[:16]


def event_path(database: str = DB, table: str = "t") -> str:
    return f"/postback/v3/event/{database}/{table}"


def probe(**fields: Any) -> tuple[str, bytes]:
    """A JSON object body carrying a fresh conformance_id (plus ``fields``), and that id."""
    cid = new_id()
    return cid, json.dumps({"conformance_id": cid, **fields}).encode()


def sized_body(size: int, cid: str) -> bytes:
    """A JSON object of exactly ``size`` bytes carrying ``cid``."""
    head = json.dumps({"conformance_id": cid, "pad": ""}).encode()
    return head[:-2] + b"x" * (size - len(head)) + head[-2:]


def readback(server: ReferenceServer, table: str, ids: list[str] | None = None, db: str = DB) -> list[Any]:
    params: list[tuple[str, str | int | float | bool | None]] = [("database", db), ("table", table)]
    params += [("conformance_id", cid) for cid in ids or []]
    with new_client() as http:
        response = http.get(server.readback_url + "/records", params=params)
    assert response.status_code == 200
    records: list[Any] = response.json()["records"]
    return records


def local_port(response: httpx.Response) -> int:
    """The client-side port of the connection that carried ``response``."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


def post(
    client: httpx.Client, path: str, body: Any, headers: dict[str, str] | None = None, ctype: bool = True
) -> httpx.Response:
    all_headers = {**(JSON if ctype else {}), **(headers or {})}
    response = client.post(path, content=body, headers=all_headers)
    assert response.request.url.raw_path.split(b"?")[0] == path.split("?")[0].encode()  # sent as written
    return response


def assert_json_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert isinstance(payload, dict)
    assert set(payload) == {"error", "message"}
    assert KEY not in response.text


# -------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ReferenceServer]]:
    with ReferenceServer("legacy", [KEY]) as legacy, ReferenceServer("v2", [KEY]) as v2:
        yield {"legacy": legacy, "v2": v2}


@pytest.fixture(params=VERSIONS)
def server(request: pytest.FixtureRequest, servers: dict[str, ReferenceServer]) -> ReferenceServer:
    chosen: ReferenceServer = servers[request.param]
    return chosen


@pytest.fixture
def legacy(servers: dict[str, ReferenceServer]) -> ReferenceServer:
    return servers["legacy"]


@pytest.fixture
def v2(servers: dict[str, ReferenceServer]) -> ReferenceServer:
    return servers["v2"]


@pytest.fixture
def client(server: ReferenceServer) -> Iterator[httpx.Client]:
    with new_client(server.url) as http:
        yield http


@pytest.fixture
def legacy_client(legacy: ReferenceServer) -> Iterator[httpx.Client]:
    with new_client(legacy.url) as http:
        yield http


@pytest.fixture
def v2_client(v2: ReferenceServer) -> Iterator[httpx.Client]:
    with new_client(v2.url) as http:
        yield http


# ------------------------------------------------------------------------------------ EP: the success answer


def test_a_valid_request_is_answered_200_and_stored_exactly_once(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """EP-01, AUTH-01: a valid request is accepted and ingested once."""
    cid, body = probe(param1="value1", param2=1234)
    response = post(client, event_path(), body, {"X-TD-Write-Key": KEY})
    assert response.status_code == 200
    records = readback(server, "t", [cid])
    assert len(records) == 1
    assert records[0]["param1"] == "value1"
    assert records[0]["param2"] == 1234


def test_the_success_answer_is_an_empty_json_object_with_content_length_2(client: httpx.Client) -> None:
    """EP-02, EP-04: 200, application/json, body exactly {}, Content-Length 2, HSTS max-age 31536000."""
    _, body = probe()
    response = post(client, event_path(), body, {"x-td-write-key": KEY})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b"{}"
    assert response.headers["content-length"] == "2"
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert "server" not in response.headers


def test_twenty_requests_are_all_answered_on_one_connection(client: httpx.Client) -> None:
    """EP-03: the connection persists for 20 successive valid requests."""
    ports = set()
    for _ in range(20):
        _, body = probe()
        response = post(client, event_path(), body, {"x-td-write-key": KEY})
        assert response.status_code == 200
        ports.add(local_port(response))
    assert len(ports) == 1


def test_the_connection_persists_after_every_kind_of_error_answer(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """EP-03, RESP-01: 400, 403, 404, 405, 415 (and 413 on v2) answers keep the connection open."""
    _, body = probe()
    key = {"x-td-write-key": KEY}
    answers = [
        post(client, event_path("a-b"), body, key),
        post(client, event_path(), body, {}),
        post(client, "/postback/v3/event/d", body, key),
        client.put(event_path(), content=body, headers={**JSON, **key}),
        post(client, event_path(), body, {**key, "content-type": "text/plain"}),
        post(client, event_path(), b"[1]", key),
    ]
    if server.app.version == "v2":
        answers.append(post(client, event_path(), b"x" * (V2_BODY_CAP + 1), key))
    answers.append(post(client, event_path(), body, key))
    assert [a.status_code for a in answers][-1] == 200
    assert len({local_port(a) for a in answers}) == 1
    assert all("close" not in a.headers.get("connection", "") for a in answers)


def test_a_well_formed_unknown_key_is_answered_200_but_not_stored(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """EP-05, AUTH-08: key validity is not decided synchronously; an unknown key never ingests."""
    cid, body = probe()
    response = post(client, event_path(), body, {"x-td-write-key": UNKNOWN_KEY})
    assert response.status_code == 200
    assert response.content == b"{}"
    assert readback(server, "t", [cid]) == []


# ----------------------------------------------------------------------------------------- AUTH: credentials


@pytest.mark.parametrize(
    "header_name",
    [
        pytest.param("X-TD-Write-Key", id="canonical"),
        pytest.param("x-td-write-key", id="lower"),
        pytest.param("X-TD-WRITE-KEY", id="upper"),
        pytest.param("x-Td-wRiTe-KeY", id="mixed"),
    ],
)
def test_the_write_key_header_name_is_case_insensitive(
    server: ReferenceServer, client: httpx.Client, header_name: str
) -> None:
    """AUTH-01, AUTH-02: X-TD-Write-Key works in any case."""
    cid, body = probe()
    assert post(client, event_path(), body, {header_name: KEY}).status_code == 200
    assert len(readback(server, "t", [cid])) == 1


def test_the_legacy_query_key_alone_is_accepted_url_encoded(
    legacy: ReferenceServer, legacy_client: httpx.Client
) -> None:
    """AUTH-03: ?td_write_key=<key with / sent as %2F> alone is accepted on legacy."""
    cid, body = probe()
    path = event_path() + "?td_write_key=" + quote(KEY, safe="")
    assert "%2F" in path
    assert post(legacy_client, path, body).status_code == 200
    assert len(readback(legacy, "t", [cid])) == 1


@pytest.mark.parametrize(
    ("header_key", "query_key", "stored"),
    [
        pytest.param(KEY, UNKNOWN_KEY, True, id="header-valid-query-invalid"),
        pytest.param(UNKNOWN_KEY, KEY, False, id="header-invalid-query-valid"),
    ],
)
def test_on_legacy_the_header_wins_over_the_query_key(
    legacy: ReferenceServer, legacy_client: httpx.Client, header_key: str, query_key: str, stored: bool
) -> None:
    """AUTH-04: legacy precedence: X-TD-Write-Key over ?td_write_key."""
    cid, body = probe()
    path = event_path() + "?td_write_key=" + quote(query_key, safe="")
    assert post(legacy_client, path, body, {"x-td-write-key": header_key}).status_code == 200
    assert len(readback(legacy, "t", [cid])) == (1 if stored else 0)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(f"TD1 {KEY}", id="TD1"),
        pytest.param(f"td1 {KEY}", id="lowercase-scheme"),
        pytest.param(f"Td1   {KEY}", id="several-spaces"),
    ],
)
def test_on_v2_a_td1_authorization_alone_is_accepted(
    v2: ReferenceServer, v2_client: httpx.Client, authorization: str
) -> None:
    """AUTH-05, AUTH-10: Authorization: TD1 <key> alone is accepted; the scheme is case-insensitive."""
    cid, body = probe()
    assert post(v2_client, event_path(), body, {"Authorization": authorization}).status_code == 200
    assert len(readback(v2, "t", [cid])) == 1


@pytest.mark.parametrize(
    ("td1_key", "header_key", "stored"),
    [
        pytest.param(KEY, UNKNOWN_KEY, True, id="td1-valid-header-invalid"),
        pytest.param(UNKNOWN_KEY, KEY, False, id="td1-invalid-header-valid"),
    ],
)
def test_on_v2_authorization_wins_over_the_write_key_header(
    v2: ReferenceServer, v2_client: httpx.Client, td1_key: str, header_key: str, stored: bool
) -> None:
    """AUTH-06: v2 precedence: Authorization: TD1 over X-TD-Write-Key."""
    cid, body = probe()
    headers = {"authorization": f"TD1 {td1_key}", "x-td-write-key": header_key}
    assert post(v2_client, event_path(), body, headers).status_code == 200
    assert len(readback(v2, "t", [cid])) == (1 if stored else 0)


@pytest.mark.parametrize(
    ("td1_key", "header_key", "stored"),
    [
        pytest.param(KEY, UNKNOWN_KEY, True, id="td1-valid-header-invalid"),
        pytest.param(UNKNOWN_KEY, KEY, False, id="td1-invalid-header-valid"),
    ],
)
@pytest.mark.parametrize("authorization_first", [False, True], ids=["header-first", "authorization-first"])
def test_on_v2_authorization_wins_whichever_field_comes_first(
    v2: ReferenceServer,
    v2_client: httpx.Client,
    td1_key: str,
    header_key: str,
    stored: bool,
    authorization_first: bool,
) -> None:
    """AUTH-06: the order of the Authorization and X-TD-Write-Key field lines does not matter."""
    cid, body = probe()
    fields = [("x-td-write-key", header_key), ("authorization", f"TD1 {td1_key}")]
    fields = fields[::-1] if authorization_first else fields
    response = v2_client.post(event_path(), content=body, headers=[*JSON.items(), *fields])
    assert response.status_code == 200
    assert len(readback(v2, "t", [cid])) == (1 if stored else 0)


@pytest.mark.parametrize(("first", "stored"), [(KEY, True), (UNKNOWN_KEY, False)], ids=["valid", "unknown"])
def test_of_two_x_td_write_key_fields_the_first_decides(
    server: ReferenceServer, client: httpx.Client, first: str, stored: bool
) -> None:
    """BODY-08 (reported): two X-TD-Write-Key field lines get 200; the reference acts on the first."""
    cid, body = probe()
    second = UNKNOWN_KEY if first == KEY else KEY
    fields = [("x-td-write-key", first), ("x-td-write-key", second)]
    response = client.post(event_path(), content=body, headers=[*JSON.items(), *fields])
    assert response.status_code == 200
    assert len(readback(server, "t", [cid])) == (1 if stored else 0)


def test_on_v2_the_query_key_alone_is_refused(v2: ReferenceServer, v2_client: httpx.Client) -> None:
    """AUTH-07, AUTH-09: ?td_write_key is no credential on v2: alone it is answered 403, never ingested."""
    cid, body = probe()
    response = post(v2_client, event_path() + "?td_write_key=" + quote(KEY, safe=""), body)
    assert_json_error(response, 403)
    assert readback(v2, "t", [cid]) == []


def test_on_v2_the_query_key_is_ignored_beside_a_header(v2: ReferenceServer, v2_client: httpx.Client) -> None:
    """AUTH-07: a valid query key does not make an unknown header key ingest on v2."""
    cid, body = probe()
    path = event_path() + "?td_write_key=" + quote(KEY, safe="")
    assert post(v2_client, path, body, {"x-td-write-key": UNKNOWN_KEY}).status_code == 200
    assert readback(v2, "t", [cid]) == []


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        pytest.param({}, "", id="no-credential"),
        pytest.param({"x-td-write-key": ""}, "", id="empty-header"),
        pytest.param({}, "?td_write_key=", id="empty-query-key"),
        pytest.param({"x-td-write-key": ""}, "?td_write_key=" + quote(KEY, safe=""), id="empty-header-wins"),
    ],
)
def test_a_missing_or_empty_key_is_answered_403_and_never_stored(
    server: ReferenceServer, client: httpx.Client, headers: dict[str, str], query: str
) -> None:
    """AUTH-08, AUTH-09: no credential or an empty key: 403, nothing ingested."""
    cid, body = probe()
    assert_json_error(post(client, event_path() + query, body, headers), 403)
    assert readback(server, "t", [cid]) == []


def test_a_malformed_key_is_answered_200_and_never_stored(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """AUTH-08: a malformed key is answered like any key (200) and never ingested."""
    cid, body = probe()
    assert post(client, event_path(), body, {"x-td-write-key": "not a key; at all"}).status_code == 200
    assert readback(server, "t", [cid]) == []


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(f"Bearer {KEY}", id="bearer"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("TD1", id="td1-without-key"),
        pytest.param(f"TD1{KEY}", id="td1-without-space"),
        pytest.param(f"TD2 {KEY}", id="other-scheme"),
        pytest.param(KEY, id="bare-key"),
    ],
)
def test_on_v2_an_authorization_that_is_not_td1_is_no_credential(
    v2: ReferenceServer, v2_client: httpx.Client, authorization: str
) -> None:
    """AUTH-11, AUTH-09: a non-TD1 Authorization alone is no credential: 403, never ingested."""
    cid, body = probe()
    assert_json_error(post(v2_client, event_path(), body, {"authorization": authorization}), 403)
    assert readback(v2, "t", [cid]) == []


def test_on_legacy_authorization_td1_is_ignored(legacy: ReferenceServer, legacy_client: httpx.Client) -> None:
    """AUTH-09, CUT-02: legacy does not read Authorization: TD1 alone is no credential."""
    cid, body = probe()
    assert_json_error(post(legacy_client, event_path(), body, {"authorization": f"TD1 {KEY}"}), 403)
    assert readback(legacy, "t", [cid]) == []


def test_on_v2_a_write_key_header_beside_a_bearer_authorization_is_ingested(
    v2: ReferenceServer, v2_client: httpx.Client
) -> None:
    """AUTH-12: X-TD-Write-Key (valid) + a non-TD1 Authorization: the reference ingests."""
    cid, body = probe()
    headers = {"authorization": "Bearer some-oauth-token", "x-td-write-key": KEY}
    assert post(v2_client, event_path(), body, headers).status_code == 200
    assert len(readback(v2, "t", [cid])) == 1


# ---------------------------------------------------------------------------------------------- NAME: names


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a", id="one-letter"),
        pytest.param("Z", id="one-upper"),
        pytest.param("0", id="one-digit"),
        pytest.param("_", id="underscore"),
        pytest.param("Mixed_Case_09", id="mixed"),
        pytest.param("a" * 128, id="length-128"),
        pytest.param("b" * 129, id="length-129"),
        pytest.param("c" * 255, id="length-255"),
        pytest.param("d" * 256, id="length-256"),
        pytest.param("e" * 1024, id="length-1024"),
    ],
)
def test_names_of_ascii_letters_digits_and_underscore_are_accepted_at_any_length(
    server: ReferenceServer, client: httpx.Client, name: str
) -> None:
    """NAME-01, NAME-05: [A-Za-z0-9_]+ names are accepted in both positions, any length."""
    cid, body = probe()
    assert post(client, event_path(name, name), body, {"x-td-write-key": KEY}).status_code == 200
    assert len(readback(server, name, [cid], db=name)) == 1


ADVERSARIAL_NAMES = [
    pytest.param("a-b", id="hyphen"),
    pytest.param("a.b", id="dot"),
    pytest.param("a%20b", id="space"),
    pytest.param("a;b", id="semicolon"),
    pytest.param("a%25b", id="percent"),
    pytest.param("%C3%A9", id="e-acute"),
    pytest.param("%C3%9F", id="sharp-s"),
    pytest.param("%D9%A3", id="arabic-indic-digit"),
    pytest.param("%EF%BC%95", id="fullwidth-digit"),
    pytest.param("%E2%84%AA", id="kelvin-sign"),
    pytest.param("abc%0A", id="trailing-newline"),
    pytest.param("abc%0D%0A", id="trailing-crlf"),
    pytest.param("a%00b", id="nul"),
    pytest.param("a%2Fb", id="encoded-slash"),
    pytest.param("a%2fb", id="encoded-slash-lower"),
    pytest.param("%FF", id="invalid-utf8"),
    pytest.param("%C3", id="truncated-utf8"),
    pytest.param("%F0%9F%98%80", id="emoji"),
    pytest.param("a%2", id="broken-escape"),
]


@pytest.mark.parametrize("position", [pytest.param("database", id="db"), pytest.param("table", id="table")])
@pytest.mark.parametrize("name", ADVERSARIAL_NAMES)
def test_a_name_with_any_other_character_is_rejected_with_400_and_never_stored(
    server: ReferenceServer, client: httpx.Client, name: str, position: str
) -> None:
    """NAME-02: any character outside [A-Za-z0-9_] gives 400 and nothing is ingested."""
    cid, body = probe()
    database, table = (name, "t") if position == "database" else (DB, name)
    assert_json_error(post(client, event_path(database, table), body, {"x-td-write-key": KEY}), 400)
    assert readback(server, unquote(table), [cid], db=unquote(database)) == []


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/postback/v3/event//t", id="empty-database"),
        pytest.param("/postback/v3/event/d/", id="empty-table"),
        pytest.param("/postback/v3/event//", id="both-empty"),
        pytest.param("/postback/v3/event/d", id="one-segment"),
        pytest.param("/postback/v3/event/", id="no-segment"),
        pytest.param("/postback/v3/event/d/t/x", id="extra-segment"),
        pytest.param("/postback/v3/event/d/t/", id="trailing-slash"),
        pytest.param("/postback/v3/event2/d/t", id="other-prefix"),
        pytest.param("/", id="root"),
        pytest.param("/_readback/other", id="other-readback-path"),
    ],
)
def test_empty_names_and_other_paths_are_answered_404(
    server: ReferenceServer, client: httpx.Client, path: str
) -> None:
    """NAME-03, RESP-01: an empty name or an extra segment is not the endpoint: 404, nothing ingested."""
    cid, body = probe()
    assert_json_error(post(client, path, body, {"x-td-write-key": KEY}), 404)
    assert readback(server, "t", [cid], db="d") == []


def test_a_percent_encoded_allowed_character_is_the_character_itself(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """NAME-04: %61bc is the name abc (RFC 3986 §2.3)."""
    cid, body = probe()
    assert post(client, event_path("%61bc", "t%5F1"), body, {"x-td-write-key": KEY}).status_code == 200
    assert len(readback(server, "t_1", [cid], db="abc")) == 1


# --------------------------------------------------------------------------------------------- BODY: bodies


def test_every_field_is_stored_with_the_json_type_and_value_sent(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """BODY-01: strings (non-ASCII, escapes, emoji), integers, booleans, floats, null, nesting survive."""
    fields = {
        "text": "héllo wörld",
        "escapes": 'quote " backslash \\ tab \t newline \n nul \u0000',
        "emoji": "😀",
        "big": 2**63,
        "negative": -42,
        "yes": True,
        "no": False,
        "float": 1.5,
        "nothing": None,
        "nested": {"a": [1, {"b": "c"}], "d": []},
    }
    cid, body = probe(**fields)
    assert post(client, event_path(), body, {"x-td-write-key": KEY}).status_code == 200
    [record] = readback(server, "t", [cid])
    assert {name: record[name] for name in fields} == fields
    assert isinstance(record["big"], int)
    assert isinstance(record["yes"], bool)


def test_a_time_field_is_added_with_the_receive_time_in_integer_seconds(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """BODY-02: no time field: the record gets the receive time as integer UNIX seconds."""
    cid, body = probe()
    before = int(time.time())
    assert post(client, event_path(), body, {"x-td-write-key": KEY}).status_code == 200
    after = int(time.time())
    [record] = readback(server, "t", [cid])
    assert type(record["time"]) is int
    assert before - 1 <= record["time"] <= after + 1


@pytest.mark.parametrize(
    "sent", [pytest.param(1448344701, id="integer"), pytest.param("1448344701", id="string-of-digits")]
)
def test_a_time_field_sent_is_kept_as_sent(
    server: ReferenceServer, client: httpx.Client, sent: object
) -> None:
    """BODY-02, BODY-01: a time field present in the body is stored unchanged."""
    cid, body = probe(time=sent)
    assert post(client, event_path(), body, {"x-td-write-key": KEY}).status_code == 200
    [record] = readback(server, "t", [cid])
    assert record["time"] == sent


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


BAD_BODIES = [
    pytest.param(b'{"a":}', id="BODY-03-syntax-error"),
    pytest.param(b"{'a': 1}", id="BODY-03-single-quotes"),
    pytest.param(b'{"a": 1,}', id="BODY-03-trailing-comma"),
    pytest.param(b'{"a": 1', id="BODY-03-truncated"),
    pytest.param(b'{"a": "b', id="BODY-03-truncated-string"),
    pytest.param(b'{"a": 1} x', id="BODY-03-trailing-data"),
    pytest.param(b'{"a": 1}{"b": 2}', id="BODY-03-two-values"),
    pytest.param(b'{"a": "\xff"}', id="BODY-03-invalid-utf8"),
    pytest.param(b'{"a": "\xed\xa0\x80"}', id="BODY-03-encoded-surrogate"),
    pytest.param(b'{"a": "\xc0\xaf"}', id="BODY-03-overlong-utf8"),
    pytest.param(b'\xef\xbb\xbf{"a": 1}', id="BODY-03-bom"),
    pytest.param(b'{"a": "tab\tinside"}', id="BODY-03-raw-control-character"),
    pytest.param(b"[]", id="BODY-04-empty-array"),
    pytest.param(b'[{"a": 1}]', id="BODY-04-array-of-object"),
    pytest.param(b'"text"', id="BODY-04-string"),
    pytest.param(b"42", id="BODY-04-integer"),
    pytest.param(b"1.5", id="BODY-04-float"),
    pytest.param(b"true", id="BODY-04-true"),
    pytest.param(b"false", id="BODY-04-false"),
    pytest.param(b"null", id="BODY-04-null"),
    pytest.param(b"", id="BODY-05-empty"),
    pytest.param(b"  \r\n ", id="BODY-05-whitespace-only"),
    pytest.param(b'{"a": NaN}', id="BODY-08-nan"),
    pytest.param(b'{"a": Infinity}', id="BODY-08-infinity"),
    pytest.param(b'{"a": -Infinity}', id="BODY-08-minus-infinity"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="BODY-08-deep-arrays-100000"),
    pytest.param(_nested(100_000), id="BODY-08-deep-objects-100000"),
    pytest.param(_nested(600), id="BODY-08-nesting-over-512"),
    pytest.param(b'{"a": ' + b"7" * 5000 + b"}", id="BODY-08-int-5000-digits"),
    pytest.param(b'{"a": 1e999}', id="BODY-08-float-overflow"),
    pytest.param(b'{"a": -1e999}', id="BODY-08-negative-float-overflow"),
    # RFC 8259 section 8.2: valid grammar, not Unicode; the contract allows 400 or 200, the reference refuses.
    pytest.param(b'{"a": "\\ud800"}', id="BODY-08-lone-high-surrogate"),
    pytest.param(b'{"a": "x\\udc00"}', id="BODY-08-lone-low-surrogate"),
    pytest.param(b'{"\\ud83d": 1}', id="BODY-08-lone-surrogate-in-a-name"),
    pytest.param(random.Random(0).randbytes(2000), id="BODY-08-random-bytes"),
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_body_that_is_not_one_json_object_is_rejected_with_400_and_never_stored(
    server: ReferenceServer, client: httpx.Client, body: bytes
) -> None:
    """BODY-03, BODY-04, BODY-05, BODY-08: invalid JSON, non-objects, empty bodies: 400, nothing ingested."""
    table = new_table()
    assert_json_error(post(client, event_path(DB, table), body, {"x-td-write-key": KEY}), 400)
    assert readback(server, table) == []


@pytest.mark.parametrize("depth", [16, 32, 64, 65, 128, 129, 256, 512, 513, 1000, 10_000, 400_000])
def test_every_depth_of_nesting_is_answered_without_a_crash(
    server: ReferenceServer, client: httpx.Client, depth: int
) -> None:
    """BODY-08: arrays nested up to 512 deep are accepted; deeper ones are refused with 400 before any parser
    recurses (CPython's json would raise RecursionError near 1000), and the connection goes on."""
    table = new_table()
    inner = depth - 1
    body = b'{"deep":' + b"[" * inner + b"]" * inner + b"}"
    response = post(client, event_path(DB, table), body, {"x-td-write-key": KEY})
    assert response.status_code == (200 if depth <= 512 else 400)
    assert post(client, event_path(DB, table), probe()[1], {"x-td-write-key": KEY}).status_code == 200


def test_duplicate_names_keep_the_last_value_and_big_integers_stay_exact(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """BODY-09 (reported), BODY-01: the reference's parser keeps the last of duplicate names, and integers
    within 64 bits exactly."""
    table = new_table()
    body = b'{"dup": "first", "dup": "second", "big": 18446744073709551615, "neg": -9223372036854775808}'
    assert post(client, event_path(DB, table), body, {"x-td-write-key": KEY}).status_code == 200
    [record] = readback(server, table)
    assert (record["dup"], record["big"], record["neg"]) == ("second", 2**64 - 1, -(2**63))


def test_deep_nesting_within_the_limit_is_accepted(server: ReferenceServer, client: httpx.Client) -> None:
    """BODY-08: objects nested 500 deep are valid JSON and ingested (the reference's limit is 512)."""
    table = new_table()
    assert post(client, event_path(DB, table), _nested(500), {"x-td-write-key": KEY}).status_code == 200
    [record] = readback(server, table)
    assert "a" in record


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/json", id="plain"),
        pytest.param("application/json; charset=utf-8", id="charset"),
        pytest.param("Application/JSON", id="mixed-case"),
        pytest.param("APPLICATION/JSON;CHARSET=UTF-8", id="upper-case-charset"),
        pytest.param("application/json ; charset=utf-8", id="space-before-parameter"),
    ],
)
def test_json_media_type_variants_are_accepted(
    server: ReferenceServer, client: httpx.Client, content_type: str
) -> None:
    """BODY-06: parameters and case variants of application/json are accepted."""
    cid, body = probe()
    headers = {"x-td-write-key": KEY, "content-type": content_type}
    assert post(client, event_path(), body, headers).status_code == 200
    assert len(readback(server, "t", [cid])) == 1


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("text/plain", id="text-plain"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("application/jsonx", id="prefix-of-other"),
        pytest.param("application/json-patch+json", id="json-suffix"),
        pytest.param("text/json", id="text-json"),
    ],
)
def test_a_missing_or_non_json_content_type_is_answered_415_and_never_stored(
    server: ReferenceServer, client: httpx.Client, content_type: str | None
) -> None:
    """BODY-07: a missing or non-JSON media type: 415, nothing ingested."""
    cid, body = probe()
    headers = {"x-td-write-key": KEY} | ({} if content_type is None else {"content-type": content_type})
    assert_json_error(post(client, event_path(), body, headers, ctype=False), 415)
    assert readback(server, "t", [cid]) == []


# ------------------------------------------------------------------------------------------ SIZE: the v2 cap


def test_a_body_of_exactly_the_cap_is_accepted(v2: ReferenceServer, v2_client: httpx.Client) -> None:
    """SIZE-01: 1,048,064 bytes are accepted and ingested."""
    cid = new_id()
    body = sized_body(V2_BODY_CAP, cid)
    assert len(body) == V2_BODY_CAP
    assert post(v2_client, event_path(), body, {"x-td-write-key": KEY}).status_code == 200
    assert len(readback(v2, "t", [cid])) == 1


def test_one_byte_over_the_cap_is_answered_413_and_never_stored(
    v2: ReferenceServer, v2_client: httpx.Client
) -> None:
    """SIZE-02: 1,048,065 bytes: 413, nothing ingested."""
    cid = new_id()
    assert_json_error(
        post(v2_client, event_path(), sized_body(V2_BODY_CAP + 1, cid), {"x-td-write-key": KEY}), 413
    )
    assert readback(v2, "t", [cid]) == []


def test_the_cap_counts_bytes_not_characters(v2: ReferenceServer, v2_client: httpx.Client) -> None:
    """SIZE-03: fewer characters than the cap but more bytes (é is 2 bytes): 413."""
    cid = new_id()
    text = json.dumps({"conformance_id": cid, "pad": "é" * 600_000}, ensure_ascii=False)
    body = text.encode("utf-8")
    assert len(text) < V2_BODY_CAP < len(body)
    assert_json_error(post(v2_client, event_path(), body, {"x-td-write-key": KEY}), 413)
    assert readback(v2, "t", [cid]) == []


def _chunks(body: bytes, size: int = 65_536) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize(
    ("size", "status"),
    [pytest.param(V2_BODY_CAP, 200, id="at-cap"), pytest.param(V2_BODY_CAP + 1, 413, id="cap-plus-1")],
)
def test_the_cap_holds_for_chunked_bodies(
    v2: ReferenceServer, v2_client: httpx.Client, size: int, status: int
) -> None:
    """SIZE-04: Transfer-Encoding: chunked, no Content-Length: at the cap 200, one byte over 413."""
    cid = new_id()
    response = post(v2_client, event_path(), _chunks(sized_body(size, cid)), {"x-td-write-key": KEY})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == status
    assert len(readback(v2, "t", [cid])) == (1 if status == 200 else 0)


def test_an_8_mib_body_is_answered_413_quickly_and_the_connection_goes_on(v2_client: httpx.Client) -> None:
    """SIZE-05, EP-03: 8 MiB is answered 413 fast, then the same connection serves a valid request."""
    started = time.monotonic()
    big = post(v2_client, event_path(), b"x" * (8 * 1024 * 1024), {"x-td-write-key": KEY})
    assert time.monotonic() - started < 5
    assert_json_error(big, 413)
    _, body = probe()
    after = post(v2_client, event_path(), body, {"x-td-write-key": KEY})
    assert after.status_code == 200
    assert local_port(after) == local_port(big)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"x-td-write-key": KEY}, id="valid-key"),
        pytest.param({"x-td-write-key": UNKNOWN_KEY}, id="unknown-key"),
        pytest.param({"x-td-write-key": ""}, id="empty-key"),
        pytest.param({}, id="no-key"),
        pytest.param({"content-type": "text/plain"}, id="no-key-and-text-plain"),
    ],
)
def test_an_oversized_body_is_answered_413_whatever_its_key(
    v2: ReferenceServer, v2_client: httpx.Client, headers: dict[str, str]
) -> None:
    """SIZE-06: size is checked before the credential (and the media type): 413."""
    cid = new_id()
    assert_json_error(post(v2_client, event_path(), sized_body(2 * V2_BODY_CAP, cid), headers), 413)
    assert readback(v2, "t", [cid]) == []


@pytest.mark.parametrize(
    "size", [pytest.param(V2_BODY_CAP + 1, id="cap-plus-1"), pytest.param(2 * 1024 * 1024, id="2-MiB")]
)
def test_legacy_has_no_body_cap(legacy: ReferenceServer, legacy_client: httpx.Client, size: int) -> None:
    """SIZE-07: legacy documents no cap: the reference accepts bodies over the v2 cap."""
    cid = new_id()
    assert (
        post(legacy_client, event_path(), sized_body(size, cid), {"x-td-write-key": KEY}).status_code == 200
    )
    assert len(readback(legacy, "t", [cid])) == 1


# --------------------------------------------------------------------------------------- RESP: all answers


@pytest.mark.parametrize(
    "method",
    [
        pytest.param("GET", id="GET"),
        pytest.param("PUT", id="PUT"),
        pytest.param("PATCH", id="PATCH"),
        pytest.param("DELETE", id="DELETE"),
        pytest.param("OPTIONS", id="OPTIONS"),
    ],
)
def test_other_methods_on_the_endpoint_are_answered_405_and_never_stored(
    server: ReferenceServer, client: httpx.Client, method: str
) -> None:
    """RESP-03: other methods: 405 with Allow: POST, nothing ingested (GET included on both versions)."""
    cid, body = probe()
    response = client.request(method, event_path(), content=body, headers={**JSON, "x-td-write-key": KEY})
    assert_json_error(response, 405)
    assert response.headers["allow"] == "POST"
    assert readback(server, "t", [cid]) == []


def test_error_answers_are_json_and_never_repeat_the_key(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """RESP-02, RESP-01: each 4xx is an application/json object; none echoes the key sent."""
    query = "?td_write_key=" + quote(KEY, safe="")
    answers = [
        post(client, event_path("a-b") + query, b"{}", {"authorization": f"Bearer {KEY}"}),
        post(client, event_path() + query, b"{", {"x-td-write-key": KEY}),
        post(client, event_path() + query, b"{}", {"x-td-write-key": KEY, "content-type": "text/plain"}),
        post(client, "/nowhere" + query, b"{}", {"x-td-write-key": KEY}),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500
        assert_json_error(response, response.status_code)


# ----------------------------------------------------------------------------------- read-back protocol v1


def test_readback_filters_by_repeated_conformance_ids_in_ingestion_order(
    server: ReferenceServer, client: httpx.Client
) -> None:
    """EP-01 (read-back protocol v1): repeated conformance_id filters; none gives the whole table."""
    table = new_table()
    ids = []
    for number in range(3):
        cid, body = probe(number=number)
        ids.append(cid)
        assert post(client, event_path(DB, table), body, {"x-td-write-key": KEY}).status_code == 200
    assert [r["number"] for r in readback(server, table, [ids[2], ids[0]])] == [0, 2]
    assert [r["conformance_id"] for r in readback(server, table)] == ids
    assert readback(server, table, [new_id()]) == []
    assert readback(server, "no_such_table") == []
    assert readback(server, table, db="no_such_db") == []


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("?table=t", id="no-database"),
        pytest.param("?database=d", id="no-table"),
        pytest.param("", id="nothing"),
    ],
)
def test_readback_without_database_or_table_is_answered_400(server: ReferenceServer, query: str) -> None:
    """EP-01 (read-back protocol v1): database and table are required."""
    with new_client() as http:
        assert_json_error(http.get(server.readback_url + "/records" + query), 400)


def test_readback_only_answers_get(server: ReferenceServer) -> None:
    """RESP-03 (read-back protocol v1): the read-back is GET only."""
    with new_client() as http:
        response = http.post(server.readback_url + "/records?database=d&table=t", content=b"{}")
    assert_json_error(response, 405)
    assert response.headers["allow"] == "GET"


def test_a_readback_lag_hides_records_until_it_has_passed() -> None:
    """BODY-02 (read-back, settle): with --lag, a record is invisible until the lag has passed."""
    with ReferenceServer("legacy", [KEY], lag=0.4) as lagged:
        cid, body = probe()
        stored_at = time.monotonic()
        with new_client(lagged.url) as http:
            response = http.post(event_path(), content=body, headers={**JSON, "x-td-write-key": KEY})
        assert response.status_code == 200
        assert readback(lagged, "t", [cid]) == []
        while not readback(lagged, "t", [cid]):
            assert time.monotonic() - stored_at < 3
            time.sleep(0.05)
        assert time.monotonic() - stored_at >= 0.35


def test_concurrent_clients_leave_exactly_every_record_once(v2: ReferenceServer) -> None:
    """EP-01, BODY-08: 8 threads x 50 records sent concurrently leave exactly 400 records."""
    table = new_table()
    failures: list[int] = []

    def send_fifty() -> None:
        with new_client(v2.url) as http:
            for _ in range(50):
                _, body = probe()
                response = http.post(
                    event_path(DB, table), content=body, headers={**JSON, "x-td-write-key": KEY}
                )
                if response.status_code != 200:
                    failures.append(response.status_code)

    threads = [threading.Thread(target=send_fifty) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    records = readback(v2, table)
    assert len(records) == 400
    assert len({record["conformance_id"] for record in records}) == 400


# ------------------------------------------------------------------------------- the ASGI app, in process


def _run_asgi(app: PostbackApp, path: bytes, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> Any:
    """Drive ``app`` with one request; return (status, headers, body, messages received before the answer)."""
    received = 0
    sent: list[dict[str, Any]] = []
    received_at_answer: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received >= len(chunks):
            return {"type": "http.disconnect"}
        received += 1
        return {"type": "http.request", "body": chunks[received - 1], "more_body": received < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            received_at_answer.append(received)
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": unquote(path.decode()), "raw_path": path}
    scope |= {"query_string": b"", "headers": [(b"content-type", b"application/json"), *headers]}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"], received_at_answer[0]


def test_the_body_is_drained_before_an_early_error_answer() -> None:
    """EP-03, SIZE-05: an invalid name is answered only after the whole body was read (keep-alive)."""
    store = Store()
    try:
        status, headers, _, received = _run_asgi(
            PostbackApp("v2", [KEY], store),
            b"/postback/v3/event/a-b/t",
            [b"x" * 1000] * 5,
            [(b"x-td-write-key", KEY.encode())],
        )
    finally:
        store.close()
    assert status == 400
    assert received == 5
    assert b"connection" not in headers


def test_draining_stops_after_64_mib_and_the_answer_closes_the_connection() -> None:
    """BODY-08, SIZE-07: past 64 MiB the target stops reading, answers 413 and closes the connection."""
    store = Store()
    mebibyte = b"x" * (1024 * 1024)
    try:
        status, headers, body, received = _run_asgi(
            PostbackApp("legacy", [KEY], store),
            b"/postback/v3/event/d/t",
            [mebibyte] * 100,
            [(b"x-td-write-key", KEY.encode())],
        )
    finally:
        store.close()
    assert status == 413
    assert headers[b"connection"] == b"close"
    assert json.loads(body)["error"] == "payload_too_large"
    assert received <= 66


# ---------------------------------------------------------------------------------- mutants by subclassing


class _OneByteMoreCap(PostbackApp):
    def body_cap(self, request: Any) -> int | None:
        return V2_BODY_CAP + 1


class _IsalnumNames(PostbackApp):
    def is_valid_name(self, name: str) -> bool:
        return name.isalnum()


def test_overriding_the_cap_hook_changes_only_the_cap() -> None:
    """SIZE-02 (mutant base): a subclass overriding body_cap accepts cap+1 and nothing else changes."""
    with (
        ReferenceServer("v2", app=_OneByteMoreCap("v2", [KEY], Store())) as mutant,
        new_client(mutant.url) as http,
    ):
        key = {"x-td-write-key": KEY}
        cid = new_id()
        assert post(http, event_path(), sized_body(V2_BODY_CAP + 1, cid), key).status_code == 200
        assert len(readback(mutant, "t", [cid])) == 1
        assert post(http, event_path(), sized_body(V2_BODY_CAP + 2, new_id()), key).status_code == 413
        assert post(http, event_path("a-b"), b"{}", key).status_code == 400
        assert post(http, event_path(), b"{}", {}).status_code == 403
        assert post(http, event_path(), b"[]", key).status_code == 400
    mutant.store.close()


def test_overriding_the_name_hook_changes_only_the_name_rule() -> None:
    """NAME-02 (mutant base): a subclass using str.isalnum accepts é; a hyphen and the rest are unchanged."""
    with (
        ReferenceServer("legacy", app=_IsalnumNames("legacy", [KEY], Store())) as mutant,
        new_client(mutant.url) as http,
    ):
        key = {"x-td-write-key": KEY}
        cid, body = probe()
        assert post(http, event_path("%C3%A9"), body, key).status_code == 200
        assert len(readback(mutant, "t", [cid], db="é")) == 1
        assert post(http, event_path("a-b"), body, key).status_code == 400
        assert post(http, event_path(), b"{}", {}).status_code == 403
        assert (
            post(http, event_path(), b"{}", {**key, "content-type": "text/plain"}, ctype=False).status_code
            == 415
        )
    mutant.store.close()


# ------------------------------------------------------------------------------------------------- storage


def test_a_file_store_keeps_records_in_order_across_reopening(tmp_path: Path) -> None:
    """EP-01 (read-back protocol v1): a file store (WAL) keeps every record, in ingestion order."""
    path = str(tmp_path / "records.sqlite")
    store = Store(path)
    store.add("d", "t", {"conformance_id": "one", "time": 1})
    store.add("d", "t", {"conformance_id": "two", "surrogate": "\ud800", "time": 2})
    store.add("d", "other", {"conformance_id": "three", "time": 3})
    store.close()
    reopened = Store(path)
    try:
        assert [r["conformance_id"] for r in reopened.query("d", "t", None)] == ["one", "two"]
        assert reopened.query("d", "t", ["two", "missing"])[0]["time"] == 2
        assert reopened.query_json("d", "other") == ['{"conformance_id":"three","time":3}']
        assert reopened.query("x", "t", None) == []
    finally:
        reopened.close()


# ----------------------------------------------------------------------------------------------------- CLI


def test_the_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """CONTRACT (postback-reference): --help documents the options and returns 0."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--api-version", "--write-key", "--store", "--lag", "--key-file", "--allow-remote"):
        assert option in out


def test_the_cli_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    """CONTRACT (postback-reference): a --host outside loopback needs --allow-remote."""
    assert main(["--api-version", "v2", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def _read_lines(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.mark.parametrize(
    ("stop_signal", "env_key"),
    [
        pytest.param(signal.SIGINT, None, id="generated-key-ctrl-c"),
        pytest.param(signal.SIGTERM, "1/" + secrets.token_hex(20), id="env-key-sigterm"),
    ],
)
def test_the_cli_serves_until_stopped_and_never_prints_the_key(
    tmp_path: Path, stop_signal: signal.Signals, env_key: str | None
) -> None:
    """CONTRACT (postback-reference), Secrecy: serves on port 0, exits cleanly, never prints a key in full."""
    key_file = tmp_path / "key"
    env = {k: v for k, v in os.environ.items() if k != "POSTBACK_WRITE_KEY"}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if env_key is not None:
        env["POSTBACK_WRITE_KEY"] = env_key
    command = [sys.executable, "-m", "conformance.reference.cli", "--api-version", "legacy", "--port", "0"]
    command += ["--key-file", str(key_file)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    ) as process:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        output = []
        try:
            while "http://" not in (line := lines.get(timeout=15)):
                output.append(line)
            output.append(line)
            url = line.split()[line.split().index("on") + 1]
            key = env_key if env_key is not None else key_file.read_text().strip()
            cid, body = probe()
            with new_client(url) as http:
                response = http.post(event_path(), content=body, headers={**JSON, "x-td-write-key": key})
                assert response.status_code == 200
                records = http.get("/_readback/records", params={"database": DB, "table": "t"}).json()
            assert [r["conformance_id"] for r in records["records"]] == [cid]
        finally:
            process.send_signal(stop_signal)
            stderr = process.stderr.read() if process.stderr else ""
            assert process.wait(10) == 0
            reader.join(5)
        while not lines.empty():
            output.append(lines.get())
    printed = "".join(output) + stderr
    assert key not in printed
    assert "Traceback" not in printed
    if env_key is None:
        assert key.startswith("1/")
        assert len(key) == 42
        assert key[:4] + "…" in printed
        assert key_file.stat().st_mode & 0o077 == 0
    else:
        assert not key_file.exists()
