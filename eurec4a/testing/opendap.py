"""A real OPeNDAP (DAP2) server for tests: pydap's file server under gunicorn, in a subprocess.

:class:`OpendapServer` serves the netCDF files of a directory the way the THREDDS
servers of the classic EUREC4A catalog do (``/file.nc.das``, ``.dds``, ``.dods``,
``.html``; the file itself at ``/file.nc``), so ``xarray.open_dataset(url,
engine="netcdf4")`` (libnetcdf's DAP2 client) and ``engine="pydap"`` both work
against it. It is pydap's own :class:`pydap.wsgi.app.DapServer`, run by gunicorn
in a process of its own: a real server that a test can kill (:meth:`~OpendapServer.stop`)
and bring back on the same port (:meth:`~OpendapServer.restart`).

A thin WSGI middleware in the server process (:func:`wsgi_app`) applies the
:class:`~eurec4a.testing.faults.Faults` switches (latency, failures, tampering;
the parent writes them to a JSON file whenever they change; ``down`` stops and
restarts the process) and logs every request to a file that the parent reads
for :attr:`OpendapServer.requests` and :meth:`OpendapServer.count`. Failures are
drawn in the server process from ``random.Random(seed)``: reproducible for a
given order of requests.

Known limits (pydap 3.5.9's server, libnetcdf 4.10's DAP2 client), seen with this server:

* ``int64`` variables are sent as DAP2 ``Int32``: values beyond 32 bits arrive wrong
  (``2**40`` reads as 0) with either client;
* variable-length strings are served, but libnetcdf (``engine="netcdf4"``) fails on
  them with "DAP server error"; ``engine="pydap"`` reads them;
* through libnetcdf, ``uint8`` arrives as ``int8`` (values above 127 wrap),
  ``int8``/``uint16`` as ``int16``; fixed-size ``S`` strings become char arrays.

* pydap's netCDF handler fails (500) on every subset of a multi-dimensional
  variable; the server process fixes that (:func:`_patch_pydap_subsetting`).

Test data should stick to ``int16``, ``int32``, ``float32``, ``float64`` (and times
encoded as those), as the EUREC4A datasets on THREDDS do.

Examples
--------
>>> import tempfile
>>> with OpendapServer(tempfile.mkdtemp()) as srv:  # doctest: +SKIP
...     srv.url.startswith("http://127.0.0.1:")
True
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from typing import Any, Callable, Iterable

from .faults import Faults, tamper_bytes
from .http import RequestRecord, base_url

__all__ = ["OpendapServer", "OpendapServerError", "wsgi_app"]

logger = logging.getLogger(__name__)

#: Seconds to wait for gunicorn to answer its first request.
STARTUP_TIMEOUT = 60.0
#: Seconds between readiness probes.
PROBE_INTERVAL = 0.05
#: Seconds one readiness probe may take.
PROBE_TIMEOUT = 2.0
#: Seconds a terminated server gets to exit before it is killed.
TERMINATE_TIMEOUT = 5.0
#: Fresh ports tried when the picked one was taken meanwhile.
PORT_ATTEMPTS = 5
#: Attempts to bind the same port again on restart (it may linger briefly).
REBIND_ATTEMPTS = 20
REBIND_PAUSE = 0.1
#: Longest path a Unix socket address may have (``sun_path`` is 108 bytes on Linux, 104 on macOS).
MAX_UNIX_SOCKET_PATH = 100
#: gunicorn worker threads: libnetcdf and xarray/dask may ask in parallel.
THREADS = 4

# Environment variables through which the parent configures the server process.
_ENV_DATA = "EUREC4A_OPENDAP_DATA"
_ENV_FAULTS = "EUREC4A_OPENDAP_FAULTS"
_ENV_LOG = "EUREC4A_OPENDAP_LOG"
_ENV_OWNER = "EUREC4A_OPENDAP_OWNER_PID"
_ENV_WORKDIR = "EUREC4A_OPENDAP_WORKDIR"
#: Seconds between the server's checks that the process that started it is still alive.
OWNER_POLL = 1.0
#: Header marking the parent's readiness probes (left out of the request log).
_PROBE_HEADER = "X-Eurec4a-Probe"
_PROBE_ENVIRON = "HTTP_X_EUREC4A_PROBE"

_live: "weakref.WeakSet[OpendapServer]" = weakref.WeakSet()


class OpendapServerError(RuntimeError):
    """The OPeNDAP server process could not be started; the message holds its stderr."""


# ---------------------------------------------------------------------- server process side

class _FaultMiddleware:
    """Runs in the gunicorn worker: faults from a JSON file, and a request log."""

    def __init__(self, app: Callable, faults_path: str | None, log_path: str | None):
        self.app = app
        self.faults_path = faults_path
        self.log_path = log_path
        self._lock = threading.Lock()
        # libnetcdf/HDF5 are not thread-safe: parallel reads of netCDF-4 files crash the
        # worker (clients then see RemoteDisconnected). Latency is applied outside this lock.
        self._netcdf_lock = threading.Lock()
        self._seed: tuple[Any, Any] | None = None
        self._rng = random.Random(0)

    def _faults(self) -> dict[str, Any]:
        if not self.faults_path:
            return {}
        try:
            with open(self.faults_path) as f:
                faults = json.load(f)
        except (OSError, ValueError):
            return {}
        with self._lock:
            seed = (faults.get("seed"), faults.get("reseeds"))
            if seed != self._seed:
                self._seed = seed
                self._rng.seed(seed[0])
        return faults

    def _fails(self, rate: float) -> bool:
        if rate <= 0:
            return False
        if rate >= 1:
            return True
        with self._lock:
            return self._rng.random() < rate

    def _log(self, environ: dict, status: str) -> None:
        if not self.log_path or environ.get(_PROBE_ENVIRON):
            return  # readiness probes of the parent are not requests of the test
        target = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        line = json.dumps([environ.get("REQUEST_METHOD", ""), target, int(status.split()[0])]) + "\n"
        # One write of one line with O_APPEND: lines of parallel requests never interleave.
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get(_PROBE_ENVIRON):
            # The parent's readiness probe: no fault, no draw from the seeded
            # generator (a draw would shift the test's sequence of failures).
            return self.app(environ, start_response)
        faults = self._faults()
        if faults.get("latency"):
            time.sleep(float(faults["latency"]))
        if self._fails(float(faults.get("failure_rate") or 0.0)):
            status = f"{int(faults.get('failure_status', 503))} Injected Failure"
            headers = [("Content-Type", "text/plain"), ("Content-Length", "35")]
            if faults.get("retry_after") is not None:
                headers.append(("Retry-After", str(int(round(float(faults["retry_after"]))))))
            self._log(environ, status)
            start_response(status, headers)
            return [b"failure injected by the test server"]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None  # pydap never uses the legacy write()

        with self._netcdf_lock:
            result = self.app(environ, capture)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        status, headers = captured["status"], captured["headers"]
        if faults.get("tamper") and status.startswith("2") and environ.get("REQUEST_METHOD") != "HEAD":
            body = tamper_bytes(body)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        # Logged before the body leaves: a client that has its answer finds it counted.
        self._log(environ, status)
        start_response(status, headers)
        return [body]


def _patch_pydap_subsetting() -> None:
    """Let pydap's netCDF handler serve subsets of multi-dimensional variables.

    pydap 3.5.9's ``LazyVariable.__getitem__`` reshapes every selection to the
    variable's full shape, so any constrained request such as
    ``ta[1:1:2][2:1:2]`` fails with a 500 ("cannot reshape array of size 2 into
    shape (3,4)"). Clients (libnetcdf, pydap, xarray) send such requests all the
    time. Until pydap fixes it, the server process gives a selection its own
    shape unless ``reshape()`` asked for another one.
    """
    import numpy as np
    from pydap.handlers.netcdf_handler import LazyVariable

    original = LazyVariable.__getitem__
    if getattr(original, "_eurec4a_patched", False):
        return

    def __getitem__(self, key):  # noqa: N807 - replaces a dunder
        natural = tuple(self._shape)
        if tuple(self._reshape) != natural:
            return original(self, key)  # an explicit reshape() is honoured
        # the selection's own shape, from a zero-stride view (no memory)
        self._reshape = np.broadcast_to(np.int8(0), natural)[key].shape
        try:
            return original(self, key)
        finally:
            self._reshape = natural

    __getitem__._eurec4a_patched = True  # type: ignore[attr-defined]
    LazyVariable.__getitem__ = __getitem__


def _watch_owner(owner: str | None, workdir: str | None = None) -> None:
    """End this server when the process that started it is gone.

    The server runs in a session of its own (so stop() can kill it whole), which also
    means it outlives a test process that is killed (a timeout, SIGKILL) before its
    cleanup runs. A daemon thread in the worker polls the owner and then removes the
    server's temporary folder and stops the gunicorn master, so no orphan server keeps
    a port, a process or files.
    """
    if not owner:
        return
    owner_pid, master_pid = int(owner), os.getppid()

    def watch() -> None:
        while True:
            time.sleep(OWNER_POLL)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                if workdir:
                    shutil.rmtree(workdir, ignore_errors=True)
                os.kill(master_pid, signal.SIGTERM)
                return
            except PermissionError:  # alive, owned by someone else
                continue

    threading.Thread(target=watch, name="eurec4a-opendap-owner-watch", daemon=True).start()


def wsgi_app() -> Callable:
    """The WSGI application gunicorn runs: pydap's DapServer over ``$EUREC4A_OPENDAP_DATA``.

    Used as ``gunicorn 'eurec4a.testing.opendap:wsgi_app()'`` by :class:`OpendapServer`.
    """
    from pydap.wsgi.app import DapServer, StaticMiddleware

    _patch_pydap_subsetting()
    _watch_owner(os.environ.get(_ENV_OWNER), os.environ.get(_ENV_WORKDIR))
    data = os.environ[_ENV_DATA]
    app = StaticMiddleware(DapServer(data), ("pydap.wsgi", "templates/static"))
    return _FaultMiddleware(app, os.environ.get(_ENV_FAULTS), os.environ.get(_ENV_LOG))


# ---------------------------------------------------------------------- test process side

def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_port_free(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                return
            except OSError:
                if time.monotonic() > deadline:
                    logger.warning("port %s:%d is still bound %g s after the server was killed", host, port, timeout)
                    return
        time.sleep(PROBE_INTERVAL / 5)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class OpendapServer:
    """pydap's OPeNDAP server for the netCDF files in ``data_dir``, in a gunicorn subprocess.

    The server is started when the object is created and ended by
    :meth:`close` (or leaving the ``with`` block, or at interpreter exit).

    Parameters
    ----------
    data_dir
        Directory whose files are served; ``/x.nc`` is the OPeNDAP dataset of ``data_dir/x.nc``.
    host
        Loopback address to listen on.
    port
        Port; 0 picks a free one (kept across :meth:`restart`).
    faults
        Fault switches (latency, failure_rate, failure_status, retry_after,
        tamper, seed; ``down`` stops/restarts the process), changeable at any time.
    startup_timeout
        Seconds to wait for the server to answer before giving up.
    workdir
        Folder in which the server's temporary folder is made (request log, fault
        switches, gunicorn's control socket); the system's temporary folder by default.
        The temporary folder is removed by :meth:`close`.

    Examples
    --------
    >>> import xarray as xr  # doctest: +SKIP
    >>> with OpendapServer("data/") as srv:  # doctest: +SKIP
    ...     ds = xr.open_dataset(srv.url + "/x.nc", engine="pydap")
    """

    def __init__(
        self,
        data_dir: str | os.PathLike,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        workdir: str | os.PathLike | None = None,
    ):
        self.data_dir = os.path.realpath(os.fspath(data_dir))
        if not os.path.isdir(self.data_dir):
            raise NotADirectoryError(f"OpendapServer needs a directory of netCDF files; {data_dir!s} is not one")
        self.host = host
        self.port = int(port)
        self.startup_timeout = float(startup_timeout)
        self.faults = faults if faults is not None else Faults()
        self._control = threading.RLock()
        self._closed = False
        self._proc: subprocess.Popen | None = None
        # the server's own files (faults, request log, stderr, gunicorn's control socket) go into
        # one temporary folder, inside ``workdir`` when given; close() removes it
        self._workdir = tempfile.mkdtemp(prefix="eurec4a-opendap-", dir=workdir)
        self._faults_path = os.path.join(self._workdir, "faults.json")
        self._log_path = os.path.join(self._workdir, "requests.log")
        self._stderr_path = os.path.join(self._workdir, "stderr.log")
        self._reseeds = 0
        self._write_faults()
        self.faults.add_listener(self._on_fault_change)
        _live.add(self)
        if not self.faults.down:
            try:
                self.start()
            except BaseException:
                self.close()  # the caller gets no object to close: leave no process or temp files
                raise

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123`` (no trailing slash)."""
        return base_url(self.host, self.port)

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the gunicorn master (``None`` when stopped)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the server process and wait until it answers (raises :class:`OpendapServerError`)."""
        with self._control:
            if self._closed:
                raise RuntimeError(f"OpendapServer at {self.url} was closed; create a new one")
            if self.running:
                return
            if self.port == 0:
                error: OpendapServerError | None = None
                for _ in range(PORT_ATTEMPTS):
                    self.port = _free_port(self.host)
                    try:
                        self._launch()
                        return
                    except OpendapServerError as exc:  # the port was taken meanwhile?
                        error = exc
                        if "in use" not in str(exc):
                            break
                        self.port = 0
                assert error is not None
                raise error
            for attempt in range(REBIND_ATTEMPTS):
                try:
                    self._launch()
                    return
                except OpendapServerError as exc:
                    if "in use" not in str(exc) or attempt == REBIND_ATTEMPTS - 1:
                        raise
                    time.sleep(REBIND_PAUSE)

    def _launch(self) -> None:
        env = dict(os.environ)
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
        env[_ENV_DATA] = self.data_dir
        env[_ENV_FAULTS] = self._faults_path
        env[_ENV_LOG] = self._log_path
        env[_ENV_OWNER] = str(os.getpid())
        env[_ENV_WORKDIR] = self._workdir
        cmd = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{self.host}:{self.port}",
            "--workers", "1",
            "--worker-class", "gthread",
            "--threads", str(THREADS),
            "--timeout", "120",
            # gunicorn closes idle keep-alive connections after 2 s by default; a client that
            # reuses a pooled connection at that moment gets RemoteDisconnected (seen with pydap)
            "--keep-alive", "300",
            "--graceful-timeout", "1",
            "--log-level", "warning",
            *self._control_socket_args(),
            "eurec4a.testing.opendap:wsgi_app()",
        ]
        with open(self._stderr_path, "wb") as stderr:
            # A session of its own, so stop() can kill master and worker together.
            self._proc = subprocess.Popen(
                cmd, env=env, cwd=self._workdir, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                raise OpendapServerError(
                    f"the OPeNDAP server (gunicorn + pydap) on {self.url} exited at start; "
                    f"its stderr:\n{self._stderr()}"
                )
            try:
                probe = urllib.request.Request(self.url + "/", headers={_PROBE_HEADER: "1"})
                with urllib.request.urlopen(probe, timeout=PROBE_TIMEOUT) as resp:
                    if resp.status == 200:
                        logger.debug("OPeNDAP server ready on %s (pid %d)", self.url, self._proc.pid)
                        return
            except urllib.error.HTTPError:
                return  # it answers, if not with 200: it is up
            except OSError:
                pass
            if time.monotonic() > deadline:
                self._kill(signal.SIGKILL)
                raise OpendapServerError(
                    f"the OPeNDAP server on {self.url} did not answer within {self.startup_timeout:g} s; "
                    f"its stderr:\n{self._stderr()}"
                )
            time.sleep(PROBE_INTERVAL)

    def _control_socket_args(self) -> list[str]:
        """gunicorn's control socket goes into the server's temporary folder, never ``~/.gunicorn``."""
        from gunicorn.config import KNOWN_SETTINGS

        if not any(getattr(s, "name", None) == "control_socket" for s in KNOWN_SETTINGS):
            return []  # gunicorn before the control socket existed: nothing to redirect
        path = os.path.join(self._workdir, "gunicorn.ctl")
        if len(os.fsencode(path)) >= MAX_UNIX_SOCKET_PATH:
            return ["--no-control-socket"]  # too long for a Unix socket address: none at all
        return ["--control-socket", path]

    def _stderr(self) -> str:
        try:
            with open(self._stderr_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return "(no stderr captured)"

    def _kill(self, sig: int) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        _signal_group(proc.pid, sig)
        try:
            proc.wait(timeout=TERMINATE_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=TERMINATE_TIMEOUT)
        # The master is gone; a worker still finishing its graceful exit is not
        # left behind (it would keep serving on the inherited socket).
        _signal_group(proc.pid, signal.SIGKILL)
        # A killed worker holds the listening socket until it has really exited,
        # and the kernel keeps queueing connections on it until then: wait until
        # the port can be bound, so "stopped" means "connections are refused".
        _wait_port_free(self.host, self.port, TERMINATE_TIMEOUT)

    def stop(self) -> None:
        """Kill the server (SIGKILL to master and worker), as a crash would; the port is kept."""
        with self._control:
            self._kill(signal.SIGKILL)

    def restart(self) -> None:
        """Stop (if running) and start again on the same port."""
        with self._control:
            self.stop()
            self.start()

    def close(self) -> None:
        """Terminate the server for good and remove its temporary files."""
        with self._control:
            if self._closed:
                return
            self._closed = True
            self.faults.remove_listener(self._on_fault_change)
            self._kill(signal.SIGTERM)
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> "OpendapServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_proc", None) is not None:
                self._kill(signal.SIGKILL)
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<OpendapServer {self.url} {'running' if self.running else 'stopped'}>"

    # ------------------------------------------------------------ faults
    def _write_faults(self) -> None:
        # Atomic: the server reads this file on every request.
        tmp = f"{self._faults_path}.tmp-{os.getpid()}-{threading.get_ident()}"
        switches = self.faults.as_dict()
        switches["reseeds"] = self._reseeds  # assigning the same seed again must reseed too
        with open(tmp, "w") as f:
            json.dump(switches, f)
        os.replace(tmp, self._faults_path)

    def _on_fault_change(self, name: str, value: Any) -> None:
        if self._closed:
            return
        if name == "seed":
            self._reseeds += 1
        if name == "down":
            if value:
                self.stop()
            else:
                self.start()
        else:
            self._write_faults()

    # ------------------------------------------------------------ request log
    @property
    def requests(self) -> list[RequestRecord]:
        """Every request the server answered: ``(method, path, status)``."""
        try:
            with open(self._log_path, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                method, path, status = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            out.append(RequestRecord(method, path, int(status)))
        return out

    def count(
        self,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        prefix: str | None = None,
    ) -> int:
        """Number of answered requests matching every filter (same rules as ``StaticServer.count``)."""
        n = 0
        for r in self.requests:
            if method is not None and r.method != method.upper():
                continue
            if status is not None and r.status != status:
                continue
            if path is not None and (r.path if "?" in path else r.path.split("?", 1)[0]) != path:
                continue
            if prefix is not None and not r.path.startswith(prefix):
                continue
            n += 1
        return n

    def reset_counts(self) -> None:
        """Empty the request log."""
        try:
            os.truncate(self._log_path, 0)
        except OSError:
            pass


@atexit.register
def _close_all() -> None:
    # No orphan gunicorn processes when a test run ends without closing its servers.
    for server in list(_live):
        try:
            server.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass
