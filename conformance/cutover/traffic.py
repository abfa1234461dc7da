"""Recorded client traffic for the audit: HAR 1.2, JSON lines and web-server access logs, streamed.

Every reader yields :class:`Recorded` requests: what the audit needs to judge a request against both
versions (method, URL, headers, body or its size, when, which client). What a format does not record is
None (an access log has no request headers and no body), so the audit never claims what it cannot see.

Inputs are streamed line by line, whatever their size: several files at once, shell globs, ``-`` for
standard input, gzip (and zstd, with the ``zstandard`` package) told by their content. A line that cannot be
read is counted and the first few kept with file and line number (:class:`BadLines`); the rest goes on. A
HAR file is one JSON document: its entries are decoded one by one from a sliding window (:func:`_har`).
"""

from __future__ import annotations

import base64
import codecs
import dataclasses
import functools
import glob
import gzip
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

FORMATS = ("auto", "har", "jsonl", "access-log")
EVENT_MARK = b"/postback/v3/event"
ACCESS_TIME = "%d/%b/%Y:%H:%M:%S %z"
GZIP_MAGIC, ZSTD_MAGIC = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
SHOWN_BAD = 5
V2_CAP = 1_048_064  # v2's body cap in bytes ([V2] "Payload limits"): which side of it a body is
SAMPLE_LINES = 3  # line numbers kept per kind of access-log request (the audit's samples)


_FAMILIES = re.compile(
    r"\b(Edg|OPR|SamsungBrowser|Firefox|Chrome|CriOS|Safari|curl|Wget|python-requests|python-httpx|aiohttp|"
    r"okhttp|Go-http-client|Apache-HttpClient|Java|Dalvik|axios|node-fetch|undici|PostmanRuntime|"
    r"postback-conformance)\b"
)


_BROWSERS = ("Edg", "OPR", "SamsungBrowser", "CriOS", "Firefox", "Chrome", "Safari")


@functools.lru_cache(maxsize=65_536)
def client_family(agent: str | None) -> str:
    """The client a User-Agent names, without versions and platform details: a known browser or HTTP
    library by its name (``Chrome``, ``curl``, ``okhttp``), else the first product token (``shop/1.0``),
    else the text itself (cut to 60 characters). A million requests come from a few clients, not from
    thousands of User-Agent strings."""
    if not agent:
        return "(no User-Agent)"
    known = set(_FAMILIES.findall(agent))
    if known:
        # A browser names several engines ("... Chrome/126 Safari/537 Edg/126"): the most specific wins.
        return next((name for name in _BROWSERS if name in known), min(known))
    token = agent.split(" ", 1)[0]
    return token if "/" in token else agent[:60]


class TrafficError(Exception):
    """An input cannot be read as recorded traffic at all; the message says why in one sentence."""


