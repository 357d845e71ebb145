"""Read UnixFS DAGs: resolve paths (HAMT shards included), list directories, read files.

:class:`UnixFSReader` works on any *block getter*, a callable ``cid -> bytes``
that returns a block already verified against its CID. The ``ipfs`` filesystem
gives it a getter backed by the CID cache and the gateways; the test stack's
gateway gives it its block store. Nothing here touches the network.

Examples
--------
>>> from eurec4a.ipfs.codecs import raw_cid
>>> blocks = {raw_cid(b"data"): b"data"}
>>> reader = UnixFSReader(blocks.__getitem__)
>>> reader.read(raw_cid(b"data"), 1, 3)
b'at'
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

from multiformats import CID

from eurec4a.errors import ContentNotFoundError, InvalidDAGError, NotADirectoryInDAGError
from eurec4a.ipfs.codecs import (
    DAG_PB,
    RAW,
    UNIXFS_DIRECTORY,
    UNIXFS_FILE,
    UNIXFS_HAMT_SHARD,
    UNIXFS_RAW,
    UNIXFS_SYMLINK,
    PBLink,
    PBNode,
    UnixFSData,
    decode_pbnode,
    decode_unixfs,
    hamt_hash,
    unixfs_leaf_payload,
)

__all__ = ["UnixFSReader", "Entry", "split_path"]

BlockGetter = Callable[[CID], bytes]


@dataclasses.dataclass(frozen=True)
class Entry:
    """A directory entry or the target of a path."""

    name: str
    cid: CID
    type: str  # "file", "directory" or "symlink"
    size: int | None  # file size in bytes; None for directories unless known


def split_path(path: str) -> list[str]:
    """Split ``a/b//c/`` into ``["a", "b", "c"]``."""
    return [p for p in path.split("/") if p]


