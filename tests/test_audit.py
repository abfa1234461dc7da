"""``postback-conformance audit``: recorded traffic (HAR, JSON lines, access logs) grouped by what cutover
to v2 does to it, with what each client must change, and never a key in the output."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from conformance.cutover import audit, inputs, traffic

SECRET = "777/0123456789abcdef0123456789abcdef01234567"
ENCODED = SECRET.replace("/", "%2F")
LEGACY = "https://in.treasuredata.com/postback/v3/event"
V2 = "https://us01.records.in.treasuredata.com/postback/v3/event"
JSON_CT = {"Content-Type": "application/json"}
KEY = {**JSON_CT, "X-TD-Write-Key": SECRET}
BIG = '{"p":"' + "x" * 1_048_100 + '"}'


def _entry(
    url: str,
    headers: dict[str, str],
    body: str = '{"a":1}',
    method: str = "POST",
    agent: str = "shop/1.0",
    when: str = "2026-11-02T10:00:00.000Z",
) -> dict[str, Any]:
    return {
        "startedDateTime": when,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in {**headers, "User-Agent": agent}.items()],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": len(body.encode()),
            "postData": {"mimeType": "application/json", "text": body},
        },
    }


def _har(tmp_path: Path, entries: list[dict[str, Any]], name: str = "traffic.har") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t"}, "entries": entries}}))
    return path


def _run(
    tmp_path: Path, file: Path, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str, dict[str, Any]]:
    out = tmp_path / "audit.json"
    status = audit.main([str(file), "--json", str(out), *args])
    captured = capsys.readouterr()
    data = json.loads(out.read_text()) if out.exists() else {}
    return status, captured.out, captured.err, data


def _groups(data: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(g["reasons"]): g for g in data["groups"]}


def _no_secret(*texts: str) -> None:
    for text in texts:
        for form in (SECRET, ENCODED, "abc.def"):
            assert form not in text


# -- reasons -----------------------------------------------------------------------------------------------


REASON_CASES = [
    pytest.param(f"{LEGACY}/db/t", KEY, '{"a":1}', audit.KEEPS, (), id="header-key-keeps-working"),
    pytest.param(
        f"{LEGACY}/db/t?td_write_key={ENCODED}",
        JSON_CT,
        '{"a":1}',
        audit.BREAKS,
        ("query-key",),
        id="query-key",
    ),
    pytest.param(
        f"{LEGACY}/db/t?td_write_key={ENCODED}",
        KEY,
        '{"a":1}',
        audit.AT_RISK,
        ("query-key-ignored",),
        id="query-key-beside-header",
    ),
    pytest.param(f"{LEGACY}/db/t", KEY, BIG, audit.BREAKS, ("over-cap",), id="over-cap"),
    pytest.param(
        f"{LEGACY}/db/t",
        {**KEY, "Authorization": "Bearer abc.def"},
        '{"a":1}',
        audit.AT_RISK,
        ("non-td1-authorization",),
        id="bearer",
    ),
    pytest.param(
        f"{LEGACY}/bad-name/t", KEY, '{"a":1}', audit.ALREADY, ("already-failing",), id="already-failing"
    ),
    pytest.param(
        f"{LEGACY}/db/t", JSON_CT, '{"a":1}', audit.ALREADY, ("already-failing",), id="no-credential"
    ),
    pytest.param(
        f"{V2}/db/t",
        {**JSON_CT, "Authorization": f"TD1 {SECRET}"},
        '{"a":1}',
        audit.KEEPS,
        ("already-v2",),
        id="already-v2",
    ),
    pytest.param(
        "https://proxy.example/postback/v3/event/db/t",
        KEY,
        '{"a":1}',
        audit.UNKNOWN,
        ("version-unknown",),
        id="unknown-host",
    ),
]


@pytest.mark.parametrize(("url", "headers", "body", "verdict", "reasons"), REASON_CASES)
def test_each_request_gets_the_verdict_and_reason_the_contract_gives_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    url: str,
    headers: dict[str, str],
    body: str,
    verdict: str,
    reasons: tuple[str, ...],
) -> None:
    """Query key and big bodies break; a Bearer header is at risk; what fails on legacy already says so;
    a request to a host of unknown version is not assumed legacy. A credential header is in the file, so a
    request without one really has none."""
    file = _har(tmp_path, [_entry(url, headers, body), _entry(f"{LEGACY}/db/t", KEY)])
    status, out, err, data = _run(tmp_path, file, capsys=capsys)
    group = _groups(data)[reasons]
    assert group["verdict"] == verdict
    assert status == (1 if verdict in (audit.BREAKS, audit.AT_RISK) else 0)
    _no_secret(out, err, json.dumps(data))


@pytest.mark.parametrize(
    ("method", "table", "verdict", "reason"),
    [
        pytest.param("GET", "t", audit.BREAKS, "get-method", id="get-pixel"),
        pytest.param("POST", "t" * 200, audit.AT_RISK, "long-name", id="long-name"),
    ],
)
def test_the_get_pixel_form_breaks_and_a_long_name_is_at_risk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str, table: str, verdict: str, reason: str
) -> None:
    """v2 takes POST only; names over 128 characters are left to the profile (NAME-05), so at risk."""
    file = _har(tmp_path, [_entry(f"{LEGACY}/db/{table}", KEY, method=method)])
    _, _, _, data = _run(tmp_path, file, capsys=capsys)
    assert _groups(data)[(reason,)]["verdict"] == verdict


def test_each_group_says_what_the_client_must_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan: move ?td_write_key into X-TD-Write-Key or Authorization: TD1, split bodies over the cap."""
    file = _har(
        tmp_path,
        [_entry(f"{LEGACY}/db/t?td_write_key={ENCODED}", JSON_CT), _entry(f"{LEGACY}/db/t", KEY, BIG)],
    )
    _, out, _, data = _run(tmp_path, file, capsys=capsys)
    changes = {tuple(g["reasons"]): g["change"] for g in data["groups"]}
    assert "X-TD-Write-Key or Authorization: TD1" in changes[("query-key",)][0]
    assert "split bodies over 1,048,064 bytes" in changes[("over-cap",)][0]
    assert "instead of ?td_write_key" in out
    assert "split bodies" in out