class Unsplit(Exception):
    """The first half of a HAR file read on two cores does not end at an entry's end: read it whole."""


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
    source: str = ""  # the input it came from
    # An access log's requests are counted by kind: ``count`` requests alike, ``seen`` the first and
    # ``last_seen`` the last time, ``lines`` the first line numbers (``line`` the first of them).
    count: int = 1
    last_seen: datetime | None = None
    lines: tuple[int, ...] = ()

    @functools.cached_property
    def _by_name(self) -> dict[str, str]:
        """The first value of each header, by lowercased name (computed once)."""
        out: dict[str, str] = {}
        for key, value in reversed(self.headers or ()):
            out[key.lower()] = value
        return out

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lowercase)."""
        return self._by_name.get(name)


@dataclass
class BadLines:
    """Lines that could not be read: how many, and the first few with their file and line number."""

    count: int = 0
    first: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, why), the first few

    def add(self, source: str, line: int, why: str) -> None:
        self.count += 1
        if len(self.first) < SHOWN_BAD:
            self.first.append((source, line, why))

    def absorb(self, other: BadLines, after: int) -> None:
        """Add ``other``'s lines: those of a later part of the same input, numbered from 1 ``after`` lines
        on."""
        for source, line, why in other.first:
            self.add(source, line + after, why)
        self.count += other.count - len(other.first)

    @property
    def shown(self) -> list[str]:
        return [f"{source}:{line}: {why}" for source, line, why in self.first]


@dataclass
class Input:
    """One input: its name, the format found in it, and how far it has been read (for progress)."""

    name: str
    format: str = ""
    lines: int = 0
    requests: int = 0


def expand(paths: Iterable[str]) -> list[str]:
    """The inputs named: ``-`` (standard input), files, and the files a glob pattern matches (sorted)."""
    out: list[str] = []
    for path in paths:
        if path == "-" or Path(path).exists() or not glob.has_magic(path):
            out.append(path)
            continue
        matches = sorted(glob.glob(path))
        if not matches:
            raise TrafficError(f"no file matches {path}")
        out.extend(matches)
    return out


def _open(name: str) -> tuple[IO[bytes], IO[bytes]]:
    """The input as a binary stream (decompressed when its content says gzip or zstd), and the file
    beneath (to close)."""
    try:
        raw: IO[bytes] = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
        stream = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
        head = stream.peek(4)[:4]
    except IsADirectoryError:
        raise TrafficError(f"cannot read {name}: it is a directory") from None
    except OSError as exc:
        raise TrafficError(f"cannot read {name}: {exc.strerror or exc}") from None
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=stream), stream  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        try:
            import zstandard  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise TrafficError(f"{name} is zstd-compressed: pip install zstandard, or unpack it") from None
        reader = zstandard.ZstdDecompressor().stream_reader(stream)
        return reader, stream  # type: ignore[return-value,unused-ignore]
    return stream, stream


@dataclass(slots=True)
class Kind:
    """The requests of one kind: how many, the first and last time seen, the first line numbers, and what
    stands for them all (an access log's target and User-Agent, or the first HAR entry's Recorded)."""

    example: Any
    first: datetime | None
    last: datetime | None
    lines: list[int]
    count: int = 1

    def add(self, moment: datetime | None, number: int) -> None:
        self.count += 1
        if moment is not None:
            if self.first is None or moment < self.first:
                self.first = moment
            if self.last is None or moment > self.last:
                self.last = moment
        if len(self.lines) < SAMPLE_LINES:
            self.lines.append(number)

    def absorb(self, other: Kind, after: int) -> None:
        """Fold in ``other``: this kind's requests in a later part of the same input, numbered from 1
        ``after`` lines (or entries) on."""
        self.count += other.count
        for moment in (other.first, other.last):
            if moment is not None:
                if self.first is None or moment < self.first:
                    self.first = moment
                if self.last is None or moment > self.last:
                    self.last = moment
        self.lines = (self.lines + [n + after for n in other.lines])[:SAMPLE_LINES]


def _access_log_counted(
    lines: Iterator[bytes], current: Input, bad: BadLines, progress: Callable[[], None]
) -> Iterator[Recorded]:
    """An access log's Postback requests counted by what the audit reads of them (method, path, whether
    and how a query key is sent, User-Agent), one :class:`Recorded` per kind with its count, first and last
    time and first line numbers: a million lines cost a dict update each, not an object each."""
    counted: dict[tuple[bytes, bytes, int, str], Kind] = {}
    times: dict[bytes, datetime | None] = {}
    mark, key_mark = EVENT_MARK, b"td_write_key="
    number = current.lines
    for line in lines:  # _numbered's loop written out: a generator between costs 15 % on a million lines
        number += 1
        if not number & 0xFFFF:
            current.lines = number
            progress()
        parts = line.split(b'"', 6)
        head = parts[0]
        opened = head.find(b"[")
        closed = head.find(b"]", opened)
        status = parts[2][1:4] if len(parts) > 2 else b""  # ' 200 2 ' after the request line
        if opened < 1 or closed < 0 or not (status.isdigit() or status[:1] == b"-"):
            if line.strip():
                bad.add(current.name, number, "not an access-log line (common or combined format)")
            continue
        request = parts[1]
        if mark not in request:
            continue
        method, _, rest = request.partition(b" ")
        target = rest.split(b" ", 1)[0]
        path, _, query = target.partition(b"?")
        query_key = 0  # 0 none, 1 empty, 2 a key
        if key_mark in query:
            at = query.find(key_mark)
            if at == 0 or query[at - 1 : at] == b"&":
                value = query[at + len(key_mark) :].split(b"&", 1)[0]
                query_key = 2 if value.strip() else 1
        agent = client_family(parts[5].decode("utf-8", "replace")) if len(parts) > 5 else ""
        stamp = head[opened + 1 : closed]
        if stamp in times:
            moment = times[stamp]
        else:
            moment = times[stamp] = _access_time(stamp.decode("ascii", "replace"))
        key = (method, path, query_key, agent)
        seen = counted.get(key)
        if seen is None:
            counted[key] = Kind((target, parts[5] if len(parts) > 5 else b""), moment, moment, [number])
            continue
        seen.add(moment, number)
        if len(times) > 100_000:
            times.clear()
    current.lines = number
    for (method, _, _, _), kind in counted.items():
        (target, agent), numbers = kind.example, kind.lines
        if not method.isupper():
            bad.add(current.name, numbers[0], "no request line")
            continue
        current.requests += kind.count
        agent_text = agent.decode("utf-8", "replace")
        yield Recorded(
            numbers[0],
            method.decode("ascii", "replace"),
            target.decode("utf-8", "replace"),
            None,
            None,
            None,
            kind.first,
            agent_text if agent_text not in ("", "-") else None,
            None,
            current.name,
            count=kind.count,
            last_seen=kind.last,
            lines=tuple(numbers),
        )


def _numbered(
    lines: Iterator[bytes], current: Input, progress: Callable[[], None]
) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of an input with their numbers (counted from ``current.lines``, which follows
    them, and the progress line with it every 65,536 lines)."""
    number = current.lines
    for line in lines:
        number += 1
        if not number & 0xFFFF:
            current.lines = number
            progress()
        if line.strip():
            yield number, line
    current.lines = number


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _detect(first: bytes) -> str:
    stripped = first.lstrip()
    if not stripped.startswith(b"{"):
        return "access-log"
    try:
        data = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return "har"  # a JSON document over several lines (report its error as HAR's)
    return "har" if isinstance(data, dict) and "log" in data else "jsonl"


