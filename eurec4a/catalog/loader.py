"""Fetching and parsing catalog YAML files: one session per opened catalog tree.

A :class:`Session` is shared by every catalog opened below one
:func:`~eurec4a.catalog.yaml_catalog.open_yaml_catalog` call. It holds the root's
storage options (handed to every URL of the root's protocol family), fetches and
parses each file once (also when it is included from several places, or a catalog
is re-created with parameters), and can fetch a whole nesting level of files at
once (:meth:`Session.prefetch`): one ``asyncio.gather`` on asynchronous
filesystems, a thread pool on others.

:func:`parse_yaml` is ``yaml.load(raw, Loader=CSafeLoader)`` in about two thirds of the time.

Examples
--------
>>> import pathlib, tempfile
>>> f = pathlib.Path(tempfile.mkdtemp()) / "catalog.yml"
>>> _ = f.write_text("sources: {a: {driver: json, args: {urlpath: a.json}}}")
>>> Session(str(f), None).load_yaml(str(f))["sources"]["a"]["driver"]
'json'
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fsspec
import yaml
from fsspec.asyn import sync

from eurec4a.catalog.network import is_network_error
from eurec4a.catalog.sources import with_default_timeouts
from eurec4a.catalog.urls import inherited_options, merge_options, protocol_family, url_protocols
from eurec4a.errors import CatalogError, CatalogNotFoundError, Eurec4aError, ServerUnreachableError
from eurec4a.settings import ENVIRONMENT
from eurec4a.transport import describe_network_error, http_get, http_get_many

__all__ = ["Session", "parse_yaml", "PREFETCH_WORKERS"]

logger = logging.getLogger(__name__)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Threads fetching catalog files at once from filesystems without an async API (``ipfs``).
PREFETCH_WORKERS = 16


class Session:
    """State shared by every catalog opened below one :func:`open_yaml_catalog` call.

    Holds the root's storage options (applied to every URL of the root's
    protocol) and the parsed YAML of every file read, so a file included from
    several places, or a catalog re-created with parameters, is fetched and
    parsed once.
    """

    def __init__(self, root_url: str, storage_options: dict[str, Any] | None,
                 transport_options: dict[str, Any] | None = None):
        self.root_options = dict(storage_options or {})
        # How to reach servers (timeouts, headers, gateways): used on every request of the
        # root's protocol family but never written into an entry's arguments, so that
        # repr() and yaml() of a source show the catalog's arguments only.
        self.transport_options = dict(transport_options or {})
        protos = url_protocols(root_url)
        # Options of a chained root URL are already keyed by protocol: not propagated.
        self.root_family = protocol_family(protos[0]) if len(protos) == 1 else None
        # A classic (http) tree can hold catalogs and data on IPFS: the IPFS settings of the
        # call (gateways, cache) come under the key "ipfs" and apply to every ipfs:// URL.
        self.ipfs_transport: dict[str, Any] = {}
        if self.root_family != "ipfs" and isinstance(self.transport_options.get("ipfs"), dict):
            self.ipfs_transport = self.transport_options.pop("ipfs")
        self._parsed: dict[str, Any] = {}
        self._raw: dict[str, bytes] = {}  # fetched by prefetch(), not parsed yet
        self._filesystems: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}

    def options_for(self, url: Any, explicit: dict[str, Any] | None = None) -> dict[str, Any]:
        """Storage options for ``url``: its own (``explicit``) over the root's, when the protocols match."""
        return inherited_options(self.root_options, self.root_family, url, explicit)

    def transport_for(self, url: Any, explicit: dict[str, Any] | None = None) -> dict[str, Any]:
        """The transport options that apply to ``url`` (shaped like its storage options)."""
        out = self._shaped(self.transport_options, self.root_family, url, explicit)
        if self.ipfs_transport:
            out = merge_options(self._shaped(self.ipfs_transport, "ipfs", url, explicit), out)
        return out

    @staticmethod
    def _shaped(options: dict[str, Any], family: str | None, url: Any, explicit: dict[str, Any] | None) -> dict[str, Any]:
        if not options:
            return {}
        if isinstance(url, str) and url_protocols(url) == ["reference"]:
            # only where the references file and the chunks are: fo, protocols stay the entry's
            own = {k: v for k, v in (explicit or {}).items() if k in ("fo", "target_protocol", "remote_protocol")}
            shaped = inherited_options(options, family, url, own)
            return {k: v for k, v in shaped.items() if k in ("target_options", "remote_options")}
        return inherited_options(options, family, url)

    def load_yaml(self, url: str, explicit: dict[str, Any] | None = None) -> dict[str, Any]:
        """The parsed catalog file at ``url`` (cached).

        Raises
        ------
        CatalogNotFoundError
            No file at ``url``.
        ServerUnreachableError
            The file could not be fetched (network error or timeout).
        CatalogError
            The file is not an intake V1 YAML catalog.
        """
        with self._lock:
            if url in self._parsed:
                return self._parsed[url]
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:  # two threads asking for one file fetch it once
            with self._lock:
                if url in self._parsed:
                    return self._parsed[url]
                raw = self._raw.pop(url, None)
            data = self._fetch_and_parse(url, explicit, raw)
            with self._lock:
                self._parsed[url] = data
            return data

    def _filesystem(self, url: str, explicit: dict[str, Any] | None = None):
        """``(filesystem, path)`` for ``url`` with the session's options (one lookup per protocol and options)."""
        key = (url.split("://", 1)[0] if "://" in url else "", repr(explicit) if explicit else "")
        fs = self._filesystems.get(key)
        if fs is None or "::" in url:
            opts = merge_options(self.transport_for(url), self.options_for(url, explicit))
            protos = url_protocols(url)
            if len(protos) == 1:
                opts = with_default_timeouts(protos[0], opts)
            fs, fspath = fsspec.core.url_to_fs(url, **opts)
            if "::" not in url:
                self._filesystems[key] = fs
            return fs, fspath
        return fs, fs._strip_protocol(url)

    def prefetch(self, urls: Any) -> None:
        """Fetch the remote catalog files at ``urls`` all at once, ahead of :meth:`load_yaml`.

        Files already parsed or fetched, local files, and files a filesystem says it
        holds locally (``fs.has_local(path)``, e.g. the ``ipfs`` block cache) are
        skipped. Asynchronous filesystems (``http``) get every request in one
        ``asyncio.gather``, others a thread pool, so a level of a catalog tree costs one
        round trip. Nothing is raised here: a file that fails is fetched again, and its
        error raised, when the catalog is opened.
        """
        with self._lock:
            todo = [u for u in dict.fromkeys(urls) if u not in self._parsed and u not in self._raw]
        groups: dict[int, tuple[Any, list[tuple[str, str]]]] = {}
        plain_http = [u for u in todo if _plain_http(u)]
        if len(plain_http) >= 2:  # eurec4a.transport: deadline, size cap, checked redirects
            results = http_get_many(plain_http, setting=CATALOG_SETTING, **_http_limits(self.transport_for(plain_http[0])))
            with self._lock:
                for url, raw in zip(plain_http, results):
                    if isinstance(raw, bytes) and url not in self._parsed:
                        self._raw[url] = raw
                    elif not isinstance(raw, bytes):
                        logger.debug("prefetch of %s failed: %r", url, raw)
        for url in todo:
            if "::" in url or url_protocols(url)[0] in ("file", "local") or _plain_http(url):
                continue
            try:
                fs, path = self._filesystem(url)
                has_local = getattr(fs, "has_local", None)
                if has_local is not None and has_local(path):
                    continue
            except Exception:  # reported when the catalog is opened
                logger.debug("prefetch of %s skipped", url, exc_info=True)
                continue
            groups.setdefault(id(fs), (fs, []))[1].append((url, path))
        for fs, items in groups.values():
            if len(items) < 2:
                continue  # one file: no round trip to save; load_yaml fetches it
            if getattr(fs, "async_impl", False) and getattr(fs, "loop", None) is not None:
                results = _gather_cat(fs, [path for _, path in items])
            else:
                with ThreadPoolExecutor(max_workers=min(PREFETCH_WORKERS, len(items))) as pool:
                    results = list(pool.map(lambda item: _try_cat(fs, item[1]), items))
            with self._lock:
                for (url, _), raw in zip(items, results):
                    if isinstance(raw, bytes) and url not in self._parsed:
                        self._raw[url] = raw
                    elif not isinstance(raw, bytes):
                        logger.debug("prefetch of %s failed: %r", url, raw)

    def _fetch_and_parse(self, url: str, explicit: dict[str, Any] | None, raw: bytes | None = None) -> dict[str, Any]:
        try:
            if raw is None and _plain_http(url):
                limits = _http_limits(merge_options(self.transport_for(url), self.options_for(url, explicit)))
                raw = http_get(url, setting=CATALOG_SETTING, **limits)
            elif raw is None:
                # cat_file: one GET per file (open() would first ask for the size).
                fs, fspath = self._filesystem(url, explicit)
                raw = fs.cat_file(fspath)
        except Eurec4aError:
            raise
        except FileNotFoundError as exc:
            if is_network_error(exc):  # fsspec's HTTP reports a refused connection as "not found"
                raise ServerUnreachableError(
                    f"cannot read catalog file {url}: {describe_network_error(exc)}. The server may be down "
                    "or overloaded, or the network is unavailable; try again later") from exc
            raise CatalogNotFoundError(f"catalog file {url} does not exist ({exc})") from exc
        except IsADirectoryError as exc:
            raise CatalogNotFoundError(f"catalog file {url} is a directory ({exc})") from exc
        except Exception as exc:
            if is_network_error(exc) or (isinstance(exc, OSError) and "://" in url):
                raise ServerUnreachableError(
                    f"cannot read catalog file {url}: {describe_network_error(exc)}. The server may be down "
                    "or overloaded, or the network is unavailable; try again later") from exc
            raise
        try:
            data = parse_yaml(raw)
        except yaml.YAMLError as exc:
            raise CatalogError(f"catalog file {url} is not valid YAML: {exc}") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise CatalogError(f"catalog file {url} must hold a mapping, not a {type(data).__name__}")
        meta = data.get("metadata") or {}
        if not isinstance(meta, dict):
            raise CatalogError(f"catalog file {url}: 'metadata' must be a mapping, not a {type(meta).__name__}")
        version = data.get("version") or meta.get("version") or 1
        if not isinstance(version, (int, float)) or version > 1:
            raise CatalogError(f"catalog file {url} is an intake V2 catalog (version: {version!r}); "
                               "this catalog reader opens intake V1 YAML catalogs only")
        sources = data.get("sources")
        if sources is not None and not isinstance(sources, dict):
            raise CatalogError(f"catalog file {url}: 'sources' must be a mapping of entry name to entry")
        return data
