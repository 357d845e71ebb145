"""A persistent on-disk cache of IPFS blocks, addressed by their CID.

The ``ipfs`` filesystem puts every block it has verified here (catalog files,
zarr metadata and chunks) and looks here before it asks a gateway, so a dataset
opened twice is fetched once, across sessions.

Layout
------
The cache lives in :func:`default_cache_dir` (``EUREC4A_CACHE_DIR``, else the
platform's user cache directory, e.g. ``~/.cache/eurec4a`` on Linux). A block that
arrives alone (a small chunk file, a catalog file) is one file; the blocks of one
answer that brings many (a chunk file of several blocks, a whole-directory stream,
a ``pull``) are written together as one *pack* of up to :data:`PACK_BYTES`::

    <dir>/blocks/<shard>/<base32 of the multihash>     one block
    <dir>/blocks/packs/<unique name>.pack              many blocks and their index

Why packs: creating a file costs about a millisecond on a journaling file system
(measured 2.3 s for 2,048 files of 16 KiB, against 14 ms for the same bytes in one
file), which made writing the cache, not the network, the cost of a whole-dataset
read. A pack is the blocks back to back, then an index (multihash, offset, length
of each) and a fixed footer; it is written to a temporary file and renamed into
place like every entry, so a reader sees a whole pack or none. Each process reads
the packs' indexes when a lookup first misses, and again whenever the ``packs``
folder changed (its modification time), so packs written by other processes are
found. A block read from a pack is verified like any other entry; a damaged pack is
deleted as a whole (its blocks are fetched again). Packs are evicted whole, by their
modification time, like single entries. The index of every pack a process has seen is
kept in memory: about 150 bytes per packed block (a full 10 GiB cache of 16 KiB chunks,
the worst case, would be ~100 MB; of 256 KiB blocks, ~6 MB).

The key is the CID's *multihash*, not the whole CID: the CIDv0 and CIDv1 of a
dag-pb block, and a ``raw`` CID of the same bytes, all name exactly the same bytes
(the multihash is the hash of the block itself; version and codec only say how to
read it), so they rightly share one entry. The shard is two base32 characters of
the hash digest (1024 directories), which keeps directories small without
creating tens of thousands of them for a small cache.

Writing behind a read
---------------------
The ``ipfs`` filesystem hands a read's blocks on once they are verified and queues them
with :meth:`BlockCache.put_later`; one background thread per folder writes what has
queued up, several blocks to a pack. Queued blocks are found by :meth:`BlockCache.get`
at once; :meth:`BlockCache.flush` waits for them (``info``, ``clear``, ``evict`` and the
completeness markers do), and the interpreter waits for them at exit.

Why no locks
------------
Several processes (dask workers, notebooks) may share one cache. Correctness
rests on three properties instead of locks:

* **Content addressing.** Two writers of the same CID write the same bytes, so
  whichever write lands last is equally right.
* **Atomic rename.** :meth:`BlockCache.put` writes to a uniquely named temporary
  file in the entry's own directory and moves it into place with
  :func:`os.replace`, which is atomic on POSIX and Windows within one file
  system. A reader therefore sees either no entry or a complete one. A crash
  mid-write leaves only a temporary file (suffix ``.tmp``) that is never read as
  an entry; :meth:`~BlockCache.info`, :meth:`~BlockCache.evict` and
  :meth:`~BlockCache.clear` delete such files once they are an hour old (a younger
  one may belong to a write still in flight).
* **Verification on read.** :meth:`BlockCache.get` hashes every entry it returns.
  Anything that went wrong on disk (a torn write after a power cut, bit rot,
  tampering) is caught there: the entry is deleted, a warning is logged and the
  caller sees a miss and fetches the block again. This is also why ``fsync`` is
  off by default - durability buys nothing when a damaged entry is just a miss.

Eviction deletes files another process may be reading or deleting at the same
time: an open file stays readable after unlink on POSIX, and every
``FileNotFoundError`` during eviction just means somebody else got there first.

Recency is tracked with file modification times: a hit sets the entry's mtime to
now (at most once a minute per entry, to spare metadata writes), and eviction
removes the oldest mtimes first. That is a cheap approximation of LRU that needs
no index file shared between processes (access times are unreliable on
``noatime``/``relatime`` mounts). Eviction runs when this process's running
estimate of the cache size passes the limit, or after it has written a tenth of
the limit (to notice what other processes wrote); it then trims the cache to 90%
of the limit so the next writes do not trigger it again at once.

Libraries such as ``diskcache`` keep a SQLite index, which would need locking
across processes and duplicates what the file system and content addressing
already give; fsspec's caching filesystems cache by path and byte range, not by
verified CID. Hence this small module.

Examples
--------
>>> import tempfile
>>> from eurec4a.ipfs.codecs import raw_cid
>>> cache = BlockCache(tempfile.mkdtemp(), max_size="1 MiB")
>>> cid = raw_cid(b"hello")
>>> cache.get(cid) is None
True
>>> cache.put(cid, b"hello")
>>> cache.get(cid)
b'hello'
>>> cache.info()["entries"]
1
"""
from __future__ import annotations

import base64
import collections
import hashlib
import struct
import logging
import os
import secrets
import shutil
import stat
import threading
import time
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Union

from eurec4a.errors import BlockVerificationError, CacheError, InvalidCIDError
from eurec4a.settings import DEFAULT_CACHE_SIZE, ENVIRONMENT, parse_size, resolve
from eurec4a.ipfs.codecs import CID, verify_block

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_SIZE_ENV",
    "DEFAULT_CACHE_SIZE",
    "BlockCache",
    "default_cache_dir",
    "default_cache_size",
    "parse_size",
    "atomic_write_bytes",
    "Cache",
    "MAX_DOCUMENT_SIZE",
    "MAX_ENTRY_SIZE",
    "MAX_PACK_SIZE",
    "PACK_BYTES",
    "WRITE_BEHIND_BYTES",
    "read_regular_file",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the cache directory.
CACHE_DIR_ENV = ENVIRONMENT["cache_dir"]
#: Environment variable setting the cache's size limit (``0`` disables storing).
CACHE_SIZE_ENV = ENVIRONMENT["cache_size"]

