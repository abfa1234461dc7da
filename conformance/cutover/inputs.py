"""The audit's inputs, opened and read one after the other; a big one on two cores.

Each input is opened by :func:`~conformance.cutover.traffic._open` (gzip and zstd told by their content),
its format told by its first line, and read by its format's reader in ``traffic``. Counting HAR entries by
kind (:class:`~conformance.cutover.traffic.EntryCounter`) is mostly decoding each entry's JSON, so a big
plain file of JSON lines or HAR is cut near its middle (JSON lines: at a line; HAR: where an entry begins,
one entry a line or pretty-printed): a forked child counts the second half while this process reads the
first, and the child's kinds, counts, line numbers and unreadable lines are merged in as if read in order.
Whatever the split cannot keep exact (a JSON line that is not a HAR entry, a HAR cut inside an entry) ends
with this process reading that half, or the whole HAR, itself: the result never depends on the split.
Compressed inputs, standard input and small files are read in one pass.
"""

from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import IO, Any

from conformance.cutover.traffic import (
    BadLines,
    EntryCounter,
    Input,
    Kind,
    Recorded,
    TrafficError,
    Unsplit,
    _access_line,
    _access_log_counted,
    _chain,
    _detect,
    _har,
    _jsonl_counted,
    _jsonl_line,
    _numbered,
    _open,
)

SPLIT_MIN = 48 << 20  # bytes: a smaller input is read in one pass (the fork would cost what it saves)
SCAN_BYTES = 16 << 20  # HAR: how far past the middle an entry's start is looked for
ENTRIES_OPENING = b'{"log": {"entries": ['  # what the child's HAR reader is given before its half


def read_inputs(
    names: Iterable[str],
    fmt: str,
    bad: BadLines,
    inputs: list[Input],
    progress: Callable[[], None],
    aggregate: bool = False,
) -> Iterator[Recorded]:
    """Every request of every input, streamed; ``inputs`` gets one :class:`Input` per input as it opens.
    ``aggregate``: requests come counted by kind (one :class:`Recorded` per kind, with its count)."""
    for name in names:
        stream, beneath = _open(name)
        current = Input(name if name != "-" else "(stdin)")
        inputs.append(current)
        try:
            plain = name != "-" and stream is beneath
            yield from _read_one(stream, current, fmt, bad, progress, aggregate, name if plain else None)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise TrafficError(f"cannot read {current.name}: {exc}") from None
        finally:
            if name != "-":
                stream.close()
                beneath.close()


def _read_one(
    stream: IO[bytes],
    current: Input,
    fmt: str,
    bad: BadLines,
    progress: Callable[[], None],
    aggregate: bool,
    path: str | None,
) -> Iterator[Recorded]:
    """One input; ``path``: the plain file it is (None: compressed or standard input), which may split."""
    lines = iter(stream)
    first = b""
    for first in lines:
        if first.strip():
            break
        current.lines += 1
    else:
        raise TrafficError(f"{current.name} is empty")
    if b"\x00" in first[:4096]:
        raise TrafficError(f"{current.name} is a binary file, not HAR, JSON lines or an access log")
    found = fmt if fmt != "auto" else _detect(first)
    current.format = found
    cut = _cut(stream, path) if aggregate and path is not None and found in ("har", "jsonl") else None
    if found == "har":
        entry_at = _entry_start(cut[0], cut[1]) if cut is not None else None
        if cut is not None and entry_at is not None:
            yield from _har_split(current, first, stream, progress, cut[0], entry_at)
        else:
            yield from _har(current, first, stream, progress, EntryCounter(current) if aggregate else None)
        return
    bad_before = bad.count
    if found == "access-log" and aggregate:
        yield from _access_log_counted(_chain(first, lines), current, bad, progress)
    elif aggregate and cut is not None:
        yield from _jsonl_split(current, first, stream, bad, progress, *cut)
    elif aggregate:
        yield from _jsonl_counted(_chain(first, lines), current, bad, progress)
    else:
        reader = _jsonl_line if found == "jsonl" else _access_line
        for number, line in _numbered(_chain(first, lines), current, progress):
            recorded = reader(line, number, current, bad)
            if recorded is not None:
                current.requests += 1
                yield recorded
    if found == "access-log" and not current.requests and bad.count - bad_before == current.lines:
        raise TrafficError(
            f"{current.name}: no line is an access-log line (common or combined format), and the file is "
            "not HAR or JSON lines"
        )


# ------------------------------------------------------------------------------------ two cores, one file


@dataclass
class Half:
    """What the child counted in the second half, numbered from 1 within it: kinds by key, lines (HAR:
    entries) and requests read, unreadable lines."""

    kinds: dict[tuple[Any, ...], Kind]
    lines: int
    requests: int
    bad: BadLines


