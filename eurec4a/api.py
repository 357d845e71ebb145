"""The one entry point: :func:`get_intake_catalog` in its three modes.

* ``use_ipfs=False`` (default): the classic catalog, YAML files over HTTP
  (``catalog_url``), datasets mostly over OPeNDAP.
* ``use_ipfs=True``: the latest IPFS copy, named by the pointer file
  (``pointer_url``), opened as ``ipfs://<CID>/catalog.yml``.
* ``use_ipfs="<CID>"``: exactly that catalog version, forever.

``None`` is accepted as the classic mode, as the published ``eurec4a`` 0.0.x
treated every false value, so code passing ``use_ipfs=None`` keeps working. Any
other non-bool, non-string value (``1``, ``0.0``, a list) is an
:class:`~eurec4a.errors.InvalidModeError`: ``1`` is far more likely a mistake than
a request for the latest IPFS catalog.

Examples
--------
>>> import eurec4a
>>> eurec4a.get_intake_catalog(use_ipfs=1)
Traceback (most recent call last):
...
eurec4a.errors.InvalidModeError: use_ipfs must be False, True or a CID string, got int 1. ...
"""
from __future__ import annotations

import logging
import os
from typing import Any

from eurec4a import settings as config
from eurec4a.ipfs.cid import ACCEPTED_FORMS, parse_cid
from eurec4a.errors import (
    CatalogNotFoundError,
    ContentNotFoundError,
    InvalidCIDError,
    InvalidModeError,
    ServerUnreachableError,
)
from eurec4a.versions import fetch_pointer

logger = logging.getLogger(__name__)

__all__ = ["get_intake_catalog", "open_catalog", "parse_mode", "reset_state", "CATALOG_FILE"]

#: The catalog's root file inside an IPFS catalog tree.
CATALOG_FILE = "catalog.yml"


#: Strings that are a boolean written as text, and the value they were meant to be.
_BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "1": True, "latest": True,
                  "false": False, "no": False, "off": False, "0": False, "none": False}


def parse_mode(use_ipfs: Any) -> str | None:
    """Validate ``use_ipfs``: ``None`` for the classic mode, ``"latest"``, or a CID string.

    Raises before any network access.

    Examples
    --------
    >>> parse_mode(False) is None, parse_mode(True)
    (True, 'latest')
    >>> parse_mode("/ipfs/QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")
    'QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N'
    >>> parse_mode("true")
    Traceback (most recent call last):
    ...
    eurec4a.errors.InvalidCIDError: use_ipfs='true' is a string, not a CID; did you mean True (without quotes)? ...
    """
    if use_ipfs is None or use_ipfs is False:
        return None
    if use_ipfs is True:
        return "latest"
    if isinstance(use_ipfs, str):
        meant = _BOOLEAN_WORDS.get(use_ipfs.strip().lower())
        if meant is not None:  # a flag read from text (a config file, an environment variable, a form)
            raise InvalidCIDError(
                f"use_ipfs={use_ipfs!r} is a string, not a CID; did you mean {meant} (without quotes)? "
                f"use_ipfs takes False (classic catalog), True (latest IPFS catalog) or a CID ({ACCEPTED_FORMS})."
            )
        return str(parse_cid(use_ipfs))
    raise InvalidModeError(
        f"use_ipfs must be False, True or a CID string, got {type(use_ipfs).__name__} {use_ipfs!r}. "
        f"False: classic catalog over HTTP; True: latest IPFS catalog; a CID: that catalog version "
        f"({ACCEPTED_FORMS})."
    )


