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
eurec4a.errors.InvalidModeError: use_ipfs must be False, True or a CID string ...
"""
from __future__ import annotations

import logging
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

__all__ = ["get_intake_catalog", "parse_mode", "CATALOG_FILE"]

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
            return open_yaml_catalog(url, storage_options=http_storage_options(url, timeout), **kwargs)
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
    return open_yaml_catalog(f"ipfs://{mode}/{CATALOG_FILE}", storage_options=storage_options, **kwargs)


def http_storage_options(url: str, timeout: float | None = None) -> dict[str, Any] | None:
    """fsspec options for the classic catalog: bounded timeouts and our User-Agent on every request."""
    if not url.startswith(("http://", "https://")):
        return None
    import aiohttp

    read_timeout = float(config.resolve("timeout", timeout).value)
    return {
        "client_kwargs": {
            "timeout": aiohttp.ClientTimeout(total=None, sock_connect=config.CONNECT_TIMEOUT, sock_read=read_timeout),
            "headers": {"User-Agent": config.USER_AGENT},
        }
    }


def ipfs_filesystem(**storage_options: Any):
    """The (fsspec-cached) ``ipfs`` filesystem for these options."""
    import fsspec

    return fsspec.filesystem("ipfs", **storage_options)
