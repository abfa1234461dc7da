"""``postback-conformance replay FILE.har --target URL``: send recorded requests again, compare the answers.

A vendor fixes a bug and checks the fix in one line: the chosen entries of a run's ``traffic.har``
(``--entry N``, ``--clause ID``, ``--api-version``) go to ``--target`` byte for byte as recorded (method,
path, query, header spellings, body, chunked framing), with the write key from ``$POSTBACK_WRITE_KEY``
where the HAR holds its placeholder. The old and the new answer are printed side by side; the exit status
is 0 when no status changed, 1 when one did, 2 when nothing could be replayed (usage errors, a bad file).
A body the HAR keeps only in part is never sent: the request would not be the one recorded.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import ssl
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from conformance import __version__
from conformance.transport.client import is_loopback
from conformance.transport.redact import Redactor

KEY_ENV = "POSTBACK_WRITE_KEY"
# Every key placeholder the suite writes ($POSTBACK_WRITE_KEY, $POSTBACK_COMPARE_WRITE_KEY, ...).
PLACEHOLDER = re.compile(r"\$POSTBACK_[A-Z0-9_]*WRITE_KEY")
NOT_RESENT = {"host", "content-length", "transfer-encoding", "connection"}
COLUMN = 58
ANSWER_LINES = 8


class ReplayError(Exception):
    """Nothing can be replayed; the message says why in one sentence."""


@dataclass(frozen=True)
class Recorded:
    index: int
    entry: dict[str, Any]

    @property
    def meta(self) -> dict[str, Any]:
        meta = self.entry.get("_postback")
        return meta if isinstance(meta, dict) else {}

    @property
    def request(self) -> dict[str, Any]:
        return dict(self.entry.get("request") or {})

    def label(self) -> str:
        clauses = " ".join(self.meta.get("clauses") or []) or "-"
        return f"#{self.index} {clauses} {self.meta.get('test') or ''}".rstrip()

    def truncation(self) -> str | None:
        """Why the body cannot be sent as recorded, or None."""
        body = self.meta.get("request_body") or {}
        post = self.request.get("postData") or {}
        size = int(self.request.get("bodySize") or 0)
        kept = len(_body(post))
        if body.get("truncated") or size > kept:
            return (
                f"the HAR keeps only the first {kept:,} of the body's {size:,} bytes "
                f"(SHA-256 {body.get('sha256', 'unknown')}): a truncated body is not replayed"
            )
        return None


def _body(post: dict[str, Any]) -> bytes:
    text = str(post.get("text") or "")
    if post.get("_encoding") == "base64" or post.get("encoding") == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")


def load(path: Path) -> tuple[list[Recorded], dict[str, Any]]:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ReplayError(f"{path} is not JSON: not a HAR file") from None
    log = data.get("log") if isinstance(data, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise ReplayError(f"{path} has no log.entries list: not a HAR file")
    entries, meta = log["entries"], log.get("_postback")
    return [Recorded(n, e) for n, e in enumerate(entries) if isinstance(e, dict)], (
        meta if isinstance(meta, dict) else {}
    )


def select(
    entries: list[Recorded], indexes: list[int], clauses: list[str], version: str | None
) -> list[Recorded]:
    chosen = entries
    if indexes:
        missing = [n for n in indexes if not 0 <= n < len(entries)]
        if missing:
            raise ReplayError(f"no entry {missing[0]}: the HAR has entries 0 to {len(entries) - 1}")
        chosen = [entries[n] for n in indexes]
    if clauses:
        wanted = {c.upper() for c in clauses}
        chosen = [r for r in chosen if wanted & set(r.meta.get("clauses") or [])]
    if version:
        chosen = [r for r in chosen if r.meta.get("api_version", version) == version]
    if not chosen:
        raise ReplayError("no entry of the HAR matches --entry/--clause/--api-version")
    versions = {str(r.meta.get("api_version") or "") for r in chosen} - {""}
    if len(versions) > 1:
        raise ReplayError(
            f"the chosen entries were sent to {' and '.join(sorted(versions))} targets: "
            "say which to replay with --api-version"
        )
    return chosen


def _rest(url: str, meta: dict[str, Any], recorded: Recorded) -> str:
    """The recorded URL less its target's base URL: the raw path (and query) to send to the new target."""
    target = (meta.get("targets") or {}).get(recorded.meta.get("target")) or {}
    base = str(target.get("url") or "").rstrip("/")
    if base and url.startswith(base):
        return url[len(base) :]
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _with_key(text: str, key: str | None, url: bool = False) -> str:
    if not PLACEHOLDER.search(text):
        return text
    if key is None:
        raise ReplayError(f"the recorded request carries the write key: set ${KEY_ENV} to replay it")
    return PLACEHOLDER.sub(lambda _: quote(key, safe="") if url else key, text)


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


def build(recorded: Recorded, meta: dict[str, Any], target: str, key: str | None) -> httpx.Request:
    request = recorded.request
    base = httpx.URL(target)
    rest = _with_key(_rest(str(request.get("url", "")), meta, recorded), key, url=True)
    raw = base.raw_path.rstrip(b"/").split(b"?")[0] + rest.encode("utf-8")
    url = base.copy_with(raw_path=raw)
    headers = [
        (str(h.get("name", "")), _with_key(str(h.get("value", "")), key))
        for h in request.get("headers") or []
        if isinstance(h, dict) and str(h.get("name", "")).lower() not in NOT_RESENT
    ]
    headers.append(("User-Agent", f"postback-conformance/{__version__} (replay)"))
    post = request.get("postData") or {}
    body = _body(post)
    if PLACEHOLDER.search(body.decode("latin-1")):
        body = _with_key(body.decode("latin-1"), key).encode("latin-1")
    content: bytes | Iterator[bytes] = _chunks(body) if recorded.meta.get("chunked") else body
    return httpx.Request(str(request.get("method", "POST")), url, headers=headers, content=content)