_ENTRIES = re.compile(r'"entries"\s*:\s*\[')
_BETWEEN = re.compile(r"[\s,]*")
HAR_CHUNK = 1 << 22  # bytes read at a time from a HAR file (4 MiB)


def _har(
    current: Input,
    first: bytes,
    stream: IO[bytes],
    progress: Callable[[], None],
    counter: EntryCounter | None = None,
    part: bool = False,
    flush: bool = True,
) -> Iterator[Recorded]:
    """A HAR file's ``log.entries``, one entry at a time: the document is never held whole, so a capture
    of a million requests costs the memory of one entry and one chunk. Each entry is decoded with the
    standard library's JSON decoder from a sliding window of text. ``counter``: count them by kind.
    ``part``: ``stream`` ends at an entry's end inside ``log.entries`` (the first half of a file read on
    two cores, ``conformance.cutover.inputs``): :class:`Unsplit` when an entry goes on past the end.
    ``flush``: yield the kinds counted (False: they stay in ``counter``, for the caller)."""
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    text = decode(first)
    whole = True  # ``text`` still holds the whole input read so far
    eof = False

    def more() -> bool:
        nonlocal text, eof
        if eof:
            return False
        chunk = stream.read(HAR_CHUNK)
        eof = not chunk
        text += decode(chunk, final=eof)
        return bool(chunk) or bool(text)

    found = _ENTRIES.search(text)
    while found is None:
        if not more() and eof:
            break
        found = _ENTRIES.search(text)
        if found is None and len(text) > HAR_CHUNK:
            text, whole = text[-64:], False
    if found is None:
        if whole:
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise TrafficError(
                    f"{current.name} is not JSON (line {exc.lineno}, column {exc.colno}): not a HAR file"
                ) from None
        raise TrafficError(f"{current.name} has no log.entries list: not a HAR file")
    decoder = json.JSONDecoder()
    at, number = found.end(), 0
    one_per_line = True  # entries one per line (as the suite writes traffic.har): read each with orjson
    while True:
        at = _BETWEEN.match(text, at).end()  # type: ignore[union-attr]
        if at >= len(text):
            if eof and part:
                break  # the end of the first half, at an entry's end
            if eof:
                raise TrafficError(f"{current.name} ends inside log.entries: a HAR file cut short")
            text, at = text[at:], 0
            more()
            continue
        if text[at] == "]":
            break
        entry, end = _line_entry(text, at) if one_per_line else (None, 0)
        if entry is None:
            one_per_line = one_per_line and number > 0  # a pretty-printed file: no further tries
        try:
            if entry is None:
                entry, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            if eof and part:
                raise Unsplit(current.name) from None
            if eof:
                raise TrafficError(f"{current.name}: entry {number + 1} is not JSON ({exc.msg})") from None
            text, at = text[at:], 0  # the entry goes on in the next chunk
            more()
            continue
        at, number = end, number + 1
        if not number & 0xFFFF:
            current.lines = number
            progress()
        if isinstance(entry, dict) and isinstance(entry.get("request"), dict):
            current.requests += 1
            if counter is not None:
                counter.add(number, entry)
            else:
                yield _from_har_entry(number, entry, current.name)
    current.lines = number
    if counter is not None and flush:
        yield from counter.recorded()


