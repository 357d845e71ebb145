"""Plain HTTP for the classic mode, the pointer file and flight segments: bounded in time, size and place.

Every request made here

* carries :data:`~eurec4a.settings.USER_AGENT`;
* waits at most ``timeout`` seconds (setting ``timeout``, ``EUREC4A_TIMEOUT``) for the
  next bytes of an answer, and at most ``deadline`` seconds (setting ``deadline``,
  ``EUREC4A_DEADLINE``, default 60 s) for the whole request, redirects and body
  included, so a server that drips one byte per second ends in an error too;
* reads at most ``max_size`` bytes (:data:`MAX_DOCUMENT_SIZE`, 16 MiB, for pointer,
  catalog and flight-segment files), counted *after* decompression: ``Accept-Encoding:
  identity`` is asked for, and a server that compresses anyway is decompressed here
  in bounded steps, so a gzip bomb stops at the cap;
* follows a redirect only where :func:`redirect_allowed` allows it (same origin, an
  ``https`` upgrade, a subdomain, or a configured origin; never link-local, loopback
  or private addresses nobody configured), at most :data:`MAX_REDIRECTS` times;
* fails with one of the package's errors
  (:class:`~eurec4a.errors.ServerUnreachableError`,
  :class:`~eurec4a.errors.CatalogNotFoundError`) naming the URL, a one-line reason
  (:func:`describe_network_error`) and the setting that changes it; never with an
  aiohttp, urllib3 or ``json`` exception.

It is built on :mod:`aiohttp` (the library fsspec's ``http`` filesystem uses): the
synchronous :func:`http_get` runs on fsspec's I/O event loop (its own thread, so it
works inside Jupyter's running loop as well), and :func:`http_get_many` fetches many
files concurrently, one round trip for a level of the catalog tree.

Examples
--------
>>> http_get("http://127.0.0.1:9/cids.json", setting="pointer_url")  # doctest: +SKIP
Traceback (most recent call last):
...
eurec4a.errors.ServerUnreachableError: cannot reach http://127.0.0.1:9/cids.json (connection refused) ...
"""
from __future__ import annotations

import asyncio
import logging
import zlib
from typing import Any, Iterable, Sequence

from eurec4a import settings as config
from eurec4a.errors import CatalogNotFoundError, Eurec4aError, ServerUnreachableError

__all__ = [
    "MAX_DOCUMENT_SIZE",
    "MAX_REDIRECTS",
    "http_get",
    "http_get_many",
    "fetch",
    "client_session",
    "origin",
    "redirect_allowed",
    "describe_network_error",
]

logger = logging.getLogger(__name__)

#: Largest pointer, catalog or flight-segment file read (bytes, after decompression).
#: The real files are a few kB; a larger answer is a broken or hostile server.
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024
#: Redirects followed per request (each one checked by :func:`redirect_allowed`).
MAX_REDIRECTS = 5
#: Requests :func:`http_get_many` keeps in flight at once.
MAX_CONCURRENT = 16
#: Bytes read from the socket per step (also the step of the decompressor's output).
READ_CHUNK = 64 * 1024



def _timeout_hint() -> str:
    return (f"the setting timeout ({config.ENVIRONMENT['timeout']}) bounds the wait for the next bytes, "
            f"deadline ({config.ENVIRONMENT['deadline']}) the whole request")


