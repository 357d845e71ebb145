"""Plain HTTP for the classic mode and the pointer file: one session, timeouts, clear errors.

Every request made here carries :data:`~eurec4a.settings.USER_AGENT` and a
connect/read timeout, and every failure becomes one of the package's errors naming
the URL and the setting that changes it.

Examples
--------
>>> http_get("http://127.0.0.1:9/cids.json", setting="pointer_url")  # doctest: +SKIP
Traceback (most recent call last):
...
eurec4a.errors.ServerUnreachableError: cannot reach http://127.0.0.1:9/cids.json ...
"""
from __future__ import annotations

import threading
from typing import Iterable

import requests

from eurec4a import settings as config
from eurec4a.errors import CatalogNotFoundError, ServerUnreachableError

__all__ = ["session", "http_get", "origin", "redirect_allowed", "describe_network_error"]

_local = threading.local()


def session() -> requests.Session:
    """A per-thread ``requests.Session`` (sessions are not safe to share between threads)."""
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.headers["User-Agent"] = config.USER_AGENT
        _local.session = s
    return s


def http_get(url: str, *, setting: str, timeout: float | None = None) -> bytes:
    """GET ``url`` and return the body.

    Raises
    ------
    ServerUnreachableError
        Connection refused, DNS failure, timeout, or a 5xx answer; names ``url`` and ``setting``.
    CatalogNotFoundError
        A 404 (or other 4xx): the server is there but has no such file.
    """
    read_timeout = float(config.resolve("timeout", timeout).value)
    try:
        response = session().get(url, timeout=(config.CONNECT_TIMEOUT, read_timeout))
    except requests.RequestException as exc:
        raise ServerUnreachableError(
            f"cannot reach {url} ({type(exc).__name__}); check your network, or point the "
            f"setting {setting} to a server that is up"
        ) from exc
    if response.status_code >= 500:
        raise ServerUnreachableError(
            f"{url} answered {response.status_code} {response.reason}: the server has a problem; "
            f"try again later, or change the setting {setting}"
        )
    if response.status_code >= 400:
        raise CatalogNotFoundError(
            f"{url} answered {response.status_code} {response.reason}: no such file there; "
            f"check the setting {setting}"
        )
    return response.content


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
    if "Payload" in names or "IncompleteRead" in names or "ProtocolError" in names or "ContentLength" in names:
        return "answer broke off"
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