_YAML = "tag:yaml.org,2002:"
#: Scalar tags whose PyYAML constructors :func:`parse_yaml` calls directly (plain functions).
_YAML_SCALARS = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "timestamp"))


class _SlowPath(Exception):
    """The document uses a YAML feature :func:`parse_yaml` leaves to ``yaml.load``."""


def parse_yaml(raw: bytes | str) -> Any:
    """The same as ``yaml.load(raw, Loader=CSafeLoader)``, in about two thirds of the time.

    libyaml parses and composes the document (in C); PyYAML's constructor then
    visits every node generically (two-step generators for recursive structures,
    per-node bookkeeping), which is most of the time a catalog file takes to load.
    Here mappings, sequences and strings are built directly, the other plain
    scalars (null, bool, int, float, timestamp) by PyYAML's own constructors, and
    anchors keep their sharing. Anything else (merge keys ``<<``, ``!!set``,
    ``!!binary``, custom tags, unhashable keys) sends the whole document to
    ``yaml.load``, so the result and the errors are PyYAML's.

    Examples
    --------
    >>> parse_yaml(b"a: [1, 2.5, x, null, 2020-02-01]")
    {'a': [1, 2.5, 'x', None, datetime.date(2020, 2, 1)]}
    """
    if not hasattr(yaml, "CSafeLoader"):
        return yaml.load(raw, Loader=_Loader)
    loader = yaml.CSafeLoader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _construct(node, loader, {})
    except _SlowPath:
        pass
    except TypeError:  # e.g. an unhashable mapping key: PyYAML's error message is better
        pass
    finally:
        loader.dispose()
    return yaml.load(raw, Loader=_Loader)


