"""A static HTTP/1.1 file server for tests, and the machinery every in-process test server shares.

:class:`StaticServer` serves the files below a directory with ``GET``, ``HEAD``
and single ``Range`` requests, keep-alive, ``Content-Length`` and 404s, the way
the classic EUREC4A catalog is served over HTTP. It runs in threads of the test
process, so a test can change its :class:`~eurec4a.testing.faults.Faults` at any
moment and see every request it answered (:attr:`ServerBase.requests`).

:class:`ServerBase` and :class:`FaultyRequestHandler` hold what the static
server and the trustless gateway (:mod:`eurec4a.testing.gateway`) share:
the threaded server with ``TCP_NODELAY`` on every accepted socket, the fault
switches (latency, failures, tampering, down, and the adversarial modes: drip,
endless body, gzip bomb, truncate, short ``Content-Length``, reset, stall, liar-404,
redirect, wrong block, corrupted CAR header, flip in the first block; see
:mod:`eurec4a.testing.faults`), the request log, and ``stop()``/``restart()`` on
the same port.

Written on :mod:`http.server` rather than with a web framework because tests need
what frameworks hide: closing the listening socket and reopening the same port,
resetting open keep-alive connections, altering body bytes after the headers are
computed. ``http.server.SimpleHTTPRequestHandler`` has no ``Range`` support and
lists directories, so file serving is written here too.

Examples
--------
>>> import pathlib, tempfile, urllib.request
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "a.txt").write_bytes(b"hello world")
>>> with StaticServer(root) as srv:
...     req = urllib.request.Request(srv.url + "/a.txt", headers={"Range": "bytes=0-4"})
...     with urllib.request.urlopen(req, timeout=5) as resp:
...         print(resp.status, resp.read())
...     print(srv.count(path="/a.txt"))
206 b'hello'
1
"""
from __future__ import annotations

import dataclasses
import email.utils
import functools
import logging
import mimetypes
import os
import select
import socket
import struct
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, NamedTuple

from .faults import (
    BODY_MODES,
    STALL_LIMIT,
    TAMPER_MODES,
    Faults,
    corrupt_car_header,
    flip_first_block,
    tamper_bytes,
    wrong_block,
)

__all__ = [
    "StaticServer",
    "ServerBase",
    "FaultyRequestHandler",
    "Reply",
    "RequestRecord",
    "RangeNotSatisfiable",
    "parse_range",
    "base_url",
]

logger = logging.getLogger(__name__)

#: Seconds an idle keep-alive connection is held open by a server thread.
CONNECTION_TIMEOUT = 30.0
#: How often the accept loop checks whether it should stop (bounds ``stop()``'s wait).
POLL_INTERVAL = 0.05
#: Attempts (and the pause between them) to bind the same port again on restart.
REBIND_ATTEMPTS = 50
REBIND_PAUSE = 0.05
#: Bytes written per chunk when a file body is streamed.
COPY_CHUNK = 256 * 1024


class RequestRecord(NamedTuple):
    """One answered request: method, request target as received (path and query), status."""

    method: str
    path: str
    status: int


