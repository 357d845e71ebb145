"""URLs of catalog files and data: one spelling per file, protocols and their families.

The catalog layer keys its parse cache and its cycle detection by
:func:`normalize_url`, finds ``{{CATALOG_DIR}}`` with :func:`parent_dir`, and decides
which storage options a URL inherits from the root catalog by the protocol family
(:func:`protocol_family`: ``http`` and ``https`` are one) of each layer of a chained
URL (:func:`url_protocols`).

Examples
--------
>>> url_protocols("simplecache::https://example.org/x.nc")
['simplecache', 'https']
>>> protocol_family("https")
'http'
"""
from __future__ import annotations

import os
import posixpath
from typing import Any

from fsspec.core import split_protocol

__all__ = ["normalize_url", "parent_dir", "url_protocols", "protocol_family", "inherited_options", "merge_options",
           "HTTP_PROTOCOLS", "LOCAL_PROTOCOLS", "CACHING_PROTOCOLS"]

#: Protocols that share storage options (the same servers answer both).
HTTP_PROTOCOLS = ("http", "https")
#: Protocols whose files are already on local disk (``fsspec.open_local`` works on them).
LOCAL_PROTOCOLS = ("file", "local")
#: Caching filesystems that download a remote file to local disk.
CACHING_PROTOCOLS = ("simplecache", "filecache")


def normalize_url(url: str) -> str:
    """One spelling per file: absolute local paths, ``.``/``..``/``//`` removed from URL paths.

    Used as the key of the parse cache and of cycle detection. Chained URLs
    (``simplecache::https://...``) are returned unchanged.

    Examples
    --------
    >>> normalize_url("https://example.org/cat/./HALO/../main.yaml")
    'https://example.org/cat/main.yaml'
    >>> normalize_url("file:///data//cat.yml")
    '/data/cat.yml'
    """
    url = os.fspath(url)
    if "::" in url:
        return url
    proto, rest = split_protocol(url)
    if proto in (None, "file", "local"):
        path = rest if proto else url
        return os.path.normpath(os.path.abspath(os.path.expanduser(path))).replace(os.sep, "/")
    head, sep, tail = rest.partition("/")
    tail = posixpath.normpath("/" + tail) if sep else ""
    return f"{proto}://{head}{tail if tail != '/' else ''}"


def parent_dir(url: str) -> str:
    """``CATALOG_DIR`` of a catalog file: its URL up to the last ``/`` (no trailing slash).

    Examples
    --------
    >>> parent_dir("ipfs://QmX/HALO/main.yaml")
    'ipfs://QmX/HALO'
    >>> parent_dir("/data/catalog.yml")
    '/data'
    """
    if "::" in url or "://" in url:
        return url.rsplit("/", 1)[0]
    return posixpath.dirname(url) or "/"


def url_protocols(url: str) -> list[str]:
    """The fsspec protocols of ``url``, outermost first (``"file"`` for plain paths).

    Examples
    --------
    >>> url_protocols("reference::ipfs://bafy/refs.json")
    ['reference', 'ipfs']
    >>> url_protocols("/data/x.nc")
    ['file']
    """
    out = []
    parts = str(url).split("::")
    for i, part in enumerate(parts):
        if "://" not in part and i < len(parts) - 1:
            out.append(part)  # an outer layer of a chain is written as its bare name
            continue
        proto, _ = split_protocol(part)
        out.append(proto or "file")
    return out


def protocol_family(protocol: str | None) -> str | None:
    """``http`` and ``https`` share options; every other protocol is its own family.

    Examples
    --------
    >>> protocol_family("https"), protocol_family("ipfs")
    ('http', 'ipfs')
    """
    return "http" if protocol in HTTP_PROTOCOLS else protocol


def inherited_options(root_options: dict[str, Any], root_family: str | None, url: Any,
                      explicit: dict[str, Any] | None = None) -> dict[str, Any]:
    """Storage options for ``url``: its own (``explicit``) over the root catalog's, when the protocols match.

    For a chained URL the root's options go under the key of each layer of the
    root's family (``{"https": {...}}`` for ``simplecache::https://...``).

    Examples
    --------
    >>> inherited_options({"gateways": ["g"]}, "ipfs", "ipfs://Qm/x.zarr")
    {'gateways': ['g']}
    >>> inherited_options({"gateways": ["g"]}, "ipfs", "reference::ipfs://Qm/r.json")
    {'ipfs': {'gateways': ['g']}}
    >>> inherited_options({"gateways": ["g"]}, "ipfs", "https://example.org/x.nc")
    {}

    ``reference://`` with the references file in ``fo`` (the form of the real
    catalog): the file's options go to ``target_options``, and the chunks'
    (``remote_protocol``) to ``remote_options``.

    >>> inherited_options({"gateways": ["g"]}, "ipfs", "reference://", {"fo": "ipfs://Qm/refs.json"})
    {'fo': 'ipfs://Qm/refs.json', 'target_options': {'gateways': ['g']}}
    """
    out = dict(explicit or {})
    if not root_options or root_family is None or not isinstance(url, str):
        return out
    protos = url_protocols(url)
    if protos == ["reference"]:
        fo = out.get("fo")
        if isinstance(fo, str) and protocol_family(out.get("target_protocol") or url_protocols(fo)[-1]) == root_family:
            out["target_options"] = {**root_options, **(out.get("target_options") or {})}
        if protocol_family(out.get("remote_protocol")) == root_family:
            out["remote_options"] = {**root_options, **(out.get("remote_options") or {})}
        return out
    if len(protos) == 1:
        if protocol_family(protos[0]) == root_family:
            return {**root_options, **out}
        return out
    for proto in protos[1:]:
        if protocol_family(proto) == root_family:
            out[proto] = {**root_options, **(out.get(proto) or {})}
    return out


def merge_options(base: dict[str, Any] | None, over: dict[str, Any] | None) -> dict[str, Any]:
    """``base`` updated with ``over``; nested mappings (``client_kwargs``, per-protocol options) merged.

    Examples
    --------
    >>> merge_options({"client_kwargs": {"timeout": 1, "headers": {}}}, {"client_kwargs": {"timeout": 2}})
    {'client_kwargs': {'timeout': 2, 'headers': {}}}
    """
    out = dict(base or {})
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_options(out[key], value)
        else:
            out[key] = value
    return out