def _line_entry(text: str, at: int) -> tuple[Any, int]:
    """The entry at ``at`` when it fills the rest of its line (``{...},``), read by orjson (some times faster
    than the standard library's raw_decode); (None, 0) when the line is not one whole JSON value, and the
    caller decodes from ``at`` as usual. A whole value from ``at`` is the value raw_decode would read."""
    newline = text.find("\n", at)
    if newline < 0:
        return None, 0
    line = text[at:newline].rstrip(" \t\r,")
    if not line.endswith("}"):
        return None, 0
    try:
        return orjson.loads(line), newline
    except orjson.JSONDecodeError:
        return None, 0


def _from_har_entry(number: int, entry: dict[str, Any], source: str) -> Recorded:
    """HAR 1.2: request.method/url/headers[{name,value}]/postData{mimeType,text,encoding}/bodySize."""
    request = entry["request"]
    headers = tuple(
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in request.get("headers") or []
        if isinstance(h, dict)
    )
    body, size = _har_body(request)
    agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
    return Recorded(
        number,
        str(request.get("method", "GET")).upper(),
        str(request.get("url", "")),
        headers,
        body,
        size,
        _iso_time(entry.get("startedDateTime")),
        agent,
        _recorded_version(entry),
        source,
    )


def body_class(body: bytes | None) -> str:
    """What a recorded body is, as the contract model names it (``Body``'s values): ``object`` (also when
    not recorded: nothing to object to), ``empty``, ``invalid-utf8``, ``invalid-json``, ``non-object``.
    Read by Python's json (orjson first, only to be quick where both agree: an object orjson reads, json
    reads as one too)."""
    if body is None:
        return "object"
    if not body:
        return "empty"
    try:
        if isinstance(orjson.loads(body), dict):
            return "object"
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return "invalid-utf8"
    except ValueError:
        return "invalid-json"
    except RecursionError:  # nested deeper than Python's parser goes (BODY-08's ladder): judge the first byte
        return "object" if body.lstrip().startswith(b"{") else "non-object"
    return "object" if isinstance(value, dict) else "non-object"


def _har_body(request: dict[str, Any]) -> tuple[bytes | None, int | None]:
    """A HAR request's body (None: not recorded, or truncated) and its size."""
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
    return body, len(body) if body is not None else size