def get_intake_catalog(use_ipfs: bool | str | None = False, *, catalog_url: str | None = None,
                       pointer_url: str | None = None, gateways: str | list[str] | None = None,
                       cache_dir: str | None = None, cache_size: str | int | None = None,
                       timeout: float | None = None, **kwargs: Any):
    """Open the EUREC4A intake catalog.

    Parameters
    ----------
    use_ipfs
        ``False``: the classic catalog over HTTP. ``True``: the latest IPFS catalog.
        A CID (``"Qm..."``, ``"bafy..."``, ``"ipfs://..."``, ``"/ipfs/..."``): that
        catalog version. ``None`` counts as ``False``.
    catalog_url
        Classic catalog URL (default ``EUREC4A_CATALOG_URL``, else GitHub raw of
        eurec4a/eurec4a-intake).
    pointer_url
        Pointer file URL for ``use_ipfs=True`` (default ``EUREC4A_CID_POINTER_URL``).
    gateways
        IPFS gateway URL or list (default: ``IPFS_GATEWAY``, local node, public fallbacks).
    cache_dir, cache_size
        Block cache location and size limit (``EUREC4A_CACHE_DIR``, ``EUREC4A_CACHE_SIZE``).
    timeout
        Read timeout in seconds for each request.
    **kwargs
        Passed to the intake catalog.

    Returns
    -------
    intake.catalog.Catalog

    Raises
    ------
    InvalidModeError, InvalidCIDError
        Bad ``use_ipfs`` (before any network access).
    PointerFileError
        The pointer file is not JSON or lacks ``intake.latest``.
    CatalogNotFoundError
        The catalog file does not exist (e.g. a CID without ``catalog.yml``).
    ServerUnreachableError
        A server is down; the message names the URL and the setting that changes it.

    Examples
    --------
    >>> import eurec4a
    >>> cat = eurec4a.get_intake_catalog()  # doctest: +SKIP
    >>> cat = eurec4a.get_intake_catalog(use_ipfs="QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")  # doctest: +SKIP
    >>> sorted(cat)[:3]  # doctest: +SKIP
    ['AERI', 'ATOMIC', 'BCO']
    """
    mode = parse_mode(use_ipfs)
    from eurec4a.catalog.yaml_catalog import open_yaml_catalog

    if mode is None:
        url = config.resolve("catalog_url", catalog_url).value
        try:
            transport = dict(http_storage_options(url, timeout) or {})
            # the classic tree may name catalogs and data on IPFS: they use this call's IPFS settings
            ipfs = {"gateways": gateways, "cache_dir": cache_dir, "cache_size": cache_size, "timeout": timeout}
            if any(v is not None for v in ipfs.values()):
                transport["ipfs"] = {k: v for k, v in ipfs.items() if v is not None}
            return open_yaml_catalog(url, transport_options=transport, **kwargs)
        except ServerUnreachableError as exc:
            text = str(exc).rstrip()
            raise ServerUnreachableError(
                f"{text}{'' if text.endswith('.') else '.'} The catalog URL is set by catalog_url= / "
                f"{config.ENVIRONMENT['catalog_url']}. The IPFS copy of the catalog may still be reachable: "
                "eurec4a.get_intake_catalog(use_ipfs=True)."
            ) from exc
    if mode == "latest":
        mode = str(fetch_pointer(pointer_url).latest)
    options = {"gateways": gateways, "cache_dir": cache_dir, "cache_size": cache_size, "timeout": timeout}
    storage_options = {k: v for k, v in options.items() if v is not None}
    fs = ipfs_filesystem(**storage_options)
    fs.prefetch(f"ipfs://{mode}")
    try:
        info = fs.info(f"ipfs://{mode}/{CATALOG_FILE}")
    except ContentNotFoundError as exc:
        raise CatalogNotFoundError(
            f"{mode} holds no {CATALOG_FILE}: it is not an intake catalog root ({exc}). "
            "Check the CID, or use use_ipfs=True for the latest catalog."
        ) from exc
    if info["type"] != "file":
        raise CatalogNotFoundError(f"ipfs://{mode}/{CATALOG_FILE} is a directory, not a catalog file")
    return open_yaml_catalog(f"ipfs://{mode}/{CATALOG_FILE}", transport_options=storage_options, **kwargs)