@dataclasses.dataclass
class Reply:
    """What a handler answers: status, headers and a body (bytes or a slice of a file).

    ``Content-Length`` is computed when the reply is sent. ``file`` is
    ``(path, offset, length)`` and streams without loading the file.
    ``truncated=True`` sends the body with chunked encoding and drops the
    connection without the final chunk, the way a streaming server fails midway.
    """

    status: int
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""
    file: tuple[str, int, int] | None = None
    truncated: bool = False

    @classmethod
    def text(cls, status: int, message: str, headers: dict[str, str] | None = None) -> "Reply":
        """A plain-text reply (errors and short messages)."""
        hdrs = {"Content-Type": "text/plain; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, hdrs, (message.rstrip("\n") + "\n").encode("utf-8"))


class RangeNotSatisfiable(ValueError):
    """A ``Range`` header that no byte of the resource satisfies (answered with 416)."""


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """Parse a ``Range`` header against a resource of ``size`` bytes.

    Returns ``(start, stop)`` (``stop`` exclusive) for a single satisfiable byte
    range, ``None`` when the header is absent or is to be ignored (another unit,
    several ranges, bad syntax: RFC 9110 lets a server answer those with the full
    resource), and raises :class:`RangeNotSatisfiable` when no byte matches.

    Examples
    --------
    >>> parse_range("bytes=2-4", 10)
    (2, 5)
    >>> parse_range("bytes=-3", 10)
    (7, 10)
    >>> parse_range("bytes=8-", 10)
    (8, 10)
    >>> parse_range("bytes=10-", 10)
    Traceback (most recent call last):
    ...
    eurec4a.testing.http.RangeNotSatisfiable: range bytes=10- starts at or after the end of 10 bytes
    """
    if not value:
        return None
    unit, _, spec = value.partition("=")
    spec = spec.strip()
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.partition("-")
    if not sep:
        return None
    first, last = first.strip(), last.strip()
    try:
        suffix = int(last) if not first else None
        start = int(first) if first else 0
        stop = int(last) + 1 if first and last else size
    except ValueError:
        return None
    if suffix is not None:
        if suffix < 0:
            return None
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"range {value} asks for no byte of {size} bytes")
        return max(0, size - suffix), size
    if start < 0 or (last and stop <= start):
        return None  # "bytes=5-3" is invalid syntax: ignored, the full resource is sent
    if start >= size:
        raise RangeNotSatisfiable(f"range {value} starts at or after the end of {size} bytes")
    return start, min(stop, size)