class _Decoder:
    """Undo ``Content-Encoding`` in bounded steps, so that a bomb stops at the size cap.

    aiohttp's own decompression hands out whatever one compressed chunk expands to;
    ``zlib.decompressobj(...).decompress(data, max_length)`` bounds every step.
    """

    def __init__(self, encoding: str):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r} (identity was asked for)")

    def feed(self, data: bytes) -> Iterable[bytes]:
        if self._z is None:
            if data:
                yield data
            return
        while data:
            out = self._z.decompress(data, READ_CHUNK)
            if out:
                yield out
            if self._z.eof:  # the next of concatenated gzip members (RFC 1952 allows them)
                data = self._z.unused_data
                self._z = zlib.decompressobj(zlib.MAX_WBITS | 32)
            else:
                data = self._z.unconsumed_tail

    def flush(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


async def fetch(
    client: Any,
    url: str,
    *,
    setting: str,
    timeout: float | None = None,
    deadline: float | None = None,
    max_size: int = MAX_DOCUMENT_SIZE,
    allowed_origins: Sequence[str] = (),
) -> bytes:
    """GET ``url`` with an :class:`aiohttp.ClientSession` (``client``) and return the body.

    The coroutine behind :func:`http_get` and :func:`http_get_many`, for callers that
    already run on an event loop. ``client`` should be created with
    ``auto_decompress=False`` (see :func:`client_session`); the parameters and errors are
    those of :func:`http_get`.

    Examples
    --------
    >>> import asyncio
    >>> async def main():
    ...     async with client_session() as client:
    ...         return await fetch(client, "http://127.0.0.1:9/x", setting="catalog_url")
    >>> asyncio.run(main())  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    eurec4a.errors.ServerUnreachableError: cannot reach http://127.0.0.1:9/x (connection refused) ...
    """
    read_timeout = float(config.resolve("timeout", timeout).value)
    total = float(config.resolve("deadline", deadline).value)
    try:
        return await asyncio.wait_for(
            _fetch(client, url, setting, read_timeout, max_size, allowed_origins), total
        )
    except asyncio.TimeoutError:
        raise ServerUnreachableError(
            f"{url} did not deliver its answer within the deadline of {total:g} s (the server is "
            f"very slow, or sends its answer a few bytes at a time). Try again later, point the setting "
            f"{setting} to another server, or raise the setting deadline "
            f"({config.ENVIRONMENT['deadline']})."
        ) from None


async def _fetch(client: Any, url: str, setting: str, read_timeout: float, max_size: int,
                 allowed_origins: Sequence[str]) -> bytes:
    import aiohttp
    from yarl import URL

    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            async with client.get(
                current,
                allow_redirects=False,
                headers={"Accept-Encoding": "identity"},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=config.CONNECT_TIMEOUT,
                                              sock_read=read_timeout),
            ) as response:
                status = response.status
                if status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise ServerUnreachableError(
                            f"{current} answered {status} without a Location header: the server is broken. "
                            f"Try again later, or point the setting {setting} to another server."
                        )
                    target = str(response.url.join(URL(location)))
                    if not redirect_allowed(current, target, [url, *allowed_origins]):
                        raise ServerUnreachableError(
                            f"{current} redirected to {target}, an address nobody configured; the redirect "
                            "was refused (redirects are followed only within the same server, to its "
                            f"https address, or to a configured server). Point the setting {setting} "
                            "to the final address if it is trustworthy."
                        )
                    current = target
                    continue
                if status >= 500 or status == 429:
                    raise ServerUnreachableError(
                        f"{current} answered {status} {response.reason}: the server has a problem or "
                        f"limits its requests. Try again later, or point the setting {setting} to another server."
                    )
                if status >= 400:
                    raise CatalogNotFoundError(
                        f"{current} answered {status} {response.reason}: there is no such file there. "
                        f"Check the setting {setting}."
                    )
                if status >= 300 or status < 200:
                    raise ServerUnreachableError(
                        f"{current} answered {status} {response.reason}, which is not a file. "
                        f"Check the setting {setting}."
                    )
                length = response.headers.get("Content-Length")
                encoding = response.headers.get("Content-Encoding", "")
                if length is not None and length.isdigit() and not encoding and int(length) > max_size:
                    raise _too_large(current, max_size, setting)
                decoder = _Decoder(encoding)
                parts: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    for piece in decoder.feed(chunk):
                        size += len(piece)
                        if size > max_size:
                            raise _too_large(current, max_size, setting)
                        parts.append(piece)
                tail = decoder.flush()
                size += len(tail)
                if size > max_size:
                    raise _too_large(current, max_size, setting)
                parts.append(tail)
                return b"".join(parts)
        except Eurec4aError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError, zlib.error) as exc:
            reason = describe_network_error(exc, read_timeout)
            if reason.startswith("timed out"):
                reason = f"no bytes arrived for {read_timeout:g} s"
                hint = f"; {_timeout_hint()}"
            else:
                hint = ""
            raise ServerUnreachableError(
                f"cannot reach {current} ({reason}). Check your network, try again later, or point the "
                f"setting {setting} to a server that is up{hint}."
            ) from exc
    raise ServerUnreachableError(
        f"{url} redirected more than {MAX_REDIRECTS} times (a redirect loop). Point the setting "
        f"{setting} to the final address."
    )


def _too_large(url: str, max_size: int, setting: str) -> ServerUnreachableError:
    return ServerUnreachableError(
        f"{url} sent more than {config.format_size(max_size)}, the most a pointer, catalog or "
        f"flight-segment file may hold (after decompression); the server is broken or hostile. "
        f"Point the setting {setting} to another server."
    )


