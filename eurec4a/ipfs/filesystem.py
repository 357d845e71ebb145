"""The ``ipfs://`` filesystem: verified, cached, fail-over reads of content-addressed data.

:class:`IPFSFileSystem` is an fsspec filesystem, registered for the ``ipfs``
protocol when :mod:`eurec4a` is imported, so intake, xarray and zarr read
``ipfs://<CID>/path`` URLs through it without knowing. What it adds over a plain
HTTP GET from a gateway (which is what ipfsspec 0.6 does):

* **verified**: it asks gateways for blocks (``?format=car`` or ``?format=raw``,
  the trustless gateway protocol), hashes every block against its CID and
  rebuilds files from the UnixFS DAG itself (:mod:`eurec4a.ipfs.unixfs`). Bytes that do
  not match are never returned; the gateway is skipped and another asked.
* **cached**: every verified block goes into the CID-keyed cache
  (:mod:`eurec4a.cache`), shared by all processes of the user; content that is in
  the cache is never fetched again, so a pinned catalog opens with zero requests.
* **few round trips**: a file is fetched as one CAR holding the path's directory
  blocks and the file's blocks (``dag-scope=entity``, with ``entity-bytes`` for
  ranges); a whole catalog tree is prefetched in one request (:meth:`prefetch`).
* **fault tolerant**: an ordered list of gateways with backoff
  (:mod:`eurec4a.ipfs.gateways`).

It does not build on ipfsspec's classes: those are organised around one gateway
and unverified plain GETs, which is exactly what this class replaces.

Examples
--------
>>> import fsspec, eurec4a
>>> fs = fsspec.filesystem("ipfs", gateways=["http://127.0.0.1:8080"])  # doctest: +SKIP
>>> fs.cat("ipfs://bafy.../catalog.yml")  # doctest: +SKIP
b'sources: ...'
"""
from __future__ import annotations

import collections
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from multiformats import CID

from eurec4a import settings as config
from eurec4a.cache import BlockCache, atomic_write_bytes
from eurec4a.ipfs.car import CarReader
from eurec4a.ipfs.cid import parse_cid
from eurec4a.ipfs.unixfs import Entry, UnixFSReader, split_path
from eurec4a.errors import ContentNotFoundError, InvalidCIDError
from eurec4a.ipfs.gateways import GatewayPool
from eurec4a.ipfs.codecs import UNIXFS_DIRECTORY, UNIXFS_HAMT_SHARD, verify_block

logger = logging.getLogger(__name__)

__all__ = ["IPFSFileSystem", "ACCEPT_CAR", "ACCEPT_RAW", "MEMORY_CACHE_BYTES"]

ACCEPT_CAR = "application/vnd.ipld.car;version=1;order=dfs;dups=n"
ACCEPT_RAW = "application/vnd.ipld.raw"
#: Blocks also kept in memory (decoding directories repeatedly is cheap, reading files is not).
MEMORY_CACHE_BYTES = 64 * 1024 * 1024
#: How many missing blocks one operation may fetch one by one before giving up.
MAX_SINGLE_BLOCK_FETCHES = 4096
#: Decoded dag-pb nodes (directories, HAMT shards, file roots) and resolved paths kept
#: per filesystem. Content is immutable, so these never go stale; they matter because
#: decoding one CID with ``multiformats`` costs ~0.2 ms and every read of a catalog
#: file would otherwise decode every directory on its path again.
MEMO_ENTRIES = 65536


class _ReportingStream:
    """A binary stream that reports the size of every read (for progress bars)."""

    def __init__(self, raw, report: Callable[[int], Any]):
        self.raw = raw
        self.report = report

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.report(len(data))
        return data


class _Missing(Exception):
    """A block is in neither memory nor the disk cache (internal control flow)."""

    def __init__(self, cid: CID):
        super().__init__(str(cid))
        self.cid = cid


class _BlockMemory:
    """A small thread-safe LRU of blocks by bytes."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self._data: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: bytes, value: bytes) -> None:
        with self._lock:
            if key in self._data:
                return
            self._data[key] = value
            self.size += len(value)
            while self.size > self.limit and self._data:
                _, old = self._data.popitem(last=False)
                self.size -= len(old)


class _Memo:
    """A thread-safe dict bounded by entry count: emptied when full (entries are cheap to rebuild)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._data: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        return self._data.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._data) >= self.limit:
                self._data.clear()
            self._data[key] = value


