"""The sandbox HTTP server: stdlib ThreadingHTTPServer, keep-alive, quiet by default."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .app import SandboxApp
from .routing import Request, error
from .store import Store

MAX_BODY = 16 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "fingerprint-sandbox"
    # Buffer the response so headers and body leave in one send (no Nagle/delayed-ACK stall).
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _HTTPServer

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            response = error(413, "payload_too_large", "request body is too large")
        else:
            url = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=url.path.rstrip("/") or "/",
                query=parse_qs(url.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
                client_ip=self.client_address[0],
            )
            try:
                response = self.server.app.handle(request)
            except Exception:  # a bug must not kill the connection thread silently
                if self.server.verbose:
                    traceback.print_exc()
                response = error(500, "failed", "sandbox internal error")
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    # BaseHTTPRequestHandler dispatches on these names.
    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _handle  # noqa: N815

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp, verbose: bool) -> None:
        self.app = app
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop idle keep-alive connections so their threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if self.verbose and not isinstance(exc, ConnectionError):
            super().handle_error(request, client_address)


class SandboxServer:
    """The Fingerprint sandbox. `start()` serves in a daemon thread; `serve_forever()` blocks."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str = ":memory:",
        secret_keys: tuple[str, ...] | list[str] = ("sandbox-secret-key",),
        public_key: str = "sandbox-public-key",
        *,
        trust_xff: bool | None = None,
        sealed_key: bytes | str | None = None,
        verbose: bool = False,
    ) -> None:
        """trust_xff / sealed_key default to env SANDBOX_TRUST_XFF=1 / SANDBOX_SEALED_KEY."""
        if trust_xff is None:
            trust_xff = os.environ.get("SANDBOX_TRUST_XFF") == "1"
        if sealed_key is None:
            sealed_key = os.environ.get("SANDBOX_SEALED_KEY") or None
        self.store = Store(db_path)
        self.app = SandboxApp(
            self.store,
            secret_keys=tuple(secret_keys),
            public_key=public_key,
            trust_xff=trust_xff,
            sealed_key=sealed_key,
        )
        self._httpd = _HTTPServer((host, port), self.app, verbose)
        self._thread: threading.Thread | None = None
        self._serving = False  # shutdown() would block forever if serve_forever never ran
        self._stopped = False

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        self._serving = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fingerprint-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` (from another thread) or Ctrl-C."""
        self._serving = True
        try:
            self._httpd.serve_forever()
        finally:
            self._close()

    def stop(self) -> None:
        if self._stopped:
            return
        if self._serving:
            self._httpd.shutdown()  # returns once serve_forever has left its loop
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close()

    def _close(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.server_close()
        self._httpd.close_connections()
        self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