def recorded_answer(entry: dict[str, Any]) -> tuple[int, list[str]]:
    response = entry.get("response") or {}
    status = int(response.get("status") or 0)
    if not status:
        return 0, [f"(no answer: {response.get('_error') or 'none recorded'})"]
    content = response.get("content") or {}
    text = str(content.get("text") or "")
    if content.get("encoding") == "base64":
        text = base64.b64decode(text).decode("utf-8", errors="backslashreplace")
    return status, [f"{response.get('httpVersion', 'HTTP/1.1')} {status}", *text.splitlines()]


def send(client: httpx.Client, request: httpx.Request) -> tuple[int, list[str]]:
    try:
        response = client.send(request)
    except httpx.TimeoutException:
        return 0, ["(no answer within the timeout)"]
    except httpx.TransportError as exc:
        return 0, [f"(no answer: {type(exc).__name__}: {exc})"]
    text = response.content[:4096].decode("utf-8", errors="backslashreplace")
    return response.status_code, [f"{response.http_version} {response.status_code}", *text.splitlines()]


def side_by_side(old: list[str], new: list[str]) -> list[str]:
    def cells(lines: list[str]) -> list[str]:
        out = [line[i : i + COLUMN] for line in lines for i in range(0, max(len(line), 1), COLUMN)]
        return out[:ANSWER_LINES] + (["…"] if len(out) > ANSWER_LINES else [])

    rows = [f"    {'recorded':<{COLUMN}} | now", f"    {'-' * COLUMN} | {'-' * COLUMN}"]
    rows += [f"    {a:<{COLUMN}} | {b}" for a, b in zip_longest(cells(old), cells(new), fillvalue="")]
    return rows


def replay(options: argparse.Namespace, emit: Callable[[str], None] = print) -> int:
    """Replay the chosen entries, emitting each comparison as it comes; the exit status."""
    entries, meta = load(options.har)
    chosen = select(entries, options.entry, options.clause, options.api_version)
    key = os.environ.get(KEY_ENV) or None
    redact = Redactor()
    if key:
        redact.add(key, KEY_ENV)
    scheme = httpx.URL(options.target).scheme
    if scheme not in ("http", "https"):
        raise ReplayError(f"--target must be an http:// or https:// URL, not {options.target!r}")
    plain = (
        scheme == "http"
        and not is_loopback(httpx.URL(options.target).host)
        and not options.allow_insecure_http
    )
    changed = replayed = 0
    verify: ssl.SSLContext | bool = not options.insecure
    if options.ca_bundle and not options.insecure:
        verify = ssl.create_default_context(cafile=options.ca_bundle)
    with httpx.Client(timeout=options.request_timeout, follow_redirects=False, verify=verify) as client:
        for recorded in chosen:
            emit(
                redact(f"{recorded.label()}  {recorded.request.get('method')} {recorded.request.get('url')}")
            )
            problem = recorded.truncation()
            if problem:
                emit(f"    not replayed: {problem}")
                continue
            if plain and PLACEHOLDER.search(json.dumps(recorded.request)):
                raise ReplayError(
                    "refusing to send the write key over plain http to a host outside the loopback range "
                    "(use https, or --allow-insecure-http)"
                )
            request = build(recorded, meta, options.target, key)
            old_status, old = recorded_answer(recorded.entry)
            new_status, new = send(client, request)
            replayed += 1
            for line in side_by_side(old, new):
                emit(redact(line))
            if new_status != old_status:
                changed += 1
                emit(f"    => CHANGED: {old_status or 'no answer'} -> {new_status or 'no answer'}")
            else:
                emit(f"    => same status ({old_status or 'no answer'})")
    emit(f"replayed {replayed} of {len(chosen)} chosen entries; {changed} changed")
    if not replayed:
        return 2
    return 1 if changed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="postback-conformance replay",
        description="Send requests recorded in a traffic.har again and compare the answers "
        f"(the write key from ${KEY_ENV}). Exit 0: no status changed; 1: one did; 2: nothing replayed.",
    )
    parser.add_argument("har", type=Path, help="a traffic.har written by a run")
    parser.add_argument(
        "--target",
        default=os.environ.get("POSTBACK_TARGET"),
        help="base URL to send to (env POSTBACK_TARGET)",
    )
    parser.add_argument(
        "--entry", type=int, action="append", default=[], help="entry number (0-based; repeatable)"
    )
    parser.add_argument("--clause", action="append", default=[], help="entries of this clause (repeatable)")
    parser.add_argument(
        "--api-version",
        choices=("legacy", "v2"),
        default=os.environ.get("POSTBACK_API_VERSION") or None,
        help="entries recorded against targets of this version (env POSTBACK_API_VERSION)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=float(os.environ.get("POSTBACK_TIMEOUT") or 10),
        help="seconds per request (env POSTBACK_TIMEOUT)",
    )
    parser.add_argument(
        "--ca-bundle",
        default=os.environ.get("POSTBACK_CA_BUNDLE") or None,
        help="CA certificates to trust for an https target (env POSTBACK_CA_BUNDLE)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=(os.environ.get("POSTBACK_INSECURE") or "").lower() in ("1", "true", "yes"),
        help="do not verify the target's TLS certificate (env POSTBACK_INSECURE)",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow sending the key over plain http to a host outside the loopback range",
    )
    options = parser.parse_args(argv)
    if not options.target:
        parser.error("--target is required (or set POSTBACK_TARGET)")
    try:
        return replay(options, lambda line: print(line, flush=True))
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
