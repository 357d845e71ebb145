"""Which failures mean "a server could not deliver", and the error that says so.

One classifier for the whole catalog layer (catalog files, OPeNDAP, zarr and
netCDF over HTTP): HTTP libraries, pydap and libnetcdf each fail in their own way
when a server is down or dies mid-read; :func:`is_network_error` recognises them
all, and :func:`unreachable_error` words the package's
:class:`~eurec4a.errors.ServerUnreachableError` with the reason given by
:func:`eurec4a.transport.describe_network_error`.

Examples
--------
>>> is_network_error(ConnectionRefusedError(111, "Connection refused"))
True
>>> is_network_error(ValueError("bad value"))
False
>>> str(unreachable_error("http://127.0.0.1:1/x.nc", ConnectionRefusedError(111, "refused")))[:60]
'cannot read http://127.0.0.1:1/x.nc: the server did not deli'
"""
from __future__ import annotations

from eurec4a.errors import Eurec4aError, ServerUnreachableError
from eurec4a.transport import describe_network_error

__all__ = ["is_network_error", "unreachable_error", "NETCDF_NETWORK_MESSAGES"]

#: Fragments of libnetcdf error messages that mean the DAP server failed, not the file.
NETCDF_NETWORK_MESSAGES = ("I/O failure", "DAP server error", "DAP failure", "curl", "Authorization failure",
                           "Malformed or unexpected Constraint")


def is_network_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says a server could not deliver.

    Examples
    --------
    >>> is_network_error(OSError(-70, "NetCDF: DAP server error"))
    True
    >>> is_network_error(TimeoutError())
    True
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, Eurec4aError):
            return isinstance(e, ServerUnreachableError)
        if isinstance(e, (ConnectionError, TimeoutError)):
            return True
        try:
            import requests

            if isinstance(e, requests.RequestException):
                return True
        except ImportError:  # pragma: no cover - requests is a dependency
            pass
        try:
            import aiohttp

            if isinstance(e, aiohttp.ClientError):
                return True
        except ImportError:  # pragma: no cover - aiohttp is in the data extra
            pass
        if isinstance(e, OSError):
            text = " ".join(str(a) for a in e.args)
            if any(fragment in text for fragment in NETCDF_NETWORK_MESSAGES):
                return True
        e = e.__cause__ or e.__context__
    return False


def unreachable_error(url: str, exc: BaseException, where: str = "", *,
                      catalog_dir: str | None = None) -> ServerUnreachableError:
    """The :class:`~eurec4a.errors.ServerUnreachableError` for a failed read of ``url``.

    The advice depends on the mode the catalog was opened in (``catalog_dir`` of
    the entry): a classic-mode reader is pointed to the IPFS copy
    (``use_ipfs=True``); a reader already on IPFS is not, since the entry's data
    live on that server in every mode.

    Examples
    --------
    >>> err = unreachable_error("http://127.0.0.1:1/x.nc", TimeoutError(), catalog_dir="ipfs://QmX/HALO")
    >>> "use_ipfs" in str(err)
    False
    """
    prefix = f"{where}: " if where else ""
    if isinstance(catalog_dir, str) and catalog_dir.startswith("ipfs://"):
        advice = ("The server may be down or overloaded; the IPFS catalog keeps this entry on that server, "
                  "so try again later.")
    else:
        advice = ("The server may be down or overloaded; try again later, or use the IPFS copy of the "
                  "catalog: eurec4a.get_intake_catalog(use_ipfs=True).")
    return ServerUnreachableError(
        f"{prefix}cannot read {url}: the server did not deliver the data ({describe_network_error(exc)}). "
        + advice
    )
