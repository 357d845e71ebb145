"""A local IPFS HTTP gateway for tests: trustless (raw blocks, CARs) and path (deserialized files).

:class:`TrustlessGateway` answers ``GET``/``HEAD /ipfs/{cid}[/{path}]`` from a
:class:`BlockStore` following https://specs.ipfs.tech/http-gateways/trustless-gateway/
and the parts of https://specs.ipfs.tech/http-gateways/path-gateway/ that clients
of this project use:

* ``?format=raw`` / ``Accept: application/vnd.ipld.raw``: the one block at the end
  of the path;
* ``?format=car`` / ``Accept: application/vnd.ipld.car[; version=1; order=dfs; dups=n]``
  with ``dag-scope=block|entity|all`` and ``entity-bytes=from:to``: a CARv1 (root:
  the requested CID) holding the blocks that prove the path (HAMT shard nodes
  included), then the blocks of the scope, depth-first, without duplicates;
* no format: the file's bytes (``Range`` supported), an HTML listing for a directory.

Every answer carries ``X-Ipfs-Path``, ``X-Ipfs-Roots`` (the CID of the root and of
each path segment, which ``ipfsspec`` needs), ``Etag`` and an immutable
``Cache-Control``. A block that is not held, or a path that does not exist, is a
404; an invalid CID, format, ``dag-scope`` or ``entity-bytes`` is a 400. A block
missing deep inside a requested DAG ends the CAR stream early (chunked encoding
without its final chunk), as a streaming gateway does.

CARs are written and read with a few lines of this module's own (plus ``dag_cbor``
and ``multiformats``), not with the client's :mod:`eurec4a.ipfs.car`, so that a bug
in the client's CAR code cannot hide in a round trip through this gateway. (Paths
and DAGs are still walked with the client's :class:`~eurec4a.ipfs.unixfs.UnixFSReader`.)

Hostile gateways: ``TrustlessGateway(faults=Faults(mode=...))`` sends CARs and
blocks dripped, endless, gzip-bombed, truncated, cut (short ``Content-Length``),
reset, stalled, a 404 for content it holds, a redirect to ``redirect_url``, a
valid block under the wrong CID, a corrupted CAR header or a flip in the first
block; see :mod:`eurec4a.testing.faults` for each mode.

It shares faults, request counting and stop/restart with
:class:`~eurec4a.testing.http.StaticServer` through
:class:`~eurec4a.testing.http.ServerBase`. Written here because no IPFS
implementation runs inside a Python test process; Kubo or Helia would need a
binary download or a Node.js process per test.

Examples
--------
>>> import urllib.request
>>> from eurec4a.ipfs.codecs import raw_cid
>>> store = BlockStore()
>>> cid = store.put(raw_cid(b"hello"), b"hello")
>>> with TrustlessGateway(store) as gw:
...     with urllib.request.urlopen(f"{gw.url}/ipfs/{cid}?format=raw", timeout=5) as r:
...         print(r.status, r.read(), r.headers["Content-Type"])
200 b'hello' application/vnd.ipld.raw
"""
from __future__ import annotations

import hashlib
import html
import logging
import mimetypes
import os
import threading
import urllib.parse
from io import BytesIO
from typing import Iterable, Iterator, Mapping

import dag_cbor
from multiformats import CID

from multiformats import multihash

from eurec4a.ipfs.unixfs import UnixFSReader
from eurec4a.errors import BlockVerificationError, CarFormatError, ContentNotFoundError
from eurec4a.ipfs.codecs import DAG_PB, RAW
from .faults import Faults, car_sections
from .http import FaultyRequestHandler, RangeNotSatisfiable, Reply, ServerBase, parse_range

__all__ = ["BlockStore", "TrustlessGateway", "RAW_TYPE", "CAR_TYPE"]

logger = logging.getLogger(__name__)

RAW_TYPE = "application/vnd.ipld.raw"
#: The Content-Type of every CAR answer: this gateway always sends depth-first, no duplicates.
CAR_TYPE = "application/vnd.ipld.car; version=1; order=dfs; dups=n"
CACHE_CONTROL = "public, max-age=29030400, immutable"
DAG_SCOPES = ("block", "entity", "all")
DAG_CBOR = 0x71


def _text(cid: CID) -> str:
    """A CID as gateways write it: base58btc for CIDv0, base32 for CIDv1.

    CIDs decoded from dag-pb links come out in base58btc whatever their version.
    """
    return str(cid) if cid.version == 0 else str(cid.set(base="base32"))


def _as_cid(cid: CID | str | bytes) -> CID:
    return cid if isinstance(cid, CID) else CID.decode(cid)


class BlockStore:
    """Blocks by CID, in memory; what the gateway serves.

    Blocks are keyed by multihash, as IPFS nodes store them, so a block put under
    its CIDv0 is also found by the CIDv1 with the same hash. Identity-hash CIDs
    (``bafkqaaa``, the gateway probe) need no stored block.

    Parameters
    ----------
    blocks
        Initial ``{cid: bytes}`` blocks (verified).
    cars
        Paths of CAR files whose blocks are added (verified while read).

    Examples
    --------
    >>> from eurec4a.ipfs.codecs import raw_cid
    >>> store = BlockStore({raw_cid(b"x"): b"x"})
    >>> raw_cid(b"x") in store, str(raw_cid(b"x")) in store, len(store)
    (True, True, 1)
    """

    def __init__(
        self,
        blocks: Mapping[CID, bytes] | None = None,
        cars: Iterable[str | os.PathLike] = (),
    ):
        self._lock = threading.Lock()
        self._blocks: dict[bytes, tuple[CID, bytes]] = {}
        for cid, block in (blocks or {}).items():
            self.put(cid, block)
        for path in cars:
            self.add_car(path)

    @staticmethod
    def _key(cid: CID) -> bytes:
        return bytes(cid.digest)

    def put(self, cid: CID | str, block: bytes, *, verify: bool = True) -> CID:
        """Store ``block`` under ``cid`` (checked against it unless ``verify=False``); returns the CID.

        ``verify=False`` lets a test plant a wrong block, to see clients reject it.
        """
        cid = _as_cid(cid)
        block = bytes(block)
        if verify:
            _check_block(cid, block)
        with self._lock:
            self._blocks[self._key(cid)] = (cid, block)
        return cid

    def add_car(self, path: str | os.PathLike) -> list[CID]:
        """Add every block of the CAR file at ``path``; returns the CAR's roots."""
        with open(path, "rb") as f:
            roots, blocks = _read_car(f.read(), os.fspath(path))
        with self._lock:
            for cid, block in blocks:
                self._blocks[self._key(cid)] = (cid, block)
        return roots

    def get(self, cid: CID | str, default: bytes | None = None) -> bytes | None:
        """The block of ``cid``, or ``default`` when it is not held."""
        cid = _as_cid(cid)
        if cid.hashfun.name == "identity":
            return bytes(cid.raw_digest)
        item = self._blocks.get(self._key(cid))
        return default if item is None else item[1]

    def __getitem__(self, cid: CID | str) -> bytes:
        block = self.get(cid)
        if block is None:
            raise KeyError(str(cid))
        return block

    def __delitem__(self, cid: CID | str) -> None:
        with self._lock:
            del self._blocks[self._key(_as_cid(cid))]

    def __contains__(self, cid: object) -> bool:
        try:
            return self.get(cid) is not None  # type: ignore[arg-type]
        except Exception:
            return False

    def __len__(self) -> int:
        return len(self._blocks)

    def __iter__(self) -> Iterator[CID]:
        with self._lock:
            return iter([cid for cid, _ in self._blocks.values()])

    def block_getter(self, cid: CID) -> bytes:
        """``cid -> bytes`` for :class:`~eurec4a.ipfs.unixfs.UnixFSReader`; raises ContentNotFoundError."""
        block = self.get(cid)
        if block is None:
            raise ContentNotFoundError(f"block {cid} is not held by this gateway")
        return block


# ---------------------------------------------------------------- CARs, independently of eurec4a.ipfs.car
# The gateway writes and reads CARs with its own few lines (and dag_cbor, multiformats)
# rather than the client's CarWriter/read_car, so that a bug shared by client and
# test server cannot pass the tests unnoticed.


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _car_header(roots: list[CID]) -> bytes:
    header = dag_cbor.encode({"version": 1, "roots": list(roots)})
    return _varint(len(header)) + header


def _car_section(cid: CID, block: bytes) -> bytes:
    raw = bytes(cid)
    return _varint(len(raw) + len(block)) + raw + block


def _check_block(cid: CID, block: bytes) -> None:
    if cid.hashfun.name == "identity":
        ok = bytes(cid.raw_digest) == block
    else:
        ok = multihash.digest(block, cid.hashfun.name, size=len(bytes(cid.raw_digest))) == bytes(cid.digest)
    if not ok:
        raise BlockVerificationError(f"the block given for {cid} does not hash to it")