def test_requests_are_grouped_by_reason_table_and_user_agent_with_counts_and_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three query-key requests of one client to one table are one group: count 3, first and last seen."""
    query = f"{LEGACY}/db/t?td_write_key={ENCODED}"
    entries = [
        _entry(query, JSON_CT, when="2026-11-02T10:00:00Z"),
        _entry(query, JSON_CT, when="2026-11-01T09:00:00+01:00"),
        _entry(query, JSON_CT, when="2026-11-03T12:30:00Z"),
        _entry(query, JSON_CT, agent="app/2"),
        _entry(f"{LEGACY}/db/other?td_write_key={ENCODED}", JSON_CT),
        _entry(f"{LEGACY}/db/t", KEY),
    ]
    _, _, _, data = _run(tmp_path, _har(tmp_path, entries), capsys=capsys)
    rows = {(g["table"], g["user_agent"]): g for g in data["groups"] if g["verdict"] == audit.BREAKS}
    main = rows[("db.t", "shop/1.0")]
    assert (main["count"], main["first_seen"], main["last_seen"]) == (
        3,
        "2026-11-01T08:00:00Z",
        "2026-11-03T12:30:00Z",
    )
    assert rows[("db.t", "app/2")]["count"] == 1
    assert rows[("db.other", "shop/1.0")]["count"] == 1
    assert data["groups"][0]["verdict"] == audit.BREAKS  # the most urgent first


def test_a_har_without_any_credential_header_warns_instead_of_calling_every_request_keyless(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Browser exports strip credential headers: one warning, 'cannot tell' rather than 'no credential'."""
    file = _har(tmp_path, [_entry(f"{LEGACY}/db/t", JSON_CT), _entry(f"{LEGACY}/db/t", JSON_CT, BIG)])
    status, _, err, data = _run(tmp_path, file, capsys=capsys)
    assert "stripped" in err
    assert len(data["warnings"]) == 1
    groups = _groups(data)
    assert groups[("credentials-not-recorded",)]["verdict"] == audit.UNKNOWN
    assert groups[("over-cap",)]["verdict"] == audit.BREAKS  # what is recorded is still judged
    assert audit.ALREADY not in {g["verdict"] for g in data["groups"]}  # not "no credential"
    assert status == 1