def open_catalog(urlpath: str, *, gateways: str | list[str] | None = None, cache_dir: str | None = None,
                 cache_size: str | int | None = None, timeout: float | None = None, **kwargs: Any):
    """Open any intake V1 YAML catalog file the way :func:`get_intake_catalog` opens the EUREC4A one.

    For community sub-catalogs outside the main tree (e.g. a project's own
    ``catalog.yaml``): entries get this package's drivers (parameters checked,
    ``describe()``, kerchunk references), ``ipfs://`` reads are verified against
    their CIDs and cached, and HTTP requests have bounded timeouts.

    Parameters
    ----------
    urlpath
        A local path, ``http(s)://...`` or ``ipfs://<CID>/<path>``.
    gateways, cache_dir, cache_size
        IPFS settings for ``ipfs://`` URLs (as in :func:`get_intake_catalog`).
    timeout
        Read timeout in seconds for each request (``EUREC4A_TIMEOUT``).
    **kwargs
        Passed to the catalog (``name``, ``description``, ``metadata``).

    Returns
    -------
    intake.catalog.Catalog

    Raises
    ------
    CatalogNotFoundError
        No file at ``urlpath``.
    ServerUnreachableError
        The server could not be reached.
    CatalogError
        The file is not an intake V1 YAML catalog.

    Examples
    --------
    >>> import pathlib, tempfile, eurec4a
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "catalog.yaml").write_text("sources: {track: {driver: json, args: {urlpath: t.json}}}")
    >>> list(eurec4a.open_catalog(str(d / "catalog.yaml")))
    ['track']
    """
    from eurec4a.catalog.yaml_catalog import open_yaml_catalog

    url = os.fspath(urlpath)
    if url.startswith("ipfs://"):
        options = {"gateways": gateways, "cache_dir": cache_dir, "cache_size": cache_size, "timeout": timeout}
        transport = {k: v for k, v in options.items() if v is not None}
    else:
        transport = http_storage_options(url, timeout)
    return open_yaml_catalog(url, transport_options=transport, **kwargs)


def http_storage_options(url: str, timeout: float | None = None,
                         deadline: float | None = None) -> dict[str, Any] | None:
    """fsspec options for data over HTTP (zarr, netCDF): bounded waits and our User-Agent.

    Every request fsspec's ``http`` filesystem makes with these options waits at most
    ``timeout`` seconds for the next bytes (setting ``timeout``, ``EUREC4A_TIMEOUT``),
    5 s to connect, and at most ``deadline`` seconds in total (setting ``deadline``,
    ``EUREC4A_DEADLINE``), so a server that drips its answer cannot hold a load forever.
    ``None`` for URLs that are not ``http(s)://``.

    Examples
    --------
    >>> opts = http_storage_options("https://example.org/catalog.yml", timeout=5, deadline=20)
    >>> t = opts["client_kwargs"]["timeout"]
    >>> t.total, t.sock_read, t.sock_connect
    (20.0, 5.0, 5.0)
    >>> http_storage_options("ipfs://Qm/catalog.yml") is None
    True
    """
    if not url.startswith(("http://", "https://")):
        return None
    import aiohttp

    read_timeout = float(config.resolve("timeout", timeout).value)
    total = float(config.resolve("deadline", deadline).value)
    return {
        "client_kwargs": {
            "timeout": aiohttp.ClientTimeout(total=total, sock_connect=config.CONNECT_TIMEOUT, sock_read=read_timeout),
            "headers": {"User-Agent": config.USER_AGENT},
        }
    }


def ipfs_filesystem(**storage_options: Any):
    """The (fsspec-cached) ``ipfs`` filesystem for these options."""
    import fsspec

    return fsspec.filesystem("ipfs", **storage_options)


def reset_state() -> None:
    """Forget what this process remembers between calls: gateway health, fetched pointer files and
    flight segments, and the cached ``ipfs`` filesystem instances.

    The package keeps this process-wide state only where sharing pays (a struggling gateway
    gets less traffic from every catalog of the process; the pointer file is asked for at most
    once per time to live). Long-running services and test suites call this to start afresh;
    nothing on disk is touched (``eurec4a cache clear`` does that).

    Examples
    --------
    >>> import eurec4a
    >>> eurec4a.reset_state()
    """
    from eurec4a import segments, versions
    from eurec4a.ipfs.filesystem import IPFSFileSystem
    from eurec4a.ipfs.gateways import reset_gateway_state

    reset_gateway_state()
    versions.clear_memo()
    segments.clear_memo()
    IPFSFileSystem.clear_instance_cache()
