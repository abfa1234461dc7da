"""Small misbehaving servers on loopback for the network self-tests: a trickler, a silent closer, a proxy;
a port that refuses connections."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def read_request(conn: socket.socket) -> bytes | None:
    """One HTTP/1.1 request off ``conn`` (Content-Length or chunked body); None when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                return None
            rest += chunk
    else:
        length = 0
        for line in lower.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            rest += chunk
    return head


class RefusingPort:
    """A loopback port that refuses every connection: bound (so no one else gets it) but never listening.

    A port merely closed a moment ago may be taken by another server of a parallel run, or a connection to it
    may meet itself (TCP simultaneous open); one held bound without ``listen`` is refused every time.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RefusingPort:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()


class LoopbackServer:
    """Accepts connections on 127.0.0.1 and hands each to :meth:`handle` in its own daemon thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopped = threading.Event()
        self.requests: list[bytes] = []
        self._lock = threading.Lock()

    def __enter__(self) -> LoopbackServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopped.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def note(self, head: bytes) -> int:
        with self._lock:
            self.requests.append(head)
            return len(self.requests)

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class Trickler(LoopbackServer):
    """Answers the first ``normal`` requests properly, then sends a status line and one header byte a
    second, forever (a target that would hold a per-read timeout off indefinitely)."""

    def __init__(self, normal: int = 0) -> None:
        super().__init__()
        self.normal = normal

    def handle(self, conn: socket.socket) -> None:
        while (head := read_request(conn)) is not None:
            if self.note(head) <= self.normal:
                conn.sendall(OK_ANSWER)
                continue
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stopped.is_set():
                conn.sendall(b"X")
                time.sleep(1)
            return


class SilentCloser(LoopbackServer):
    """Reads each request, then closes the connection without a word."""

    def handle(self, conn: socket.socket) -> None:
        head = read_request(conn)
        if head is not None:
            self.note(head)


class ConnectProxy(LoopbackServer):
    """An HTTP proxy that only tunnels (CONNECT host:port, RFC 9110 section 9.3.6)."""

    def handle(self, conn: socket.socket) -> None:
        head = read_request(conn)
        if head is None:
            return
        self.note(head)
        method, authority = head.split(b" ")[:2]
        if method != b"CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = authority.decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pump = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
        pump.start()
        _pipe(conn, upstream)
        pump.join(5)
        upstream.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass
