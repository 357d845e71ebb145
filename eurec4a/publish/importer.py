"""Import files and directories into UnixFS DAGs, with the CIDs other IPFS tools compute.

This is the publishing side of the package: it turns a file tree (a zarr store, a
catalog) into dag-pb and raw blocks, hands every block to a *sink* (any object with
``put(cid, block)``: a :class:`~eurec4a.ipfs.car.CarWriter`, a :class:`MemoryBlockStore`),
and returns the root CID. Which DAG comes out is fixed by a :class:`Profile`, the
parameter sets of IPIP-499 (https://specs.ipfs.tech/ipips/ipip-0499/):

``unixfs-v0-2015``
    what ``ipfs add -r`` (kubo) does by default: CIDv0, dag-pb file leaves, 256 KiB
    chunks, 174 links per node, HAMT when the ``links-bytes`` estimate exceeds 256 KiB.
``unixfs-v1-2025``
    CIDv1, raw leaves, 1 MiB chunks, 1024 links per node, HAMT when the serialized
    directory block (``block-bytes``) exceeds 256 KiB.
``kubo-raw-leaves``
    ``ipfs add -r -H --raw-leaves`` as the EUREC4A docs recommend: CIDv0 dag-pb nodes
    over CIDv1 raw leaves, otherwise like ``unixfs-v0-2015``.

What the DAGs look like (checked against ``ipfs-unixfs-importer`` and ``ipfs-car`` by
``tests/test_unixfs.py``):

* Files are cut into fixed-size chunks and laid out *balanced*: chunks are grouped
  ``max_links`` at a time into ``File`` nodes, those again ``max_links`` at a time,
  until one node is left, so every leaf sits at the same depth. A file of one chunk
  is that chunk's leaf itself (an empty file is one empty leaf). Link ``Tsize`` is
  the child's block length plus its own links' ``Tsize``; ``blocksizes`` are the
  content bytes below each link.
* Directories are dag-pb nodes with Data ``08 01`` and links sorted by the UTF-8
  bytes of their names. When the profile's size estimate of that node is strictly
  greater than ``hamt_threshold``, the directory becomes a HAMT shard instead
  (UnixFS type 5, murmur3-x64-64 ``hashType`` 0x22, ``fanout`` 256, Data = the
  occupancy bitfield big-endian without leading zero bytes, entry link names =
  two upper-case hex digits of the slot + the name, sub-shard link names = the two
  hex digits alone). The estimate counts every link, sub-directories included
  (kubo's ``estimatedSize`` and the IPIP-499 definitions); ``ipfs-unixfs-importer``
  17 counts a sub-directory only once it has been flushed, so for a directory whose
  size is dominated by sub-directories just at the threshold the two can disagree.
* Hidden entries (names starting with ``.``) are left out unless ``hidden=True``
  (``ipfs add -H``). Empty directories are kept.
* Symlinks found inside a directory are *preserved*, as kubo does and both profiles
  specify: a dag-pb node with UnixFS type 4 whose Data is the link target (no
  ``filesize``, the kubo encoding). A symlink passed as the top-level path is
  followed. Other special files (sockets, FIFOs, devices) are refused with
  :class:`~eurec4a.errors.PublishError`: their content cannot be published.

Memory stays bounded: a file is read one chunk at a time and only the links of the
unfinished nodes of its tree are held (at most ``max_links`` per level). At most about
three chunk-sized buffers are alive at once (the chunk read, its encoded block, the
parts of a short read), whatever the file's size (``tests/test_unixfs.py`` checks that
the peak does not grow from 16 to 128 MiB; ``benchmarks/bench_import.py`` measures it).
A directory holds the names and CIDs of its entries while it is built.

Written here rather than taken from a library because no Python package builds
UnixFS DAGs (``py-ipfs-car`` and ``ipfs-toolkit`` shell out to kubo, which is not
installable here and would make publishing depend on a daemon); the codecs come
from :mod:`eurec4a.ipfs.codecs` and the CAR format from :mod:`eurec4a.ipfs.car`.

Examples
--------
>>> cid, blocks = import_bytes(b"hello world", profile="unixfs-v0-2015")
>>> str(cid)
'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD'
>>> str(import_bytes(b"hello world", profile="unixfs-v1-2025")[0])
'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'
"""
from __future__ import annotations