class _MemoReader(UnixFSReader):
    """A :class:`UnixFSReader` that decodes each structural dag-pb block once.

    Directories, HAMT shards and nodes with links are kept decoded; leaves (which
    hold the file bytes) are not, so memory stays bounded by the DAG's structure.
    """

    def __init__(self, get_block, limit: int = MEMO_ENTRIES):
        super().__init__(get_block)
        self._nodes = _Memo(limit)

    def node(self, cid: CID):
        key = bytes(cid)  # codec + multihash: a raw and a dag-pb CID of one block decode differently
        hit = self._nodes.get(key)
        if hit is not None:
            return hit
        result = super().node(cid)
        node, fs = result
        if node is not None and (node.links or fs.type in (UNIXFS_DIRECTORY, UNIXFS_HAMT_SHARD)):
            self._nodes.put(key, result)
        return result


class IPFSFileSystem(AbstractFileSystem):
    """Read-only fsspec filesystem for ``ipfs://CID/path``, verified and cached.

    Parameters
    ----------
    gateways
        Gateway URL or list of URLs, tried in order; default: IPIP-280 discovery then
        public fallbacks (:func:`eurec4a.settings.resolve_gateways`).
    cache_dir
        Block cache location (default ``EUREC4A_CACHE_DIR`` or the user cache dir).
    cache_size
        Cache size limit (``"10GB"``, bytes); default ``EUREC4A_CACHE_SIZE``.
    timeout
        Read timeout per gateway request, seconds.

    Examples
    --------
    >>> fs = IPFSFileSystem(gateways="http://127.0.0.1:8080")  # doctest: +SKIP
    >>> fs.ls("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N", detail=False)  # doctest: +SKIP
    """

    protocol = ("ipfs",)
    root_marker = ""
    # Instances are cached by fsspec per argument set; the state worth sharing (cache,
    # gateway health) lives on disk and at module level anyway.
    cachable = True

    def __init__(self, gateways: str | list[str] | None = None, cache_dir: str | None = None,
                 cache_size: str | int | None = None, timeout: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        settings = config.resolve_gateways(gateways)
        self.gateway_urls = [s.value for s in settings]
        public = frozenset(s.value for s in settings if s.source is config.Source.DEFAULT)
        read_timeout = float(config.resolve("timeout", timeout).value)
        self.pool = GatewayPool(self.gateway_urls, timeout=read_timeout, public=public)
        self.cache = BlockCache(cache_dir, cache_size)
        self._memory = _BlockMemory(MEMORY_CACHE_BYTES)
        self.reader = _MemoReader(self._local_block)
        # path string -> (root CID, parts, "<CID>/<path>"); "<CID>/<path>" -> resolved CID
        self._paths = _Memo(MEMO_ENTRIES)
        self._resolved = _Memo(MEMO_ENTRIES)
        #: Number of gateway requests this instance made (tests and benchmarks read it).
        self.request_count = 0
        self._count_lock = threading.Lock()

    # ------------------------------------------------------------ blocks
    def _local_block(self, cid: CID) -> bytes:
        key = bytes(cid.digest)
        data = self._memory.get(key)
        if data is not None:
            return data
        data = self.cache.get(cid)
        if data is None:
            raise _Missing(cid)
        self._memory.put(key, data)
        return data

    def _store(self, cid: CID, block: bytes) -> None:
        # blocks reaching here were verified by CarReader / verify_block
        self._memory.put(bytes(cid.digest), block)
        self.cache.put(cid, block, verify=False)

    def _count(self) -> None:
        with self._count_lock:
            self.request_count += 1

    def _fetch_car(self, ipfs_path: str, *, progress: Callable[[int], Any] | None = None, **params: str) -> int:
        """Fetch ``/ipfs/<ipfs_path>`` as a CAR, verify and store every block; return block count.

        ``progress(n)`` is called with the number of bytes of every read (a progress bar's ``update``).
        """
        query = "&".join(f"{k.replace('_', '-')}={v}" for k, v in params.items())
        path = f"/ipfs/{ipfs_path}?format=car" + (f"&{query}" if query else "")

        def consume(response, gateway):
            response.raw.decode_content = True
            stream = response.raw if progress is None else _ReportingStream(response.raw, progress)
            count = 0
            for cid, block in CarReader(stream, verify=True, source=f"gateway {gateway}"):
                self._store(cid, block)
                count += 1
            return count

        self._count()
        return self.pool.request(path, accept=ACCEPT_CAR, consume=consume)

    def _fetch_block(self, cid: CID) -> bytes:
        """Fetch one block with ``?format=raw`` and verify it.

        Only blocks linked from verified data are fetched this way, so the block exists:
        a gateway's 404 means that gateway lacks it, and the next one is asked.
        """

        def consume(response, gateway):
            data = response.content
            verify_block(cid, data, source=f"gateway {gateway}")
            return data

        self._count()
        data = self.pool.request(f"/ipfs/{cid}?format=raw", accept=ACCEPT_RAW, consume=consume,
                                 not_found="failover")
        self._store(cid, data)
        return data

    def _with_blocks(self, op, ipfs_path: str, **car_params: str):
        """Run ``op()`` on local blocks; on a miss, fetch the CAR for ``ipfs_path`` once, then single blocks.

        "Not found" is decided from verified data, never from a gateway's word alone: a 404
        for the root CID is definitive (nobody has it), but a 404 for a path below a
        verified directory may only mean that the gateway lacks some blocks. Then the
        missing blocks are fetched one by one from any gateway, and the path is resolved
        locally: a name that is absent from a verified directory is a ``FileNotFoundError``
        (zarr's missing chunk), a block that no gateway has is a ``GatewayError`` (never
        fill values in place of data).
        """
        root = parse_cid(ipfs_path.split("/", 1)[0])
        fetched_car = False
        for _ in range(MAX_SINGLE_BLOCK_FETCHES):
            try:
                return op()
            except _Missing as missing:
                is_root = bytes(missing.cid.digest) == bytes(root.digest)
                if not fetched_car:
                    fetched_car = True
                    try:
                        self._fetch_car(ipfs_path, **car_params)
                    except ContentNotFoundError:
                        if is_root:
                            raise
                        # below verified data: look block by block instead of believing the 404
                else:
                    # the gateway's CAR lacked a block (allowed for some scopes): ask for it alone
                    self._fetch_block(missing.cid)
        raise ContentNotFoundError(f"/ipfs/{ipfs_path} needs more than {MAX_SINGLE_BLOCK_FETCHES} separate blocks")

    # ------------------------------------------------------------ paths
    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]  # type: ignore[return-value]
        path = str(path)
        for prefix in ("ipfs://", "ipfs:", "/ipfs/"):
            if path.startswith(prefix):
                path = path[len(prefix):]
                break
        return path.strip("/")

    def _parse(self, path: Any) -> tuple[CID, list[str], str]:
        """``(root CID, path parts, "<CID>/<parts>")`` of ``path`` (memoized: parsing a CID is slow)."""
        key = path if isinstance(path, str) else str(path)
        hit = self._paths.get(key)
        if hit is not None:
            return hit
        parts = split_path(self._strip_protocol(path))
        if not parts:
            raise InvalidCIDError("an ipfs path needs a CID: ipfs://<CID>/path")
        root_key = ("root", parts[0])
        hit = self._paths.get(root_key)
        if hit is None:
            cid = parse_cid(parts[0])
            hit = (cid, str(cid))
            self._paths.put(root_key, hit)
        root, root_text = hit
        out = (root, parts[1:], "/".join([root_text] + parts[1:]))
        self._paths.put(key, out)
        return out

    def _split(self, path: str) -> tuple[CID, list[str]]:
        root, parts, _ = self._parse(path)
        return root, parts

    def _resolve_local(self, root: CID, parts: list[str], ipfs_path: str) -> CID:
        """The CID at ``ipfs_path`` from local blocks (raises :class:`_Missing`); memoized, paths are immutable."""
        cid = self._resolved.get(ipfs_path)
        if cid is None:
            cid = self.reader.resolve(root, parts)
            self._resolved.put(ipfs_path, cid)
        return cid

    def _resolve(self, path: str, scope: str = "block") -> tuple[CID, str]:
        root, parts, ipfs_path = self._parse(path)
        cid = self._with_blocks(lambda: self._resolve_local(root, parts, ipfs_path), ipfs_path, dag_scope=scope)
        return cid, ipfs_path

    # ------------------------------------------------------------ fsspec API
    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        cid, ipfs_path = self._resolve(path)
        entry = self._with_blocks(lambda: self.reader.entry(cid), ipfs_path, dag_scope="block")
        return self._entry_info(self._strip_protocol(path), entry)

    @staticmethod
    def _entry_info(name: str, entry: Entry) -> dict[str, Any]:
        return {
            "name": name,
            "size": entry.size if entry.size is not None else 0,
            "type": entry.type if entry.type != "symlink" else "other",
            "CID": str(entry.cid),
        }

    def ls(self, path: str, detail: bool = True, **kwargs: Any):
        cid, ipfs_path = self._resolve(path)
        links = self._with_blocks(lambda: self.reader.links(cid), ipfs_path, dag_scope="entity")
        base = self._strip_protocol(path)
        if not detail:
            return [f"{base}/{name}" for name, _, _ in links]
        # each child's own block says whether it is a file or a directory; fetch missing ones in parallel
        missing = [c for _, c, _ in links if not self._has_local(c)]
        if missing:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(self._fetch_block, missing))
        return [self._entry_info(f"{base}/{name}", self.reader.entry(c, name)) for name, c, _ in links]

    def has_local(self, path: str) -> bool:
        """Whether the whole file or directory block at ``path`` can be read without a request.

        Used by the catalog reader to fetch only what is missing concurrently.

        Examples
        --------
        >>> fs.has_local("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N/catalog.yml")  # doctest: +SKIP
        True
        """
        try:
            root, parts, ipfs_path = self._parse(path)
            cid = self._resolve_local(root, parts, ipfs_path)
            for block in self.reader.entity_blocks(cid):
                self._local_block(block)
        except _Missing:
            return False
        return True

    def _has_local(self, cid: CID) -> bool:
        try:
            self._local_block(cid)
            return True
        except _Missing:
            return False

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        root, parts, ipfs_path = self._parse(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
            start = None if start is None else (start if start >= 0 else max(size + start, 0))
            end = None if end is None else (end if end >= 0 else max(size + end, 0))
        lo = start or 0
        if end is not None and end <= lo:
            return b""
        # one request for everything: the path's blocks and the file's (range of) blocks
        params = {"dag_scope": "entity"}
        if lo or end is not None:
            params["entity_bytes"] = f"{lo}:{'*' if end is None else end - 1}"
        return self._with_blocks(lambda: self.reader.read(self._resolve_local(root, parts, ipfs_path), lo, end),
                                 ipfs_path, **params)

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, autocommit: bool = True,
              cache_options: dict | None = None, **kwargs: Any):
        if mode != "rb":
            raise NotImplementedError("IPFS content is immutable: only mode 'rb' is supported")
        return _IPFSFile(self, path, mode, block_size or "default", cache_options=cache_options, **kwargs)

    def ukey(self, path: str) -> str:
        return self.info(path)["CID"]

    # ------------------------------------------------------------ catalog helpers
    def prefetch(self, path: str) -> int:
        """Fetch everything below ``path`` in one request (``dag-scope=all``), unless it is cached.

        Meant for catalog trees: small, immutable, read file by file afterwards.
        Returns the number of requests made (0 when the tree was complete in the cache).

        Examples
        --------
        >>> fs.prefetch("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")  # doctest: +SKIP
        1
        """
        root, parts, ipfs_path = self._parse(path)
        marker = self.cache.path / "complete" / f"{ipfs_path.replace('/', '-')}"
        if marker.exists():
            return 0
        self._fetch_car(ipfs_path, dag_scope="all")
        try:
            atomic_write_bytes(marker, b"")
        except OSError as exc:  # the cache may be read-only; prefetching again is the only cost
            logger.debug("cannot record complete DAG %s: %s", root, exc)
        return 1


class _IPFSFile(AbstractBufferedFile):
    """A read-only buffered file whose ranges come from :meth:`IPFSFileSystem.cat_file`."""

    def __init__(self, fs: IPFSFileSystem, path: str, mode: str, block_size: Any, **kwargs: Any):
        info = fs.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(f"ipfs://{fs._strip_protocol(path)} is a directory")
        super().__init__(fs, path, mode, block_size, size=info["size"], **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start, end)
