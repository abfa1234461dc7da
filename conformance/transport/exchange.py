"""A request the suite sent and the answer it got, redacted, with a ``curl`` line that reproduces it."""

from __future__ import annotations

import json
import shlex
import zlib
from dataclasses import dataclass, field

PREVIEW_BYTES = 2048


def _preview(body: bytes, limit: int = PREVIEW_BYTES) -> str:
    text = body[:limit].decode("utf-8", errors="backslashreplace")
    if len(body) > limit:
        text += f"… ({len(body):,} bytes in all)"
    return text


PACK_ABOVE = 64 * 1024  # bytes: a bigger body is kept zlib-compressed while the run holds it


class PackedBytes:
    """A bytes field kept compressed in memory above :data:`PACK_ABOVE` bytes, and whole when read.

    A run holds the requests behind its read-back checks and its evidence until the reports are written;
    the size and cutover probes pad bodies to about 1 MB (up to 8 MiB) of one repeated character, which
    compresses a thousandfold, so a certification run's memory follows its clauses, not its bodies."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}_packed"

    def __get__(self, obj: object, owner: type | None = None) -> bytes:
        if obj is None:
            return b""  # the field's default
        packed, data = obj.__dict__[self.slot]
        return zlib.decompress(data) if packed else data

    def __set__(self, obj: object, value: bytes) -> None:
        if len(value) > PACK_ABOVE:
            data = zlib.compress(value, 1)
            if len(data) < len(value) // 2:
                obj.__dict__[self.slot] = (True, data)
                return
        obj.__dict__[self.slot] = (False, bytes(value))


@dataclass(frozen=True)
class SentRequest:
    """What went on the wire, with every secret already replaced by its placeholder."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: PackedBytes = PackedBytes()
    chunked: bool = False
    conformance_id: str | None = None
    body_note: str = ""  # how to rebuild a body too large to show (e.g. "1,048,065 bytes: {...}")

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def describe(self) -> str:
        lines = [f"{self.method} {self.url}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.chunked:
            lines.append("(body sent with Transfer-Encoding: chunked)")
        if self.body:
            lines += ["", _preview(self.body)]
        return "\n".join(lines)

    def curl(self) -> str:
        """A shell command that sends the same request, keys read from the environment."""
        parts = ["curl", "-sS", "-i", "-X", self.method]
        for key, value in self.headers:
            if key.lower() in (
                "host",
                "content-length",
                "transfer-encoding",
                "accept-encoding",
                "connection",
            ):
                continue
            parts += ["-H", _shell_word(f"{key}: {value}")]
        if self.chunked:
            parts += ["-H", "'Transfer-Encoding: chunked'"]
        if self.body:
            if len(self.body) <= PREVIEW_BYTES and _is_printable(self.body):
                parts += ["--data-binary", _shell_word(self.body.decode())]
            else:
                parts += ["--data-binary", "@body.bin"]
        parts.append(_shell_word(self.url))
        line = " ".join(parts)
        if self.body and not (len(self.body) <= PREVIEW_BYTES and _is_printable(self.body)):
            note = self.body_note or f"the {len(self.body):,}-byte body shown in the report"
            line = f"# body.bin: {note}\n{line}"
        return line


def _is_printable(body: bytes) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.isprintable()


def _shell_word(text: str) -> str:
    """Quote for a POSIX shell, leaving $POSTBACK_* placeholders expandable (inside double quotes)."""
    if "$POSTBACK_" not in text:
        return shlex.quote(text)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    # Keep only the placeholders live: escape every other "$".
    out = []
    i = 0
    while i < len(escaped):
        if escaped.startswith("$POSTBACK_", i):
            out.append("$")
        elif escaped[i] == "$":
            out.append("\\$")
        else:
            out.append(escaped[i])
        i += 1
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class Received:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    http_version: str = "HTTP/1.1"
    elapsed: float = 0.0
    connection: str | None = None  # the local address of the connection that carried it

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def media_type(self) -> str | None:
        value = self.header("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None

    def json(self) -> object:
        return json.loads(self.body)

    def describe(self) -> str:
        lines = [f"{self.http_version} {self.status}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body:
            lines += ["", _preview(self.body, 512)]
        return "\n".join(lines)


@dataclass(frozen=True)
class Exchange:
    """One request and its answer; ``error`` is set when there was no answer (timeout, dropped connection)."""

    target: str
    request: SentRequest
    response: Received | None = None
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def status(self) -> int | None:
        return self.response.status if self.response else None

    def outcome(self) -> str:
        if self.response is None:
            return f"no answer: {self.error}"
        return f"{self.response.status}"

    def describe(self) -> str:
        answer = self.response.describe() if self.response else f"(no answer: {self.error})"
        return f"Request ({self.target}):\n{_indent(self.request.describe())}\nAnswer:\n{_indent(answer)}"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