def _read_car(data: bytes, source: str) -> tuple[list[CID], list[tuple[CID, bytes]]]:
    try:
        (hstart, hend), sections = car_sections(data)
        header = dag_cbor.decode(data[hstart:hend])
        roots = list(header["roots"])
        blocks = []
        for start, body, end in sections:
            length_end = start
            while data[length_end] & 0x80:
                length_end += 1
            cid = CID.decode(data[length_end + 1:body])
            _check_block(cid, data[body:end])
            blocks.append((cid, data[body:end]))
    except BlockVerificationError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CarFormatError(f"{source} is not a valid CARv1 ({exc})") from exc
    return roots, blocks


class _HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _cbor_links(obj: object) -> Iterator[CID]:
    if isinstance(obj, CID):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _cbor_links(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _cbor_links(value)


class _GatewayHandler(FaultyRequestHandler):
    def respond(self, method: str) -> Reply:
        try:
            return self._respond()
        except _HTTPError as exc:
            return Reply.text(exc.status, str(exc))

    # ------------------------------------------------------------ request parsing
    def _respond(self) -> Reply:
        store: BlockStore = self.server.owner.blockstore  # type: ignore[attr-defined]
        split = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        segments = split.path.split("/")
        if len(segments) < 2 or segments[1] not in ("ipfs", "ipns"):
            raise _HTTPError(404, f"not found: {split.path}; this gateway serves /ipfs/{{cid}}[/{{path}}]")
        if segments[1] == "ipns":
            raise _HTTPError(501, "/ipns/ is not implemented by this test gateway; use /ipfs/{cid}")
        cid_text = urllib.parse.unquote(segments[2]) if len(segments) > 2 else ""
        if not cid_text:
            raise _HTTPError(400, "missing CID: request /ipfs/{cid}[/{path}]")
        try:
            root = CID.decode(cid_text)
        except Exception as exc:
            raise _HTTPError(400, f"invalid CID {cid_text!r}: {exc}") from None
        parts = [urllib.parse.unquote(p) for p in segments[3:] if p]
        fmt, car_params = self._negotiate(query)
        scope = query.get("dag-scope", "all")
        if scope not in DAG_SCOPES:
            raise _HTTPError(400, f"invalid dag-scope={scope!r}; accepted: {', '.join(DAG_SCOPES)}")
        entity_bytes = _parse_entity_bytes(query["entity-bytes"]) if "entity-bytes" in query else None

        reader = UnixFSReader(store.block_getter)
        if root not in store:
            raise _HTTPError(404, f"block {root} is not held by this gateway")
        roots, trail, target = self._resolve(reader, root, parts)
        if target not in store:
            raise _HTTPError(404, f"block {target} (/{'/'.join(parts)} below {root}) is not held by this gateway")
        xpath = "/ipfs/" + cid_text + ("/" + "/".join(parts) if parts else "")
        headers = {
            "X-Ipfs-Path": urllib.parse.quote(xpath, safe="/"),
            "X-Ipfs-Roots": ",".join(_text(c) for c in roots),
            "Cache-Control": CACHE_CONTROL,
            "Vary": "Accept",
            "X-Content-Type-Options": "nosniff",
        }
        if fmt == "raw":
            headers.update({
                "Content-Type": RAW_TYPE,
                "Etag": f'"{_text(target)}.raw"',
                "Content-Disposition": f'attachment; filename="{_text(target)}.bin"',
            })
            return Reply(200, headers, store[target])
        if fmt == "car":
            del car_params  # validated; the answer is always version=1, dfs, dups=n
            return self._car(reader, store, root, trail, target, scope, entity_bytes, headers, xpath)
        return self._deserialized(reader, target, parts, headers)

    def _negotiate(self, query: dict[str, str]) -> tuple[str | None, dict[str, str]]:
        fmt = query.get("format") or None
        params: dict[str, str] = {}
        if fmt is None:
            for item in self.headers.get("Accept", "").split(","):
                mtype, *rest = [p.strip() for p in item.split(";")]
                mtype = mtype.lower()
                if mtype == RAW_TYPE:
                    fmt = "raw"
                    break
                if mtype == "application/vnd.ipld.car":
                    fmt = "car"
                    for p in rest:
                        key, _, value = p.partition("=")
                        params[key.strip().lower()] = value.strip().strip('"')
                    break
        elif fmt not in ("raw", "car"):
            raise _HTTPError(400, f"unsupported format={fmt!r}; accepted: raw, car (or none for file bytes)")
        if fmt == "car":
            for key in ("version", "order", "dups"):
                if f"car-{key}" in query:
                    params[key] = query[f"car-{key}"]
            allowed = {"version": ("1",), "order": ("dfs", "unk"), "dups": ("n", "y")}
            for key, value in params.items():
                if key in allowed and value not in allowed[key]:
                    raise _HTTPError(
                        400, f"unsupported CAR {key}={value!r}; accepted: {', '.join(allowed[key])}"
                    )
        return fmt, params

    @staticmethod
    def _resolve(reader: UnixFSReader, root: CID, parts: list[str]) -> tuple[list[CID], list[CID], CID]:
        """Per-segment CIDs (for X-Ipfs-Roots), the blocks proving the path, and its target."""
        roots = [root]
        trail: list[CID] = []
        cid = root
        try:
            for name in parts:
                cid, visited = reader.resolve_with_trail(cid, [name])
                trail.extend(visited)
                roots.append(cid)
        except ContentNotFoundError as exc:
            raise _HTTPError(404, str(exc)) from None
        return roots, trail, cid

    # ------------------------------------------------------------ CAR answers
    def _car(
        self,
        reader: UnixFSReader,
        store: BlockStore,
        root: CID,
        trail: list[CID],
        target: CID,
        scope: str,
        entity_bytes: tuple[int, int | None] | None,
        headers: dict[str, str],
        xpath: str,
    ) -> Reply:
        if entity_bytes is not None:
            scope = "entity"  # entity-bytes implies dag-scope=entity
            blocks = self._entity_range(reader, target, entity_bytes)
        else:
            blocks = self._scope_blocks(reader, target, scope)
        buf = BytesIO()
        buf.write(_car_header([root]))
        truncated = False
        seen: set[bytes] = set()  # dups=n
        try:
            for cid in _chain(trail, blocks):
                key = bytes(cid)
                if key in seen:
                    continue
                seen.add(key)
                buf.write(_car_section(cid, reader.get_block(cid)))
        except ContentNotFoundError as exc:
            # The root was there, so a streaming gateway would have sent 200
            # already: end the stream early instead.
            logger.debug("CAR for %s ends early: %s", xpath, exc)
            truncated = True
        tag = hashlib.blake2s(f"{xpath}|{scope}|{entity_bytes}".encode(), digest_size=8).hexdigest()
        headers.update({
            "Content-Type": CAR_TYPE,
            "Etag": f'"{root}.car.{tag}"',
            "Content-Disposition": f'attachment; filename="{root}.car"',
        })
        return Reply(200, headers, buf.getvalue(), truncated=truncated)

    def _scope_blocks(self, reader: UnixFSReader, cid: CID, scope: str) -> Iterator[CID]:
        if scope == "block":
            yield cid
        elif cid.codec.code not in (DAG_PB, RAW):
            # Not UnixFS: entity is the block itself, all follows the IPLD links.
            yield from ([cid] if scope == "entity" else self._walk_any(reader, cid))
        elif scope == "entity":
            yield from reader.entity_blocks(cid)
        else:
            yield from reader.walk_blocks(cid)

    def _walk_any(self, reader: UnixFSReader, cid: CID) -> Iterator[CID]:
        if cid.codec.code in (DAG_PB, RAW):
            yield from reader.walk_blocks(cid)
            return
        yield cid
        if cid.codec.code == DAG_CBOR:
            for link in _cbor_links(dag_cbor.decode(reader.get_block(cid))):
                yield from self._walk_any(reader, link)

    def _entity_range(self, reader: UnixFSReader, cid: CID, spec: tuple[int, int | None]) -> Iterator[CID]:
        if cid.codec.code not in (DAG_PB, RAW):
            return iter([cid])
        entry = reader.entry(cid)
        if entry.type != "file" or entry.size is None:
            return reader.entity_blocks(cid)  # a directory: entity-bytes is ignored
        size = entry.size
        first, last = spec
        start = first if first >= 0 else max(size + first, 0)
        stop = size if last is None else (last + 1 if last >= 0 else size + last + 1)
        stop = min(stop, size)
        if start >= size and size > 0:
            raise _HTTPError(400, f"entity-bytes {first}:{'*' if last is None else last} is outside the {size} bytes of {cid}")
        if stop <= start:
            return iter([cid])  # a zero-length range is answered like dag-scope=block
        return self._range_blocks(reader, cid, start, stop)

    def _range_blocks(self, reader: UnixFSReader, cid: CID, start: int, stop: int) -> Iterator[CID]:
        """The blocks of a file DAG that cover bytes ``[start, stop)``, depth-first."""
        yield cid
        node, fs = reader.node(cid)
        if node is None or not node.links:
            return
        offset = len(fs.data or b"")
        for i, link in enumerate(node.links):
            if offset >= stop:
                break
            size = fs.blocksizes[i] if i < len(fs.blocksizes) else reader.entry(link.cid).size or 0
            if offset + size > start:
                yield from self._range_blocks(reader, link.cid, max(start - offset, 0), min(stop - offset, size))
            offset += size

    # ------------------------------------------------------------ deserialized answers
    def _deserialized(self, reader: UnixFSReader, target: CID, parts: list[str], headers: dict[str, str]) -> Reply:
        if target.codec.code not in (DAG_PB, RAW):
            raise _HTTPError(
                501, f"{target} is {target.codec.name}: deserialized answers exist only for UnixFS; "
                "ask for ?format=raw or ?format=car"
            )
        try:
            entry = reader.entry(target, parts[-1] if parts else "")
        except ContentNotFoundError as exc:
            raise _HTTPError(404, str(exc)) from None
        headers["Etag"] = f'"{_text(target)}"'
        if entry.type == "directory":
            return self._listing(reader, target, headers)
        if entry.type != "file" or entry.size is None:
            raise _HTTPError(501, f"{target} is a UnixFS {entry.type}; this gateway serves files and directories")
        size = entry.size
        headers["Content-Type"] = (mimetypes.guess_type(entry.name)[0] if entry.name else None) or "application/octet-stream"
        headers["Accept-Ranges"] = "bytes"
        try:
            span = parse_range(self.headers.get("Range"), size)
        except RangeNotSatisfiable as exc:
            return Reply.text(416, str(exc), {"Content-Range": f"bytes */{size}"})
        try:
            if span is None:
                return Reply(200, headers, reader.read(target))
            start, stop = span
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
            return Reply(206, headers, reader.read(target, start, stop))
        except ContentNotFoundError as exc:
            raise _HTTPError(404, str(exc)) from None  # a block of the file is not held

    def _listing(self, reader: UnixFSReader, cid: CID, headers: dict[str, str]) -> Reply:
        base = urllib.parse.urlsplit(self.path).path.rstrip("/")
        try:
            links = reader.links(cid)
        except ContentNotFoundError as exc:
            raise _HTTPError(404, str(exc)) from None
        rows = "\n".join(
            f'<li><a href="{html.escape(base + "/" + urllib.parse.quote(name))}">{html.escape(name)}</a> {child}</li>'
            for name, child, _ in links
        )
        page = f"<!DOCTYPE html>\n<html><body><h1>{html.escape(base)}</h1>\n<ul>\n{rows}\n</ul></body></html>\n"
        headers["Content-Type"] = "text/html; charset=utf-8"
        return Reply(200, headers, page.encode("utf-8"))


def _chain(first: list[CID], rest: Iterable[CID]) -> Iterator[CID]:
    yield from first
    yield from rest


def _parse_entity_bytes(value: str) -> tuple[int, int | None]:
    first, sep, last = value.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(first), (None if last == "*" else int(last))
    except ValueError:
        raise _HTTPError(
            400, f"invalid entity-bytes={value!r}; expected from:to with integers (negative from the end) or to=*"
        ) from None


class TrustlessGateway(ServerBase):
    """An IPFS HTTP gateway on the loopback interface, serving the blocks of a :class:`BlockStore`.

    Starts listening when created; see the module docstring for the routes.

    Parameters
    ----------
    blockstore
        The blocks to serve: a :class:`BlockStore`, a ``{cid: bytes}`` mapping, or
        ``None`` for an empty store (fill it with ``gw.blockstore.add_car(path)``).
    host, port, faults
        See :class:`~eurec4a.testing.http.ServerBase`; ``faults.tamper`` flips the
        last byte of every successful body (a block, or the last block of a CAR).

    Examples
    --------
    >>> with TrustlessGateway() as gw:
    ...     gw.url.startswith("http://127.0.0.1:")
    True
    """

    handler_class = _GatewayHandler

    def __init__(
        self,
        blockstore: BlockStore | Mapping[CID, bytes] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ):
        if blockstore is None:
            blockstore = BlockStore()
        elif not isinstance(blockstore, BlockStore):
            blockstore = BlockStore(blockstore)
        self.blockstore = blockstore
        super().__init__(host, port, faults)

    @classmethod
    def from_cars(cls, *paths: str | os.PathLike, **kwargs: object) -> "TrustlessGateway":
        """A gateway serving the blocks of the given CAR files."""
        return cls(BlockStore(cars=paths), **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> "TrustlessGateway":
        return self