import dataclasses
import io
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, NamedTuple, Protocol, Union

from multiformats import CID, varint

from eurec4a.ipfs.car import CarWriter
from eurec4a.errors import ProfileError, PublishError, SourceError
from eurec4a.ipfs.codecs import (
    HAMT_HASH_MURMUR3,
    UNIXFS_DIRECTORY,
    UNIXFS_FILE,
    UNIXFS_HAMT_SHARD,
    UNIXFS_SYMLINK,
    PBLink,
    UnixFSData,
    dag_pb_cid,
    encode_pbnode,
    encode_unixfs,
    hamt_hash,
    raw_cid,
)

__all__ = [
    "Profile",
    "PROFILES",
    "DEFAULT_PROFILE",
    "HAMT_ESTIMATES",
    "MAX_CHUNK_SIZE",
    "BlockSink",
    "MemoryBlockStore",
    "FileInfo",
    "get_profile",
    "import_file",
    "import_directory",
    "import_bytes",
    "import_to_car",
]

logger = logging.getLogger(__name__)

#: The profile used when none is given: the one IPIP-499 says implementations MUST support.
DEFAULT_PROFILE = "unixfs-v1-2025"

#: The ways of estimating a directory node's size for the HAMT decision (IPIP-499 names).
#: ``links-bytes``: sum of the UTF-8 name lengths and CID byte lengths of all links;
#: ``block-bytes``: the exact length of the serialized dag-pb directory block.
HAMT_ESTIMATES = ("links-bytes", "block-bytes")

#: Largest accepted chunk: 1 MiB keeps every block (chunk plus dag-pb wrapping) well under
#: the 2 MiB that bitswap and gateways accept, and under the CAR reader's section limit.
MAX_CHUNK_SIZE = 1024 * 1024

#: Directory Data, ``Type: Directory``: the same two bytes for every directory.
_DIRECTORY_DATA = encode_unixfs(UnixFSData(UNIXFS_DIRECTORY))

#: How many bytes a copy between temp files moves at once (bounded memory).
_COPY_BUFFER = 1024 * 1024


# ---------------------------------------------------------------- profiles