def client_session(limit: int = MAX_CONCURRENT):
    """A new :class:`aiohttp.ClientSession` as :func:`fetch` expects it.

    It sends :data:`~eurec4a.settings.USER_AGENT`, leaves decompression to
    :func:`fetch` (``auto_decompress=False``, so a gzip bomb is cut at the size cap)
    and keeps at most ``limit`` connections open. Create it on the event loop that
    uses it (``async with client_session() as client: ...``).

    Examples
    --------
    >>> import asyncio
    >>> async def main():
    ...     async with client_session() as client:
    ...         return client.auto_decompress
    >>> asyncio.run(main())
    False
    """
    import aiohttp

    return aiohttp.ClientSession(
        headers={"User-Agent": config.USER_AGENT},
        auto_decompress=False,
        trust_env=True,  # honour HTTP(S)_PROXY / NO_PROXY, as requests did
        connector=aiohttp.TCPConnector(limit=limit),
    )


def _run(coro_fn, *args: Any) -> Any:
    from fsspec.asyn import get_loop, sync

    return sync(get_loop(), coro_fn, *args)


def http_get(
    url: str,
    *,
    setting: str,
    timeout: float | None = None,
    deadline: float | None = None,
    max_size: int = MAX_DOCUMENT_SIZE,
    allowed_origins: Sequence[str] = (),
) -> bytes:
    """GET ``url`` and return the body, within ``deadline`` seconds and ``max_size`` bytes.

    Parameters
    ----------
    url
        An ``http://`` or ``https://`` URL.
    setting
        The setting that chose ``url`` (e.g. ``"pointer_url / EUREC4A_POINTER_URL"``), named in errors.
    timeout
        Seconds to wait for the next bytes (default: setting ``timeout``, ``EUREC4A_TIMEOUT``).
    deadline
        Seconds the whole request may take (default: setting ``deadline``, ``EUREC4A_DEADLINE``).
    max_size
        Most bytes accepted, after decompression (default :data:`MAX_DOCUMENT_SIZE`).
    allowed_origins
        Further origins a redirect may lead to (besides those :func:`redirect_allowed` accepts).

    Raises
    ------
    ServerUnreachableError
        Connection refused, DNS failure, timeout, deadline passed, an answer broken off
        or too large, a refused redirect, or a 5xx/429 answer; names ``url`` and ``setting``.
    CatalogNotFoundError
        A 404 (or other 4xx): the server is there but has no such file.

    Examples
    --------
    >>> http_get("http://127.0.0.1:9/cids.json", setting="pointer_url")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    eurec4a.errors.ServerUnreachableError: cannot reach http://127.0.0.1:9/cids.json (connection refused) ...
    """
    async def one() -> bytes:
        async with client_session(1) as client:
            return await fetch(client, url, setting=setting, timeout=timeout, deadline=deadline,
                               max_size=max_size, allowed_origins=allowed_origins)

    return _run(one)


def http_get_many(
    urls: Sequence[str],
    *,
    setting: str,
    timeout: float | None = None,
    deadline: float | None = None,
    max_size: int = MAX_DOCUMENT_SIZE,
    allowed_origins: Sequence[str] = (),
) -> list[bytes | Eurec4aError]:
    """GET every URL concurrently; each result is the body or the package error it ended with.

    Each request has its own ``deadline`` (they run side by side, so the whole call
    takes about one deadline at most); the other parameters are those of :func:`http_get`.
    Nothing is raised for a failed URL: its error is returned in its place.

    Examples
    --------
    >>> [type(r).__name__ for r in http_get_many(["http://127.0.0.1:9/a"], setting="catalog_url")]  # doctest: +SKIP
    ['ServerUnreachableError']
    """
    async def many() -> list[bytes | Eurec4aError]:
        async with client_session() as client:
            return await asyncio.gather(*(
                fetch(client, u, setting=setting, timeout=timeout, deadline=deadline,
                      max_size=max_size, allowed_origins=allowed_origins)
                for u in urls
            ), return_exceptions=True)

    results = _run(many)
    out: list[bytes | Eurec4aError] = []
    for u, r in zip(urls, results):
        if isinstance(r, (bytes, Eurec4aError)):
            out.append(r)
        else:  # a bug would surface here; keep it the package's error with its cause
            err = ServerUnreachableError(f"cannot read {u} ({describe_network_error(r)}); check the setting {setting}.")
            err.__cause__ = r
            out.append(err)
    return out