class UnixFSReader:
    """Navigate UnixFS DAGs through a block getter.

    Parameters
    ----------
    get_block
        ``cid -> bytes``; must return verified blocks and raise for missing ones.
    """

    def __init__(self, get_block: BlockGetter):
        self.get_block = get_block

    # ------------------------------------------------------------ node access
    def node(self, cid: CID) -> tuple[PBNode | None, UnixFSData]:
        """The decoded dag-pb node and its UnixFS data (``(None, raw)`` for raw blocks)."""
        block = self.get_block(cid)
        if cid.codec.code == RAW:
            return None, UnixFSData(UNIXFS_RAW, block, len(block))
        if cid.codec.code != DAG_PB:
            raise ContentNotFoundError(f"{cid} is a {cid.codec.name} block, not UnixFS")
        try:
            node = decode_pbnode(block)
            return node, decode_unixfs(node.data)
        except ValueError as exc:
            # the block matched its CID, so the content itself is broken: no gateway can help
            raise InvalidDAGError(
                f"block {cid} is not a valid UnixFS node ({exc}); the content under this CID is "
                "damaged at its source. Ask the publisher of this CID for a corrected version."
            ) from exc

    def entry(self, cid: CID, name: str = "") -> Entry:
        """Describe the UnixFS object at ``cid``."""
        node, fs = self.node(cid)
        if fs.type in (UNIXFS_DIRECTORY, UNIXFS_HAMT_SHARD):
            return Entry(name, cid, "directory", None)
        if fs.type == UNIXFS_SYMLINK:
            return Entry(name, cid, "symlink", len(fs.data or b""))
        return Entry(name, cid, "file", self._filesize(node, fs))

    @staticmethod
    def _filesize(node: PBNode | None, fs: UnixFSData) -> int:
        if fs.filesize is not None:
            return fs.filesize
        return len(fs.data or b"") + sum(fs.blocksizes)

    # ------------------------------------------------------------ paths
    def resolve(self, root: CID, path: str | list[str] = "") -> CID:
        """The CID at ``path`` below ``root`` (raises :class:`ContentNotFoundError`)."""
        return self.resolve_with_trail(root, path)[0]

    def resolve_with_trail(self, root: CID, path: str | list[str] = "") -> tuple[CID, list[CID]]:
        """Resolve ``path`` and also return every block visited on the way (for CAR answers)."""
        parts = split_path(path) if isinstance(path, str) else list(path)
        trail: list[CID] = []
        cid = root
        walked: list[str] = []
        for name in parts:
            trail.append(cid)
            found = self._step(cid, name, trail)
            if found is None:
                raise ContentNotFoundError(f"no such file or directory: /ipfs/{root}/{'/'.join(walked + [name])}")
            walked.append(name)
            cid = found.cid
        return cid, trail

    def lookup(self, cid: CID, name: str) -> PBLink:
        """The link named ``name`` in the directory (plain or HAMT) at ``cid``.

        Raises
        ------
        ContentNotFoundError
            The directory has no entry ``name``.
        NotADirectoryInDAGError
            ``cid`` is not a directory.

        Examples
        --------
        >>> reader.lookup(root, "catalog.yml").cid  # doctest: +SKIP
        CID('base58btc', 0, 'dag-pb', '1220...')
        """
        found = self._step(cid, name, [])
        if found is None:
            raise ContentNotFoundError(f"no such file or directory: /ipfs/{cid}/{name}")
        return found

    def directory_index(self, cid: CID, node: PBNode) -> dict[str, PBLink]:
        """The links of the plain directory ``node`` (block ``cid``) by name.

        Subclasses may keep the index (directories are immutable); this one builds it.
        """
        return {link.name or "": link for link in node.links}

    def _step(self, cid: CID, name: str, trail: list[CID]) -> PBLink | None:
        node, fs = self.node(cid)
        if fs.type == UNIXFS_DIRECTORY and node is not None:
            return self.directory_index(cid, node).get(name)
        if fs.type == UNIXFS_HAMT_SHARD and node is not None:
            return self._hamt_find(node, fs, name, trail)
        raise NotADirectoryInDAGError(f"/ipfs/{cid} is not a directory; cannot look up {name!r}")

    def _hamt_find(self, node: PBNode, fs: UnixFSData, name: str, trail: list[CID]) -> PBLink | None:
        digest = hamt_hash(name)
        fanout = fs.fanout or 256
        width = len(f"{fanout - 1:X}")
        bits = fanout.bit_length() - 1
        depth = 0
        while True:
            index = _hash_bits(digest, depth * bits, bits)
            prefix = f"{index:0{width}X}"
            for link in node.links:
                lname = link.name or ""
                if not lname.startswith(prefix):
                    continue
                if len(lname) == width:  # a sub-shard: go one level down
                    trail.append(link.cid)
                    sub, sub_fs = self.node(link.cid)
                    if sub is None or sub_fs.type != UNIXFS_HAMT_SHARD:
                        return None
                    node, fs = sub, sub_fs
                    break
                if lname[width:] == name:
                    return link
                return None  # the slot holds another name: ours is not there
            else:
                return None
            depth += 1

    # ------------------------------------------------------------ directories
    def ls(self, cid: CID) -> list[Entry]:
        """Entries of the directory at ``cid`` (types and sizes need one block per entry)."""
        return [self.entry(c, name) for name, c, _ in self.links(cid)]

    def links(self, cid: CID) -> list[tuple[str, CID, int | None]]:
        """``(name, cid, tsize)`` of a directory's entries, flattening HAMT shards, sorted by name."""
        return self.known_links(cid, ())[0]

    def known_links(self, cid: CID, missing: type[Exception] | tuple[type[Exception], ...]
                    ) -> tuple[list[tuple[str, CID, int | None]], bool]:
        """The entries of a directory whose blocks are at hand, and whether that is all of them.

        Like :meth:`links`, but a HAMT shard whose block cannot be had (``get_block``
        raises ``missing``) is skipped instead of failing the listing: ``(entries, False)``.
        """
        node, fs = self.node(cid)
        if node is None or fs.type not in (UNIXFS_DIRECTORY, UNIXFS_HAMT_SHARD):
            raise NotADirectoryInDAGError(f"/ipfs/{cid} is not a directory")
        skipped: list[bool] = []
        if fs.type == UNIXFS_DIRECTORY:
            out = [(link.name or "", link.cid, link.tsize) for link in node.links]
        else:
            width = len(f"{(fs.fanout or 256) - 1:X}")
            out = list(self._hamt_links(node, width, missing, skipped))
        return sorted(out, key=lambda item: item[0]), not skipped

    def _hamt_links(self, node: PBNode, width: int, missing: Any,
                    skipped: list[bool]) -> Iterator[tuple[str, CID, int | None]]:
        for link in node.links:
            lname = link.name or ""
            if len(lname) == width:
                try:
                    sub, _ = self.node(link.cid)
                except missing:
                    skipped.append(True)
                    continue
                if sub is not None:
                    yield from self._hamt_links(sub, width, missing, skipped)
            else:
                yield lname[width:], link.cid, link.tsize

    # ------------------------------------------------------------ files
    def _leaf(self, cid: CID) -> memoryview | None:
        """The bytes of ``cid`` when it is a leaf (raw, or a dag-pb UnixFS leaf), as a view; else ``None``."""
        if cid.codec.code == RAW:
            return memoryview(self.get_block(cid))
        if cid.codec.code == DAG_PB:
            return unixfs_leaf_payload(self.get_block(cid))
        return None

    def read(self, cid: CID, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the file at ``cid``; only the blocks covering the range are fetched."""
        start = max(0, start)
        leaf = self._leaf(cid)
        if leaf is not None:  # a one-block file (a small chunk): one copy of the range
            return bytes(leaf[start:len(leaf) if end is None else end])
        node, fs = self.node(cid)
        if fs.type in (UNIXFS_DIRECTORY, UNIXFS_HAMT_SHARD):
            raise IsADirectoryError(f"/ipfs/{cid} is a directory")
        size = self._filesize(node, fs)
        end = size if end is None else min(end, size)
        start = max(0, start)
        if start >= end:
            return b""
        # the pieces are views into the blocks; one join copies each byte once into the result
        out: list[bytes | memoryview] = []
        self._read_into(out, node, fs, start, end)
        return b"".join(out)

    def _read_into(self, out: list, node: PBNode | None, fs: UnixFSData, start: int, end: int) -> None:
        data = fs.data or b""
        if start < len(data):
            out.append(data[start:min(end, len(data))])
        if node is None or not node.links:
            return
        offset = len(data)
        sizes = fs.blocksizes
        for i, link in enumerate(node.links):
            if offset >= end:
                break
            child_size = sizes[i] if i < len(sizes) else None
            if child_size is not None and offset + child_size <= start:
                offset += child_size
                continue
            leaf = self._leaf(link.cid)
            if leaf is not None:  # most children: copy the range straight from the block
                if child_size is None:
                    child_size = len(leaf)
                lo = max(start - offset, 0)
                hi = min(end - offset, child_size)
                if hi > lo:
                    out.append(leaf[lo:hi])
                offset += child_size
                continue
            child, child_fs = self.node(link.cid)
            if child_size is None:
                child_size = self._filesize(child, child_fs)
            lo = max(start - offset, 0)
            hi = min(end - offset, child_size)
            if hi > lo:
                self._read_into(out, child, child_fs, lo, hi)
            offset += child_size

    def missing_blocks(self, cid: CID, start: int, end: int | None, present: Callable[[CID], bool]) -> list[CID]:
        """The blocks of file ``cid`` covering bytes ``[start, end)`` for which ``present`` is false.

        Nodes that are present are decoded and followed (through their ``blocksizes``);
        missing ones are listed, not followed (what is below them shows once they are
        here). Raw leaves are never read, only asked about. ``[]``: the range can be read.

        Examples
        --------
        >>> from eurec4a.ipfs.codecs import raw_cid
        >>> blocks = {raw_cid(b"abc"): b"abc"}
        >>> reader = UnixFSReader(blocks.__getitem__)
        >>> reader.missing_blocks(raw_cid(b"abc"), 0, None, lambda c: False) == [raw_cid(b"abc")]
        True
        """
        out: list[CID] = []
        stack = [(cid, max(0, start), end)]
        while stack:
            block, lo, hi = stack.pop()
            if not present(block):
                out.append(block)
                continue
            if block.codec.code != DAG_PB:
                continue
            node, fs = self.node(block)
            if node is None or not node.links:
                continue
            if len(fs.blocksizes) != len(node.links):  # sizes unknown: any child may hold part of the range
                stack.extend((link.cid, 0, None) for link in reversed(node.links))
                continue
            offset = len(fs.data or b"")
            children = []
            for link, size in zip(node.links, fs.blocksizes):
                if hi is not None and offset >= hi:
                    break
                if offset + size > lo:
                    children.append((link.cid, max(lo - offset, 0), None if hi is None else min(hi - offset, size)))
                offset += size
            stack.extend(reversed(children))  # file order
        return out

    def file_blocks(self, cid: CID) -> Iterator[CID]:
        """Every block of a file DAG, depth-first (the ``dag-scope=entity`` set of a file)."""
        yield cid
        node, fs = self.node(cid)
        if node is not None and fs.type in (UNIXFS_FILE, UNIXFS_RAW):
            for link in node.links:
                yield from self.file_blocks(link.cid)

    def walk_blocks(self, cid: CID) -> Iterator[CID]:
        """Every block reachable from ``cid``, depth-first pre-order (``dag-scope=all``)."""
        yield cid
        if cid.codec.code != DAG_PB:
            return
        node = decode_pbnode(self.get_block(cid))
        for link in node.links:
            yield from self.walk_blocks(link.cid)

    def entity_blocks(self, cid: CID) -> Iterator[CID]:
        """The ``dag-scope=entity`` blocks: a whole file, or a directory with its HAMT shards."""
        node, fs = self.node(cid)
        if fs.type in (UNIXFS_FILE, UNIXFS_RAW):
            yield from self.file_blocks(cid)
        elif fs.type == UNIXFS_HAMT_SHARD and node is not None:
            yield cid
            width = len(f"{(fs.fanout or 256) - 1:X}")
            for link in node.links:
                if len(link.name or "") == width:
                    yield from self.entity_blocks(link.cid)
        else:
            yield cid


def _hash_bits(digest: bytes, start: int, count: int) -> int:
    """``count`` bits of ``digest`` from bit ``start`` (most significant first), as HAMTs index."""
    value = int.from_bytes(digest, "big")
    total = len(digest) * 8
    if start + count > total:
        raise ContentNotFoundError("HAMT deeper than its hash allows")
    return (value >> (total - start - count)) & ((1 << count) - 1)