# -- input formats -----------------------------------------------------------------------------------------


def test_json_lines_are_read_in_their_common_shapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A HAR entry a line, a flat record with a header object and a UNIX time, and the suite's own
    requests.jsonl ("Name: value" headers, body_bytes)."""
    lines = [
        _entry(f"{LEGACY}/db/t", KEY),
        {
            "method": "POST",
            "url": f"{LEGACY}/db/t?td_write_key={ENCODED}",
            "headers": {"User-Agent": "flat/1", "content-type": "application/json"},
            "body": '{"a":1}',
            "time": 1_790_000_000,
        },
        {
            "method": "POST",
            "url": f"{LEGACY}/db/t",
            "headers": [f"X-TD-Write-Key: {SECRET}", "Content-Type: application/json"],
            "chunked": False,
            "body_bytes": 2_000_000,
        },
    ]
    file = tmp_path / "traffic.jsonl"
    file.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    _, out, err, data = _run(tmp_path, file, capsys=capsys)
    assert data["format"] == "jsonl"
    groups = _groups(data)
    assert groups[()]["verdict"] == audit.KEEPS
    assert groups[("query-key",)]["user_agent"] == "flat/1"
    assert groups[("query-key",)]["first_seen"] == "2026-09-21T14:13:20Z"
    assert groups[("over-cap",)]["verdict"] == audit.BREAKS
    _no_secret(out, err, json.dumps(data))


QUERY_LINE = f'"POST /postback/v3/event/db/t?td_write_key={ENCODED} HTTP/1.1" 200 2'
ACCESS_LOG = (
    f'203.0.113.7 - - [02/Nov/2026:10:00:00 +0000] {QUERY_LINE} "-" "shop/1.0"\n'
    f'203.0.113.7 - - [02/Nov/2026:11:00:00 +0100] {QUERY_LINE} "https://shop.example/" "shop/1.0"\n'
    '203.0.113.8 - - [02/Nov/2026:12:00:00 +0000] "POST /postback/v3/event/db/t HTTP/1.1" 200 2 "-" "app/2"\n'
    '203.0.113.9 - - [02/Nov/2026:12:00:01 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8"\n'
    '198.51.100.1 - - [02/Nov/2026:13:00:00 +0000] "POST /postback/v3/event/db/common HTTP/1.0" 400 2\n'
)


def test_an_access_log_needs_the_version_and_judges_what_it_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """nginx/Apache combined and common format: the query key is judged; the version comes from
    --api-version (an access log has no host); requests without a query key cannot be told."""
    file = tmp_path / "access.log"
    file.write_text(ACCESS_LOG)
    status, out, err, data = _run(tmp_path, file, "--api-version", "legacy", capsys=capsys)
    assert data["format"] == "access-log"
    assert "no request headers" in err
    groups = _groups(data)
    query = groups[("query-key",)]
    assert (query["verdict"], query["count"], query["user_agent"]) == (audit.BREAKS, 2, "shop/1.0")
    assert (query["first_seen"], query["last_seen"]) == ("2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z")
    unknown = [g for g in data["groups"] if g["verdict"] == audit.UNKNOWN]
    assert {g["table"] for g in unknown} == {"db.t", "db.common"}
    assert status == 1
    _no_secret(out, err, json.dumps(data))


def test_without_the_version_an_access_log_is_not_assumed_legacy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "access.log"
    file.write_text(ACCESS_LOG)
    status, _, err, data = _run(tmp_path, file, capsys=capsys)
    assert "--api-version" in err
    assert {g["verdict"] for g in data["groups"]} == {audit.UNKNOWN}
    assert status == 0


def test_hosts_named_on_the_command_line_decide_the_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = _har(
        tmp_path, [_entry(f"https://proxy.example/postback/v3/event/db/t?td_write_key={ENCODED}", JSON_CT)]
    )
    _, _, _, data = _run(tmp_path, file, "--legacy-host", "PROXY.example", capsys=capsys)
    assert _groups(data)[("query-key",)]["verdict"] == audit.BREAKS


# -- output formats ----------------------------------------------------------------------------------------


def _mixed(tmp_path: Path) -> Path:
    return _har(
        tmp_path,
        [
            _entry(f"{LEGACY}/db/t?td_write_key={ENCODED}", JSON_CT, agent='odd "agent" | pipe'),
            _entry(f"{LEGACY}/db/t", {**KEY, "Authorization": "Bearer abc.def"}),
            _entry(f"{LEGACY}/db/t", KEY),
        ],
    )


def test_markdown_output_is_a_table_a_team_can_paste(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err, _ = _run(tmp_path, _mixed(tmp_path), "--format", "markdown", capsys=capsys)
    assert out.startswith("# Postback v2 cutover audit")
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert table[0].startswith("| verdict | reason | database.table | user agent | count |")
    assert len(table) == 2 + 3
    assert all(line.count(" | ") == table[0].count(" | ") for line in table[2:])  # "|" in a cell is escaped
    _no_secret(out, err)


def test_csv_output_has_one_row_per_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, err, _ = _run(tmp_path, _mixed(tmp_path), "--format", "csv", capsys=capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["verdict"] for r in rows] == [audit.BREAKS, audit.AT_RISK, audit.KEEPS]
    assert rows[0]["user agent"] == 'odd "agent" | pipe'
    assert "X-TD-Write-Key" in rows[0]["change"]
    _no_secret(out, err)


def test_json_output_and_an_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "audit.md"
    _, out, err, data = _run(
        tmp_path, _mixed(tmp_path), "--format", "markdown", "--output", str(target), capsys=capsys
    )
    assert out == ""
    assert "written:" in err
    assert target.read_text().startswith("# Postback v2 cutover audit")
    _, out, _, _ = _run(tmp_path, _mixed(tmp_path), "--format", "json", capsys=capsys)
    assert json.loads(out)["groups"] == data["groups"]
    _no_secret(target.read_text(), out)


def test_the_table_lists_groups_with_their_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _, _ = _run(tmp_path, _mixed(tmp_path), capsys=capsys)
    assert out.splitlines()[0].startswith("BREAKS")
    assert "td_write_key=$POSTBACK_WRITE_KEY" in out
    assert out.splitlines()[-1] == "3 requests in 3 groups: 1 breaks, 1 at risk, 1 keeps working"
    _no_secret(out)


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        pytest.param("{", "bad.har", "not JSON", id="not-json"),
        pytest.param('{"log": {}}', "bad.har", "not a HAR file", id="no-entries"),
        pytest.param("hello\nworld\n", "bad.log", "no line is an access-log line", id="not-a-log"),
        pytest.param(b"\x00\x01\x02PK", "bad.bin", "binary file", id="binary"),
        pytest.param(None, "missing.har", "cannot read", id="missing"),
        pytest.param("", "empty.log", "is empty", id="empty"),
    ],
)
def test_a_file_that_cannot_be_audited_is_one_clear_error(
    tmp_path: Path, content: str | bytes | None, name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert audit.main([str(path), "--json", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_har_is_read_entry_by_entry_across_chunks_of_any_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A HAR is never held whole (a million entries cost one entry's memory): read 7 bytes at a time, the
    same groups come out as at once; a capture cut short inside log.entries is one clear error."""
    _, _, _, whole = _run(tmp_path, _mixed(tmp_path), capsys=capsys)
    monkeypatch.setattr(traffic, "HAR_CHUNK", 7)
    _, _, _, chunked = _run(tmp_path, _mixed(tmp_path), capsys=capsys)
    assert chunked["groups"] == whole["groups"]
    cut = tmp_path / "cut.har"
    cut.write_text(_mixed(tmp_path).read_text()[:-40])
    assert audit.main([str(cut), "--json", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert "entry 3 is not JSON" in err or "cut short" in err, err


def test_a_directory_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit.main([str(tmp_path), "--json", str(tmp_path / "a.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_suites_own_har_says_which_version_each_loopback_request_went_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """traffic.har's `_postback.api_version` decides where the host cannot (loopback reference targets)."""
    legacy = _entry("http://127.0.0.1:8080/postback/v3/event/db/t?td_write_key=" + ENCODED, JSON_CT)
    legacy["_postback"] = {"api_version": "legacy"}
    unknown = _entry("http://127.0.0.1:8081/postback/v3/event/db/t", KEY)
    status, out, err, data = _run(tmp_path, _har(tmp_path, [legacy, unknown]), capsys=capsys)
    verdicts = {g["verdict"] for g in data["groups"]}
    assert audit.BREAKS in verdicts, "the recorded legacy request with a query key breaks on v2"
    assert "127.0.0.1" in err  # the entry without a recorded version is still unknown, with a warning
    assert status == 1
    _no_secret(out, err, json.dumps(data))


# -- traffic at scale: streams, several inputs, bad lines ------------------------------------------------


def _log_line(n: int, target: str, agent: str = "shop/1.0", status: str = "200") -> str:
    stamp = f"02/Nov/2026:10:{n // 60 % 60:02d}:{n % 60:02d} +0000"
    return f'203.0.113.{n % 250} - - [{stamp}] "POST {target} HTTP/1.1" {status} 2 "-" "{agent}"\n'


def test_a_gzipped_a_truncated_and_a_garbage_laden_log_are_audited_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several inputs at once, a .gz told by its content, a JSON lines file cut off mid-line, and an access
    log with garbage lines: every good line is audited, every bad one counted and the first few shown with
    file and line number; bad lines do not change the exit status."""
    query = f"/postback/v3/event/db/t?td_write_key={ENCODED}"
    log = (
        "".join(_log_line(n, query) for n in range(50))
        + "garbage\n" * 3
        + _log_line(99, "/postback/v3/event/db/u")
    )
    (tmp_path / "access.log.gz").write_bytes(gzip.compress(log.encode()))
    good = json.dumps({"method": "POST", "url": f"{LEGACY}/db/t", "headers": KEY, "body": '{"a":1}'})
    (tmp_path / "cut.jsonl").write_text(good + "\n" + good + "\n" + good[:40])
    noisy = tmp_path / "noisy.log"
    noisy.write_text("not a log line\n" + _log_line(1, query, agent="app/2") + "\x01\x02 junk\n")
    files = [str(tmp_path / "access.log.gz"), str(tmp_path / "cut.jsonl"), str(noisy)]
    status, out, err, data = _run(
        tmp_path, Path(files[0]), *files[1:], "--api-version", "legacy", capsys=capsys
    )
    assert status == 1, err
    assert [(i["format"], i["requests"]) for i in data["inputs"]] == [
        ("access-log", 51),
        ("jsonl", 2),
        ("access-log", 1),
    ]
    assert data["format"] == "mixed"
    assert data["unreadable"]["lines"] == 6
    assert data["unreadable"]["first"][0].endswith(
        "access.log.gz:51: not an access-log line (common or combined format)"
    )
    assert any("cut.jsonl:3: not JSON (cut off?)" in line for line in data["unreadable"]["first"])
    assert "6 line(s) could not be read" in err
    breaks = [g for g in data["groups"] if g["verdict"] == audit.BREAKS]
    assert {(g["user_agent"], g["count"]) for g in breaks} == {("shop/1.0", 50), ("app/2", 1)}
    assert data["requests"] == 54
    _no_secret(out, err, json.dumps(data))


def test_standard_input_and_a_glob_are_inputs_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    query = f"/postback/v3/event/db/t?td_write_key={ENCODED}"
    for n in range(3):
        (tmp_path / f"part-{n}.log").write_text(_log_line(n, query))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(_log_line(7, query).encode())))
    _, _, _, data = _run(
        tmp_path, Path(str(tmp_path / "part-*.log")), "-", "--api-version", "legacy", capsys=capsys
    )
    assert [i["name"] for i in data["inputs"]] == [
        *(str(tmp_path / f"part-{n}.log") for n in range(3)),
        "(stdin)",
    ]
    assert data["requests"] == 4


def test_a_million_requests_of_a_few_clients_read_on_one_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Groups are verdict x reason code, then client family (not every User-Agent string) x table, the tail
    folded: 2,000 requests from 200 browser builds to 20 tables make 2 reason sections, each listing five
    client x table rows and "and N more"."""
    lines = []
    for n in range(2000):
        agent = (
            f"Mozilla/5.0 (Linux; Android {n % 10}) AppleWebKit/537.36 Chrome/{100 + n % 20}.0 Safari/537.36"
        )
        key = f"?td_write_key={ENCODED}" if n % 2 else ""
        lines.append(_log_line(n, f"/postback/v3/event/db/t{n // 2 % 20}{key}", agent=agent))
    (tmp_path / "big.log").write_text("".join(lines))
    status, out, _, data = _run(tmp_path, tmp_path / "big.log", "--api-version", "legacy", capsys=capsys)
    assert {g["user_agent"] for g in data["groups"]} == {"Chrome"}
    assert len(data["groups"]) == 40  # (query key, not recorded) x 20 tables
    assert [(s["verdict"], s["reasons"], s["count"]) for s in data["summary"]] == [
        (audit.BREAKS, ["query-key"], 1000),
        (audit.UNKNOWN, ["credentials-not-recorded"], 1000),
    ]
    assert len(out.splitlines()) < 60
    assert "and 15 more client x table group(s), 750 request(s)" in out
    assert all(len(g["samples"]) <= 3 for g in data["groups"])
    assert "requests" not in data["groups"][0]


def test_requests_file_holds_every_request_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(_log_line(n, f"/postback/v3/event/db/t?td_write_key={ENCODED}") for n in range(5)))
    every = tmp_path / "every.jsonl"
    _run(tmp_path, log, "--api-version", "legacy", "--requests", str(every), capsys=capsys)
    rows = [json.loads(line) for line in every.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["path"] == "/postback/v3/event/db/t?td_write_key=$POSTBACK_WRITE_KEY"
    _no_secret(every.read_text())


@pytest.mark.parametrize("key", ["null", "true", "1", "{}", '"', "$POSTBACK_WRITE_KEY"])
def test_keys_that_look_like_json_leave_every_output_parseable_and_show_no_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    """Keys are masked as values, never by replacing text: a client sending the key ``null`` (or ``true``,
    ``1``, ``{}``, ``"``) leaves audit.json, the JSON, CSV and Markdown outputs readable, and no output shows
    that key as one."""
    from urllib.parse import quote

    entries = [
        _entry(f"{LEGACY}/db/t?td_write_key={quote(key, safe='')}", {**JSON_CT, "X-TD-Write-Key": key}),
        _entry(f"{LEGACY}/db/t", {**JSON_CT, "Authorization": f"Bearer {key}"}, body='{"a":null,"b":true}'),
    ]
    file = _har(tmp_path, entries)
    outputs = {}
    for fmt in ("json", "csv", "markdown", "table"):
        _, out, err, data = _run(tmp_path, file, "--format", fmt, capsys=capsys)
        outputs[fmt] = out
        assert data["groups"], err
    assert json.loads(outputs["json"])["groups"] == data["groups"]
    json.loads((tmp_path / "audit.json").read_text())
    assert len(list(csv.DictReader(io.StringIO(outputs["csv"])))) == len(data["groups"])
    for text in (*outputs.values(), (tmp_path / "audit.json").read_text()):
        assert f"td_write_key={quote(key, safe='')}" not in text.replace(
            "td_write_key=$POSTBACK_WRITE_KEY", ""
        )
        assert f"Bearer {key}" not in text


def test_a_progress_line_is_shown_on_a_terminal_for_inputs_that_take_a_while() -> None:
    """After the first second, at most four times a second: lines read and the input; cleared at the end."""
    stream = io.StringIO()
    progress = audit.Progress(stream)
    inputs = [traffic.Input("access.log", lines=65_536)]
    progress(inputs)
    assert stream.getvalue() == ""  # the first second: nothing
    progress.started -= 2
    progress(inputs)
    assert stream.getvalue().startswith("\raudit: 65,536 lines read (access.log)")
    progress.done()
    assert stream.getvalue().endswith("\r\033[K")


def _split_inputs(tmp_path: Path) -> dict[str, Path]:
    """JSON lines and HAR files whose halves hold different clients, keys, tables and times, with blank,
    garbage and cut-off lines: what a split read must merge exactly."""
    rng = random.Random(7)
    entries = []
    for n in range(400):
        key = f"{n % 7}/{n:040x}"
        headers = {**JSON_CT, "X-TD-Write-Key": key} if n % 3 else JSON_CT
        url = f"{LEGACY if n % 2 else V2}/db{n % 4}/t" + ("" if n % 3 else f"?td_write_key={key}")
        agent = rng.choice(["shop/1.0", "curl/8.5.0", "Mozilla/5.0 Firefox/120.0"]) if n < 200 else "okhttp/4"
        entries.append(
            _entry(url, headers, agent=agent, when=f"2026-11-02T10:{n // 60:02d}:{n % 60:02d}.000Z")
        )
    lines = [json.dumps(e) for e in entries]
    for at in (50, 260, 261, 330):
        lines.insert(at, "not json at all")
    lines.insert(300, "")
    jsonl = tmp_path / "split.jsonl"
    jsonl.write_text("\n".join(lines) + '\n{"cut off', encoding="utf-8")
    har_lines = tmp_path / "lines.har"
    har_lines.write_text(
        '{"log": {"version": "1.2", "creator": {"name": "t"}, "entries": [\n'
        + ",\n".join(json.dumps(e) for e in entries)
        + "\n]}}\n"
    )
    commas_first = tmp_path / "commas.har"  # the comma opening each entry's line
    commas_first.write_text(
        '{"log": {"version": "1.2", "entries": [\n' + "\n,".join(json.dumps(e) for e in entries) + "\n]}}"
    )
    pretty = tmp_path / "pretty.har"
    pretty.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}, indent=2))
    decoy = tmp_path / "decoy.har"  # nested objects that look like an entry: a wrong cut, read again
    traced = [{**e, "_trace": [{"request": {"method": "GET"}}]} for e in entries]
    decoy.write_text(json.dumps({"log": {"version": "1.2", "entries": traced}}, indent=2))
    other = tmp_path / "other.jsonl"  # records of another shape in the second half: read in order
    plain = [{"method": "POST", "url": f"{LEGACY}/db/t{n}", "headers": KEY} for n in range(100)]
    other.write_text("\n".join([*lines[:200], *(json.dumps(p) for p in plain), *lines[200:]]) + "\n")
    return {
        "jsonl": jsonl,
        "har": har_lines,
        "har-commas-first": commas_first,
        "pretty-har": pretty,
        "decoy-har": decoy,
        "other-records": other,
    }


@pytest.mark.parametrize(
    "kind", ["jsonl", "har", "har-commas-first", "pretty-har", "decoy-har", "other-records"]
)
def test_a_big_input_read_on_two_cores_gives_what_one_pass_gives(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/cutover.md, At traffic scale: a plain JSON-lines or HAR file over the split size is read half in a
    child process: the groups, counts, first/last seen, line numbers and unreadable lines are those of one
    pass (records of another shape are read in order, and a HAR cut inside an entry is read again in one
    pass)."""
    path = _split_inputs(tmp_path)[kind]
    one_pass = _run(tmp_path, path, capsys=capsys)
    monkeypatch.setattr(inputs, "SPLIT_MIN", 0)
    started, merged = [], []
    pool, merge = inputs.ProcessPoolExecutor, inputs._merge

    class Pool(pool):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(inputs, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(inputs, "_merge", lambda *a: merged.append(1) or merge(*a))
    split = _run(tmp_path, path, capsys=capsys)
    wanted = {"other-records": [(1, 0)], "decoy-har": [(1, 0)]}.get(kind, [(1, 1)])
    assert (len(started), len(merged)) in wanted, "Expected: the split wherever it can stay exact"
    for key in ("groups", "unreadable", "inputs", "requests"):
        assert split[3].get(key) == one_pass[3].get(key), key
    assert split[0] == one_pass[0]
    assert split[3]["groups"], "the audit found requests"