#: Suffix of temporary files; names with it are never read as entries.
TEMP_SUFFIX = ".tmp"
#: Temporary files older than this (seconds) are left over from a crash and deleted.
STALE_TEMP_AGE = 3600.0
#: A hit refreshes the entry's mtime only if it is older than this (seconds).
TOUCH_INTERVAL = 60.0
#: Automatic eviction trims the cache to this fraction of the limit.
EVICT_LOW_WATER = 0.9
#: After writing this fraction of the limit, rescan to count other processes' writes.
RESCAN_FRACTION = 0.1
#: A file modified more than this far (seconds) in the future has an unknown age.
CLOCK_SKEW = 60.0

#: Largest block entry read from the cache (bytes): blocks are at most 2 MiB by the
#: IPFS spec; anything larger on disk is not an entry this package wrote.
MAX_ENTRY_SIZE = 4 * 1024 * 1024
#: Largest document (pointer-file copy, flight segments) stored or read (bytes).
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024

_BLOCKS = "blocks"
_PACKS = "packs"
#: Suffix of pack files (see the module docstring).
PACK_SUFFIX = ".pack"
#: Most bytes of blocks written into one pack; larger batches make several packs.
PACK_BYTES = 8 * 1024 * 1024
#: Most bytes of verified blocks waiting to be written behind a read (see
#: :meth:`BlockCache.put_later`); a reader handing in more waits for the writer.
WRITE_BEHIND_BYTES = 32 * 1024 * 1024
#: Pack files kept open for reading per cache object.
OPEN_PACKS = 32
#: Largest pack file read (bytes): more than this package ever writes is not one of its packs.
MAX_PACK_SIZE = 4 * PACK_BYTES
_PACK_MAGIC = b"EUREC4A-PACK-1\n"
_PACK_FOOTER = struct.Struct(">QQ8s")  # index offset, index length, footer magic
_PACK_FOOTER_MAGIC = b"E4A-IDX1"
_PACK_ENTRY = struct.Struct(">BQI")  # multihash length, offset, block length (then the multihash)
_COMPLETE = "complete"
_DOCUMENTS = "documents"

SizeLike = Union[int, str]


# ---------------------------------------------------------------- settings

def default_cache_dir() -> Path:
    """The cache folder from the settings (``cache_dir``: ``EUREC4A_CACHE_DIR``, config file, user cache dir).

    Examples
    --------
    >>> import os
    >>> os.environ["EUREC4A_CACHE_DIR"] = "/tmp/my-eurec4a-cache"
    >>> default_cache_dir().name
    'my-eurec4a-cache'
    >>> del os.environ["EUREC4A_CACHE_DIR"]
    """
    return Path(resolve("cache_dir").value)


def default_cache_size() -> int:
    """The size limit from the settings (``cache_size``: ``EUREC4A_CACHE_SIZE``, config file, 10 GiB).

    Examples
    --------
    >>> default_cache_size() == DEFAULT_CACHE_SIZE
    True
    """
    return int(resolve("cache_size").value)


# ---------------------------------------------------------------- small file helpers

def _temp_name(path: Path) -> Path:
    # pid + random token: unique across processes and threads without a lock.
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _write_temp(tmp: Path, data: bytes | list[bytes], fsync: bool) -> None:
    # O_EXCL: never write into a file somebody else created; 0o644 honours the umask,
    # so a cache prepared by one user can be read by others if the umask allows.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        parts = [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)
        if len(parts) > 1 and hasattr(os, "writev"):
            # a pack in as few system calls as possible; a short write goes on piece by piece
            done = os.writev(fd, parts[:1024])  # IOV_MAX is at least 1024 on Linux and macOS
            remaining = parts[1024:] if done == sum(len(p) for p in parts[:1024]) else None
            if remaining is None:
                joined = memoryview(b"".join(parts))[done:]
                remaining = [joined]
            parts = remaining
        for part in parts:
            view = memoryview(part)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