class FaultyRequestHandler(BaseHTTPRequestHandler):
    """Request handler base: applies the server's faults, records and sends a :class:`Reply`.

    Subclasses implement :meth:`respond`; they never write to the socket themselves.
    """

    protocol_version = "HTTP/1.1"
    server_version = "eurec4a-testing/1"
    timeout = CONNECTION_TIMEOUT
    server: "_ThreadingServer"

    def respond(self, method: str) -> Reply:  # pragma: no cover - abstract
        """Answer a ``GET`` or ``HEAD`` request for ``self.path``."""
        raise NotImplementedError

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle("HEAD")

    def _handle(self, method: str) -> None:
        owner = self.server.owner
        faults = owner.faults
        if faults.latency > 0:
            time.sleep(float(faults.latency))
        mode = faults.draw_mode()
        if mode == "liar404":
            reply = Reply.text(404, f"not found: {self.path} (a lie of the test server: mode liar404)")
        elif mode == "redirect":
            target = str(faults.redirect_url).rstrip("/") + self.path
            reply = Reply(302, {"Location": target, "Content-Type": "text/plain; charset=utf-8"},
                          f"moved to {target}\n".encode("utf-8"))
        elif faults.draw_failure():
            headers = {}
            if faults.retry_after is not None:
                headers["Retry-After"] = str(int(round(float(faults.retry_after))))
            reply = Reply.text(int(faults.failure_status), "failure injected by the test server", headers)
        else:
            try:
                reply = self.respond(method)
            except Exception:  # a bug in a test server must not hang the client
                logger.exception("%s failed to answer %s %s", type(owner).__name__, method, self.path)
                reply = Reply.text(500, "internal error of the test server")
        # Record before sending: a client that got its answer must find it counted.
        owner._record(RequestRecord(method, self.path, reply.status))
        if method == "GET" and 200 <= reply.status < 300 and mode in TAMPER_MODES + BODY_MODES:
            ctype = reply.headers.get("Content-Type", "")
            body = _read_slice(*reply.file) if reply.file is not None else reply.body
            reply = dataclasses.replace(reply, file=None, body=body)
            if mode in TAMPER_MODES:
                reply.body = _TAMPER[mode](body, ctype)
            else:
                self._send_hostile(mode, reply)
                return
        self._send(method, reply, tamper=bool(faults.tamper))

    # ------------------------------------------------------------ adversarial bodies
    def _send_hostile(self, mode: str, reply: Reply) -> None:
        """Send ``reply`` (a successful GET) the way ``mode`` says (see :mod:`eurec4a.testing.faults`)."""
        faults = self.server.owner.faults
        body = reply.body
        half = len(body) // 2
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        try:
            if mode in ("endless", "gzip_bomb"):
                self.close_connection = True
                self.send_header("Transfer-Encoding", "chunked")
                if mode == "gzip_bomb":
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                text = reply.headers.get("Content-Type", "").startswith(("text/", "application/json"))
                chunks = _gzip_bomb(body) if mode == "gzip_bomb" else _endless(body, faults, text)
                for chunk in chunks:
                    self.wfile.write(f"{len(chunk):X}\r\n".encode("ascii") + chunk + b"\r\n")
                return
            self.send_header("Content-Length", str(half if mode == "short" else len(body)))
            self.end_headers()
            if mode == "drip":
                interval = float(faults.drip_interval)
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    time.sleep(interval)
                return
            self.wfile.write(body[:half])
            if mode == "short":
                return
            self.close_connection = True
            if mode == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()  # with SO_LINGER 0: a RST, not a FIN
            elif mode == "stall":
                self._wait_for_hangup()
        except OSError:  # the client hung up (or stop() reset the connection): the mode did its job
            self.close_connection = True

    def _wait_for_hangup(self) -> None:
        deadline = time.monotonic() + STALL_LIMIT
        while time.monotonic() < deadline and self.server.owner.running:
            readable, _, _ = select.select([self.connection], [], [], POLL_INTERVAL * 4)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                return  # the client closed its end

    def _send(self, method: str, reply: Reply, *, tamper: bool) -> None:
        body = reply.body
        if tamper and method == "GET" and 200 <= reply.status < 300:
            if reply.file is not None:
                body = _read_slice(*reply.file)
                reply = dataclasses.replace(reply, file=None)
            body = tamper_bytes(body)
        length = reply.file[2] if reply.file is not None else len(body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.truncated:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if method == "HEAD":
            return
        if reply.truncated:
            # One chunk, then the connection drops without the terminating
            # zero-length chunk: the client sees an incomplete stream.
            if body:
                self.wfile.write(f"{len(body):X}\r\n".encode("ascii") + body + b"\r\n")
            self.wfile.flush()
            return
        if reply.file is not None:
            path, offset, count = reply.file
            with open(path, "rb") as f:
                f.seek(offset)
                while count > 0:
                    chunk = f.read(min(COPY_CHUNK, count))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    count -= len(chunk)
        elif body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of http.server
        logger.debug("%s %s", self.address_string(), format % args)


#: Bytes of filler per chunk in the ``"endless"`` mode.
ENDLESS_CHUNK = 64 * 1024
#: Zero bytes per gzip member of the ``"gzip_bomb"`` mode, and members sent (4 GiB in all;
#: small members so that the first one is compressed in milliseconds).
BOMB_MEMBER = 8 * 1024 * 1024
BOMB_MEMBERS = 512


def _endless(body: bytes, faults: Faults, text: bool) -> Iterator[bytes]:
    if body:
        yield body
    spaces = b" " * ENDLESS_CHUNK
    while True:
        yield spaces if text else faults.filler(ENDLESS_CHUNK)


@functools.lru_cache(maxsize=1)
def _zeros_member() -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    out = [z.compress(block) for _ in range(BOMB_MEMBER // len(block))]
    return b"".join(out) + z.flush()


def _gzip_bomb(body: bytes) -> Iterator[bytes]:
    """The body as one gzip member, then :data:`BOMB_MEMBERS` members of zeros (concatenated gzip)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    yield z.compress(body) + z.flush()
    member = _zeros_member()
    for _ in range(BOMB_MEMBERS):
        yield member


_TAMPER = {"wrong_block": wrong_block, "car_header": corrupt_car_header, "flip_first": flip_first_block}


def _read_slice(path: str, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


class _ThreadingServer(ThreadingHTTPServer):
    """The listening socket and accept loop; one instance per start of a :class:`ServerBase`."""

    daemon_threads = True
    block_on_close = False  # keep-alive threads must not make stop() wait
    allow_reuse_address = True  # rebinding the same port while old connections are in TIME_WAIT
    # socketserver's default backlog of 5 drops SYNs when a client opens many
    # connections at once (dask, thread pools): each drop costs a 1 s retransmit.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: "ServerBase"):
        self.owner = owner
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to each keep-alive
        # response (headers and body go out in separate writes).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.owner._track(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        self.owner._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (and stop() resetting connections) are normal here.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


def base_url(host: str, port: int) -> str:
    """``http://host:port`` with IPv6 hosts bracketed (no trailing slash)."""
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


class ServerBase:
    """A threaded HTTP server with fault switches, a request log and stop/restart on one port.

    Subclasses set :attr:`handler_class` to a :class:`FaultyRequestHandler`
    subclass; handlers reach the server object as ``self.server.owner``.

    Parameters
    ----------
    host
        Address to listen on (loopback by default).
    port
        Port to listen on; 0 picks a free one, kept across :meth:`restart`.
    faults
        The fault switches; a fresh :class:`~eurec4a.testing.faults.Faults` when ``None``.
    """

    handler_class: type[FaultyRequestHandler] = FaultyRequestHandler

    def __init__(self, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None):
        self.host = host
        self.port = int(port)
        self.faults = faults if faults is not None else Faults()
        self._lock = threading.Lock()
        self._control = threading.RLock()  # serialises start/stop/restart
        self._requests: list[RequestRecord] = []
        self._connections: set[socket.socket] = set()
        self._accepted = 0
        self._httpd: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.faults.add_listener(self._on_fault_change)
        self.start()
        if self.faults.down:
            self.stop()

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123`` (no trailing slash)."""
        return base_url(self.host, self.port)

    @property
    def running(self) -> bool:
        """Whether the listening socket is open."""
        return self._httpd is not None

    def start(self) -> None:
        """Open the listening socket (on :attr:`port` once it is known) and serve in a thread."""
        with self._control:
            if self._closed:
                raise RuntimeError(f"{type(self).__name__} at {self.url} was closed; create a new one")
            if self._httpd is not None:
                return
            httpd = self._bind()
            self.port = httpd.server_address[1]
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL},
                name=f"{type(self).__name__}:{self.port}",
                daemon=True,
            )
            self._thread.start()
            logger.debug("%s listening on %s", type(self).__name__, self.url)

    def _bind(self) -> _ThreadingServer:
        attempts = 1 if self.port == 0 else REBIND_ATTEMPTS
        for attempt in range(attempts):
            try:
                return _ThreadingServer((self.host, self.port), self.handler_class, self)
            except OSError:
                if attempt == attempts - 1:
                    raise
                time.sleep(REBIND_PAUSE)
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Close the listening socket and reset open connections (the port is kept for :meth:`restart`).

        New connections are refused until :meth:`start` or :meth:`restart`.
        """
        with self._control:
            httpd, thread = self._httpd, self._thread
            if httpd is None:
                return
            self._httpd = self._thread = None
            httpd.shutdown()
            httpd.server_close()
            if thread is not None:
                thread.join()
            with self._lock:
                connections = list(self._connections)
                self._connections.clear()
            for sock in connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            logger.debug("%s on port %d stopped", type(self).__name__, self.port)

    def restart(self) -> None:
        """Stop (if running) and listen again on the same port."""
        with self._control:
            self.stop()
            self.start()

    def close(self) -> None:
        """Stop for good and stop watching the fault switches."""
        with self._control:
            self.stop()
            self._closed = True
            self.faults.remove_listener(self._on_fault_change)

    def __enter__(self) -> "ServerBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"

    def _on_fault_change(self, name: str, value: Any) -> None:
        if name != "down" or self._closed:
            return
        if value:
            self.stop()
        else:
            self.start()

    # ------------------------------------------------------------ connections and log
    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.add(sock)
            self._accepted += 1

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since creation (tells keep-alive reuse from reconnects)."""
        with self._lock:
            return self._accepted

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.discard(sock)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log: ``(method, path, status)`` of every answered request."""
        with self._lock:
            return list(self._requests)

    def count(
        self,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        prefix: str | None = None,
    ) -> int:
        """Number of answered requests matching every filter given.

        ``path`` is compared with the request path without query string unless it
        contains ``?`` itself; ``prefix`` matches the start of the full request target.
        """
        def match(r: RequestRecord) -> bool:
            if method is not None and r.method != method.upper():
                return False
            if status is not None and r.status != status:
                return False
            if path is not None:
                target = r.path if "?" in path else r.path.split("?", 1)[0]
                if target != path:
                    return False
            return prefix is None or r.path.startswith(prefix)

        with self._lock:
            return sum(1 for r in self._requests if match(r))

    def reset_counts(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._requests.clear()


class _StaticHandler(FaultyRequestHandler):
    server: "_ThreadingServer"

    def respond(self, method: str) -> Reply:
        owner: StaticServer = self.server.owner  # type: ignore[assignment]
        path = owner.local_path(urllib.parse.urlsplit(self.path).path)
        if path is None or not os.path.isfile(path):
            return Reply.text(404, f"not found: {self.path}")
        stat = os.stat(path)
        size = stat.st_size
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        headers = {
            "Content-Type": ctype,
            "Accept-Ranges": "bytes",
            "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
            "ETag": f'"{stat.st_mtime_ns:x}-{size:x}"',
        }
        try:
            span = parse_range(self.headers.get("Range"), size)
        except RangeNotSatisfiable as exc:
            return Reply.text(416, str(exc), {"Content-Range": f"bytes */{size}"})
        if span is None:
            return Reply(200, headers, file=(path, 0, size))
        start, stop = span
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        return Reply(206, headers, file=(path, start, stop - start))


class StaticServer(ServerBase):
    """Serve the files below ``root_dir`` over HTTP/1.1 on the loopback interface.

    ``GET`` and ``HEAD`` with single ``Range`` requests (206 + ``Content-Range``,
    416 when unsatisfiable), keep-alive, ``Content-Length``, 404 for anything that
    is not a file below the root (directories included: there are no listings).
    The server starts listening when created.

    Parameters
    ----------
    root_dir
        Directory whose files are served; ``/a/b.nc`` is ``root_dir/a/b.nc``.
    host, port, faults
        See :class:`ServerBase`.

    Examples
    --------
    >>> import tempfile
    >>> with StaticServer(tempfile.mkdtemp()) as srv:
    ...     srv.url.startswith("http://127.0.0.1:")
    True
    """

    handler_class = _StaticHandler

    def __init__(
        self,
        root_dir: str | os.PathLike,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ):
        self.root_dir = os.path.realpath(os.fspath(root_dir))
        if not os.path.isdir(self.root_dir):
            raise NotADirectoryError(f"StaticServer needs a directory to serve; {root_dir!s} is not one")
        super().__init__(host, port, faults)

    def local_path(self, url_path: str) -> str | None:
        """The file a URL path maps to, or ``None`` when it would leave :attr:`root_dir`."""
        parts = [urllib.parse.unquote(p) for p in url_path.split("/") if p]
        if any(p in ("..", ".") or "/" in p or "\0" in p for p in parts):
            return None
        path = os.path.realpath(os.path.join(self.root_dir, *parts))
        if os.path.commonpath([path, self.root_dir]) != self.root_dir:
            return None  # a symlink pointing outside the served tree
        return path

    def __enter__(self) -> "StaticServer":
        return self
