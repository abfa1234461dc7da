"""How the reports show an exchange: the request and answer as sent/received, truncated, and a reproduction.

Large bodies (the 1 MiB SIZE probes, 8 MiB floods) are shown by their head and tail with the total size.
The reproduction is a ``curl`` line reading keys from ``$POSTBACK_WRITE_KEY``; when the body cannot go on
the command line (too large, binary, not printable), a preceding shell line rebuilds ``body.bin`` exactly
from a gzip+base64 copy kept in the report, so every failure can be replayed from the report alone.
"""

from __future__ import annotations

import base64
import gzip
import re
import textwrap
from dataclasses import dataclass

from conformance.transport.exchange import PREVIEW_BYTES, Exchange, Received, SentRequest

HEAD_BYTES = 1024  # what a truncated body shows of its beginning ...
TAIL_BYTES = 192  # ... and of its end (the closing braces of a padded JSON object)
ANSWER_BYTES = 2048
MAX_EMBEDDED = 48 * 1024  # largest gzip+base64 copy of a body kept in a report


def body_text(body: bytes, limit: int = PREVIEW_BYTES) -> str:
    """The body as text (invalid UTF-8 shown as \\x escapes); over ``limit``, its head and tail only."""
    if len(body) <= limit:
        return _decode(body)
    head = _whole_characters(body[: min(HEAD_BYTES, limit)], at_end=True)
    tail = _whole_characters(body[-min(TAIL_BYTES, limit // 4) :], at_end=False)
    omitted = len(body) - len(head) - len(tail)
    return f"{_decode(head)}\n… [{omitted:,} bytes not shown; {len(body):,} bytes in all] …\n{_decode(tail)}"


def _whole_characters(piece: bytes, at_end: bool) -> bytes:
    """``piece`` less the partial UTF-8 character a cut left at its end (or start), if that makes it valid."""
    for drop in range(4):
        candidate = piece[: len(piece) - drop] if at_end else piece[drop:]
        try:
            candidate.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return candidate
    return piece


def _decode(data: bytes) -> str:
    return printable(data.decode("utf-8", errors="backslashreplace"))


# C0 controls but tab, newline and carriage return; DEL and C1; the noncharacters XML 1.0 forbids.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (valid in XML 1.0 and HTML, visible to a reader)."""
    return _UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text
    )


def request_text(request: SentRequest) -> str:
    lines = [f"{request.method} {request.url}"]
    lines += [f"{name}: {value}" for name, value in request.headers]
    if request.chunked:
        lines.append(f"(body sent with Transfer-Encoding: chunked, {len(request.body):,} bytes)")
    if request.body:
        lines += ["", body_text(request.body)]
    elif request.method in ("POST", "PUT", "PATCH"):
        lines += ["", "(empty body)"]
    return "\n".join(lines)


def answer_text(exchange: Exchange) -> str:
    if exchange.response is None:
        return f"(no answer: {exchange.error})"
    return received_text(exchange.response)


def received_text(response: Received) -> str:
    lines = [f"{response.http_version} {response.status}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    if response.body:
        lines += ["", body_text(response.body, ANSWER_BYTES)]
    return "\n".join(lines)


def _inline(request: SentRequest) -> bool:
    """Whether ``curl()`` puts the body on the command line (else it reads ``@body.bin``)."""
    return "@body.bin" not in request.curl()


def body_script(body: bytes) -> str | None:
    """A shell line that writes ``body`` to ``body.bin`` byte for byte; None when too large to embed."""
    packed = base64.b64encode(gzip.compress(body, compresslevel=9, mtime=0)).decode("ascii")
    if len(packed) > MAX_EMBEDDED:
        return None
    wrapped = "\n".join(textwrap.wrap(packed, 100))
    return f"printf '%s' '{wrapped}' | base64 -d | gzip -dc > body.bin"


def reproduction(request: SentRequest) -> str:
    """Shell lines that send ``request`` again (keys from the environment, never in the text)."""
    curl = request.curl()
    if not request.body or _inline(request):
        return curl
    script = body_script(request.body)
    if script is None:
        return curl  # curl() already says in a comment how to build body.bin
    comment, _, command = curl.partition("\n")
    if not command:
        comment, command = "", curl
    # curl would add "Expect: 100-continue" to a large upload; the suite's request had no such header.
    command = command.replace("curl -sS -i ", "curl -sS -i -H 'Expect:' ", 1)
    return "\n".join(line for line in (comment, script, command) if line)


@dataclass(frozen=True)
class ExchangeView:
    """One exchange as the reports print it."""

    target: str
    request: str
    answer: str
    curl: str
    status: str  # the status code, or "no answer"

    @classmethod
    def of(cls, exchange: Exchange) -> ExchangeView:
        status = str(exchange.response.status) if exchange.response is not None else "no answer"
        return cls(
            exchange.target,
            request_text(exchange.request),
            answer_text(exchange),
            reproduction(exchange.request),
            status,
        )

    def text(self) -> str:
        """The plain-text form (junit.xml)."""
        indent = "    "
        return "\n".join(
            [
                f"Request ({self.target}):",
                textwrap.indent(self.request, indent),
                "Answer:",
                textwrap.indent(self.answer, indent),
                "Reproduce:",
                textwrap.indent(self.curl, indent),
            ]
        )
