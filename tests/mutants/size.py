"""Mutants of the SIZE clauses: the v2 body cap of 1,048,064 bytes, got wrong as real servers get it wrong."""

from __future__ import annotations

from conformance.reference.app import V2_BODY_CAP, PostbackApp, Rejection
from conformance.reference.asgi import DRAIN_LIMIT, ClientDisconnected, Request
from tests.mutants.base import mutant

V2 = ("v2",)
SIZE = ("test_size.py",)
# A framework's own in-memory request buffer: far above the cap, below the 8 MiB of SIZE-05.
BUFFER_LIMIT = 4 * 1024 * 1024


class BufferFull(Exception):
    pass


async def _read_all(request: Request, limit: int = DRAIN_LIMIT) -> bytes:
    """The whole body buffered first (nothing counted on the way); past ``limit`` bytes, BufferFull."""
    parts: list[bytes] = []
    size = 0
    while (chunk := await request.next_chunk()) is not None:
        size += len(chunk)
        if size > limit:
            raise BufferFull
        parts.append(chunk)
    return b"".join(parts)


def _too_large() -> Rejection:
    return Rejection(413, "the request body is too large")


@mutant(
    "size-declared-length-off-by-one",
    "trusts a declared Content-Length and refuses it only past cap+1",
    V2,
    ("SIZE-02",),
    SIZE,
)
class DeclaredLengthOffByOne(PostbackApp):
    async def read_body(self, request: Request) -> bytes:
        declared = request.content_length
        if declared is None:
            return await super().read_body(request)
        if declared > V2_BODY_CAP + 1:
            raise _too_large()
        return await _read_all(request)


@mutant(
    "size-declared-length-at-cap",
    "refuses a declared Content-Length of exactly the cap (>= for >)",
    V2,
    ("SIZE-01",),
    SIZE,
)
class DeclaredLengthAtCap(PostbackApp):
    async def read_body(self, request: Request) -> bytes:
        declared = request.content_length
        if declared is not None and declared >= V2_BODY_CAP:
            raise _too_large()
        return await super().read_body(request)


@mutant(
    "size-counts-characters",
    "decodes the body and caps its length in characters, not bytes",
    V2,
    ("SIZE-03",),
    SIZE,
)
class CountsCharacters(PostbackApp):
    async def read_body(self, request: Request) -> bytes:
        body = await _read_all(request)
        if len(body.decode("utf-8", errors="replace")) > V2_BODY_CAP:
            raise _too_large()
        return body


@mutant(
    "size-chunked-uncapped",
    "applies the cap to a declared Content-Length only: chunked bodies pass",
    V2,
    ("SIZE-04",),
    SIZE,
)
class ChunkedUncapped(PostbackApp):
    def body_cap(self, request: Request) -> int | None:
        return super().body_cap(request) if request.content_length is not None else None


@mutant(
    "size-buffer-overflow-500",
    "buffers the whole body before the cap check; past its 4 MiB buffer the framework's error becomes 500",
    V2,
    ("SIZE-05", "BODY-08"),
    SIZE,
)
class BufferOverflow500(PostbackApp):
    async def read_body(self, request: Request) -> bytes:
        try:
            body = await _read_all(request, BUFFER_LIMIT)
        except BufferFull:
            raise Rejection(500, "internal error") from None
        if len(body) > V2_BODY_CAP:
            raise _too_large()
        return body


@mutant(
    "size-hangs-on-huge-body",
    "past its 4 MiB buffer it stops answering (waits for buffer space that "
    "never frees) until the client gives up",
    V2,
    ("SIZE-05", "BODY-08"),
    SIZE,
)
class HangsOnHugeBody(PostbackApp):
    async def read_body(self, request: Request) -> bytes:
        try:
            body = await _read_all(request, BUFFER_LIMIT)
        except BufferFull:
            await _wait_for_disconnect(request)
            raise ClientDisconnected from None
        if len(body) > V2_BODY_CAP:
            raise _too_large()
        return body


async def _wait_for_disconnect(request: Request) -> None:
    """Read and drop everything until the client closes the connection (the ASGI ``http.disconnect``)."""
    while (await request._receive())["type"] != "http.disconnect":
        pass


@mutant(
    "size-credential-first",
    "looks for a write key before the body size: no key + oversized is 403",
    V2,
    ("SIZE-06",),
    SIZE,
)
class CredentialFirst(PostbackApp):
    async def read_body(self, request: Request) -> bytes:
        if not self.credential(request):
            raise Rejection(self.status_no_credential, "a write key is required")
        return await super().read_body(request)