#: How cache files are opened for reading: never through a symlink, never blocking on a FIFO.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _open_for_reading(path: str | os.PathLike[str]) -> tuple[int, os.stat_result] | None:
    """``(descriptor, fstat)`` of ``path`` opened with :data:`_READ_FLAGS`, or ``None`` if it cannot be.

    The caller checks the file type and size on the ``fstat`` and closes the descriptor.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symlink (ELOOP), unreadable entry or directory: a miss
        logger.debug("cannot open cache file %s: %s", path, exc)
        return None
    try:
        return fd, os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        logger.debug("cannot stat cache file %s: %s", path, exc)
        return None


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> tuple[bytes, os.stat_result] | None:
    """Read a cache file safely: a regular file, not a symlink, at most ``max_bytes``.

    Opened with ``O_NOFOLLOW`` and ``O_NONBLOCK``, so a symlink (say to ``/dev/zero``)
    or a FIFO planted in the cache neither hangs nor fills memory: anything that is
    not a regular file of at most ``max_bytes`` reads as absent (``None``). Returns the
    bytes and the ``fstat`` of exactly the file read.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> read_regular_file(target, 10) is None
    True
    >>> atomic_write_bytes(target, b"abc")
    >>> read_regular_file(target, 10)[0], read_regular_file(target, 2)
    (b'abc', None)
    """
    opened = _open_for_reading(path)
    if opened is None:
        return None
    fd, st = opened
    try:
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
            logger.warning("ignoring cache file %s: not a regular file of at most %d bytes", path, max_bytes)
            return None
        chunks = []
        remaining = st.st_size + 1  # one byte more: notices a file that grew meanwhile
        while remaining > 0:
            chunk = os.read(fd, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > st.st_size:
            return None
        return data, st
    except OSError as exc:
        logger.debug("cannot read cache file %s: %s", path, exc)
        return None
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same directory (created if missing),
    which then replaces ``path`` with :func:`os.replace`. Meant for small files that
    others read, like the pointer-file cache; ``fsync`` (on by default) makes the
    new content survive a power cut before the rename is visible.

    Parameters
    ----------
    path
        The file to write.
    data
        Its new content.
    fsync
        Flush the data to disk before renaming.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "sub" / "cids.json"
    >>> atomic_write_bytes(target, b'{"a": 1}')
    >>> target.read_bytes()
    b'{"a": 1}'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        _write_temp(tmp, bytes(data), fsync)
        os.replace(tmp, path)
    finally:
        _unlink_quietly(tmp)  # only still there if something failed


# ---------------------------------------------------------------- the block cache

def _as_cid(cid: CID | str | bytes) -> CID:
    if isinstance(cid, CID):
        return cid
    try:
        return CID.decode(cid)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCIDError(f"{cid!r} is not a CID (expected e.g. 'bafy...' or 'Qm...'): {exc}") from exc


def _digest_of(multihash: bytes) -> bytes:
    """The hash digest in a multihash: what follows its two varints (hash code, length).

    The same bytes as ``cid.raw_digest``, which costs ~70 us in ``multiformats``
    (validation) against ~1 us here; every cache read and write needs it.
    """
    pos = 0
    for _ in range(2):
        while multihash[pos] & 0x80:
            pos += 1
        pos += 1
    return multihash[pos:]


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


_SEEK_LOCK = threading.Lock()


def _pread(fd: int, length: int, offset: int) -> bytes:
    """``os.pread`` where the platform has it (POSIX); elsewhere (Windows) a locked seek and read."""
    if hasattr(os, "pread"):
        return os.pread(fd, length, offset)
    with _SEEK_LOCK:  # pragma: no cover - not POSIX
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, length)


def _cid_of_multihash(blocks: list[tuple[Any, bytes]], key: bytes) -> CID:
    for cid, _ in blocks:
        cid = _as_cid(cid)
        if bytes(cid.digest) == key:
            return cid
    raise KeyError(key)  # pragma: no cover - key comes from blocks


def _read_pack_index(path: str) -> dict[bytes, tuple[int, int]] | None:
    """The index of the pack at ``path`` (multihash -> (offset, length)), ``None`` if it is not a valid pack.

    Everything is bounds-checked: a planted or truncated file reads as no pack, never
    as entries pointing outside it.
    """
    opened = _open_for_reading(path)
    if opened is None:
        return None
    fd, st = opened
    try:
        size = st.st_size
        if not stat.S_ISREG(st.st_mode) or size > MAX_PACK_SIZE or size < len(_PACK_MAGIC) + _PACK_FOOTER.size:
            return None
        if _pread(fd, len(_PACK_MAGIC), 0) != _PACK_MAGIC:
            return None
        footer = _pread(fd, _PACK_FOOTER.size, size - _PACK_FOOTER.size)
        index_at, index_len, magic = _PACK_FOOTER.unpack(footer)
        if magic != _PACK_FOOTER_MAGIC or index_at + index_len != size - _PACK_FOOTER.size or index_at < len(_PACK_MAGIC):
            return None
        raw = _pread(fd, index_len, index_at)
    except (OSError, struct.error):
        return None
    finally:
        os.close(fd)
    out: dict[bytes, tuple[int, int]] = {}
    pos = 0
    while pos < len(raw):
        if pos + _PACK_ENTRY.size > len(raw):
            return None
        key_len, offset, length = _PACK_ENTRY.unpack_from(raw, pos)
        pos += _PACK_ENTRY.size
        key = raw[pos:pos + key_len]
        pos += key_len
        if len(key) != key_len or offset < len(_PACK_MAGIC) or offset + length > index_at or length > MAX_ENTRY_SIZE:
            return None
        out[key] = (offset, length)
    return out


class _WriteBehind:
    """Verified blocks handed to one cache folder and not yet on disk, and the thread writing them.

    Why write behind: a read that fetched a block should hand it on at once, not after
    creating a file for it (about a millisecond each here, several under load, and in
    the way of the next request). Blocks queued here are found by every
    :class:`BlockCache` of the same folder in this process (:meth:`BlockCache.get`
    looks here first), so nothing is fetched twice while it waits; the writer takes
    whatever has queued up, up to :data:`PACK_BYTES`, as one pack (many single-block
    reads become few files). It is a plain thread, not a daemon: the interpreter
    waits for it at exit, so a finished read's blocks are on disk when the process
    ends normally. The queue holds at most :data:`WRITE_BEHIND_BYTES` (callers wait in
    :meth:`BlockCache.flush`).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.blocks: dict[bytes, tuple[CID, bytes]] = {}  # multihash -> block, queued or being written
        self.queue: collections.deque[bytes] = collections.deque()  # not yet taken by the writer
        self.nbytes = 0  # bytes in `blocks`
        self.writer: threading.Thread | None = None

    def add(self, cache: "BlockCache", blocks: list[tuple[CID, bytes]]) -> int:
        with self.lock:
            for cid, data in blocks:
                key = bytes(cid.digest)
                if key not in self.blocks:
                    self.blocks[key] = (cid, data)
                    self.queue.append(key)
                    self.nbytes += len(data)
            if not self.queue or self.writer is not None:
                return self.nbytes
            self.writer = threading.Thread(target=self._write, args=(cache,), name="eurec4a-cache-writer")
            try:
                self.writer.start()
                return self.nbytes
            except RuntimeError:  # no new thread (interpreter shutdown): this caller writes the queue
                pass
        self._write(cache)
        return 0

    def _write(self, cache: "BlockCache") -> None:
        while True:
            with self.lock:
                batch: list[tuple[CID, bytes]] = []
                size = 0
                while self.queue and (not batch or size + len(self.blocks[self.queue[0]][1]) <= PACK_BYTES):
                    block = self.blocks[self.queue.popleft()]
                    batch.append(block)
                    size += len(block[1])
                if not batch:
                    self.writer = None
                    self.changed.notify_all()
                    return
            try:
                cache.put_many(batch, verify=False)  # verified before they were queued
            except Exception:  # a bug, not a full disk (put_many warns about those): the blocks are just not kept
                logger.exception("writing %d blocks to the cache at %s failed", len(batch), cache.path)
            finally:
                with self.lock:
                    for cid, data in batch:
                        if self.blocks.pop(bytes(cid.digest), None) is not None:
                            self.nbytes -= len(data)
                    self.changed.notify_all()

    def wait(self, limit: int, timeout: float | None) -> bool:
        with self.lock:
            return self.changed.wait_for(lambda: self.nbytes <= limit and (limit or self.writer is None), timeout)


_WRITES_LOCK = threading.Lock()
_WRITES: dict[str, _WriteBehind] = {}  # blocks folder -> its queue (this process)


def _forget_writes_after_fork() -> None:
    # a forked child (multiprocessing, dask's fork start method) has neither the parent's
    # writer thread nor a usable lock; the parent writes what it queued
    global _WRITES_LOCK
    _WRITES_LOCK = threading.Lock()
    _WRITES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_writes_after_fork)


def _write_behind(folder: Path) -> _WriteBehind:
    with _WRITES_LOCK:
        queue = _WRITES.get(str(folder))
        if queue is None:
            queue = _WRITES[str(folder)] = _WriteBehind()
        return queue


class _Entry(NamedTuple):
    path: Path
    size: int
    mtime: float


