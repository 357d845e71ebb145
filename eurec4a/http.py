"""Plain HTTP for the classic mode and the pointer file: one session, timeouts, clear errors.

Every request made here carries :data:`~eurec4a.config.USER_AGENT` and a
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

import requests

from . import config
from .errors import CatalogNotFoundError, ServerUnreachableError

__all__ = ["session", "http_get"]

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