def _body_shape(request: dict[str, Any]) -> tuple[str, bool]:
    """(``body_class``, over v2's cap) of a HAR request's body: a plain-text body is classed from its text
    without building its bytes (the common case, a million times); anything else through ``_har_body``."""
    post = request.get("postData")
    text = post.get("text") if isinstance(post, dict) else None
    if isinstance(text, str) and text and "encoding" not in post and "_encoding" not in post:  # type: ignore[operator]
        length = len(text) if text.isascii() else len(text.encode("utf-8"))
        size = request.get("bodySize")
        if not (isinstance(size, int) and size > length):  # not truncated: the text is the body
            try:
                if isinstance(orjson.loads(text), dict):
                    return "object", length > V2_CAP
            except orjson.JSONDecodeError:
                pass
    body, size = _har_body(request)
    return body_class(body), (size or 0) > V2_CAP


class EntryCounter:
    """HAR entries (of a HAR file or JSON lines) counted by kind: everything the audit reads of a request
    (method, URL without the query's values, which credential headers and how, the body's class and which
    side of v2's cap its size is, the client, the recorded version) is the key; the first entry of each kind
    stands for all. A million entries then cost a dict update each, not an object each."""

    def __init__(self, current: Input) -> None:
        self.current = current
        self.kinds: dict[tuple[Any, ...], Kind] = {}

    def add(self, number: int, entry: dict[str, Any]) -> None:
        request = entry["request"]
        url = str(request.get("url", ""))
        base, _, query = url.partition("?")
        query_key = 0
        if "td_write_key=" in query:
            at = query.find("td_write_key=")
            if at == 0 or query[at - 1] == "&":
                query_key = 2 if query[at + 13 :].split("&", 1)[0].strip() else 1
        key_header = authorization = content_type = agent = None
        for header in request.get("headers") or ():
            if not isinstance(header, dict):
                continue
            name = str(header.get("name", ""))
            lower = name.lower()
            if lower == "x-td-write-key" and key_header is None:
                key_header = (name, bool(str(header.get("value", "")).strip()))
            elif lower == "authorization" and authorization is None:
                scheme, _, key = str(header.get("value", "")).strip().partition(" ")
                authorization = (scheme, bool(key.strip()))
            elif lower == "content-type" and content_type is None:
                content_type = str(header.get("value", ""))
            elif lower == "user-agent" and agent is None:
                agent = client_family(str(header.get("value", "")))
        shape = _body_shape(request)
        kind = (
            str(request.get("method", "GET")).upper(),
            base,
            query_key,
            key_header,
            authorization,
            content_type,
            *shape,
            agent,
            _recorded_version(entry),
        )
        moment = _iso_time(entry.get("startedDateTime"))
        seen = self.kinds.get(kind)
        if seen is None:
            self.kinds[kind] = Kind(
                _from_har_entry(number, entry, self.current.name), moment, moment, [number]
            )
        else:
            seen.add(moment, number)

    def recorded(self) -> Iterator[Recorded]:
        for kind in self.kinds.values():
            yield dataclasses.replace(
                kind.example, seen=kind.first, last_seen=kind.last, lines=tuple(kind.lines), count=kind.count
            )
        self.kinds.clear()


def _recorded_version(entry: dict[str, Any]) -> str | None:
    """The suite's own traffic.har says which version each target was certified as (``_postback``)."""
    custom = entry.get("_postback")
    version = custom.get("api_version") if isinstance(custom, dict) else None
    return version if version in ("legacy", "v2") else None


def _jsonl_counted(
    lines: Iterator[bytes],
    current: Input,
    bad: BadLines,
    progress: Callable[[], None],
    counter: EntryCounter | None = None,
) -> Iterator[Recorded]:
    """JSON lines, HAR entries counted by kind (:class:`EntryCounter`), other records one by one. With a
    ``counter`` given, the counted kinds stay in it (the caller yields them)."""
    given = counter is not None
    counter = counter if counter is not None else EntryCounter(current)
    for number, line in _numbered(lines, current, progress):
        item = _json_object(line, number, current, bad)
        if item is None:
            continue
        if isinstance(item.get("request"), dict):
            current.requests += 1
            counter.add(number, item)
            continue
        current.requests += 1
        yield _jsonl_record(item, number, current.name)
    if not given:
        yield from counter.recorded()


