"""Run a reference target (or a subclass of it) with uvicorn in a background thread."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterable
from types import TracebackType

import uvicorn

from conformance.reference.app import ApiVersion, PostbackApp
from conformance.reference.store import MEMORY, Store
from conformance.reference.td_api import TdJobApi

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class ReferenceServer:
    """A reference Postback target on ``host:port`` (port 0: a free port), with read-back at ``/_readback``.

    ``td_api_keys``: also serve the TD job API emulation (td_api.py) under ``/v3/job/``, accepting these API
    keys (``td_fail_jobs``: every job ends in error); its endpoint is :attr:`url`.
    ``tls_cert``/``tls_key``: serve https with this PEM certificate and key (EP-04 is checked over https);
    ``tls_client_ca``: also require a client certificate issued by this CA (mutual TLS).
    ``app``: serve this app (e.g. a subclass of :class:`PostbackApp` breaking one rule) instead of a new one
    built from ``version``, ``keys``, ``store_path`` and ``lag``. Never writes an access log: a legacy URL may
    carry a write key in its query string.
    """

    def __init__(
        self,
        version: ApiVersion,
        keys: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        store_path: str | None = None,
        lag: float = 0.0,
        app: PostbackApp | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        td_api_keys: Iterable[str] = (),
        td_fail_jobs: bool = False,
        tls_client_ca: str | None = None,
    ) -> None:
        self._owns_store = app is None
        self.app = app if app is not None else PostbackApp(version, keys, Store(store_path or MEMORY, lag))
        if td_api_keys:  # serve the TD job API emulation (td_api.py) on the same port
            self.app.td_api = TdJobApi(self.app.store, list(td_api_keys), td_fail_jobs)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._stopped = False
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.tls_client_ca = tls_client_ca  # mutual TLS: client certificates must chain to this CA

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def readback_url(self) -> str:
        return self.url + "/_readback"

    def start(self) -> ReferenceServer:
        """Bind the socket, start serving in a daemon thread, return once the server accepts connections."""
        if self._thread is not None or self._stopped:
            raise RuntimeError("a ReferenceServer starts once")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only for such sockets;
        # without it every answer waits ~40 ms (Nagle's algorithm against delayed ACKs).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http="h11",
            ws="none",
            interface="asgi3",
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            ssl_certfile=self.tls_cert,
            ssl_keyfile=self.tls_key,
            ssl_ca_certs=self.tls_client_ca,
            ssl_cert_reqs=ssl.CERT_REQUIRED if self.tls_client_ca else ssl.CERT_NONE,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"postback-reference-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the reference server on {self.url} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and release the socket (and the store, when this server created it)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        if self._owns_store and not self._stopped:
            self.store.close()
        self._stopped = True
        self._server = self._thread = self._socket = None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
