"""A persistent on-disk cache of IPFS blocks, addressed by their CID.

The ``ipfs`` filesystem puts every block it has verified here (catalog files,
zarr metadata and chunks) and looks here before it asks a gateway, so a dataset
opened twice is fetched once, across sessions.

Layout
------
The cache lives in :func:`default_cache_dir` (``EUREC4A_CACHE_DIR``, else the
platform's user cache directory, e.g. ``~/.cache/eurec4a`` on Linux). Each block
is one file::

    <dir>/blocks/<shard>/<base32 of the multihash>

The key is the CID's *multihash*, not the whole CID: the CIDv0 and CIDv1 of a
dag-pb block, and a ``raw`` CID of the same bytes, all name exactly the same bytes
(the multihash is the hash of the block itself; version and codec only say how to
read it), so they rightly share one entry. The shard is two base32 characters of
the hash digest (1024 directories), which keeps directories small without
creating tens of thousands of them for a small cache.

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
import hashlib
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


def _write_temp(tmp: Path, data: bytes, fsync: bool) -> None:
    # O_EXCL: never write into a file somebody else created; 0o644 honours the umask,
    # so a cache prepared by one user can be read by others if the umask allows.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        view = memoryview(data)
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
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symlink (ELOOP), unreadable entry or directory: a miss
        logger.debug("cannot open cache file %s: %s", path, exc)
        return None
    try:
        st = os.fstat(fd)
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
        path = self.entry_path(cid)
        found = read_regular_file(path, MAX_ENTRY_SIZE)
        if found is None:
            return None
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
        """Whether an entry exists for ``cid`` (without reading or verifying it)."""
        if not isinstance(cid, (CID, str, bytes)):
            return False
        cid = _as_cid(cid)
        if cid.hashfun.name == "identity":
            return True
        return self.entry_path(cid).is_file()

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
        path = self.entry_path(cid)
        if path.exists():
            return  # content-addressed: the entry already holds these bytes
        if not self._write(path, data):
            return
        self._note_written(len(data))

    def _write(self, path: Path, data: bytes) -> bool:
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
            total -= self._evict_entries(entries, total, int(self.max_size * EVICT_LOW_WATER))[1]
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
        entries = list(self._scan())
        total = sum(e.size for e in entries)
        removed, freed = self._evict_entries(entries, total, limit)
        with self._lock:
            self._estimate = total - freed
            self._written_since_scan = 0
        return removed

    def info(self) -> dict[str, Any]:
        """Where the cache is, how many entries and bytes it holds, and its limit.

        Returns
        -------
        dict
            ``path`` (str), ``entries`` (int), ``size_bytes`` (int, sum of the
            entries' sizes) and ``max_size`` (int).

        Examples
        --------
        >>> import tempfile
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> cache = BlockCache(tempfile.mkdtemp(), max_size="1KiB")
        >>> cache.put(raw_cid(b"abc"), b"abc")
        >>> {k: v for k, v in cache.info().items() if k != "path"}
        {'entries': 1, 'size_bytes': 3, 'max_size': 1024}
        """
        entries = list(self._scan())
        size = sum(e.size for e in entries)
        return {"path": str(self.path), "entries": len(entries), "size_bytes": size, "max_size": self.max_size}

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
        """``path``, ``entries`` (blocks + documents), ``size_bytes`` and ``max_size``.

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