class BlockCache:
    """A directory of verified IPFS blocks, shared safely between processes.

    See the module docstring for the layout and why it needs no locks.

    Parameters
    ----------
    path
        The cache directory (blocks go to ``<path>/blocks``); default
        :func:`default_cache_dir`.
    max_size
        Size limit in bytes or as a string like ``"10GB"``; default
        :func:`default_cache_size`. ``0`` stores nothing (reads still work, e.g. of
        a cache filled beforehand). Blocks larger than the limit are not stored.
    fsync
        Flush each block to disk before it becomes visible. Off by default: a block
        damaged by a crash fails verification on read and is fetched again.

    Raises
    ------
    CacheError
        ``path`` exists but is not a directory, or ``max_size`` is not a size.

    Examples
    --------
    >>> import tempfile
    >>> from eurec4a.ipfs.codecs import dag_pb_cid, raw_cid
    >>> cache = BlockCache(tempfile.mkdtemp())
    >>> cache.put(dag_pb_cid(b"block"), b"block")
    >>> raw_cid(b"block") in cache  # same bytes, same multihash, same entry
    True
    >>> cache.clear()
    >>> cache.info()["entries"]
    0
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        max_size: SizeLike | None = None,
        *,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path).expanduser().absolute() if path is not None else default_cache_dir()
        if self.path.exists() and not self.path.is_dir():
            raise CacheError(
                f"cache directory {self.path} exists and is not a directory; set "
                f"{CACHE_DIR_ENV} to a directory (it is created if missing)"
            )
        self.max_size = default_cache_size() if max_size is None else parse_size(max_size, setting="max_size")
        self.fsync = fsync
        self._blocks = self.path / _BLOCKS
        self._lock = threading.Lock()
        self._estimate: int | None = None  # bytes in the cache, as far as this process knows
        self._written_since_scan = 0
        self._write_failed = False
        self._packs = self._blocks / _PACKS
        # multihash -> (pack path, offset, length), for the packs seen at _packs_stamp
        self._pack_index: dict[bytes, tuple[str, int, int]] = {}
        self._pack_files: dict[str, list[bytes]] = {}  # pack path -> its multihashes
        self._packs_stamp: int | None = None  # mtime_ns of the packs folder when last read
        self._pack_fds: collections.OrderedDict[str, tuple[int, os.stat_result]] = collections.OrderedDict()
        self._pack_touched: dict[str, float] = {}  # pack -> when this process last refreshed its mtime

    def __repr__(self) -> str:
        return f"BlockCache({str(self.path)!r}, max_size={self.max_size})"

    # ---- keys

    def entry_path(self, cid: CID | str) -> Path:
        """The file that holds (or would hold) the block of ``cid``.

        Examples
        --------
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> BlockCache("/tmp/c").entry_path(raw_cid(b"hello")).relative_to("/tmp/c").parts[0]
        'blocks'
        """
        cid = _as_cid(cid)
        multihash = bytes(cid.digest)
        return self._blocks / _b32(_digest_of(multihash))[:2] / _b32(multihash)

    # ---- reading

    def get(self, cid: CID | str) -> bytes | None:
        """The verified bytes of ``cid``, or ``None`` on a miss.

        An entry that does not hash to ``cid`` is deleted and logged as a warning,
        and reported as a miss so the caller fetches the block again. A hit marks
        the entry as recently used.

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> cache.put(raw_cid(b"x"), b"x")
        >>> cache.get(raw_cid(b"x")), cache.get(raw_cid(b"y"))
        (b'x', None)
        """
        cid = _as_cid(cid)
        if cid.hashfun.name == "identity":
            return bytes(cid.raw_digest)  # the block is inlined in the CID itself
        queued = _write_behind(self._blocks).blocks.get(bytes(cid.digest))
        if queued is not None:  # verified before it was queued, and still in memory
            return queued[1]
        with self._lock:
            packed = bytes(cid.digest) in self._pack_index
        if packed:  # a dictionary lookup spares a failing open() of the single-file entry
            data = self._get_packed(cid)
            if data is not None:
                return data
        path = self.entry_path(cid)
        found = read_regular_file(path, MAX_ENTRY_SIZE)
        if found is None:
            return None if packed else self._get_packed(cid)
        data, st = found
        try:
            verify_block(cid, data, source=f"cache entry {path}")
        except BlockVerificationError:
            logger.warning(
                "cache entry %s for %s is corrupted (its bytes do not match the CID); "
                "deleted it, the block will be fetched again", path, cid,
            )
            self._discard_if_same(path, st)
            return None
        if time.time() - st.st_mtime > TOUCH_INTERVAL:
            try:
                os.utime(path)
            except OSError:  # evicted meanwhile, or a read-only cache: still a hit
                pass
        return data

    def __contains__(self, cid: object) -> bool:
        """Whether an entry exists for ``cid``, alone or in a pack (without reading or verifying it)."""
        if not isinstance(cid, (CID, str, bytes)):
            return False
        cid = _as_cid(cid)
        if cid.hashfun.name == "identity":
            return True
        key = bytes(cid.digest)
        if key in _write_behind(self._blocks).blocks or self.entry_path(cid).is_file():
            return True
        with self._lock:
            if key in self._pack_index:
                return True
        return self._refresh_packs() and key in self._pack_index

    def locate(self, cid: CID | str) -> tuple[Path, int, int] | None:
        """Where the entry of ``cid`` is: ``(file, offset, length)``, or ``None`` if it is not stored.

        A block stored alone is a whole file (offset 0); a packed block is a range of its
        pack. For diagnostics and tests; reading goes through :meth:`get`, which verifies.

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> cache.put_many([(raw_cid(b"a"), b"a"), (raw_cid(b"bc"), b"bc")])
        True
        >>> path, offset, length = cache.locate(raw_cid(b"bc"))
        >>> path.suffix, length
        ('.pack', 2)
        """
        cid = _as_cid(cid)
        self.flush()  # a block queued for writing is on disk first
        path = self.entry_path(cid)
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                return path, 0, st.st_size
        except OSError:
            pass
        key = bytes(cid.digest)
        self._refresh_packs()
        with self._lock:
            where = self._pack_index.get(key)
        return None if where is None else (Path(where[0]), where[1], where[2])

    def stored_blocks(self) -> Iterator[bytes]:
        """The bytes of every stored block, as on disk (not verified): for audits and tests.

        A file in a pack folder that is not a valid pack is yielded whole, so an audit
        comparing these bytes with the genuine blocks notices it.

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> cache.put_many([(raw_cid(b"a"), b"a"), (raw_cid(b"bc"), b"bc")])
        True
        >>> sorted(cache.stored_blocks())
        [b'a', b'bc']
        """
        self.flush()
        for entry in self._scan():
            if entry.path.parent.name != _PACKS:
                found = read_regular_file(entry.path, MAX_ENTRY_SIZE)
                if found is not None:
                    yield found[0]
                continue
            found = read_regular_file(entry.path, MAX_PACK_SIZE)
            if found is None:
                continue
            index = _read_pack_index(str(entry.path))
            if index is None:
                yield found[0]
                continue
            for offset, length in index.values():
                yield found[0][offset:offset + length]

    # ---- packs

    def _refresh_packs(self) -> bool:
        """Read the indexes of packs not seen yet (and forget deleted ones); False if nothing changed."""
        try:
            stamp = os.stat(self._packs).st_mtime_ns
        except OSError:
            stamp = None
        with self._lock:
            if stamp == self._packs_stamp:
                return False
            self._packs_stamp = stamp
            known = set(self._pack_files)
        try:
            names = {e.path for e in os.scandir(self._packs) if e.name.endswith(PACK_SUFFIX)}
        except OSError:
            names = set()
        for gone in known - names:
            self._forget_pack(gone)
        for path in names - known:
            index = _read_pack_index(path)
            if index is not None:
                self._remember_pack(path, index)
        return True

    def _open_pack(self, path: str) -> tuple[int, os.stat_result] | None:
        """An open descriptor of the pack at ``path`` (and its stat), kept for the next reads.

        Opening a file costs more than reading a block from it; a few descriptors stay
        open (:data:`OPEN_PACKS`, least recently used closed first). A pack deleted
        meanwhile stays readable through its descriptor, and what is read is verified
        against its CID all the same.
        """
        with self._lock:
            hit = self._pack_fds.pop(path, None)
            if hit is not None:
                self._pack_fds[path] = hit  # most recently used last
                return hit
        opened = _open_for_reading(path)
        if opened is None:
            return None
        fd, st = opened
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        with self._lock:
            if path in self._pack_fds:  # another thread opened it meanwhile
                os.close(fd)
                return self._pack_fds[path]
            self._pack_fds[path] = (fd, st)
            while len(self._pack_fds) > OPEN_PACKS:
                _, (old, _) = self._pack_fds.popitem(last=False)
                os.close(old)
        return fd, st

    def _close_pack(self, path: str) -> None:
        with self._lock:
            hit = self._pack_fds.pop(path, None)
        if hit is not None:
            os.close(hit[0])

    def close(self) -> None:
        """Close the pack files kept open for reading (reopened when needed).

        Examples
        --------
        >>> import tempfile
        >>> BlockCache(tempfile.mkdtemp()).close()
        """
        with self._lock:
            fds, self._pack_fds = list(self._pack_fds.values()), collections.OrderedDict()
        for fd, _ in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit anything may be half torn down
            pass

    def _remember_pack(self, path: str, index: dict[bytes, tuple[int, int]]) -> None:
        with self._lock:
            self._pack_files[path] = list(index)
            for key, (offset, length) in index.items():
                self._pack_index[key] = (path, offset, length)

    def _forget_pack(self, path: str) -> None:
        self._close_pack(path)
        with self._lock:
            for key in self._pack_files.pop(path, ()):
                if self._pack_index.get(key, (None,))[0] == path:
                    del self._pack_index[key]

    def _get_packed(self, cid: CID) -> bytes | None:
        key = bytes(cid.digest)
        # one stat of the packs folder per read: packs other processes wrote are found, and
        # packs they evicted or cleared are let go (their open descriptors closed) at once
        self._refresh_packs()
        with self._lock:
            where = self._pack_index.get(key)
        if where is None:
            return None
        path, offset, length = where
        opened = self._open_pack(path)
        if opened is None:  # evicted or cleared by another process: a miss
            self._forget_pack(path)
            return None
        fd, st = opened
        try:
            data = _pread(fd, length, offset)
        except OSError:
            data = b""
        try:
            verify_block(cid, data, source=f"cache pack {path}")
        except BlockVerificationError:
            logger.warning(
                "cache pack %s is damaged (the bytes of %s do not match the CID); deleted it, "
                "its blocks will be fetched again", path, cid,
            )
            self._forget_pack(path)
            self._discard_if_same(Path(path), st)
            return None
        now = time.time()
        if now - max(st.st_mtime, self._pack_touched.get(path, 0.0)) > TOUCH_INTERVAL:
            self._pack_touched[path] = now
            try:
                os.utime(path)
            except OSError:
                pass
        return data

    @staticmethod
    def _discard_if_same(path: Path, seen: os.stat_result) -> None:
        # Another process may have replaced the damaged file with a good one since
        # we read it; only delete the very file we found damaged.
        try:
            now = os.stat(path)
            if (now.st_ino, now.st_dev) == (seen.st_ino, seen.st_dev):
                os.unlink(path)
        except OSError:
            pass

    # ---- writing

    def put(self, cid: CID | str, data: bytes, verify: bool = True) -> None:
        """Store the block ``data`` under ``cid``, atomically.

        Parameters
        ----------
        cid
            The block's CID.
        data
            The block's bytes.
        verify
            Check that ``data`` hashes to ``cid`` first. Pass ``False`` only for
            bytes that were verified already (the gateway client does).

        Raises
        ------
        BlockVerificationError
            ``data`` does not hash to ``cid``; nothing is stored.

        Notes
        -----
        A cache directory that cannot be written to (read-only, full disk) is not
        an error: the block is not stored, a warning is logged once, and reading
        goes on. Identity CIDs carry their bytes inline and are never stored.

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> cache.put(raw_cid(b"x"), b"not x")
        Traceback (most recent call last):
        ...
        eurec4a.errors.BlockVerificationError: ...
        """
        cid = _as_cid(cid)
        data = bytes(data)
        if verify:
            verify_block(cid, data, source="the bytes given to the cache")
        if cid.hashfun.name == "identity" or self.max_size == 0 or len(data) > self.max_size:
            return
        self._store_single(cid, data)

    def _store_single(self, cid: CID, data: bytes) -> bool:
        """Write ``data`` as the single-file entry of ``cid`` unless there is one; whether it is there now."""
        path = self.entry_path(cid)
        if path.exists():
            return True  # content-addressed: the entry already holds these bytes
        if not self._write(path, data):
            return False
        self._note_written(len(data))
        return True

    def put_many(self, blocks: list[tuple[CID, bytes]], verify: bool = True) -> bool:
        """Store several blocks: one alone is one file, more go into packs (see the module docstring).

        Parameters
        ----------
        blocks
            ``(cid, bytes)`` pairs.
        verify
            Check every block against its CID first (``False`` only for bytes verified
            already); on a mismatch nothing is stored.

        Returns
        -------
        bool
            Whether every block is now stored (False when the cache stores nothing,
            a block is larger than the limit, or a write failed).

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> cache.put_many([(raw_cid(bytes([n])), bytes([n])) for n in range(3)])
        True
        >>> cache.get(raw_cid(bytes([2]))), cache.info()["entries"]
        (b'\\x02', 1)
        """
        wanted: list[tuple[bytes, bytes]] = []
        seen: set[bytes] = set()
        complete = True
        for cid, data in blocks:
            cid = _as_cid(cid)
            if verify:
                verify_block(cid, data, source="the bytes given to the cache")
            key = bytes(cid.digest)
            if cid.hashfun.name == "identity" or key in seen:
                continue
            if len(data) > min(self.max_size, MAX_ENTRY_SIZE):
                complete = False
                continue
            seen.add(key)
            wanted.append((key, data))
        if not wanted:
            return complete
        if len(wanted) == 1:
            return self._store_single(_cid_of_multihash(blocks, wanted[0][0]), wanted[0][1]) and complete
        batch: list[tuple[bytes, bytes]] = []
        size = 0
        for key, data in wanted:
            if batch and size + len(data) > PACK_BYTES:
                complete = self._write_pack(batch) and complete
                batch, size = [], 0
            batch.append((key, data))
            size += len(data)
        return self._write_pack(batch) and complete

    def put_later(self, blocks: list[tuple[CID, bytes]], verify: bool = True) -> int:
        """Queue blocks to be written by a background thread; the bytes now queued.

        The blocks are found by :meth:`get` and ``in`` at once (by every cache object
        of this folder in this process) and are on disk after :meth:`flush`, or when
        the process ends normally; several queued blocks are written as one pack. A
        caller that sees more than :data:`WRITE_BEHIND_BYTES` queued waits in
        :meth:`flush` before it queues more (the gateway client does).

        Parameters
        ----------
        blocks
            ``(cid, bytes)`` pairs.
        verify
            Check every block against its CID first, as :meth:`put_many` does (``False``
            only for bytes verified already); on a mismatch nothing is queued.

        Raises
        ------
        BlockVerificationError
            A block does not hash to its CID (with ``verify``).

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> queued = cache.put_later([(raw_cid(b"a"), b"a"), (raw_cid(b"b"), b"b")])
        >>> cache.get(raw_cid(b"a"))  # found while it waits
        b'a'
        >>> cache.flush()
        True
        >>> cache.info()["blocks"]
        2
        """
        pairs = [(_as_cid(c), d) for c, d in blocks]
        if verify:
            for cid, data in pairs:
                verify_block(cid, data, source="the bytes given to the cache")
        largest = min(self.max_size, MAX_ENTRY_SIZE)
        wanted = [(c, d) for c, d in pairs if c.hashfun.name != "identity" and len(d) <= largest]
        if not wanted:
            return 0
        return _write_behind(self._blocks).add(self, wanted)

    def flush(self, limit: int = 0, timeout: float | None = None) -> bool:
        """Wait until at most ``limit`` bytes of blocks queued by :meth:`put_later` are unwritten.

        With ``limit=0`` (the default) every queued block of this folder is on disk (or
        its write failed, which was logged) when this returns True; False means
        ``timeout`` seconds passed first.

        Examples
        --------
        >>> import tempfile
        >>> BlockCache(tempfile.mkdtemp()).flush()  # nothing queued
        True
        """
        return _write_behind(self._blocks).wait(limit, timeout)

    def _write_pack(self, batch: list[tuple[bytes, bytes]]) -> bool:
        parts = [_PACK_MAGIC]
        index = {}
        offset = len(_PACK_MAGIC)
        for key, data in batch:
            parts.append(data)
            index[key] = (offset, len(data))
            offset += len(data)
        entries = b"".join(_PACK_ENTRY.pack(len(key), off, length) + key for key, (off, length) in index.items())
        parts += [entries, _PACK_FOOTER.pack(offset, len(entries), _PACK_FOOTER_MAGIC)]
        path = self._packs / f"{time.time_ns():x}-{os.getpid()}-{secrets.token_hex(4)}{PACK_SUFFIX}"
        if not self._write(path, parts):  # written piece by piece: no joined copy of 8 MiB
            return False
        self._remember_pack(str(path), index)
        self._note_written(sum(len(part) for part in parts))
        return True

    def _write(self, path: Path, data: bytes | list[bytes]) -> bool:
        # The shard folder is made only when a write finds it missing (once per shard,
        # not a mkdir per block); a clear() racing with us just costs one more try.
        for attempt in range(3):
            tmp = _temp_name(path)
            try:
                _write_temp(tmp, data, self.fsync)
                os.replace(tmp, path)
                return True
            except FileNotFoundError:
                if attempt == 2:
                    return False
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    self._warn_write_failed(path, exc)
                    return False
            except PermissionError as exc:
                if not path.exists():  # else Windows: another process holds the entry open
                    self._warn_write_failed(path, exc)
                return False
            except OSError as exc:
                self._warn_write_failed(path, exc)
                return False
            finally:
                _unlink_quietly(tmp)
        return False  # pragma: no cover - the loop always returns

    def _warn_write_failed(self, path: Path, exc: OSError) -> None:
        if not self._write_failed:
            self._write_failed = True
            logger.warning(
                "cannot write to the block cache at %s (%s); continuing without storing "
                "blocks. Set %s to a writable directory, or %s=0 to turn storing off.",
                path.parent, exc, CACHE_DIR_ENV, CACHE_SIZE_ENV,
            )

    def _note_written(self, nbytes: int) -> None:
        with self._lock:
            if self._estimate is not None:
                self._estimate += nbytes
                self._written_since_scan += nbytes
            due = (
                self._estimate is None
                or self._estimate > self.max_size
                or self._written_since_scan > self.max_size * RESCAN_FRACTION
            )
        if due:
            self._maintain()

    def _maintain(self) -> None:
        """Recount the cache and evict down to the low-water mark if it is over the limit."""
        entries = list(self._scan())
        total = sum(e.size for e in entries)
        if total > self.max_size:
            removed, freed = self._evict_entries(entries, total, int(self.max_size * EVICT_LOW_WATER))
            total -= freed
            if removed:
                self._forget_all_packs()
        with self._lock:
            self._estimate = total
            self._written_since_scan = 0

    # ---- housekeeping

    def _scan(self) -> Iterator[_Entry]:
        """Yield every entry; delete stale temporary files on the way."""
        now = time.time()
        try:
            shards = list(os.scandir(self._blocks))
        except OSError:  # no cache yet, or unreadable
            return
        for shard in shards:
            try:
                if not shard.is_dir(follow_symlinks=False):
                    continue
                files = list(os.scandir(shard.path))
            except OSError:
                continue
            for item in files:
                try:
                    if not item.is_file(follow_symlinks=False):
                        continue
                    st = item.stat(follow_symlinks=False)
                except OSError:  # deleted by another process meanwhile
                    continue
                if item.name.endswith(TEMP_SUFFIX):
                    if now - st.st_mtime > STALE_TEMP_AGE:
                        _unlink_quietly(Path(item.path))
                    continue
                yield _Entry(Path(item.path), st.st_size, st.st_mtime)

    @staticmethod
    def _evict_entries(entries: list[_Entry], total: int, target: int) -> tuple[int, int]:
        """Delete the oldest entries until ``total`` is at most ``target``; return (count, bytes)."""
        removed = freed = 0
        for entry in sorted(entries, key=lambda e: e.mtime):
            if total - freed <= target:
                break
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass  # another process evicted it: it no longer counts either way
            except OSError:
                continue  # e.g. open on Windows: keep counting it
            else:
                removed += 1
            freed += entry.size
        return removed, freed

    def evict(self, target: SizeLike | None = None) -> int:
        """Delete least recently used entries until the cache holds at most ``target`` bytes.

        Parameters
        ----------
        target
            Size to shrink to (bytes or a string like ``"1GB"``); default the
            cache's ``max_size``.

        Returns
        -------
        int
            The number of entries deleted.

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> for n in range(3):
        ...     cache.put(raw_cid(bytes([n]) * 10), bytes([n]) * 10)
        >>> cache.evict(target=15)
        2
        """
        limit = self.max_size if target is None else parse_size(target, setting="target")
        self.flush()
        entries = list(self._scan())
        total = sum(e.size for e in entries)
        removed, freed = self._evict_entries(entries, total, limit)
        with self._lock:
            self._estimate = total - freed
            self._written_since_scan = 0
        if removed:
            self._forget_all_packs()
        return removed

    def _forget_all_packs(self) -> None:
        self.close()
        with self._lock:
            self._pack_index.clear()
            self._pack_files.clear()
            self._packs_stamp = None

    def info(self) -> dict[str, Any]:
        """Where the cache is, how many files, blocks and bytes it holds, and its limit.

        Returns
        -------
        dict
            ``path`` (str), ``entries`` (int, files: single blocks and packs),
            ``size_bytes`` (int, sum of the entries' sizes), ``max_size`` (int) and
            ``blocks`` (int, blocks stored alone or in packs).

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp(), max_size="1KiB")
        >>> cache.put(raw_cid(b"abc"), b"abc")
        >>> cache.put_many([(raw_cid(b"d"), b"d"), (raw_cid(b"e"), b"e")])
        True
        >>> info = cache.info(); info["entries"], info["blocks"], info["max_size"]
        (2, 3, 1024)
        """
        self.flush()
        entries = list(self._scan())
        size = sum(e.size for e in entries)
        blocks = 0
        for entry in entries:
            if entry.path.parent.name == _PACKS:
                index = _read_pack_index(str(entry.path))
                blocks += len(index) if index is not None else 0
            else:
                blocks += 1
        return {"path": str(self.path), "entries": len(entries), "size_bytes": size, "max_size": self.max_size,
                "blocks": blocks}

    def clear(self) -> None:
        """Delete every entry (and stale temporary files).

        Temporary files younger than an hour are left alone: they may belong to a
        write in progress in another process.

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp())
        >>> cache.put(raw_cid(b"abc"), b"abc")
        >>> cache.clear()
        >>> raw_cid(b"abc") in cache
        False
        """
        self.flush()  # else queued blocks would land after the clear
        for entry in self._scan():
            _unlink_quietly(entry.path)
        try:
            shards = list(os.scandir(self._blocks))
        except OSError:
            shards = []
        for shard in shards:
            try:
                os.rmdir(shard.path)  # only succeeds when empty
            except OSError:
                pass
        with self._lock:
            self._estimate = 0
            self._written_since_scan = 0
        self._forget_all_packs()


# ---------------------------------------------------------------- the whole cache folder

class Cache:
    """The cache folder: verified blocks, completeness markers and small documents.

    This façade owns everything below its folder, so :meth:`clear` and :meth:`evict`
    keep the parts consistent (a marker never outlives the blocks it vouches for)::

        <path>/blocks/<shard>/<multihash>     verified blocks (:class:`BlockCache`)
        <path>/complete/<multihash>           "every block of this DAG is in blocks/"
        <path>/documents/<namespace>/<key>    pointer-file copies, flight segments, ...

    Parameters
    ----------
    path
        The folder (default: the ``cache_dir`` setting, ``EUREC4A_CACHE_DIR``).
    max_size
        Size limit for blocks (bytes or ``"10GB"``; default the ``cache_size`` setting,
        ``EUREC4A_CACHE_SIZE``). ``0`` stores no blocks; documents are always stored.
    fsync
        Flush each block to disk before it becomes visible (see :class:`BlockCache`).

    Examples
    --------
    >>> import tempfile
    >>> cache = Cache(tempfile.mkdtemp(), "1 MiB")
    >>> cache.put_document("pointers", "https://example.org/cids.json", b"{}")
    >>> data, stored = cache.get_document("pointers", "https://example.org/cids.json")
    >>> data, stored > 0
    (b'{}', True)
    >>> cache.clear()
    >>> cache.get_document("pointers", "https://example.org/cids.json") is None
    True
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, max_size: SizeLike | None = None, *,
                 fsync: bool = False) -> None:
        self.blocks = BlockCache(path, max_size, fsync=fsync)
        self.path = self.blocks.path
        self.max_size = self.blocks.max_size

    @classmethod
    def from_settings(cls, settings: Any) -> "Cache":
        """The cache that ``settings`` (:class:`eurec4a.settings.Settings`) names.

        Examples
        --------
        >>> from eurec4a.settings import Settings
        >>> s = Settings.resolve(cache_dir="/tmp/eurec4a-doc-cache", cache_size="1GB", environ={})
        >>> Cache.from_settings(s).max_size
        1000000000
        """
        return cls(settings.cache_dir, settings.cache_size)

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r}, max_size={self.max_size})"

    # ---- blocks (delegated)

    def get(self, cid: CID | str) -> bytes | None:
        """The verified block of ``cid`` or ``None`` (see :meth:`BlockCache.get`)."""
        return self.blocks.get(cid)

    def put(self, cid: CID | str, data: bytes, verify: bool = True) -> None:
        """Store a block (see :meth:`BlockCache.put`)."""
        self.blocks.put(cid, data, verify=verify)

    def put_many(self, blocks: list[tuple[CID, bytes]], verify: bool = True) -> bool:
        """Store several blocks, in packs when more than one; whether all are stored (see :meth:`BlockCache.put_many`)."""
        return self.blocks.put_many(blocks, verify=verify)

    def put_later(self, blocks: list[tuple[CID, bytes]], verify: bool = True) -> int:
        """Queue blocks for a background write; the bytes queued (see :meth:`BlockCache.put_later`)."""
        return self.blocks.put_later(blocks, verify=verify)

    def flush(self, limit: int = 0, timeout: float | None = None) -> bool:
        """Wait for queued block writes (see :meth:`BlockCache.flush`)."""
        return self.blocks.flush(limit, timeout)

    def __contains__(self, cid: object) -> bool:
        return cid in self.blocks

    # ---- completeness markers

    def _marker(self, cid: CID | str) -> Path:
        multihash = bytes(_as_cid(cid).digest)
        return self.path / _COMPLETE / _b32(multihash)

    def mark_complete(self, cid: CID | str) -> None:
        """Record that every block reachable from ``cid`` is stored (the caller checked it).

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = Cache(tempfile.mkdtemp())
        >>> cache.mark_complete(raw_cid(b"x")); cache.is_complete(raw_cid(b"x"))
        True
        """
        self.blocks.flush()  # a marker never vouches for blocks still queued in memory
        try:
            atomic_write_bytes(self._marker(cid), b"", fsync=False)
        except OSError as exc:  # a read-only cache: walking the DAG again is the only cost
            logger.debug("cannot record complete DAG %s: %s", cid, exc)

    def is_complete(self, cid: CID | str) -> bool:
        """Whether :meth:`mark_complete` was called for ``cid`` (and not cleared or evicted since)."""
        try:
            st = os.lstat(self._marker(cid))
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode)

    def _drop_markers(self) -> None:
        shutil.rmtree(self.path / _COMPLETE, ignore_errors=True)

    # ---- documents

    def _document_path(self, namespace: str, key: str) -> Path:
        if not namespace or not namespace.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"document namespace {namespace!r} must be letters, digits, '-' or '_'")
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        return self.path / _DOCUMENTS / namespace / digest

    def put_document(self, namespace: str, key: str, data: bytes) -> None:
        """Store ``data`` under ``(namespace, key)`` atomically (readers see old or new, never half).

        Raises
        ------
        CacheError
            ``data`` is larger than :data:`MAX_DOCUMENT_SIZE`, or the folder is not writable.

        Examples
        --------
        >>> import tempfile
        >>> cache = Cache(tempfile.mkdtemp())
        >>> cache.put_document("segments", "HALO", b"[]")
        >>> cache.get_document("segments", "HALO")[0]
        b'[]'
        """
        data = bytes(data)
        if len(data) > MAX_DOCUMENT_SIZE:
            raise CacheError(f"document {namespace}/{key} has {len(data)} bytes, more than the "
                             f"{MAX_DOCUMENT_SIZE} a cache document may have")
        # The key is stored inside the file too: a hash collision (or a planted file)
        # then reads as a miss, never as another key's document.
        header = key.encode("utf-8") + b"\n"
        try:
            atomic_write_bytes(self._document_path(namespace, key), header + data, fsync=False)
        except OSError as exc:
            raise CacheError(f"cannot store {namespace}/{key} in the cache at {self.path} ({exc}); set "
                             f"{CACHE_DIR_ENV} (cache_dir) to a writable directory") from exc

    def get_document(self, namespace: str, key: str) -> tuple[bytes, float] | None:
        """``(bytes, time stored in epoch seconds)`` of a document, ``None`` if absent or unreadable.

        Examples
        --------
        >>> import tempfile
        >>> Cache(tempfile.mkdtemp()).get_document("pointers", "nothing") is None
        True
        """
        header = key.encode("utf-8") + b"\n"
        found = read_regular_file(self._document_path(namespace, key), MAX_DOCUMENT_SIZE + len(header))
        if found is None:
            return None
        raw, st = found
        if not raw.startswith(header):
            return None
        return raw[len(header):], st.st_mtime

    # ---- housekeeping

    def evict(self, target: SizeLike | None = None) -> int:
        """Evict least recently used blocks down to ``target`` bytes (see :meth:`BlockCache.evict`).

        Completeness markers go too when any block does: a marker must never claim
        blocks that are gone. Documents are small and kept.

        Examples
        --------
        >>> import tempfile
        >>> Cache(tempfile.mkdtemp()).evict(0)
        0
        """
        removed = self.blocks.evict(target)
        if removed:
            self._drop_markers()
        return removed

    def clear(self) -> None:
        """Delete everything: blocks, completeness markers and documents.

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = Cache(tempfile.mkdtemp())
        >>> cache.put(raw_cid(b"a"), b"a"); cache.mark_complete(raw_cid(b"a"))
        >>> cache.clear()
        >>> cache.is_complete(raw_cid(b"a")), raw_cid(b"a") in cache
        (False, False)
        """
        self._drop_markers()  # first: no moment where a marker vouches for deleted blocks
        self.blocks.clear()
        shutil.rmtree(self.path / _DOCUMENTS, ignore_errors=True)

    def info(self) -> dict[str, Any]:
        """``path``, ``entries`` (block files, packs and documents), ``blocks``, ``size_bytes`` and ``max_size``.

        Examples
        --------
        >>> import tempfile
        >>> cache = Cache(tempfile.mkdtemp())
        >>> cache.put_document("x", "k", b"abc")
        >>> cache.info()["entries"]
        1
        """
        out = self.blocks.info()
        for root, _dirs, files in os.walk(self.path / _DOCUMENTS):
            for name in files:
                try:
                    st = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and not name.endswith(TEMP_SUFFIX):
                    out["entries"] += 1
                    out["size_bytes"] += st.st_size
        return out