def _json_object(line: bytes, number: int, current: Input, bad: BadLines) -> dict[str, Any] | None:
    """One line of JSON lines as an object; None (counted as unreadable) for anything else."""
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        bad.add(current.name, number, "not JSON" + (" (cut off?)" if not line.endswith(b"\n") else ""))
        return None
    if not isinstance(item, dict):
        bad.add(current.name, number, "not a JSON object")
        return None
    return item


def _jsonl_line(line: bytes, number: int, current: Input, bad: BadLines) -> Recorded | None:
    item = _json_object(line, number, current, bad)
    return _jsonl_record(item, number, current.name) if item is not None else None


def _jsonl_record(item: dict[str, Any], number: int, source: str) -> Recorded:
    """One JSON lines object: a HAR entry, or {method, url, headers, body | body_bytes, time, user_agent};
    headers as a {name: value} object, [name, value] pairs, HAR {name, value} objects or "Name: value"
    strings."""
    if isinstance(item.get("request"), dict):
        return _from_har_entry(number, item, source)
    headers = _headers(item.get("headers"))
    body = item.get("body")
    body_bytes = body.encode("utf-8") if isinstance(body, str) else None
    size = item.get("body_bytes", item.get("bodySize"))
    agent = item.get("user_agent") or next((v for k, v in headers or () if k.lower() == "user-agent"), None)
    seen = item.get("time", item.get("timestamp", item.get("startedDateTime")))
    return Recorded(
        number,
        str(item.get("method", "GET")).upper(),
        str(item.get("url", "")),
        headers,
        body_bytes,
        len(body_bytes) if body_bytes is not None else (size if isinstance(size, int) else None),
        _epoch_time(seen) if isinstance(seen, int | float) else _iso_time(seen),
        str(agent) if agent else None,
        None,
        source,
    )


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


def _access_line(raw: bytes, number: int, current: Input, bad: BadLines) -> Recorded | None:
    """The NCSA common log format and its "combined" extension (Apache's LogFormat "combined", nginx's
    default log_format combined): ``host ident user [time] "request line" status bytes ["referer" "agent"]``.

    Split on its quotes and brackets rather than matched with one regular expression (several times
    faster on a million lines); a line of another shape is counted as unreadable. Only requests to the
    Postback endpoint are built; every other line is only checked for its shape."""
    parts = raw.split(b'"')
    head = parts[0]
    opened = head.find(b"[")
    closed = head.find(b"]", opened)
    status = parts[2].split(None, 1)[:1] if len(parts) > 2 else []
    if opened < 1 or closed < 0 or not status or not (status[0] == b"-" or len(status[0]) == 3):
        bad.add(current.name, number, "not an access-log line (common or combined format)")
        return None
    if EVENT_MARK not in parts[1]:
        return None
    request = parts[1].split(b" ")
    if len(request) < 2 or not request[0].isupper():
        bad.add(current.name, number, "no request line")
        return None
    agent = parts[5].decode("utf-8", "replace") if len(parts) > 5 else None
    return Recorded(
        number,
        request[0].decode("ascii", "replace"),
        request[1].decode("utf-8", "replace"),
        None,
        None,
        None,
        _access_time(head[opened + 1 : closed].decode("ascii", "replace")),
        agent if agent not in (None, "", "-") else None,
        None,
        current.name,
    )


def _iso_time(value: object) -> datetime | None:
    return _iso_text(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=65_536)
def _iso_text(value: str) -> datetime | None:
    """An ISO 8601 time (traffic repeats each second many times: each text is parsed once)."""
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


@functools.lru_cache(maxsize=65_536)
def _access_time(value: str) -> datetime | None:
    """An access log's ``[02/Nov/2026:10:00:00 +0000]``; a log repeats each second many times, so each
    distinct text is parsed once (strptime is slow)."""
    try:
        return datetime.strptime(value, ACCESS_TIME)
    except ValueError:
        return None