def _cut(stream: IO[bytes], path: str) -> tuple[str, int] | None:
    """The file and the offset of the line nearest its middle; None when the file is small, the machine
    has one core, or no fork (spawning would import everything again)."""
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    try:
        size = os.fstat(stream.fileno()).st_size
        here = stream.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    if size < SPLIT_MIN:
        return None
    with open(path, "rb") as probe:
        probe.seek(max(here, size // 2))
        probe.readline()
        offset = probe.tell()
    return (path, offset) if offset < size else None


def _entry_start(path: str, offset: int) -> int | None:
    """HAR: the start of a line at or after ``offset`` where a whole entry begins (a JSON object with a
    ``request`` object: ``{`` or ``,{`` opening the line, one entry a line or pretty-printed); None when
    none is found in the next SCAN_BYTES. A wrong guess costs time only: the first half must then end
    inside an entry, and the file is read again in one pass (:class:`Unsplit`)."""
    decoder = json.JSONDecoder()
    size = 1 << 20
    while size <= 2 * SCAN_BYTES:
        with open(path, "rb") as probe:
            probe.seek(offset)
            window = probe.read(size).decode("utf-8", "surrogateescape")  # bytes back exactly
        at = 0
        while at < min(len(window), SCAN_BYTES):
            end = window.find("\n", at)
            if end < 0:
                break
            line = window[at:end]
            opening = line.lstrip(" \t\r,")
            if opening.startswith("{"):
                try:
                    entry, _ = decoder.raw_decode(window, at + len(line) - len(opening))
                except json.JSONDecodeError:
                    break  # perhaps an entry longer than the window: look again in a bigger one
                if isinstance(entry, dict) and isinstance(entry.get("request"), dict):
                    return offset + len(window[:at].encode("utf-8", "surrogateescape"))
            at = end + 1
        if len(window) < size:
            return None  # the end of the file
        size *= 4
    return None


def count_half(path: str, offset: int, har: bool) -> Half | None:
    """In the child: the entries from ``offset`` to the end (HAR: to the end of ``log.entries``), counted
    by kind by the reader of a whole file; None where the split cannot stay exact (a JSON line of another
    shape, which is read one by one in order; a HAR the reader finds unreadable, whose one pass says why)."""
    current, bad = Input(path), BadLines()
    counter = EntryCounter(current)
    with open(path, "rb") as stream:
        stream.seek(offset)
        try:
            if har:
                reader = _har(current, ENTRIES_OPENING, stream, lambda: None, counter, flush=False)
            else:
                reader = _jsonl_counted(iter(stream), current, bad, lambda: None, counter)
            for _ in reader:
                return None  # a record of another shape came one by one
        except TrafficError:
            return None
    return Half(counter.kinds, current.lines, current.requests, bad)


def _merge(counter: EntryCounter, half: Half, current: Input, bad: BadLines) -> None:
    """Fold the child's half into ``counter`` as if read in order: its numbers follow the first half's
    (``current.lines``); kinds keep the order in which they were first seen."""
    before = current.lines
    for key, kind in half.kinds.items():
        seen = counter.kinds.get(key)
        if seen is not None:
            seen.absorb(kind, before)
            continue
        kind.example = replace(kind.example, line=kind.example.line + before, source=current.name)
        kind.lines = [n + before for n in kind.lines]
        counter.kinds[key] = kind
    bad.absorb(half.bad, before)
    current.lines = before + half.lines
    current.requests += half.requests


class _Upto(io.RawIOBase):
    """``stream`` up to byte ``end`` (the first half)."""

    def __init__(self, stream: IO[bytes], end: int) -> None:
        self.stream, self.left = stream, end - stream.tell()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            return 0
        data = self.stream.read(min(len(buffer), self.left))
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


def _jsonl_split(
    current: Input,
    first: bytes,
    stream: IO[bytes],
    bad: BadLines,
    progress: Callable[[], None],
    path: str,
    offset: int,
) -> Iterator[Recorded]:
    counter = EntryCounter(current)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(count_half, path, offset, False)
        head = io.BufferedReader(_Upto(stream, offset))
        yield from _jsonl_counted(_chain(first, iter(head)), current, bad, progress, counter)
        half = future.result()
    if half is None:  # the child met a record of another shape: the second half in order, here
        stream.seek(offset)
        yield from _jsonl_counted(iter(stream), current, bad, progress, counter)
    else:
        _merge(counter, half, current, bad)
    yield from counter.recorded()


def _har_split(
    current: Input, first: bytes, stream: IO[bytes], progress: Callable[[], None], path: str, offset: int
) -> Iterator[Recorded]:
    counter, resume = EntryCounter(current), stream.tell()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(count_half, path, offset, True)
        try:
            head = io.BufferedReader(_Upto(stream, offset))
            yield from _har(current, first, head, progress, counter, part=True, flush=False)
            half = future.result()
        except Unsplit:
            half = None
    if half is None:  # an entry over several lines somewhere: the whole file again, in one pass
        stream.seek(resume)
        current.lines = current.requests = 0
        yield from _har(current, first, stream, progress, EntryCounter(current))
        return
    _merge(counter, half, current, BadLines())  # a HAR's reader counts no unreadable lines
    yield from counter.recorded()