# ---------------------------------------------------------------- shared network policy
# Used by every HTTP client of the package (gateways, pointer file, classic catalog,
# flight segments, HTTP data), so that they follow the same rules.


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lowercased, default ports left out.

    Examples
    --------
    >>> origin("HTTPS://IPFS.io:443/ipfs/Qm")
    'https://ipfs.io'
    >>> origin("http://127.0.0.1:8080/x")
    'http://127.0.0.1:8080'
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def redirect_allowed(from_url: str, to_url: str, configured: Iterable[str] = ()) -> bool:
    """Whether a redirect from ``from_url`` to ``to_url`` may be followed.

    A redirect is followed only to the same origin (an ``http`` to ``https`` upgrade of
    the same host included), to a subdomain of the same host name (subdomain gateways
    such as ``<cid>.ipfs.dweb.link``), or to an origin that is itself configured
    (``configured``: the other gateways, the catalog's server...). Everything else,
    link-local, loopback and private addresses in particular, is refused, so that a
    server cannot make the user's machine send requests to hosts nobody configured
    (for example a cloud metadata service at ``169.254.169.254``).

    Examples
    --------
    >>> redirect_allowed("http://127.0.0.1:8080/ipfs/a", "http://127.0.0.1:8080/ipfs/b")
    True
    >>> redirect_allowed("https://gw.example/ipfs/a", "http://169.254.169.254/latest")
    False
    >>> redirect_allowed("http://gw.example/ipfs/a", "https://gw.example/ipfs/a")
    True
    >>> redirect_allowed("https://dweb.link/ipfs/a", "https://a.ipfs.dweb.link/")
    True
    >>> redirect_allowed("http://127.0.0.1:1/x", "http://127.0.0.1:2/x", ["http://127.0.0.1:2"])
    True
    """
    from urllib.parse import urlsplit

    src, dst = urlsplit(from_url), urlsplit(to_url)
    if dst.scheme.lower() not in ("http", "https"):
        return False
    target = origin(to_url)
    if target == origin(from_url) or target in {origin(u) for u in configured}:
        return True
    src_host, dst_host = (src.hostname or "").lower(), (dst.hostname or "").lower()
    if not src_host or not dst_host:
        return False
    upgrade = src.scheme.lower() == "http" and dst.scheme.lower() == "https"
    if dst_host == src_host and (upgrade or dst.scheme.lower() == src.scheme.lower()):
        # same host, other port: only the standard https upgrade
        return upgrade and (dst.port in (None, 443))
    if dst_host.endswith("." + src_host) and not _is_ip(src_host):
        return True
    return False


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def describe_network_error(exc: BaseException, timeout: float | None = None) -> str:
    """A short, human reason for a failed request: ``"name not resolved"``, ``"connection refused"``...

    The full exception stays in the chain (``raise ... from exc``); this is the one line a
    user reads, the same whichever HTTP library failed.

    Examples
    --------
    >>> import socket
    >>> describe_network_error(socket.gaierror(-2, "Name or service not known"))
    'name not resolved'
    >>> describe_network_error(ConnectionRefusedError(111, "Connection refused"))
    'connection refused'
    >>> describe_network_error(TimeoutError(), timeout=30)
    'timed out (no answer within 30 s)'
    """
    import socket
    import ssl

    seen = set()
    chain = []
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = e.__cause__ or e.__context__
        for arg in getattr(chain[-1], "args", ()):  # urllib3 wraps the cause in args
            if isinstance(arg, BaseException) and id(arg) not in seen:
                chain.append(arg)
                seen.add(id(arg))
    names = " ".join(type(x).__name__ for x in chain) + " " + " ".join(str(x) for x in chain)
    if any(isinstance(x, socket.gaierror) for x in chain) or "NameResolution" in names or "Name or service not known" in names:
        return "name not resolved"
    if any(isinstance(x, ConnectionRefusedError) for x in chain) or "Connection refused" in names:
        return "connection refused"
    if any(isinstance(x, ssl.SSLError) for x in chain) or "SSL" in names:
        return "TLS error"
    if any(isinstance(x, ConnectionResetError) for x in chain) or "reset" in names.lower():
        return "connection reset"
    if any(isinstance(x, TimeoutError) for x in chain) or "Timeout" in names or "timed out" in names:
        return f"timed out (no answer within {timeout:g} s)" if timeout else "timed out"
    if "Payload" in names or "IncompleteRead" in names or "ProtocolError" in names or "ContentLength" in names \
            or "ServerDisconnected" in names:
        return "answer broke off"
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