@dataclasses.dataclass(frozen=True)
class Profile:
    """The parameters that decide which UnixFS DAG (and so which CID) an import makes.

    Parameters
    ----------
    name
        The profile's name (IPIP-499 name for the standard ones).
    cid_version
        0 or 1: the version of the dag-pb nodes' CIDs (raw leaves are always CIDv1).
    raw_leaves
        True: file chunks are ``raw`` blocks; False: dag-pb ``File`` nodes holding the chunk.
    chunk_size
        Bytes per leaf (fixed-size chunking), 1 to :data:`MAX_CHUNK_SIZE`.
    max_links
        Most links in one file node (the DAG width) before the balanced tree grows a level.
    hamt_threshold
        A directory whose estimated node size is *strictly greater* than this many bytes
        is written as a HAMT shard.
    hamt_fanout
        Slots per HAMT node, a power of two (256 everywhere in practice).
    hamt_estimate
        How the directory size is estimated, one of :data:`HAMT_ESTIMATES`.

    Examples
    --------
    >>> small = PROFILES["unixfs-v1-2025"].replace(hamt_threshold=1000)
    >>> small.hamt_threshold, small.chunk_size
    (1000, 1048576)
    """

    name: str
    cid_version: int
    raw_leaves: bool
    chunk_size: int
    max_links: int
    hamt_threshold: int
    hamt_fanout: int = 256
    hamt_estimate: str = "links-bytes"

    def __post_init__(self) -> None:
        def bad(field: str, value: object, accepted: str) -> ProfileError:
            return ProfileError(f"profile {self.name!r}: {field}={value!r} is not accepted; {accepted}")

        if self.cid_version not in (0, 1) or isinstance(self.cid_version, bool):
            raise bad("cid_version", self.cid_version, "use 0 or 1")
        if not isinstance(self.raw_leaves, bool):
            raise bad("raw_leaves", self.raw_leaves, "use True or False")
        if not _is_int(self.chunk_size) or not 0 < self.chunk_size <= MAX_CHUNK_SIZE:
            raise bad("chunk_size", self.chunk_size, f"use an integer from 1 to {MAX_CHUNK_SIZE}")
        if not _is_int(self.max_links) or self.max_links < 2:
            raise bad("max_links", self.max_links, "use an integer of at least 2")
        if not _is_int(self.hamt_threshold) or self.hamt_threshold < 0:
            raise bad("hamt_threshold", self.hamt_threshold, "use a byte count of 0 or more")
        fanout = self.hamt_fanout
        if not _is_int(fanout) or fanout < 2 or fanout > 1024 or fanout & (fanout - 1):
            raise bad("hamt_fanout", fanout, "use a power of two from 2 to 1024")
        if self.hamt_estimate not in HAMT_ESTIMATES:
            raise bad("hamt_estimate", self.hamt_estimate, f"use one of {', '.join(HAMT_ESTIMATES)}")

    def replace(self, **changes: object) -> "Profile":
        """A copy with some fields changed (validated like a new profile).

        Examples
        --------
        >>> PROFILES["unixfs-v0-2015"].replace(chunk_size=1024).chunk_size
        1024
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ProfileError(
                f"unknown profile field(s) {', '.join(sorted(unknown))}; the fields are "
                + ", ".join(f.name for f in dataclasses.fields(self))
            )
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: The named profiles (see the module docstring).
PROFILES: dict[str, Profile] = {
    "unixfs-v0-2015": Profile(
        name="unixfs-v0-2015", cid_version=0, raw_leaves=False, chunk_size=256 * 1024,
        max_links=174, hamt_threshold=256 * 1024, hamt_fanout=256, hamt_estimate="links-bytes",
    ),
    "unixfs-v1-2025": Profile(
        name="unixfs-v1-2025", cid_version=1, raw_leaves=True, chunk_size=1024 * 1024,
        max_links=1024, hamt_threshold=256 * 1024, hamt_fanout=256, hamt_estimate="block-bytes",
    ),
    "kubo-raw-leaves": Profile(
        name="kubo-raw-leaves", cid_version=0, raw_leaves=True, chunk_size=256 * 1024,
        max_links=174, hamt_threshold=256 * 1024, hamt_fanout=256, hamt_estimate="links-bytes",
    ),
}

ProfileLike = Union[str, Profile, None]


def get_profile(profile: ProfileLike = None, **overrides: object) -> Profile:
    """Look up a profile by name (or take a :class:`Profile`) and apply field overrides.

    Parameters
    ----------
    profile
        A name from :data:`PROFILES`, a :class:`Profile`, or None for :data:`DEFAULT_PROFILE`.
    **overrides
        Profile fields to change, e.g. ``hamt_threshold=1000``.

    Raises
    ------
    ProfileError
        For an unknown name (the message lists the known ones) or a bad field value.

    Examples
    --------
    >>> get_profile("kubo-raw-leaves", chunk_size=4096).chunk_size
    4096
    """
    if profile is None:
        profile = DEFAULT_PROFILE
    if isinstance(profile, str):
        try:
            prof = PROFILES[profile]
        except KeyError:
            raise ProfileError(
                f"unknown UnixFS profile {profile!r}; accepted profiles: {', '.join(PROFILES)}"
            ) from None
    elif isinstance(profile, Profile):
        prof = profile
    else:
        raise ProfileError(
            f"profile must be a profile name or a Profile, not {type(profile).__name__}; "
            f"accepted profiles: {', '.join(PROFILES)}"
        )
    return prof.replace(**overrides) if overrides else prof


# ---------------------------------------------------------------- sinks

class BlockSink(Protocol):
    """Anything blocks can be written to: ``put(cid, block)``."""

    def put(self, cid: CID, block: bytes) -> None:  # pragma: no cover - protocol
        ...


class MemoryBlockStore:
    """A dict-backed block store (a sink for small imports and tests).

    Examples
    --------
    >>> store = MemoryBlockStore()
    >>> cid, info = import_file(io.BytesIO(b"abc"), store)
    >>> cid in store, store.get(cid)
    (True, b'abc')
    """

    def __init__(self) -> None:
        self.blocks: dict[CID, bytes] = {}

    def put(self, cid: CID, block: bytes) -> None:
        """Store ``block`` under ``cid`` (storing it twice is harmless)."""
        self.blocks[cid] = bytes(block)

    def get(self, cid: CID) -> bytes:
        """The block for ``cid``; raises ``KeyError`` when it is not stored."""
        return self.blocks[cid]

    def __getitem__(self, cid: CID) -> bytes:
        return self.blocks[cid]

    def __contains__(self, cid: object) -> bool:
        return cid in self.blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def __iter__(self) -> Iterator[CID]:
        return iter(self.blocks)


# ---------------------------------------------------------------- files

@dataclasses.dataclass(frozen=True)
class FileInfo:
    """Sizes of an imported file.

    Attributes
    ----------
    size
        Content bytes.
    tsize
        Cumulative size of the file's DAG (all its blocks), the ``Tsize`` a parent links it with.
    blocks
        Number of blocks written for the file.
    """

    size: int
    tsize: int
    blocks: int


class _Link(NamedTuple):
    cid: CID
    tsize: int  # cumulative DAG size below and including the child block
    size: int  # content bytes below the child


def _read_chunk(f: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of stream (``read`` may return short reads)."""
    data = f.read(size)
    if data is None:
        raise PublishError("the file object is non-blocking and has no data ready; pass a blocking binary stream")
    if not isinstance(data, (bytes, bytearray)):
        raise PublishError(f"the file object returned {type(data).__name__}, not bytes; open it in binary mode ('rb')")
    if len(data) == size or not data:
        return bytes(data)
    parts = [data]
    got = len(data)
    while got < size:
        more = f.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class _FileBuilder:
    """Build a balanced file DAG from a stream of chunks, holding only unfinished nodes."""

    def __init__(self, sink: BlockSink, profile: Profile):
        self.sink = sink
        self.profile = profile
        self.levels: list[list[_Link]] = [[]]
        self.blocks = 0
        self.chunks = 0

    def _put(self, cid: CID, block: bytes) -> None:
        self.sink.put(cid, block)
        self.blocks += 1

    def add_chunk(self, chunk: bytes) -> None:
        if self.profile.raw_leaves:
            cid = raw_cid(chunk)
            block = chunk
        else:
            # A leaf File node carries its chunk in Data (left out when empty) and its filesize.
            block = encode_pbnode(encode_unixfs(UnixFSData(UNIXFS_FILE, data=chunk or None, filesize=len(chunk))), [])
            cid = dag_pb_cid(block, self.profile.cid_version)
        self._put(cid, block)
        self.chunks += 1
        self._push(0, _Link(cid, len(block), len(chunk)))
        # The CID functions call multiformats, whose argument checks leave reference cycles
        # holding the frames on the stack (this one too) until the garbage collector runs:
        # a frame kept that way must not hold a chunk, or memory grows with the file's size.
        del chunk, block

    def _push(self, level: int, link: _Link) -> None:
        if level == len(self.levels):
            self.levels.append([])
        self.levels[level].append(link)
        # A full node can be written at once: a later chunk can only go into a new sibling.
        if len(self.levels[level]) == self.profile.max_links:
            self._push(level + 1, self._reduce(level))

    def _reduce(self, level: int) -> _Link:
        links = self.levels[level]
        self.levels[level] = []
        data = encode_unixfs(UnixFSData(
            UNIXFS_FILE, filesize=sum(link.size for link in links),
            blocksizes=tuple(link.size for link in links),
        ))
        block = encode_pbnode(data, [PBLink(link.cid, "", link.tsize) for link in links])
        cid = dag_pb_cid(block, self.profile.cid_version)
        self._put(cid, block)
        return _Link(cid, len(block) + sum(link.tsize for link in links), sum(link.size for link in links))

    def finish(self) -> _Link:
        if self.chunks == 0:  # an empty file is one empty leaf
            self.add_chunk(b"")
        level = 0
        while True:
            pending = self.levels[level]
            higher = any(self.levels[level + 1:])
            if len(pending) == 1 and not higher:
                # The only node left is the root; a file of one chunk is its own leaf.
                return pending[0]
            if pending:
                self._push(level + 1, self._reduce(level))
            level += 1


