"""Recorded client traffic for the audit: HAR 1.2, JSON lines and web-server access logs, read alike.

Every reader yields :class:`Recorded` requests: what the audit needs to judge a request against both
versions (method, URL, headers, body or its size, when, which client). What a format does not record is
None (an access log has no request headers and no body), so the audit never claims what it cannot see.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_INPUT_BYTES = 512 * 1024 * 1024
FORMATS = ("auto", "har", "jsonl", "access-log")

# The NCSA common log format and its "combined" extension (Apache's LogFormat "combined", nginx's default
# log_format combined): host ident user [time] "request line" status bytes ["referer" "user agent"].
ACCESS_LINE = re.compile(
    r'^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+)(?: HTTP/[0-9.]+)?" '
    r"(?P<status>[0-9]{3}|-) (?P<bytes>[0-9]+|-)"
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)
ACCESS_TIME = "%d/%b/%Y:%H:%M:%S %z"


class TrafficError(Exception):
    """The file cannot be read as recorded traffic; the message says why in one sentence."""


@dataclass(frozen=True)
class Recorded:
    """One recorded request. ``headers`` None: the format records none (access logs); ``body`` None: the
    body was not recorded (then ``body_bytes`` is its size if known, else None)."""

    line: int  # entry number (HAR) or line number (JSON lines, access logs), from 1
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] | None
    body: bytes | None
    body_bytes: int | None
    seen: datetime | None
    user_agent: str | None
    version: str | None = None  # the endpoint version the recorder says the request went to

    def header(self, name: str) -> str | None:
        for key, value in self.headers or ():
            if key.lower() == name:
                return value
        return None


def read(path: Path, fmt: str = "auto") -> tuple[str, list[Recorded]]:
    """The format found (or given) and every request recorded in ``path``."""
    text = _read_text(path)
    if fmt == "auto":
        fmt = _detect(text)
    if fmt == "har":
        return fmt, list(_har(path, text))
    if fmt == "jsonl":
        return fmt, list(_jsonl(path, text))
    return fmt, list(_access_log(path, text))


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise TrafficError(
                f"{path} is {size:,} bytes; the audit reads files up to {MAX_INPUT_BYTES:,} bytes "
                "(split it, e.g. with split -l)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise TrafficError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\x00" in data[:4096]:
        raise TrafficError(f"{path} is a binary file, not HAR, JSON lines or an access log")
    return data.decode("utf-8", errors="replace")


def _detect(text: str) -> str:
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return "access-log"
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        return "jsonl" if exc.msg == "Extra data" else "har"  # "har": report the JSON error as such
    return "har" if isinstance(data, dict) and "log" in data else "jsonl"


def _har(path: Path, text: str) -> Iterator[Recorded]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrafficError(
            f"{path} is not JSON (line {exc.lineno}, column {exc.colno}): not a HAR file"
        ) from None
    entries = data.get("log", {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise TrafficError(f"{path} has no log.entries list: not a HAR file")
    for number, entry in enumerate(entries, 1):
        if isinstance(entry, dict) and isinstance(entry.get("request"), dict):
            yield _from_har_entry(number, entry)


def _from_har_entry(number: int, entry: dict[str, Any]) -> Recorded:
    """HAR 1.2: request.method/url/headers[{name,value}]/postData{mimeType,text,encoding}/bodySize."""
    request = entry["request"]
    headers = tuple(
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in request.get("headers") or []
        if isinstance(h, dict)
    )
    post = request.get("postData") if isinstance(request.get("postData"), dict) else None
    body: bytes | None = None
    if post is not None and "text" in post:
        text = str(post.get("text") or "")
        if "base64" in (post.get("encoding"), post.get("_encoding")):  # traffic.har marks it "_encoding"
            try:
                body = base64.b64decode(text)
            except ValueError:
                body = None
        else:
            body = text.encode("utf-8")
    size = request.get("bodySize")
    size = size if isinstance(size, int) and size >= 0 else None
    if body is not None and size is not None and size > len(body):
        body = None  # a truncated body: judge by the recorded size
    agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
    return Recorded(
        number,
        str(request.get("method", "GET")).upper(),
        str(request.get("url", "")),
        headers,
        body,
        len(body) if body is not None else size,
        _iso_time(entry.get("startedDateTime")),
        agent,
        _recorded_version(entry),
    )


def _recorded_version(entry: dict[str, Any]) -> str | None:
    """The suite's own traffic.har says which version each target was certified as (``_postback``)."""
    custom = entry.get("_postback")
    version = custom.get("api_version") if isinstance(custom, dict) else None
    return version if version in ("legacy", "v2") else None


def _jsonl(path: Path, text: str) -> Iterator[Recorded]:
    """One JSON object a line: a HAR entry, or {method, url, headers, body | body_bytes, time, user_agent};
    headers as a {name: value} object, [name, value] pairs, HAR {name, value} objects or "Name: value"
    strings (the suite's own requests.jsonl)."""
    found = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            raise TrafficError(f"{path} line {number} is not JSON: not a JSON lines file") from None
        if not isinstance(item, dict):
            raise TrafficError(f"{path} line {number} is not a JSON object")
        found = True
        if isinstance(item.get("request"), dict):
            yield _from_har_entry(number, item)
            continue
        headers = _headers(item.get("headers"))
        body = item.get("body")
        body_bytes = body.encode("utf-8") if isinstance(body, str) else None
        size = item.get("body_bytes", item.get("bodySize"))
        agent = item.get("user_agent") or next(
            (v for k, v in headers or () if k.lower() == "user-agent"), None
        )
        seen = item.get("time", item.get("timestamp", item.get("startedDateTime")))
        yield Recorded(
            number,
            str(item.get("method", "GET")).upper(),
            str(item.get("url", "")),
            headers,
            body_bytes,
            len(body_bytes) if body_bytes is not None else (size if isinstance(size, int) else None),
            _epoch_time(seen) if isinstance(seen, int | float) else _iso_time(seen),
            str(agent) if agent else None,
        )
    if not found:
        raise TrafficError(f"{path} holds no JSON object")


def _headers(raw: object) -> tuple[tuple[str, str], ...] | None:
    if isinstance(raw, dict):
        return tuple((str(k), str(v)) for k, v in raw.items())
    if not isinstance(raw, list):
        return None
    out = []
    for item in raw:
        if isinstance(item, dict):
            out.append((str(item.get("name", "")), str(item.get("value", ""))))
        elif isinstance(item, list | tuple) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
        elif isinstance(item, str) and ":" in item:
            name, _, value = item.partition(":")
            out.append((name.strip(), value.strip()))
    return tuple(out)


def _access_log(path: Path, text: str) -> Iterator[Recorded]:
    found = False
    for number, line in enumerate(text.splitlines(), 1):
        match = ACCESS_LINE.match(line)
        if match is None:
            continue
        found = True
        agent = match.group("agent")
        yield Recorded(
            number,
            match.group("method"),
            match.group("target"),
            None,
            None,
            None,
            _access_time(match.group("time")),
            agent if agent not in (None, "", "-") else None,
        )
    if not found:
        raise TrafficError(
            f"{path}: no line is an access-log line (common or combined format), and the file is not "
            "HAR or JSON lines"
        )


def _iso_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch_time(value: float) -> datetime | None:
    if value > 1e11:  # milliseconds (JavaScript's Date.now()), not seconds
        value /= 1000
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _access_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, ACCESS_TIME)
    except ValueError:
        return None