def _construct(node: Any, loader: Any, shared: dict[int, Any]) -> Any:
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        if tag == _YAML + "str":
            return node.value
        if tag in _YAML_SCALARS:
            return loader.yaml_constructors[tag](loader, node)
        raise _SlowPath(tag)
    hit = shared.get(id(node))
    if hit is not None:  # an alias: the same object, as PyYAML gives
        return hit
    if isinstance(node, yaml.MappingNode) and tag == _YAML + "map":
        out: dict[Any, Any] = {}
        shared[id(node)] = out
        for key, value in node.value:
            if key.tag == _YAML + "merge":
                raise _SlowPath(key.tag)
            out[_construct(key, loader, shared)] = _construct(value, loader, shared)
        return out
    if isinstance(node, yaml.SequenceNode) and tag == _YAML + "seq":
        items: list[Any] = []
        shared[id(node)] = items
        items.extend(_construct(value, loader, shared) for value in node.value)
        return items
    raise _SlowPath(tag)


#: Named in errors of catalog files read over http(s).
CATALOG_SETTING = f"catalog_url ({ENVIRONMENT['catalog_url']})"


def _plain_http(url: Any) -> bool:
    """An ``http(s)://`` URL without chaining: read with :mod:`eurec4a.transport`."""
    return isinstance(url, str) and "::" not in url and url.lower().startswith(("http://", "https://"))


def _http_limits(options: dict[str, Any]) -> dict[str, Any]:
    """``timeout``/``deadline`` for :mod:`eurec4a.transport` from fsspec-style http options (``None``: the settings)."""
    limits = (options.get("client_kwargs") or {}).get("timeout")
    return {"timeout": getattr(limits, "sock_read", None), "deadline": getattr(limits, "total", None)}


def _try_cat(fs: Any, path: str) -> bytes | BaseException:
    try:
        return fs.cat_file(path)
    except Exception as exc:  # handed back, raised later by load_yaml
        return exc


def _gather_cat(fs: Any, paths: list[str]) -> list[bytes | BaseException]:
    """``fs._cat_file`` of every path concurrently on the filesystem's event loop."""
    async def gather():
        return await asyncio.gather(*(fs._cat_file(p) for p in paths), return_exceptions=True)

    try:
        return sync(fs.loop, gather)
    except Exception as exc:  # e.g. the loop is gone: fetch one by one later
        return [exc] * len(paths)