def _import_stream(f: BinaryIO, sink: BlockSink, profile: Profile) -> tuple[_Link, FileInfo]:
    builder = _FileBuilder(sink, profile)
    while True:
        chunk = _read_chunk(f, profile.chunk_size)
        if not chunk:
            break
        builder.add_chunk(chunk)
        if len(chunk) < profile.chunk_size:
            break
    root = builder.finish()
    return root, FileInfo(size=root.size, tsize=root.tsize, blocks=builder.blocks)


def import_file(
    source: Union[str, os.PathLike, BinaryIO],
    sink: BlockSink,
    profile: ProfileLike = None,
    **overrides: object,
) -> tuple[CID, FileInfo]:
    """Import one file, chunk by chunk, writing its blocks to ``sink``.

    Parameters
    ----------
    source
        A path (a symlink is followed) or a binary file object open for reading.
    sink
        Receives every block through ``put(cid, block)``.
    profile
        Profile name or :class:`Profile` (default :data:`DEFAULT_PROFILE`).
    **overrides
        Profile fields to change for this import, e.g. ``chunk_size=1024``.

    Returns
    -------
    (CID, FileInfo)
        The root CID and the file's sizes.

    Raises
    ------
    SourceError
        The path does not exist or is a directory.
    ProfileError
        Unknown profile or bad override.

    Examples
    --------
    >>> store = MemoryBlockStore()
    >>> cid, info = import_file(io.BytesIO(b"x" * 10), store, "unixfs-v1-2025", chunk_size=4)
    >>> info.size, info.blocks, len(store)
    (10, 4, 3)
    """
    prof = get_profile(profile, **overrides)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise SourceError(f"cannot import {os.fspath(path)!r}: no such file")
        if path.is_dir():
            raise SourceError(f"cannot import {os.fspath(path)!r} as a file: it is a directory (use import_directory)")
        with open(path, "rb") as f:
            root, info = _import_stream(f, sink, prof)
    elif hasattr(source, "read"):
        root, info = _import_stream(source, sink, prof)
    else:
        raise SourceError(f"cannot import a {type(source).__name__}: pass a path or a binary file object")
    logger.debug("imported file of %d bytes as %s (%s)", info.size, root.cid, prof.name)
    return root.cid, info


