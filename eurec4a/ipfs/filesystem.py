"""The ``ipfs://`` filesystem: verified, cached, fail-over, asynchronous reads of content-addressed data.

:class:`IPFSFileSystem` is an fsspec :class:`~fsspec.asyn.AsyncFileSystem` on
``aiohttp``, registered for the ``ipfs`` protocol when :mod:`eurec4a` is imported, so
intake, xarray and zarr (natively async, no thread cap) read ``ipfs://<CID>/path``
through it. What it adds over ipfsspec 0.6 (plain GETs from one gateway):

* **verified, always**: gateways are asked for blocks (``?format=car`` or
  ``?format=raw``, the trustless gateway protocol); every block is hashed against
  its CID before use and files are rebuilt from the UnixFS DAG here
  (:mod:`eurec4a.ipfs.unixfs`). A CAR answer may only contain blocks reachable from
  the requested root, in the order they become reachable; any other block is
  dropped unstored.
* **each block once**: the first read of a path fetches the path's directory blocks
  and the file in one CAR (``dag-scope=entity``, with ``entity-bytes`` for ranges);
  once a directory is verified, its files are fetched by their own CID
  (``/ipfs/<file CID>``), so no directory block crosses the wire twice.
* **streams for full reads**: the :data:`PREFETCH_TRIGGER`-th cold read below one
  directory (a zarr variable loaded whole, in any chunk layout, or a dataset of many
  small variables) reads that directory ahead: in one CAR (``dag-scope=all``, at most
  :data:`PREFETCH_MAX_BYTES`, :data:`READ_AHEAD_MAX_BYTES` for a whole dataset) while
  at most :data:`STREAM_RESEND_FRACTION` of it is here already (a stream cannot leave
  anything out), else entry by entry, leaving alone what is being read. The other
  reads wait for their blocks in it.
* **one round trip to open a store**: up to :data:`ROOT_PATH_REQUESTS` concurrent first
  reads below a root CID not fetched yet ask by path at once (zarr's probes); an absent
  name is checked against the root block one of them brought.
* **cached** in the CID-keyed :class:`eurec4a.cache.Cache` shared by all processes (the blocks
  of one answer stored together as a pack, a read keeping the blocks it fetched itself); a
  warm read makes no request. :meth:`IPFSFileSystem.fetch_dag` and
  :meth:`IPFSFileSystem.prefetch` fetch a whole DAG in one CAR stream and record it
  complete only when every block reachable from its root is verified and stored.
* **fault tolerant and bounded**: :mod:`eurec4a.ipfs.gateways` (deadline, timeouts,
  size caps, failover, backoff; every number is documented there).

Deliberate differences from ipfsspec 0.6 (otherwise a drop-in: the same constructor
arguments, ``protocol``, async methods, ``info``/``ls`` keys, ``checksum``):

* ``cat`` of a directory raises :class:`IsADirectoryError` (ipfsspec returned the
  gateway's HTML listing);
* HAMT-sharded directories work (ipfsspec raised ``NotImplementedError``);
* ``/ipfs/<CID>/...`` paths are accepted and ``glob("/ipfs/...")`` matches;
  ``get(dir, recursive=True)`` downloads;
* several gateways are asked in order (``gateway_addr`` is placed first);
* an unknown constructor keyword is a :class:`TypeError` (ipfsspec ignored it).

Examples
--------
>>> import fsspec, eurec4a
>>> fs = fsspec.filesystem("ipfs", gateway_addr="http://127.0.0.1:8080")  # doctest: +SKIP
>>> fs.cat("ipfs://bafy.../catalog.yml")  # doctest: +SKIP
b'sources: ...'
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import os
import re
import threading
import weakref
from typing import Any, Callable

import aiohttp
from fsspec import asyn as fsspec_asyn
from fsspec.asyn import AsyncFileSystem, sync_wrapper
from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractBufferedFile
from multiformats import CID

from eurec4a import settings as config
from eurec4a.cache import PACK_BYTES, WRITE_BEHIND_BYTES, Cache
from eurec4a.errors import (CarFormatError, ContentNotFoundError, Eurec4aError, GatewayError, InvalidCIDError,
                            InvalidCIDPathError)
from eurec4a.ipfs.car import CarStreamParser, MAX_BLOCK_SIZE
from eurec4a.ipfs.cid import parse_cid
from eurec4a.ipfs.codecs import DAG_PB, RAW, PBLink, PBNode, cid_text, pbnode_has_links, verify_block
from eurec4a.ipfs.gateways import PER_GATEWAY_CONNECTIONS, TSIZE_ALLOWANCE, AnswerTooLarge, GatewayPool
from eurec4a.ipfs.unixfs import Entry, UnixFSReader, split_path

logger = logging.getLogger(__name__)

__all__ = ["IPFSFileSystem", "ACCEPT_CAR", "ACCEPT_RAW", "MEMORY_CACHE_BYTES", "MAX_SINGLE_BLOCK_FETCHES"]

ACCEPT_CAR = "application/vnd.ipld.car;version=1;order=dfs;dups=n"
ACCEPT_RAW = "application/vnd.ipld.raw"
#: Verified blocks also kept in memory (bytes), so a block just fetched is read without the disk.
MEMORY_CACHE_BYTES = 16 * 1024 * 1024
#: How many missing blocks one operation may fetch one by one (after its CAR) before giving up.
MAX_SINGLE_BLOCK_FETCHES = 4096
#: Decoded structural nodes and resolved paths kept per filesystem (content is immutable,
#: so these never go stale; decoding a CID with ``multiformats`` costs ~0.2 ms).
MEMO_ENTRIES = 65536
#: Verified blocks of one answer written to the cache together, as one pack (bytes): large
#: enough to spare files and thread hand-offs, small enough to bound the memory of a
#: whole-dataset stream.
WRITE_BATCH_BYTES = PACK_BYTES
#: Cold file reads in one directory after which the whole directory is streamed in one
#: CAR (``dag-scope=all``): the pattern of a zarr variable being loaded whole.
PREFETCH_TRIGGER = 16
#: Largest directory (bytes, as its verified parent announces) streamed whole that way:
#: a partial read of a bigger variable never downloads all of it.
PREFETCH_MAX_BYTES = 256 * 1024 * 1024
#: Largest share of a directory (bytes) that may be here already, or being fetched by its
#: readers, for it to be streamed whole after :data:`PREFETCH_TRIGGER` cold reads: a
#: ``dag-scope=all`` stream cannot leave anything out, so it would send those bytes again.
#: A directory read further than this has its remaining entries fetched ahead one by one
#: instead (at most :data:`READ_AHEAD_FILES` at once), each by its own CID.
STREAM_RESEND_FRACTION = 0.05
#: Entries (files, or chunk directories) of one directory fetched ahead at once (see
#: :data:`STREAM_RESEND_FRACTION`), besides the reads zarr and dask make themselves.
READ_AHEAD_FILES = 16
#: Most missing blocks a range read of a file whose root is here fetches alone, each once
#: however many reads need it (see ``_fetch_range_blocks``); a range missing more comes as
#: one CAR (``entity-bytes``).
RANGE_BLOCK_FETCHES = 8
#: Concurrent first reads below one root CID whose block is missing that each ask by path
#: (every such answer carries the root block); further ones wait for the root block to
#: arrive. zarr opens a store with up to four concurrent probes (``zarr.json``,
#: ``.zgroup``, ``.zattrs``, ``.zmetadata``): all of them are answered in one round trip,
#: and a store's root block crosses the wire at most this many times.
ROOT_PATH_REQUESTS = 4
#: First reads below a directory of more than :data:`SMALL_DIRECTORY_BYTES` whose block is
#: not here yet (a zarr variable's) that ask by path at once; each answer carries the
#: directory block, and the others wait for it (see ``_target``). A variable of 6,000
#: chunks has a directory block of 305 KB: 8 reads by path at once sent 2.4 MB of
#: directory for 6 MB of data.
DIRECTORY_PATH_REQUESTS = 1
#: Directories announcing at most this many bytes in all are asked for by every first read
#: at once: their block is small, and waiting for it would cost each read a round trip
#: (a dataset of many small variables, such as soundings, at 50 ms: 0.51 s against 0.59 s).
SMALL_DIRECTORY_BYTES = 4 * 1024 * 1024
#: Largest dataset (bytes its root announces in all) read ahead whole after
#: :data:`PREFETCH_TRIGGER` cold reads below it (see ``_wait_for_stream``): smaller than
#: :data:`PREFETCH_MAX_BYTES`, as a guess across variables is less sure than one within a
#: variable.
READ_AHEAD_MAX_BYTES = 64 * 1024 * 1024
#: Bytes of one dataset's read-ahead (see ``_wait_for_stream``) in flight at once: its
#: whole-directory streams start while the directories' announced sizes (each counted as
#: at most two write batches, what a stream holds in memory) fit in this budget, and at
#: least one always runs.
READ_AHEAD_BYTES = 32 * 1024 * 1024
#: Files at least this large (bytes, as their parent announces) are assembled from their
#: blocks in a worker thread (see :data:`ASSEMBLY_THREADS`): hashing and copying megabytes
#: run beside the event loop (and each other, as ``hashlib`` and ``os.pread`` release the
#: GIL) instead of in it.
THREAD_READ_BYTES = 1024 * 1024
#: Threads assembling those files (a pool of this package's own, not asyncio's default
#: executor). Each thread that allocates megabyte buffers gets a malloc arena of its own,
#: and memory freed into one arena is not reused by another: spread over the default
#: executor's threads, the assembled chunks of a load of 64 chunks of 4 MiB raised peak RSS
#: by ~40 MiB (the same run with ``MALLOC_ARENA_MAX=1`` did not). Two threads still hash
#: and copy beside each other and the event loop.
ASSEMBLY_THREADS = 2
#: fsspec's own constructor keywords, accepted besides ours and ipfsspec's.
FSSPEC_OPTIONS = frozenset({"use_listings_cache", "listings_expiry_time", "max_paths", "skip_instance_cache"})


_assembly_lock = threading.Lock()
_assembly_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _assembler() -> concurrent.futures.ThreadPoolExecutor:
    """The pool of :data:`ASSEMBLY_THREADS` threads large file reads run in (made on first use)."""
    global _assembly_pool
    with _assembly_lock:
        if _assembly_pool is None:
            _assembly_pool = concurrent.futures.ThreadPoolExecutor(ASSEMBLY_THREADS,
                                                                   thread_name_prefix="eurec4a-assemble")
        return _assembly_pool


def _forget_threads_after_fork() -> None:
    # a forked child (dask's fork start method, multiprocessing) has none of the parent's
    # threads: a pool it inherited would take work and never run it
    global _assembly_pool, _assembly_lock
    _assembly_lock = threading.Lock()
    _assembly_pool = None
    if not hasattr(fsspec_asyn, "reset_after_fork"):
        # the same for fsspec's event loop thread, which every read of this filesystem
        # waits on: fsspec 2024.12 (the oldest supported) has `reset_lock` for a forked
        # child but does not call it itself, and a child's first read hung there
        fsspec_asyn.reset_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)


async def _in_assembly_thread(op: Callable[[], Any]) -> Any:
    """``await asyncio.to_thread(op)``, in the assembly pool (the caller's context vars included)."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_assembler(), context.run, op)


#: The blocks a file read fetched for itself, by multihash: the read takes them from here
#: rather than from the (small) memory LRU or the disk, where a large chunk's blocks would
#: be read and hashed a second time. Set per read (a context variable: per task, and seen
#: by the worker thread of a threaded read); ``None`` outside a file read.
_FETCHED: contextvars.ContextVar[dict[bytes, bytes] | None] = contextvars.ContextVar("eurec4a_fetched",
                                                                                     default=None)


class _Missing(Exception):
    """A block is in neither memory nor the disk cache (internal control flow)."""

    def __init__(self, cid: CID):
        # no str(cid) here: printing a CID costs ~0.15 ms in multiformats, and misses are
        # raised and caught thousands of times per load
        super().__init__()
        self.cid = cid

    def __str__(self) -> str:
        return f"block {self.cid} is not stored locally"


class _BlockMemory:
    """A small thread-safe LRU of blocks, bounded by bytes."""

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
    """A dict bounded by entry count: emptied when full (entries are cheap to rebuild)."""

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
    """A :class:`UnixFSReader` that decodes each structural block once and indexes directories by name.

    Directories, HAMT shards and nodes with links are kept decoded; leaves (the file
    bytes) are not, so memory stays bounded by the DAG's structure.
    """

    def __init__(self, get_block, limit: int = MEMO_ENTRIES):
        super().__init__(get_block)
        self._nodes = _Memo(limit)
        self._indexes = _Memo(limit)

    def node(self, cid: CID):
        key = bytes(cid)  # codec + multihash: a raw and a dag-pb CID of one block decode differently
        hit = self._nodes.get(key)
        if hit is not None:
            return hit
        result = super().node(cid)
        if result[0] is not None and result[0].links:
            self._nodes.put(key, result)
        return result

    def directory_index(self, cid: CID, node: PBNode) -> dict[str, PBLink]:
        key = bytes(cid)
        index = self._indexes.get(key)
        if index is None:
            index = super().directory_index(cid, node)
            self._indexes.put(key, index)
        return index


class _ByteBudget:
    """At most ``limit`` bytes' worth of work at once, and always at least one piece (asyncio).

    ``async with budget.share(n):`` waits until ``n`` more bytes fit (or nothing runs).
    asyncio has no weighted semaphore; this is one, for one event loop.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._changed: asyncio.Condition | None = None

    @contextlib.asynccontextmanager
    async def share(self, n: int):
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            await self._changed.wait_for(lambda: self.used == 0 or self.used + n <= self.limit)
            self.used += n
        try:
            yield
        finally:
            async with self._changed:
                self.used -= n
                self._changed.notify_all()


def _verify_all(blocks: list[tuple[CID, bytes]], source: str) -> None:
    for cid, block in blocks:
        verify_block(cid, block, source=source)


def _natural_key(name: str) -> list[tuple[int, Any]]:
    """Sort key putting numbered names in number order (``2.0`` before ``10.0``; zarr chunk keys)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[._/-]", name)]


def _raise_first_failure(flights: set[asyncio.Future]) -> None:
    """Raise the gateway failure one of ``flights`` (ended root-path requests) met, if any.

    Their gateways failed them, not the path: asking again would only spend another
    deadline on the same gateways.
    """
    for flight in flights:
        if flight.done() and flight.result() is not None:
            raise flight.result()


def _close_session(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> None:
    """Close an ``aiohttp`` session from any thread, at garbage collection or exit."""
    if session.closed:
        return
    try:
        if loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            future = asyncio.run_coroutine_threadsafe(session.close(), loop)
            if running is not loop:
                future.result(timeout=1)
            return
        if not loop.is_closed():
            loop.run_until_complete(session.close())
        # a closed loop: its sockets were closed with it
    except Exception:  # at interpreter exit anything may be half torn down
        logger.debug("could not close an aiohttp session cleanly", exc_info=True)


class IPFSFileSystem(AsyncFileSystem):
    """Read-only, verified, cached fsspec filesystem for ``ipfs://CID/path`` (a drop-in for ipfsspec's).

    Parameters
    ----------
    asynchronous, loop
        As for every fsspec async filesystem: ``asynchronous=True`` for use inside a
        running event loop (``await fs._cat_file(...)``).
    client_kwargs
        Extra keyword arguments for :class:`aiohttp.ClientSession` (as in ipfsspec).
    gateway_addr
        One gateway URL asked first (ipfsspec's keyword); the configured gateways follow.
    gateways
        Gateway URL or list of URLs, tried in order; default: the ``gateways`` setting
        (``IPFS_GATEWAY``, ``EUREC4A_IPFS_GATEWAYS``, local node, public fallbacks).
    cache_dir, cache_size
        The cache folder and its size limit (``EUREC4A_CACHE_DIR``, ``EUREC4A_CACHE_SIZE``).
    timeout
        Read timeout in seconds (``EUREC4A_TIMEOUT``).
    deadline
        Seconds one request may take in total (``EUREC4A_DEADLINE``).
    settings
        A resolved :class:`eurec4a.settings.Settings` to take unset values from;
        without one, the settings are resolved once here.
    **storage_options
        fsspec's own options (``use_listings_cache``...). Anything else is a TypeError.

    Examples
    --------
    >>> fs = IPFSFileSystem(gateways="http://127.0.0.1:8080", skip_instance_cache=True)
    >>> fs.protocol, fs.gateway_urls
    ('ipfs', ['http://127.0.0.1:8080'])
    >>> IPFSFileSystem(gateway="http://x")
    Traceback (most recent call last):
    ...
    TypeError: IPFSFileSystem got unexpected keyword argument(s) 'gateway'; ...
    """

    protocol = "ipfs"
    root_marker = ""
    sep = "/"
    cachable = True

    def __init__(self, asynchronous: bool = False, loop: Any = None, client_kwargs: dict | None = None,
                 gateway_addr: str | None = None, *, gateways: Any = None, cache_dir: Any = None,
                 cache_size: Any = None, timeout: float | None = None, deadline: float | None = None,
                 settings: config.Settings | None = None, batch_size: int | None = None,
                 **storage_options: Any):
        unknown = sorted(set(storage_options) - FSSPEC_OPTIONS)
        if unknown:
            raise TypeError(
                f"IPFSFileSystem got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; accepted: "
                "gateway_addr, gateways, cache_dir, cache_size, timeout, deadline, settings, client_kwargs, "
                "asynchronous, loop, batch_size and fsspec's " + ", ".join(sorted(FSSPEC_OPTIONS))
            )
        super().__init__(asynchronous=asynchronous, loop=loop, batch_size=batch_size, **storage_options)
        given = {"cache_dir": cache_dir, "cache_size": cache_size, "timeout": timeout, "deadline": deadline}
        if settings is None:
            settings = config.Settings.resolve(gateways=gateways, **given)
            urls = settings.gateways
        else:
            urls = settings.gateways if gateways is None else [s.value for s in config.resolve_gateways(gateways)]
        values = {name: (config.resolve(name, value).value if value is not None else getattr(settings, name))
                  for name, value in given.items()}
        if gateway_addr is not None:
            first = config.resolve_gateways(gateway_addr)[0].value
            urls = [first] + [u for u in urls if u != first]
        self.settings = settings
        self.gateway_addr = gateway_addr
        self.client_kwargs = dict(client_kwargs or {})
        self.gateway_urls = list(urls)
        self.pool = GatewayPool(self.gateway_urls, timeout=float(values["timeout"]),
                                deadline=float(values["deadline"]), public=settings.public_gateways)
        self.cache = Cache(values["cache_dir"], values["cache_size"])
        self._memory = _BlockMemory(MEMORY_CACHE_BYTES)
        self.reader = _MemoReader(self._local_block)
        self._roots = _Memo(MEMO_ENTRIES)  # root text -> (CID, its canonical text)
        self._paths = _Memo(MEMO_ENTRIES)  # path text -> (root CID, parts, "<CID>/<parts>")
        self._resolved = _Memo(MEMO_ENTRIES)  # "<CID>/<parts>" -> (CID, tsize)
        self._sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._dir_reads: dict[tuple[int, bytes], int] = {}  # cold file reads per (loop, directory)
        self._read_ahead_started: set[tuple[int, bytes]] = set()  # (loop, directory) read ahead once
        # (loop, directory CID, name in it) -> reads fetching a path through that entry now
        self._fetching_below: collections.Counter = collections.Counter()
        # (loop, CID) -> the stream of a directory (or of an entry read ahead): reads below wait for it
        self._streams: dict[tuple[int, bytes], asyncio.Future] = {}
        # tasks fetching a directory's unread entries ahead, held until done (asyncio keeps
        # only weak references to tasks)
        self._reading_ahead: set[asyncio.Future] = set()
        # (loop, CID) -> the fetch ahead of that entry: its verified blocks, {} (stored), or None
        self._ahead: dict[tuple[int, bytes], asyncio.Future] = {}
        # (loop, multihash) -> a single-block fetch under way that reads of ranges share
        self._block_flights: dict[tuple[int, bytes], asyncio.Future] = {}
        # (loop, file CID) -> reads fetching that file themselves now (a read ahead skips it)
        self._reading: collections.Counter = collections.Counter()
        # (loop, multihash) -> future done when that block arrives in any answer: readers
        # waiting for a whole-directory stream sleep until their block is there
        self._arrivals: dict[tuple[int, bytes], asyncio.Future] = {}
        # (loop, multihash of a missing root block) -> futures of the requests resolving a
        # path through it (at most ROOT_PATH_REQUESTS)
        self._resolving: dict[tuple[int, bytes], set[asyncio.Future]] = {}
        #: Gateway requests made and blocks stored by this instance (for tests and benchmarks).
        self.statistics = {"requests": 0, "blocks_received": 0, "blocks_dropped": 0, "bytes_received": 0}

    # ------------------------------------------------------------ HTTP session
    async def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=PER_GATEWAY_CONNECTIONS)
            session = aiohttp.ClientSession(connector=connector, auto_decompress=False, **self.client_kwargs)
            self._sessions[loop] = session
            weakref.finalize(self, _close_session, loop, session)
        return session

    # ------------------------------------------------------------ blocks
    def _local_block(self, cid: CID) -> bytes:
        key = bytes(cid.digest)
        fetched = _FETCHED.get()
        if fetched:
            data = fetched.get(key)
            if data is not None:
                return data
        data = self._memory.get(key)
        if data is not None:
            return data
        data = self.cache.get(cid)
        if data is None:
            raise _Missing(cid)
        self._memory.put(key, data)
        return data

    def _store_batch(self, blocks: list[tuple[CID, bytes]], unverified: list[tuple[CID, bytes]],
                     source: str) -> bool:
        """Verify the deferred blocks of a batch, then store the batch (in a worker thread).

        Raises :class:`~eurec4a.errors.BlockVerificationError` (nothing of the batch stored)
        when a deferred block does not match its CID.
        """
        _verify_all(unverified, source)
        return self._write_blocks(blocks)

    async def _store_later(self, blocks: list[tuple[CID, bytes]]) -> None:
        """Hand verified blocks to the cache's background writer (see :meth:`eurec4a.cache.BlockCache.put_later`).

        A read goes on at once; it waits only while the writer is more than
        :data:`~eurec4a.cache.WRITE_BEHIND_BYTES` behind (memory stays bounded). The
        blocks are queued first, so every cache object of the folder finds them at once
        (a read that waited before queueing hid its blocks from a second filesystem
        meanwhile, which then fetched them again).
        """
        if self.cache.put_later(blocks, verify=False) > WRITE_BEHIND_BYTES:  # verified on arrival
            await asyncio.to_thread(self.cache.flush, WRITE_BEHIND_BYTES // 2)

    def _write_blocks(self, blocks: list[tuple[CID, bytes]]) -> bool:
        # one file for a lone block, packs for many: creating files, not writing bytes,
        # is what costs (see eurec4a.cache)
        return self.cache.put_many(blocks, verify=False)  # verified on arrival

    async def _fetch_raw(self, cid: CID, *, not_found: str = "failover") -> bytes:
        """Fetch one block (``?format=raw``), verify and store it."""

        async def consume(response: aiohttp.ClientResponse, gateway: str) -> bytes:
            body = bytearray()
            async for chunk in response.content.iter_any():
                body += chunk
                if len(body) > MAX_BLOCK_SIZE:
                    raise AnswerTooLarge(f"gateway {gateway} sent more than {MAX_BLOCK_SIZE} bytes for one block")
            self.statistics["bytes_received"] += len(body)
            data = bytes(body)
            verify_block(cid, data, source=f"gateway {gateway}")
            self.statistics["blocks_received"] += 1
            return data

        self.statistics["requests"] += 1
        data = await self.pool.request(await self._session(), cid_text(cid), (), {"format": "raw"}, accept=ACCEPT_RAW,
                                       consume=consume, not_found=not_found)
        self._memory.put(bytes(cid.digest), data)
        fetched = _FETCHED.get()
        if fetched is not None:
            fetched[bytes(cid.digest)] = data
        self._arrived(bytes(cid.digest))
        await self._store_later([(cid, data)])
        return data

    async def _fetch_car(self, cid: CID, parts: list[str] = (), params: dict[str, str] | None = None, *,
                         max_bytes: int | None = None, not_found: str = "definitive",
                         progress: Callable[[int], Any] | None = None, defer_leaves: bool = False) -> int:
        """Fetch ``/ipfs/<cid>/<parts>`` as a CAR; verify and store the blocks reachable from ``cid``.

        Blocks without links (the file bytes) are hashed in the worker thread that stores
        their batch, beside the event loop parsing the next answer or section, instead of
        on arrival: for whole-DAG fetches (``defer_leaves``, such as ``pull``), whose
        leaves nobody reads while they run, and for file reads, which take their blocks
        only once this answer is over. Until its batch is verified a deferred block enters
        neither the memory cache nor a read, nobody waiting for it is woken, and a block
        that does not match its CID fails the answer all the same (inside it, so the
        gateway pool fails over).
        Blocks with links are always verified on arrival, before their links are followed.

        Only blocks the answer had to contain are kept: ``cid`` itself, then the links of
        every kept dag-pb block (CAR order is depth-first, parents first). Anything else
        is dropped unstored. An answer without the root block (when it is not already
        here) is a failed answer. Returns ``(blocks kept, their bytes, complete)``;
        ``complete`` says that every block reachable from ``cid`` came in this answer and
        was stored (so a ``dag-scope=all`` answer can be marked complete without walking
        the DAG again).
        """
        query = {"format": "car", **(params or {})}
        root_key = bytes(cid.digest)

        async def consume(response: aiohttp.ClientResponse, gateway: str) -> int:
            source = f"gateway {gateway}"
            parser = CarStreamParser(source=source)
            expected: dict[bytes, CID] = {root_key: cid}
            arrived: set[bytes] = set()  # a block linked twice is sent once (dups=n)
            kept: list[tuple[CID, bytes]] = []
            received = pending = stored = kept_bytes = 0
            got_root = False
            all_written = True
            writing: collections.deque[asyncio.Future] = collections.deque()  # batches being stored
            fetched = _FETCHED.get()  # the file read this answer is for, if any
            defer = defer_leaves or fetched is not None
            unverified: list[tuple[CID, bytes]] = []  # deferred blocks of the batch being gathered
            checked: collections.deque[list] = collections.deque()  # deferred blocks of each batch in `writing`

            def release(blocks: list[tuple[CID, bytes]]) -> None:
                # deferred blocks just verified: now the file read may take them, and whoever
                # waits for them may go on (nothing unverified ever enters `fetched`)
                for block_cid, block in blocks:
                    key = bytes(block_cid.digest)
                    if fetched is not None:
                        fetched[key] = block
                    if self._arrivals:
                        self._arrived(key)

            async def settle() -> bool:
                job, blocks = writing.popleft(), checked.popleft()
                written = await job  # raises when a deferred block does not match its CID
                release(blocks)
                return written

            try:
                async for chunk in response.content.iter_any():
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise AnswerTooLarge(f"{source} sent more than the {max_bytes} bytes the content can have")
                    if progress is not None:
                        progress(len(chunk))
                    for section_cid, block in parser.feed(chunk):
                        key = bytes(section_cid.digest)
                        linked = expected.pop(key, None)
                        if linked is None:
                            self.statistics["blocks_dropped"] += 1
                            continue
                        has_links = linked.codec.code == DAG_PB and pbnode_has_links(block)  # never False for garbage
                        deferred = defer and not has_links
                        if deferred:
                            unverified.append((linked, block))
                        else:
                            verify_block(section_cid, block, source=source)
                        arrived.add(key)
                        kept_bytes += len(block)
                        got_root = got_root or key == root_key
                        if fetched is not None and not deferred:
                            fetched[key] = block
                        if not deferred and (fetched is None or has_links):
                            # a file read takes its leaves from `fetched`: keeping them in the
                            # memory LRU too would only double the memory a large chunk needs
                            self._memory.put(key, block)
                        if self._arrivals and not deferred:
                            self._arrived(key)
                        kept.append((linked, block))
                        pending += len(block)
                        if pending >= WRITE_BATCH_BYTES:  # bounded memory for whole-DAG streams
                            batch, kept[:] = list(kept), []
                            checks, unverified[:] = list(unverified), []
                            stored += len(batch)
                            pending = 0
                            # the disk works while the network does: one batch written in the
                            # background, at most (memory stays at two batches)
                            # (deferred hashing: two batches in the worker threads, as each one
                            # then costs the thread more than its arrival costs the loop)
                            while len(writing) >= (2 if defer else 1):
                                all_written = await settle() and all_written
                            writing.append(asyncio.ensure_future(
                                asyncio.to_thread(self._store_batch, batch, checks, source)))
                            checked.append(checks)
                        if has_links:
                            node, _ = self.reader.node(linked)
                            for link in node.links:
                                link_key = bytes(link.cid.digest)
                                if link_key not in arrived:
                                    expected.setdefault(link_key, link.cid)
                parser.finish()
                if not got_root and not self._has_block(cid):
                    raise CarFormatError(f"{source} answered without the block of {cid}, the root asked for")
            finally:
                stored += len(kept)
                self.statistics["blocks_received"] += stored
                self.statistics["bytes_received"] += received
                while writing:
                    all_written = await settle() and all_written
                if kept and fetched is not None:
                    # a file read: its blocks are handed on once verified, the cache write follows
                    if unverified:
                        await asyncio.to_thread(_verify_all, unverified, source)
                    release(unverified)
                    await self._store_later(kept)
                elif kept:
                    all_written = await asyncio.to_thread(self._store_batch, kept, unverified, source) \
                        and all_written
                    release(unverified)
            return stored, kept_bytes, got_root and not expected and all_written

        self.statistics["requests"] += 1
        return await self.pool.request(await self._session(), cid_text(cid), list(parts), query, accept=ACCEPT_CAR,
                                       consume=consume, not_found=not_found)

    def _arrived(self, key: bytes) -> None:
        """Wake the readers of this loop waiting for the block with multihash ``key``."""
        waiting = self._arrivals.pop((id(asyncio.get_running_loop()), key), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    def _arrival(self, loop_key: int, key: bytes) -> asyncio.Future:
        """A future done when the block with multihash ``key`` arrives (shared by its waiters)."""
        waiting = self._arrivals.get((loop_key, key))
        if waiting is None:
            waiting = self._arrivals[(loop_key, key)] = asyncio.get_running_loop().create_future()
        return waiting

    def _has_block(self, cid: CID) -> bool:
        try:
            self._local_block(cid)
        except _Missing:
            return False
        return True

    async def _with_blocks(self, op: Callable[[], Any], first: Callable[[_Missing], Any], *,
                           threaded: bool = False) -> Any:
        """Run ``op()`` on local blocks; on a miss, ``await first(miss)`` once, then fetch single blocks.

        ``threaded`` runs ``op`` in the assembly pool (large files, see :data:`THREAD_READ_BYTES`).
        """
        fetched = False
        for _ in range(MAX_SINGLE_BLOCK_FETCHES):
            try:
                return await _in_assembly_thread(op) if threaded else op()
            except _Missing as missing:
                if not fetched:
                    fetched = True
                    await first(missing)
                else:
                    # the CAR lacked a block (allowed for some scopes): ask for it alone
                    await self._fetch_raw(missing.cid)
        raise ContentNotFoundError(f"reading {op} needed more than {MAX_SINGLE_BLOCK_FETCHES} separate blocks")

    # ------------------------------------------------------------ paths
    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        for prefix in ("ipfs://", "ipfs::", "/ipfs/"):
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
            raise InvalidCIDPathError(f"{key!r} names no CID; an ipfs path is ipfs://<CID>/path")
        # every chunk of a store has its own path but the same root: parse (~0.1 ms) and
        # print (~0.15 ms, multiformats) each root text once
        root_hit = self._roots.get(parts[0])
        if root_hit is None:
            try:
                root = parse_cid(parts[0])
            except InvalidCIDError as exc:
                raise InvalidCIDPathError(f"{key!r} does not start with a valid CID: {exc}") from None
            root_hit = (root, cid_text(root))
            self._roots.put(parts[0], root_hit)
        root, text = root_hit
        out = (root, parts[1:], "/".join([text] + parts[1:]))
        self._paths.put(key, out)
        return out

    def _walk_local(self, root: CID, parts: list[str]) -> tuple[CID, list[str], int | None, CID | None]:
        """Resolve ``parts`` below ``root`` as far as local blocks go.

        Returns ``(cid, rest, tsize, missing)``: the deepest CID reached, the parts not
        resolved yet, the ``Tsize`` its parent announced, and the block that is missing
        (``None`` when the whole path resolved). An absent name in a verified directory
        raises :class:`~eurec4a.errors.ContentNotFoundError`.
        """
        cid, tsize = root, None
        for i, name in enumerate(parts):
            try:
                link = self.reader.lookup(cid, name)
            except _Missing as missing:
                return cid, parts[i:], tsize, missing.cid
            cid, tsize = link.cid, link.tsize
        return cid, [], tsize, None

    async def _target(self, path: Any, params: dict[str, str], *, count_cold: bool = False) -> tuple[CID, int | None]:
        """The CID (and announced size) at ``path``; cold, one CAR with ``params`` brings path and target.

        ``count_cold``: ``path`` is a file being read; a fetch below the root counts it as
        a cold read (the full-read detection of :meth:`_wait_for_stream`).
        """
        root, parts, key = self._parse(path)
        hit = self._resolved.get(key)
        if hit is not None:
            return hit
        counted = False
        cars = 0  # CAR requests made for this path: one at the root, one more below it at most
        for _ in range(MAX_SINGLE_BLOCK_FETCHES):
            cid, rest, tsize, missing = self._walk_local(root, parts)
            if missing is None:
                self._resolved.put(key, (cid, tsize))
                return cid, tsize
            # A missing root block: zarr opens a store with several concurrent probes
            # (zarr.json, .zgroup, .zattrs, .zmetadata), absent names among them. Up to
            # ROOT_PATH_REQUESTS of them ask by path at once, so the probes take one round
            # trip; further ones wait for the root block and then resolve locally (an absent
            # name needs no request at all; if the requests in flight fail on their gateways,
            # the waiters end with that failure). Below the root, concurrent first reads of a
            # small directory each ask by path; of a larger one (a variable of thousands of
            # chunks has a directory block of hundreds of KiB, sent once per read in flight) up
            # to DIRECTORY_PATH_REQUESTS do, and the others wait for that block (woken as it
            # arrives, parents come first) and then ask for their file alone.
            if missing != root:
                if await self._wait_for_directory(root, parts[:len(parts) - len(rest)], missing):
                    continue  # the directory arrived in a stream already under way
                flight_key = (id(asyncio.get_running_loop()), bytes(missing.digest))
                flights = self._resolving.setdefault(flight_key, set())
                if len(flights) >= DIRECTORY_PATH_REQUESTS and (tsize is None or tsize > SMALL_DIRECTORY_BYTES):
                    await self._await_block(flight_key, set(flights))
                    continue  # here now, or the reads in flight ended without it: look again
                flight = asyncio.get_running_loop().create_future()
                flights.add(flight)
                # a read ahead leaves alone what a read is already fetching (no block twice):
                # the entries this path goes through, in every directory on it that is here
                below = self._path_entries(root, parts)
                self._fetching_below.update(below)
                try:
                    if count_cold and not counted:
                        counted = True  # a cold file read, counted as it starts (see _wait_for_stream)
                        self._note_cold_read(path)
                    await self._fetch_towards(root, cid, rest, tsize, missing, params, cars)
                finally:
                    self._end_flight(flight_key, flights, flight)
                    self._fetching_below.subtract(below)
                    for entry in below:
                        if not self._fetching_below[entry]:
                            del self._fetching_below[entry]
                cars += 1
                continue
            flight_key = (id(asyncio.get_running_loop()), bytes(missing.digest))
            flights = self._resolving.setdefault(flight_key, set())
            if len(flights) >= ROOT_PATH_REQUESTS:
                waited = set(flights)
                if not await self._await_block(flight_key, waited) and not self._has_block(root):
                    _raise_first_failure(waited)
                continue
            flight = asyncio.get_running_loop().create_future()
            flights.add(flight)
            failure: GatewayError | None = None
            try:
                await self._fetch_towards(root, cid, rest, tsize, missing, params, cars, flight_key, flight)
            except GatewayError as exc:
                failure = exc
                raise
            finally:
                self._end_flight(flight_key, flights, flight, failure)  # a waiting sibling probe learns why
            cars += 1
        raise ContentNotFoundError(f"resolving {key} needed more than {MAX_SINGLE_BLOCK_FETCHES} separate blocks")

    def _end_flight(self, flight_key: tuple[int, bytes], flights: set[asyncio.Future], flight: asyncio.Future,
                    failure: BaseException | None = None) -> None:
        """A request by path for the block ``flight_key`` is over: forget it and wake its waiters with ``failure``."""
        flights.discard(flight)
        if not flights and self._resolving.get(flight_key) is flights:
            del self._resolving[flight_key]
        flight.set_result(failure)

    def _path_entries(self, root: CID, parts: list[str]) -> list[tuple[int, bytes, str]]:
        """``(loop, directory, name)`` of each step of ``root/parts`` as far as its directories are here."""
        loop_key = id(asyncio.get_running_loop())
        out, directory = [], root
        for name in parts:
            out.append((loop_key, bytes(directory), name))
            try:
                directory = self.reader.lookup(directory, name).cid
            except _Missing:
                break
        return out

    async def _wait_for_directory(self, root: CID, parts: list[str], missing: CID) -> bool:
        """Wait for block ``missing`` of directory ``root/parts`` if a stream that brings it is under way.

        That is a stream of the directory itself or of one of its ancestors (a read-ahead
        streams whole variables, nested chunk directories included). Returns False at once
        when none is (the caller fetches); True after the block arrived or the stream ended
        (the caller looks again, and fetches if it is still missing).
        """
        loop_key = id(asyncio.get_running_loop())
        stream = self._covering_stream(loop_key, root, parts)
        if stream is None:
            return False
        await self._await_block((loop_key, bytes(missing.digest)), {stream})
        return True

    async def _await_block(self, key: tuple[int, bytes], others: set[asyncio.Future]) -> bool:
        """Wait until the block ``key`` (loop, multihash) arrives or one of ``others`` ends.

        Returns True when the block arrived. Waiters of a stream or of a sibling's answer go
        on as soon as their block is here (blocks come parents first), not when the whole
        answer is; with nothing in ``others`` there is nothing to wait for.
        """
        arrival = self._arrival(*key)
        if others:
            await asyncio.wait({arrival, *others}, return_when=asyncio.FIRST_COMPLETED)
        if not arrival.done():
            self._arrivals.pop(key, None)
            return False
        return True

    async def _fetch_towards(self, root: CID, cid: CID, rest: list[str], tsize: int | None, missing: CID,
                             params: dict[str, str], cars: int,
                             flight_key: tuple[int, bytes] | None = None,
                             flight: asyncio.Future | None = None) -> None:
        """One step of :meth:`_target`: fetch what resolving ``rest`` below ``cid`` lacks."""
        at_root = cid == root
        if cars >= 2 or (cars == 1 and at_root):
            await self._fetch_raw(missing, not_found="definitive" if missing == root else "failover")
            return
        try:
            # At the root, a 404 for the path is checked here against the verified directory
            # rather than by asking every gateway (zarr probes absent keys such as zarr.json).
            await self._fetch_car(cid, rest, params, max_bytes=_cap(tsize),
                                  not_found="first" if at_root else "definitive")
        except ContentNotFoundError:
            if at_root:
                # is the CID itself unknown (every gateway must agree), or only the path? The
                # root block settles it: from a sibling probe's answer still under way if
                # there is one (it carries the block), else asked for alone
                # (this request no longer brings it: two absent probes must not wait for each other)
                flights = self._resolving.get(flight_key, set()) if flight_key else set()
                flights.discard(flight)
                siblings = set(flights)
                waiting = set(siblings)
                while waiting and not self._has_block(root):
                    if await self._await_block(flight_key, waiting):
                        break
                    waiting = {f for f in waiting if not f.done()}
                if not self._has_block(root):
                    _raise_first_failure(siblings)
                    await self._fetch_raw(root, not_found="definitive")
            # below verified data a 404 may only mean "lacks blocks": go on block by block
        except GatewayError as exc:
            if not getattr(exc, "not_found_at", None):
                raise
            # some gateways said 404, the others failed: check the path against verified blocks

    # ------------------------------------------------------------ fsspec async API
    def _not_found_policy(self, path: Any) -> str:
        """A bare CID may be a typo (a 404 from every gateway is an answer); below it, content exists."""
        return "failover" if self._parse(path)[1] else "definitive"

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        cid, _ = await self._target(path, {"dag-scope": "block"})
        policy = self._not_found_policy(path)
        entry = await self._with_blocks(lambda: self.reader.entry(cid),
                                        lambda m: self._fetch_raw(cid, not_found=policy))
        return _entry_info(self._strip_protocol(path), entry)

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list:
        cid, tsize = await self._target(path, {"dag-scope": "entity"})
        links = await self._with_blocks(
            lambda: self.reader.links(cid),
            lambda m: self._fetch_car(cid, [], {"dag-scope": "entity"}, max_bytes=_cap(tsize),
                                      not_found=self._not_found_policy(path)),
        )
        base = self._strip_protocol(path)
        if not detail:
            return [f"{base}/{name}" for name, _, _ in links]
        # each child's own block says whether it is a file or a directory: fetch missing ones concurrently
        missing = [c for _, c, _ in links if not self._has_block(c)]
        if missing:
            await asyncio.gather(*(self._fetch_raw(c) for c in missing))
        out = []
        for name, child, _ in links:
            entry = await self._with_blocks(lambda c=child, n=name: self.reader.entry(c, n),
                                            lambda m, c=child: self._fetch_raw(c))
            out.append(_entry_info(f"{base}/{name}", entry))
        return out

    async def _cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = (await self._info(path)).get("size") or 0
            start = None if start is None else (start if start >= 0 else max(size + start, 0))
            end = None if end is None else (end if end >= 0 else max(size + end, 0))
        lo = start or 0
        if end is not None and end <= lo:
            return b""
        params = {"dag-scope": "entity"}
        if lo or end is not None:
            params["entity-bytes"] = f"{lo}:{'*' if end is None else end - 1}"
        token = _FETCHED.set({})  # before resolving: a first read by path brings the file's blocks too
        try:
            # a range is no sign of a full read (zarr v3 shards are read range by range)
            whole = not lo and end is None
            cid, tsize = await self._target(path, params, count_cold=whole)
            policy = self._not_found_policy(path)

            def read() -> bytes:
                return self.reader.read(cid, lo, end)

            async def fetch_file(missing: _Missing) -> None:
                if await self._wait_for_stream(path, read, count=whole):
                    return
                file_key = (id(asyncio.get_running_loop()), bytes(cid))
                ahead = self._ahead.get(file_key)
                if ahead is not None:  # fetched ahead right now: its verified blocks are this read's
                    blocks = await asyncio.shield(ahead)
                    if blocks is not None:
                        _FETCHED.get().update(blocks)
                        return
                if (lo or end is not None) and missing.cid != cid \
                        and await self._fetch_range_blocks(cid, lo, end, policy):
                    return
                self._reading[file_key] += 1
                try:
                    if cid.codec.code == RAW:
                        await self._fetch_raw(cid, not_found=policy)
                    else:  # by the file's own CID: no directory block is sent again
                        await self._fetch_car(cid, [], params, max_bytes=_cap(tsize), not_found=policy)
                finally:
                    self._reading[file_key] -= 1
                    if not self._reading[file_key]:
                        del self._reading[file_key]

            threaded = tsize is not None and min(tsize, (end or tsize) - lo) >= THREAD_READ_BYTES
            return await self._with_blocks(read, fetch_file, threaded=threaded)
        finally:
            _FETCHED.reset(token)

    def _block_here(self, cid: CID) -> bool:
        """Whether block ``cid`` is held by this read or stored here (nothing read or verified)."""
        fetched = _FETCHED.get()
        return bool(fetched and bytes(cid.digest) in fetched) or self._stored(cid)

    async def _fetch_range_blocks(self, cid: CID, lo: int, end: int | None, policy: str) -> bool:
        """Fetch the missing blocks covering ``[lo, end)`` of file ``cid`` (its root is here), each once.

        Ranges of one file read at once (zarr v3 shards: an inner chunk per read) share
        blocks: each missing block is asked for alone (``?format=raw``) by the first read
        that needs it, and the others wait for that answer instead of asking again (a CAR
        per range re-sent every shared block: 3x the data for a shard read whole). Returns
        False when more than :data:`RANGE_BLOCK_FETCHES` blocks of one level of the file's
        DAG are missing, or a block below turns out missing (the caller asks for the range
        as one CAR).
        """
        loop_key = id(asyncio.get_running_loop())
        fetched = _FETCHED.get()
        for _ in range(MAX_SINGLE_BLOCK_FETCHES):
            try:
                missing = self.reader.missing_blocks(cid, lo, end, self._block_here)
            except _Missing:
                return False
            if not missing:
                return True
            wanted = [m for m in missing if (loop_key, bytes(m.digest)) not in self._block_flights]
            if len(wanted) > RANGE_BLOCK_FETCHES:
                return False
            for block in wanted:
                key = (loop_key, bytes(block.digest))
                flight = self._block_flights[key] = asyncio.ensure_future(self._fetch_raw(block, not_found=policy))
                flight.add_done_callback(functools.partial(self._block_landed, key))
            # taken before the first await: a landed flight leaves the dict
            flights = [self._block_flights[(loop_key, bytes(m.digest))] for m in missing]
            for block, flight in zip(missing, flights):
                data = await asyncio.shield(flight)
                if fetched is not None:
                    fetched[bytes(block.digest)] = data
        return False

    def _block_landed(self, key: tuple[int, bytes], flight: asyncio.Future) -> None:
        if self._block_flights.get(key) is flight:
            del self._block_flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved: its waiters got it (an unwaited failure is not logged)

    async def _wait_for_stream(self, path: Any, op: Callable[[], Any], count: bool = True) -> bool:
        """Detect full reads and let a cold file read wait for a stream that brings its blocks.

        Cold file reads (reads that must fetch, counted as they start) are counted in every
        directory above them (see :meth:`_note_cold_read`): the :data:`PREFETCH_TRIGGER`-th
        below one directory (a zarr variable, its nested chunk directories, or a dataset of
        many small variables being loaded) reads that directory ahead (see
        :meth:`_read_ahead`): one ``dag-scope=all`` stream while little of it is here, else
        the entries nobody has read yet, each on its own. Entries already being read are
        left to their readers: no block crosses the wire twice.

        Cold reads below a streamed directory then wait for their blocks to arrive in the
        stream instead of asking on their own (``count=False``: a read of a range, which waits
        for a stream under way but is not counted). Returns True when ``op()`` can now run
        locally; False when the caller should fetch (no stream, or the stream failed or
        ended without the blocks). A stream's failure never reaches the caller.
        """
        root, parts, _ = self._parse(path)
        if not parts:
            return False
        _, rest, _, missing = self._walk_local(root, parts[:-1])
        if missing is not None or rest:
            return False
        loop_key = id(asyncio.get_running_loop())
        stream = self._covering_stream(loop_key, root, parts[:-1])
        if stream is None:
            if not count:
                return False
            self._note_cold_read(path)  # may start a stream that brings this file
            stream = self._covering_stream(loop_key, root, parts[:-1])
            if stream is None:
                return False
        while True:
            try:
                op()
                return True
            except _Missing as missing:
                if stream.done():
                    return False
                block = (loop_key, bytes(missing.cid.digest))
            # sleep until this block arrives or the stream ends (no polling: thousands of
            # chunk reads may be waiting at once)
            await self._await_block(block, {stream})

    def _stored(self, cid: CID) -> bool:
        """Whether block ``cid`` is in memory or the cache; neither reads nor verifies it (a stat at most)."""
        return self._memory.get(bytes(cid.digest)) is not None or cid in self.cache

    def _is_here(self, loop_key: int, cid: CID) -> bool:
        """Whether the block ``cid`` is stored here or a read is fetching it (a file's root) now."""
        return (loop_key, bytes(cid)) in self._reading or self._stored(cid)

    def _taken(self, loop_key: int, directory: bytes, name: str, child: CID) -> bool:
        """Whether entry ``name`` (``child``) of ``directory`` is here, streamed, or being read: no read-ahead of it."""
        return (loop_key, directory, name) in self._fetching_below or (loop_key, bytes(child)) in self._streams \
            or self._is_here(loop_key, child)

    async def _read_entries_ahead(self, loop_key: int, directory: CID,
                                  entries: list[tuple[str, CID, int | None]]) -> None:
        """Fetch the ``entries`` of ``directory``, :data:`READ_AHEAD_FILES` at once, skipping those read meanwhile.

        Raw files come by their own CIDs and their blocks go to the read waiting for them;
        other entries (directories, files of several blocks) come as a stream each, their
        readers waiting for the blocks. A read of an entry under way here waits for it; a
        read of one not started yet fetches it itself (and this skips it): nobody waits
        behind the queue, and nothing crosses the wire twice. Entries are started one by
        one as slots free up (a directory of thousands costs no thousands of tasks).
        Failures are left to the readers.
        """
        slots = asyncio.Semaphore(READ_AHEAD_FILES)
        budget = _ByteBudget(READ_AHEAD_BYTES)  # large files: their blocks are held until read
        running: set[asyncio.Future] = set()
        below = bytes(directory)

        async def fetch(cid: CID, size: int | None) -> dict[bytes, bytes] | None:
            try:
                if cid.codec.code == RAW:
                    async with budget.share(min(size or 0, READ_AHEAD_BYTES)):
                        return await self._fetch_file_ahead(cid)
                return await self._stream_directory(cid, size, budget.share(min(size or 0, 2 * WRITE_BATCH_BYTES)))
            finally:
                slots.release()

        for name, child, size in entries:
            await slots.acquire()
            key = (loop_key, bytes(child))
            if key in self._ahead or self._taken(loop_key, below, name, child):
                slots.release()
                continue
            future = self._ahead[key] = asyncio.ensure_future(fetch(child, size))
            if child.codec.code != RAW:
                self._streams[key] = future  # readers below it wait for its blocks
            future.add_done_callback(functools.partial(self._ahead_done, key))
            running.add(future)
            future.add_done_callback(running.discard)
        if running:
            await asyncio.wait(running)

    async def _fetch_file_ahead(self, cid: CID) -> dict[bytes, bytes] | None:
        """Fetch (verify, store) the one-block file ``cid``: ``{multihash: bytes}``, or ``None`` if that failed."""
        blocks: dict[bytes, bytes] = {}
        _FETCHED.set(blocks)  # a task of its own: the block goes to the read waiting for it
        try:
            await self._fetch_raw(cid, not_found="failover")
            return blocks
        except Exception as exc:  # the read of this file fetches it itself
            logger.info("fetching /ipfs/%s ahead failed (%s); its read fetches it", cid, exc)
            return None

    def _covering_stream(self, loop_key: int, root: CID, parts: list[str]) -> asyncio.Future | None:
        """The stream under way of the directory ``root/parts`` or of one of its ancestors, if any."""
        cid = root
        for i in range(len(parts) + 1):
            stream = self._streams.get((loop_key, bytes(cid)))
            if stream is not None and not stream.done():
                return stream
            if i == len(parts):
                return None
            try:
                cid = self.reader.lookup(cid, parts[i]).cid
            except _Missing:
                return None
        return None

    def _note_cold_read(self, path: Any) -> None:
        """Count a cold file read in every directory above it; the :data:`PREFETCH_TRIGGER`-th reads ahead.

        The directories are those from the root CID down to the file's parent whose blocks
        are here; each reads ahead at most once (see :meth:`_read_ahead`). Counting at every
        level finds full reads in any layout: chunks side by side (zarr v2, ``0.0``), nested
        one level per dimension (zarr v3's ``c/0/0``, v2's ``/`` separator), or a store of
        many small variables.
        """
        root, parts, _ = self._parse(path)
        if len(parts) < 2:  # files right below the root (a store's metadata) are no sign of a full read
            return
        loop_key = id(asyncio.get_running_loop())
        directory, size, depth = root, None, 0
        while True:
            key = (loop_key, bytes(directory))
            if key not in self._read_ahead_started:
                count = self._dir_reads[key] = self._dir_reads.get(key, 0) + 1
                if count >= PREFETCH_TRIGGER:
                    self._read_ahead_started.add(key)
                    self._read_ahead(loop_key, directory, size, depth)
            if depth == len(parts) - 1:
                return
            try:
                link = self.reader.lookup(directory, parts[depth])
            except _Missing:
                return
            directory, size, depth = link.cid, link.tsize, depth + 1

    def _read_ahead(self, loop_key: int, directory: CID, size: int | None, depth: int,
                    shards_fetched: bool = False) -> None:
        """Fetch ahead what is below ``directory`` and nobody has read or is reading.

        At most :data:`READ_AHEAD_MAX_BYTES` below a root CID (a guess across variables),
        :data:`PREFETCH_MAX_BYTES` below a deeper directory (within one variable). While at
        most :data:`STREAM_RESEND_FRACTION` of the directory is here or being read, it is
        streamed whole (one ``dag-scope=all`` CAR); otherwise each of its other entries is
        fetched on its own, :data:`READ_AHEAD_FILES` at a time (see
        :meth:`_read_entries_ahead`). Nothing crosses the wire twice beyond that fraction.

        A HAMT-sharded directory (kubo shards those whose block would pass 256 KiB: a
        variable of thousands of chunks) may have only some of its shards here. Its
        entries in the others cannot have been read (a read brings the shards on its
        path), so what is here or being read is counted from the shards at hand and the
        directory is streamed whole as above; when more than that fraction is read, its
        missing shards are fetched first, as one ``dag-scope=entity`` CAR (the shards and
        no entry), and the entries are then fetched one by one.
        """
        try:
            links, whole = self.reader.known_links(directory, _Missing)
        except (_Missing, Eurec4aError):  # its block is not here, or it is not a directory
            return
        if size is None:  # a root: what its entries announce
            if not whole or any(s is None for _, _, s in links):
                return
            size = sum(s for _, _, s in links)
        if size > (READ_AHEAD_MAX_BYTES if depth == 0 else PREFETCH_MAX_BYTES) or self.cache.is_complete(directory):
            return
        below = bytes(directory)
        taken = [self._taken(loop_key, below, name, child) for name, child, _ in links]
        done = sum(s or 0 for (_, _, s), seen in zip(links, taken) if seen)
        if done <= STREAM_RESEND_FRACTION * size:
            self._streams[(loop_key, below)] = asyncio.ensure_future(self._stream_directory(directory, size))
            return
        if not whole:
            if not shards_fetched:
                self._ahead_in_background(self._fetch_shards_then_read_ahead(loop_key, directory, size, depth))
            return
        rest = sorted((link for link, seen in zip(links, taken) if not seen), key=lambda link: _natural_key(link[0]))
        if rest:
            self._ahead_in_background(self._read_entries_ahead(loop_key, directory, rest))

    def _ahead_in_background(self, work: Any) -> None:
        # kept in a set until done: the event loop holds only weak references to tasks
        task = asyncio.ensure_future(work)
        self._reading_ahead.add(task)
        task.add_done_callback(self._reading_ahead.discard)

    async def _fetch_shards_then_read_ahead(self, loop_key: int, directory: CID, size: int | None,
                                            depth: int) -> None:
        """Fetch every shard of the HAMT ``directory`` (not its entries), then read ahead below it."""
        try:
            await self._fetch_car(directory, [], {"dag-scope": "entity"}, max_bytes=_cap(size),
                                  not_found="failover")
        except Exception as exc:  # the reads below it go on fetching what they need themselves
            logger.info("fetching the shards of /ipfs/%s failed (%s); no read-ahead below it", directory, exc)
            return
        self._read_ahead(loop_key, directory, size, depth, shards_fetched=True)

    def _ahead_done(self, key: tuple[int, bytes], future: asyncio.Future) -> None:
        # later reads find the blocks stored (or fetch them, if this failed)
        if self._ahead.get(key) is future:
            del self._ahead[key]
        if self._streams.get(key) is future:
            del self._streams[key]

    async def _stream_directory(self, cid: CID, tsize: int | None, share: Any = None) -> dict | None:
        """Stream the DAG of ``cid`` (a directory, or a file read ahead); ``{}`` once it is all stored.

        ``None`` when the stream failed or left something out: its readers fetch on their own.
        """
        _FETCHED.set(None)  # a task of its own: its blocks are not the starting read's
        try:
            async with share or contextlib.nullcontext():
                _, _, complete = await self._fetch_car(cid, [], {"dag-scope": "all"}, max_bytes=_cap(tsize),
                                                       not_found="failover")
            if complete or self._complete_locally(cid):
                await asyncio.to_thread(self.cache.mark_complete, cid)  # waits for queued writes: not on the loop
                return {}  # stored, nothing to hand over: its readers read the cache
        except Exception as exc:  # the readers waiting for it fetch on their own instead
            logger.info("prefetching /ipfs/%s failed (%s); files are fetched one by one", cid, exc)
        return None

    async def _get_file(self, rpath: str, lpath: Any, callback: Any = DEFAULT_CALLBACK, **kwargs: Any) -> None:
        data = await self._cat_file(rpath)
        callback.set_size(len(data))
        if hasattr(lpath, "write"):
            lpath.write(data)
        else:
            with open(lpath, "wb") as f:
                f.write(data)
        callback.relative_update(len(data))

    async def _fetch_dag(self, cid: Any, progress: Callable[[int], Any] | None = None) -> int:
        if not isinstance(cid, CID):
            cid = self._parse(cid)[0]
        if not self.cache.is_complete(cid):
            _, nbytes, complete = await self._fetch_car(cid, [], {"dag-scope": "all"}, progress=progress,
                                                        defer_leaves=True)
            if complete:  # every block reachable from cid arrived and is stored: no second walk
                await asyncio.to_thread(self.cache.mark_complete, cid)  # waits for queued writes: not on the loop
                return nbytes
        blocks = await self._with_blocks(lambda: list(self.reader.walk_blocks(cid)), lambda m: self._fetch_raw(m.cid))
        total = sum(len(self._local_block(b)) for b in blocks)
        if all(b in self.cache for b in blocks):
            await asyncio.to_thread(self.cache.mark_complete, cid)  # waits for queued writes: not on the loop
        return total

    async def _dag_size(self, cid: Any) -> int | None:
        if not isinstance(cid, CID):
            cid = self._parse(cid)[0]
        block = await self._with_blocks(lambda: self._local_block(cid), lambda m: self._fetch_raw(cid))
        if cid.codec.code != DAG_PB:
            return len(block)
        node, _ = self.reader.node(cid)
        if any(link.tsize is None for link in node.links):
            return None
        return len(block) + sum(link.tsize for link in node.links)

    async def _prefetch(self, path: str) -> int:
        root, parts, _ = self._parse(path)
        cid = root if not parts else (await self._target(path, {"dag-scope": "block"}))[0]
        if self.cache.is_complete(cid):
            return 0
        _, _, complete = await self._fetch_car(cid, [], {"dag-scope": "all"})
        if complete or self._complete_locally(cid):
            await asyncio.to_thread(self.cache.mark_complete, cid)  # waits for queued writes: not on the loop
        return 1

    def _complete_locally(self, cid: CID) -> bool:
        try:
            blocks = list(self.reader.walk_blocks(cid))
        except _Missing:
            return False
        return all(b in self.cache for b in blocks)

    fetch_dag = sync_wrapper(_fetch_dag)
    fetch_dag.__doc__ = """Fetch every block reachable from ``cid`` (one CAR stream, verified, stored); return its bytes.

    Afterwards the DAG is marked complete in the cache, so later calls make no request.
    ``progress(n)`` is called with the size of every piece received (a progress bar's
    ``update``). Used by :func:`eurec4a.pull`.

    Examples
    --------
    >>> fs.fetch_dag("QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")  # doctest: +SKIP
    123456
    """
    dag_size = sync_wrapper(_dag_size)
    dag_size.__doc__ = """Bytes of the DAG at ``cid`` as its root block announces them (``None`` if unknown).

    Examples
    --------
    >>> fs.dag_size("QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")  # doctest: +SKIP
    123456
    """
    prefetch = sync_wrapper(_prefetch)
    prefetch.__doc__ = """Fetch everything below ``path`` in one request (``dag-scope=all``), unless complete in the cache.

    Meant for catalog trees: small, immutable, read file by file afterwards. Returns
    the number of requests made (0 when the tree was marked complete). The tree is
    marked complete only when every block reachable from it was verified and stored.

    Examples
    --------
    >>> fs.prefetch("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")  # doctest: +SKIP
    1
    """

    # ------------------------------------------------------------ sync helpers
    def has_local(self, path: str) -> bool:
        """Whether the whole file or directory block at ``path`` can be read without a request.

        Used by the catalog reader to fetch only what is missing concurrently.

        Examples
        --------
        >>> fs.has_local("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N/catalog.yml")  # doctest: +SKIP
        True
        """
        try:
            root, parts, _ = self._parse(path)
            cid, _, _, missing = self._walk_local(root, parts)
            if missing is not None:
                return False
            for block in self.reader.entity_blocks(cid):
                self._local_block(block)
        except (_Missing, FileNotFoundError):
            return False
        return True

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, autocommit: bool = True,
              cache_options: dict | None = None, **kwargs: Any):
        if mode != "rb":
            raise NotImplementedError("IPFS content is immutable: only mode 'rb' is supported")
        return _IPFSFile(self, path, mode, block_size or "default", cache_options=cache_options, **kwargs)

    def ukey(self, path: str) -> str:
        """The CID at ``path`` (immutable by definition)."""
        return self.info(path)["CID"]


def _cap(tsize: int | None) -> int | None:
    """The most bytes an answer for content of announced size ``tsize`` may have."""
    return None if tsize is None else tsize + tsize // 16 + TSIZE_ALLOWANCE


def _entry_info(name: str, entry: Entry) -> dict[str, Any]:
    """An ``info`` dict with ipfsspec 0.6's keys, in its order (its ``checksum`` hashes this dict)."""
    out: dict[str, Any] = {"name": name, "CID": str(entry.cid)}
    if entry.type == "directory":
        out.update(type="directory", islink=False)
    elif entry.type == "symlink":
        out.update(type="other", islink=True)
    elif entry.cid.codec.code == RAW:
        out.update(type="file", size=entry.size)
    else:
        out.update(type="file", size=entry.size, islink=False)
    return out


class _IPFSFile(AbstractBufferedFile):
    """A read-only buffered file whose ranges come from :meth:`IPFSFileSystem.cat_file`."""

    def __init__(self, fs: IPFSFileSystem, path: str, mode: str, block_size: Any, **kwargs: Any):
        info = fs.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(f"ipfs://{fs._strip_protocol(path)} is a directory")
        super().__init__(fs, path, mode, block_size, size=info["size"], **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start, end)