def import_bytes(data: bytes, profile: ProfileLike = None, **overrides: object) -> tuple[CID, dict[CID, bytes]]:
    """Import ``data`` as a file and return its root CID and all its blocks.

    Examples
    --------
    >>> cid, blocks = import_bytes(b"", profile="unixfs-v0-2015")
    >>> str(cid), len(blocks)
    ('QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH', 1)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SourceError(f"import_bytes needs bytes, not {type(data).__name__}")
    store = MemoryBlockStore()
    cid, _ = import_file(io.BytesIO(bytes(data)), store, profile, **overrides)
    return cid, store.blocks


# ---------------------------------------------------------------- directories

class _Entry(NamedTuple):
    name: str
    name_bytes: bytes
    cid: CID
    tsize: int


def _varint_len(value: int) -> int:
    return len(varint.encode(value))


def _link_size(name_len: int, cid_len: int, tsize: int) -> int:
    """Serialized length of one PBNode link (Hash, Name, Tsize and the wrapping field)."""
    body = 1 + _varint_len(cid_len) + cid_len + 1 + _varint_len(name_len) + name_len + 1 + _varint_len(tsize)
    return 1 + _varint_len(body) + body


def _estimate_directory(entries: list[_Entry], profile: Profile) -> int:
    if profile.hamt_estimate == "links-bytes":
        return sum(len(e.name_bytes) + len(bytes(e.cid)) for e in entries)
    # block-bytes: the exact size of the flat node, computed without building it.
    data_field = 1 + _varint_len(len(_DIRECTORY_DATA)) + len(_DIRECTORY_DATA)
    return data_field + sum(_link_size(len(e.name_bytes), len(bytes(e.cid)), e.tsize) for e in entries)


def _build_directory(entries: list[_Entry], sink: BlockSink, profile: Profile) -> tuple[CID, int]:
    """Write a directory (flat or HAMT) over ``entries``; return its CID and Tsize."""
    if _estimate_directory(entries, profile) > profile.hamt_threshold:
        hashed = [(hamt_hash(e.name_bytes), e) for e in entries]
        return _build_shard(hashed, 0, sink, profile)
    links = [PBLink(e.cid, e.name, e.tsize) for e in sorted(entries, key=lambda e: e.name_bytes)]
    block = encode_pbnode(_DIRECTORY_DATA, links)
    cid = dag_pb_cid(block, profile.cid_version)
    sink.put(cid, block)
    return cid, len(block) + sum(e.tsize for e in entries)


def _build_shard(items: list[tuple[bytes, _Entry]], depth: int, sink: BlockSink, profile: Profile) -> tuple[CID, int]:
    """Write one HAMT node (and its sub-shards) over ``items`` = (name hash, entry) pairs."""
    fanout = profile.hamt_fanout
    bits = fanout.bit_length() - 1
    width = len(f"{fanout - 1:X}")
    start = depth * bits
    if start + bits > 64:
        names = ", ".join(repr(e.name) for _, e in items[:4])
        raise PublishError(f"cannot shard directory: names {names} have the same 64-bit HAMT hash")
    slots: dict[int, list[tuple[bytes, _Entry]]] = {}
    for digest, entry in items:
        index = (int.from_bytes(digest, "big") >> (64 - start - bits)) & (fanout - 1)
        slots.setdefault(index, []).append((digest, entry))
    links: list[PBLink] = []
    bitmap = 0
    total = 0
    for index in sorted(slots):
        bitmap |= 1 << index
        label = f"{index:0{width}X}"
        group = slots[index]
        if len(group) == 1:
            entry = group[0][1]
            links.append(PBLink(entry.cid, label + entry.name, entry.tsize))
            total += entry.tsize
        else:  # names sharing this slot go one level down, into a sub-shard
            sub_cid, sub_tsize = _build_shard(group, depth + 1, sink, profile)
            links.append(PBLink(sub_cid, label, sub_tsize))
            total += sub_tsize
    # The bitfield as kubo and js write it: big-endian, leading zero bytes dropped.
    bitfield = bitmap.to_bytes((bitmap.bit_length() + 7) // 8, "big")
    data = encode_unixfs(UnixFSData(
        UNIXFS_HAMT_SHARD, data=bitfield, hash_type=HAMT_HASH_MURMUR3, fanout=fanout,
    ))
    block = encode_pbnode(data, links)
    cid = dag_pb_cid(block, profile.cid_version)
    sink.put(cid, block)
    return cid, len(block) + total


def _symlink_entry(path: str, name: str, name_bytes: bytes, sink: BlockSink, profile: Profile) -> _Entry:
    target = os.readlink(path)
    try:
        target_bytes = target.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(f"cannot import symlink {path!r}: its target is not valid UTF-8") from None
    block = encode_pbnode(encode_unixfs(UnixFSData(UNIXFS_SYMLINK, data=target_bytes)), [])
    cid = dag_pb_cid(block, profile.cid_version)
    sink.put(cid, block)
    return _Entry(name, name_bytes, cid, len(block))


def _import_tree(path: str, sink: BlockSink, profile: Profile, hidden: bool) -> tuple[CID, int]:
    entries: list[_Entry] = []
    try:
        with os.scandir(path) as it:
            children = list(it)
    except OSError as exc:
        raise SourceError(f"cannot list directory {path!r}: {exc.strerror or exc}") from exc
    named = []
    for child in children:
        try:
            name_bytes = child.name.encode("utf-8")
        except UnicodeEncodeError:
            raise SourceError(
                f"cannot import {child.path!r}: its name is not valid UTF-8, which UnixFS names must be"
            ) from None
        named.append((name_bytes, child))
    # Children in name order, so blocks come out in the same order on every run.
    for name_bytes, child in sorted(named, key=lambda item: item[0]):
        if not hidden and child.name.startswith("."):
            continue
        if child.is_symlink():
            entries.append(_symlink_entry(child.path, child.name, name_bytes, sink, profile))
        elif child.is_dir(follow_symlinks=False):
            cid, tsize = _import_tree(child.path, sink, profile, hidden)
            entries.append(_Entry(child.name, name_bytes, cid, tsize))
        elif child.is_file(follow_symlinks=False):
            with open(child.path, "rb") as f:
                link, _ = _import_stream(f, sink, profile)
            entries.append(_Entry(child.name, name_bytes, link.cid, link.tsize))
        else:
            mode = child.stat(follow_symlinks=False).st_mode
            raise SourceError(
                f"cannot import {child.path!r}: it is a {_kind(mode)}; only regular files, "
                "directories and symlinks can be published"
            )
    return _build_directory(entries, sink, profile)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def import_directory(
    path: Union[str, os.PathLike],
    sink: BlockSink,
    profile: ProfileLike = None,
    *,
    hidden: bool = False,
    **overrides: object,
) -> CID:
    """Import a directory tree, writing every block to ``sink``; return the root CID.

    Parameters
    ----------
    path
        The directory (a symlink to a directory is followed; symlinks *inside* are
        stored as UnixFS symlinks).
    sink
        Receives every block through ``put(cid, block)``.
    profile
        Profile name or :class:`Profile` (default :data:`DEFAULT_PROFILE`).
    hidden
        Include entries whose name starts with ``.`` (like ``ipfs add -H``).
    **overrides
        Profile fields to change, e.g. ``hamt_threshold=1000``.

    Raises
    ------
    SourceError
        Missing path, not a directory, a name that is not UTF-8, a special file.
    ProfileError
        Unknown profile or bad override.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     str(import_directory(d, MemoryBlockStore(), "unixfs-v0-2015"))
    'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'
    """
    prof = get_profile(profile, **overrides)
    root = os.fspath(path)
    if not os.path.exists(root):
        raise SourceError(f"cannot import {root!r}: no such directory")
    if not os.path.isdir(root):
        raise SourceError(f"cannot import {root!r} as a directory: it is not one (use import_file)")
    cid, tsize = _import_tree(root, sink, prof, bool(hidden))
    logger.debug("imported directory %s as %s (%s, %d bytes of DAG)", root, cid, prof.name, tsize)
    return cid


# ---------------------------------------------------------------- CAR output

def _car_header(roots: Iterable[CID]) -> bytes:
    buf = io.BytesIO()
    CarWriter(buf, roots)
    return buf.getvalue()


def import_to_car(
    path: Union[str, os.PathLike],
    car_path: Union[str, os.PathLike],
    profile: ProfileLike = None,
    *,
    hidden: bool = True,
    **overrides: object,
) -> CID:
    """Import a file or directory into a CARv1 file whose single root is the import's root.

    The CAR is written to a temp file next to ``car_path`` and renamed into place, so
    readers never see half a CAR. The header (which names the root, known only at the
    end) is written first with a placeholder CID of the expected length and patched in
    place; when the root turns out to have another length (a one-chunk file with raw
    leaves), the sections are copied behind a new header, a chunk at a time.

    Parameters
    ----------
    path
        File or directory to import.
    car_path
        Where to write the CAR; its directory must exist and must not be inside ``path``.
    profile
        Profile name or :class:`Profile` (default :data:`DEFAULT_PROFILE`).
    hidden
        Include dot-files (default True: zarr metadata files such as ``.zarray`` are hidden).
    **overrides
        Profile fields to change.

    Examples
    --------
    >>> import tempfile, os
    >>> from eurec4a.ipfs.car import read_car
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = open(os.path.join(d, "a.txt"), "wb").write(b"hello world")
    ...     root = import_to_car(os.path.join(d, "a.txt"), os.path.join(d, "a.car"), "unixfs-v0-2015")
    ...     roots, blocks = read_car(open(os.path.join(d, "a.car"), "rb"))
    >>> roots == [root], len(blocks)
    (True, 1)
    """
    prof = get_profile(profile, **overrides)
    src = os.path.realpath(os.fspath(path))
    if not os.path.exists(src):
        raise SourceError(f"cannot import {os.fspath(path)!r}: no such file or directory")
    dest = os.path.abspath(os.fspath(car_path))
    dest_dir = os.path.dirname(dest)
    if not os.path.isdir(dest_dir):
        raise SourceError(f"cannot write CAR {dest!r}: directory {dest_dir!r} does not exist")
    is_dir = os.path.isdir(src)
    if is_dir and os.path.commonpath([os.path.realpath(dest_dir), src]) == src:
        raise PublishError(f"cannot write CAR {dest!r} inside the directory being imported ({src})")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".tmp", dir=dest_dir)
    try:
        with os.fdopen(fd, "w+b") as f:
            placeholder = dag_pb_cid(b"", prof.cid_version)
            car = CarWriter(f, [placeholder])
            body_start = f.tell()
            if is_dir:
                root = import_directory(src, car, prof, hidden=hidden)
            else:
                root, _ = import_file(src, car, prof)
            header = _car_header([root])
            if len(header) == body_start:
                f.seek(0)
                f.write(header)
                f.flush()
                os.fsync(f.fileno())
            else:
                _rewrite_with_header(f, body_start, header, tmp)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    logger.info("wrote CAR %s with root %s (%s)", dest, root, prof.name)
    return root


def _rewrite_with_header(f: BinaryIO, body_start: int, header: bytes, tmp: str) -> None:
    """Replace the header of the open temp CAR ``f`` (at path ``tmp``) by one of another length."""
    fd2, tmp2 = tempfile.mkstemp(prefix=os.path.basename(tmp) + ".", suffix=".tmp", dir=os.path.dirname(tmp))
    try:
        with os.fdopen(fd2, "wb") as out:
            out.write(header)
            f.seek(body_start)
            shutil.copyfileobj(f, out, _COPY_BUFFER)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp2, tmp)
    except BaseException:
        try:
            os.unlink(tmp2)
        except FileNotFoundError:
            pass
        raise
