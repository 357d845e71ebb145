"""IPLD building blocks: CIDs, block verification, and the dag-pb / UnixFS codecs.

Everything that turns bytes into a content address, or a block into the links and
data it holds, lives here, so the importer (:mod:`eurec4a.publish.importer`), the reader
(:mod:`eurec4a.ipfs.unixfs`), the gateway of the test stack and the ``ipfs`` filesystem
all agree on one implementation.

CIDs, multihashes and varints come from the ``multiformats`` package. The two
protobuf codecs (dag-pb's ``PBNode``/``PBLink`` and UnixFS's ``Data``) are written
here because no maintained Python library implements them: ``libipld`` decodes
only DAG-CBOR, and the ``ipld-dag-pb`` package on PyPI is an unmaintained 0.0.1.
Both schemas are tiny (five fields and eight fields) and fixed by the specs
https://ipld.io/specs/codecs/dag-pb/spec/ and https://specs.ipfs.tech/unixfs/.

Examples
--------
>>> cid = raw_cid(b"hello")
>>> str(cid)
'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq'
>>> verify_block(cid, b"hello")
>>> node = decode_pbnode(encode_pbnode(b"\\x08\\x01", []))
>>> node.data
b'\\x08\\x01'
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
from typing import Any, Callable, Iterable

from multiformats import CID, multihash, varint

from eurec4a.errors import BlockVerificationError

__all__ = [
    "CID",
    "PBLink",
    "PBNode",
    "UnixFSData",
    "DAG_PB",
    "RAW",
    "UNIXFS_RAW",
    "UNIXFS_DIRECTORY",
    "UNIXFS_FILE",
    "UNIXFS_METADATA",
    "UNIXFS_SYMLINK",
    "UNIXFS_HAMT_SHARD",
    "HAMT_HASH_MURMUR3",
    "raw_cid",
    "dag_pb_cid",
    "verify_block",
    "encode_pbnode",
    "decode_pbnode",
    "pbnode_has_links",
    "unixfs_leaf_payload",
    "cid_from_bytes",
    "cid_text",
    "cid_from_text",
    "read_varint",
    "MAX_IDENTITY_DIGEST",
    "encode_unixfs",
    "decode_unixfs",
    "hamt_hash",
]

DAG_PB = 0x70
RAW = 0x55

UNIXFS_RAW = 0
UNIXFS_DIRECTORY = 1
UNIXFS_FILE = 2
UNIXFS_METADATA = 3
UNIXFS_SYMLINK = 4
UNIXFS_HAMT_SHARD = 5

#: Binary CIDs whose decoded form is kept (:func:`cid_from_bytes`).
CID_MEMO_SIZE = 8192
#: Multihash prefix of a sha2-256 digest (code 0x12, length 32).
_SHA2_256_HEADER = b"\x12\x20"
#: Longest digest an identity CID may carry (bytes); longer ones are rejected, as the
#: CID spec recommends (an identity "hash" is the data itself, inlined in the link).
MAX_IDENTITY_DIGEST = 128

#: multicodec of murmur3-x64-64, the only hash UnixFS HAMT shards use.
HAMT_HASH_MURMUR3 = 0x22


# ---------------------------------------------------------------- CIDs and blocks

def _sha2_256(data: bytes) -> bytes:
    """The sha2-256 multihash of ``data``, hashed before any ``multiformats`` call.

    ``multiformats`` checks its arguments with ``typing_validation``, which leaves
    reference cycles holding every frame on the stack until the garbage collector
    runs; a frame that still referenced ``data`` would keep a chunk-sized block alive
    that long (memory growing with file size while importing).
    """
    sha = hashlib.sha256(data).digest()
    del data
    return multihash.wrap(sha, "sha2-256")


def raw_cid(data: bytes) -> CID:
    """CIDv1 of a ``raw`` block (sha2-256), as used for raw leaves."""
    digest = _sha2_256(data)
    del data  # see _sha2_256
    return CID("base32", 1, "raw", digest)


def dag_pb_cid(data: bytes, version: int = 0) -> CID:
    """CID of a dag-pb block (sha2-256); CIDv0 (``Qm...``) by default."""
    digest = _sha2_256(data)
    del data  # see _sha2_256
    if version == 0:
        return CID("base58btc", 0, "dag-pb", digest)
    return CID("base32", 1, "dag-pb", digest)


def verify_block(cid: CID, data: bytes, *, source: str | None = None) -> None:
    """Check that ``data`` hashes to ``cid``; raise :class:`BlockVerificationError` if not.

    Parameters
    ----------
    cid
        The content identifier the block was asked for by.
    data
        The bytes that were received.
    source
        Where the bytes came from (a gateway URL, a cache path), named in the error.

    Examples
    --------
    >>> verify_block(raw_cid(b"a"), b"a")
    >>> verify_block(raw_cid(b"a"), b"b")
    Traceback (most recent call last):
    ...
    eurec4a.errors.BlockVerificationError: ...
    """
    mh = bytes(cid.digest)
    if mh[:2] == _SHA2_256_HEADER:  # nearly every block: hashlib directly (multiformats' lookups cost ~80 us)
        ok = hmac.compare_digest(hashlib.sha256(data).digest(), mh[2:])
    else:
        try:
            hashfun = multihash.get(cid.hashfun.name)
        except KeyError as exc:  # pragma: no cover - exotic hash functions
            raise BlockVerificationError(
                f"cannot verify block {cid}: hash function {cid.hashfun.name!r} is not supported"
            ) from exc
        if cid.hashfun.name == "identity":
            ok = cid.raw_digest == data
        else:
            ok = hmac.compare_digest(hashfun.digest(data), mh)
    if not ok:
        where = f" from {source}" if source else ""
        raise BlockVerificationError(
            f"block received{where} does not match its CID {cid}: the bytes were altered "
            "or belong to another block; they were discarded"
        )


# ---------------------------------------------------------------- protobuf helpers

def _key(field: int, wire: int) -> bytes:
    return varint.encode((field << 3) | wire)


def _len_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + varint.encode(len(payload)) + payload


def _varint_field(field: int, value: int) -> bytes:
    return _key(field, 0) + varint.encode(value)


def read_varint(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it.

    Written here rather than calling ``multiformats.varint``: that one checks its
    argument types with ``typing_validation`` on every call (~12 us), and a directory
    of 2,048 zarr chunks has ~10,000 varints; this loop takes well under a microsecond.
    Varints longer than 9 bytes (more than 63 bits) are rejected, as there. Raises
    ``ValueError`` for a truncated, overlong or non-minimal varint.

    Examples
    --------
    >>> read_varint(b"\\x96\\x01rest")
    (150, 2)
    """
    try:
        byte = buf[pos]
    except IndexError:
        raise ValueError("truncated varint in protobuf message") from None
    if byte < 0x80:  # nearly every field key and small length
        return byte, pos + 1
    value = byte & 0x7F
    shift = 7
    end = len(buf)
    while True:
        pos += 1
        if pos >= end:
            raise ValueError("truncated varint in protobuf message")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and shift:
                raise ValueError("varint in protobuf message is not minimally encoded")
            return value, pos + 1
        shift += 7
        if shift >= 63:
            raise ValueError("varint in protobuf message is longer than 9 bytes")


def _fields(buf: bytes | memoryview) -> Iterable[tuple[int, int, int | bytes]]:
    """Yield ``(field, wire_type, value)`` of a protobuf message (varint and length-delimited)."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
            yield field, wire, value
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            if pos + length > n:
                raise ValueError("truncated length-delimited field in protobuf message")
            yield field, wire, bytes(buf[pos:pos + length])
            pos += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


# ---------------------------------------------------------------- dag-pb

@dataclasses.dataclass(frozen=True)
class PBLink:
    """A dag-pb link: the CID of a child, its name and the cumulative size of its DAG."""

    cid: CID
    name: str | None = None
    tsize: int | None = None


@dataclasses.dataclass(frozen=True)
class PBNode:
    """A decoded dag-pb node: opaque ``data`` (UnixFS ``Data`` in practice) and ``links``."""

    data: bytes | None
    links: tuple[PBLink, ...]


def encode_pbnode(data: bytes | None, links: Iterable[PBLink]) -> bytes:
    """Encode a dag-pb node canonically (links first, then data, as the spec orders them)."""
    # One join at the end: ``data`` may be a whole chunk, and is copied once (bounded memory while importing).
    parts: list[bytes] = []
    for link in links:
        body = _len_field(1, bytes(link.cid))
        if link.name is not None:
            body += _len_field(2, link.name.encode("utf-8"))
        if link.tsize is not None:
            body += _varint_field(3, link.tsize)
        parts.append(_len_field(2, body))
    if data is not None:
        parts += [_key(1, 2), varint.encode(len(data)), data]
    return b"".join(parts)


def _fast_cid_makers() -> dict[bytes, Callable[[bytes], CID]]:
    """``{binary prefix: constructor}`` for the CIDs nearly every block link has.

    ``CID.decode`` validates every component with ``typing_validation`` (~95 us a
    CID), and even multiformats' internal constructor interns each new CID in a
    ``WeakValueDictionary`` whose key hashes three codec objects in Python (~6 us):
    a directory of 2,048 zarr chunks would spend 0.2 s, then 13 ms, on its CIDs in
    every new process. The four shapes below (CIDv0, and CIDv1 dag-pb / raw /
    dag-cbor, all sha2-256) are recognised by their fixed prefix and built by filling
    the five slots a ``CID`` has, which is all ``multiformats`` itself does (~0.3 us).
    The result equals, hashes and prints as ``CID.decode``'s; it is just not the
    interned object (``CID`` compares by value, nothing here compares by identity).
    The shortcut proves itself against ``CID.decode`` at import; if a future
    ``multiformats`` changes its internals, it switches itself off and every CID is
    decoded the documented way.
    """
    samples = {
        b"\x12\x20": CID("base58btc", 0, "dag-pb", multihash.wrap(bytes(32), "sha2-256")),
        b"\x01\x70\x12\x20": CID("base32", 1, "dag-pb", multihash.wrap(bytes(32), "sha2-256")),
        b"\x01\x55\x12\x20": CID("base32", 1, "raw", multihash.wrap(bytes(32), "sha2-256")),
        b"\x01\x71\x12\x20": CID("base32", 1, "dag-cbor", multihash.wrap(bytes(32), "sha2-256")),
    }
    out = {}
    try:
        if set(CID.__slots__) - {"__weakref__"} != {"_base", "_version", "_codec", "_hashfun", "_digest"}:
            return {}
        for prefix, proto in samples.items():
            make = functools.partial(_filled_cid, proto.base, proto.version, proto.codec, proto.hashfun,
                                     len(prefix) - 2)
            probe = prefix + bytes(range(1, 33))
            made, decoded = make(probe), _decode_cid(probe)
            if (made != decoded or hash(made) != hash(decoded) or bytes(made) != probe
                    or str(made) != str(decoded) or made.digest != decoded.digest
                    or made.codec != decoded.codec or made.hashfun != decoded.hashfun):
                return {}
            out[prefix] = make
    except Exception:  # any change in multiformats' internals: use the documented path
        return {}
    return out


def _filled_cid(base: Any, version: int, codec: Any, hashfun: Any, skip: int, raw: bytes) -> CID:
    # see _fast_cid_makers: the slots multiformats' own constructor fills, without its interning
    cid = object.__new__(CID)
    cid._base, cid._version, cid._codec, cid._hashfun = base, version, codec, hashfun  # noqa: SLF001
    cid._digest = raw[skip:]  # noqa: SLF001
    return cid


def _decode_cid(raw: bytes) -> CID:
    cid = CID.decode(raw)
    if cid.hashfun.name == "identity" and len(cid.raw_digest) > MAX_IDENTITY_DIGEST:
        raise ValueError(f"identity CID with {len(cid.raw_digest)} bytes inlined; at most {MAX_IDENTITY_DIGEST} are allowed")
    if cid.version == 1:  # binary CIDs decode as base58; CIDv1 text is base32 by convention
        cid = cid.set(base="base32")
    return cid


_FAST_CIDS = _fast_cid_makers()


@functools.lru_cache(maxsize=CID_MEMO_SIZE)
def cid_from_bytes(raw: bytes) -> CID:
    """Decode a binary CID; CIDv1 in base32 (the text convention), CIDv0 in base58btc.

    The common shapes (sha2-256 CIDv0 and CIDv1 dag-pb/raw/dag-cbor) take a fast path
    of well under a microsecond (see :func:`_fast_cid_makers`); everything else goes
    through ``CID.decode``. Memoized: the same CID is decoded twice on most reads (a
    CAR section's CID, then its parent's link).

    Examples
    --------
    >>> cid_from_bytes(bytes(raw_cid(b"hello"))) == raw_cid(b"hello")
    True
    """
    if len(raw) == 34:
        make = _FAST_CIDS.get(raw[:2])
        if make is not None:
            return make(raw)
    elif len(raw) == 36:
        make = _FAST_CIDS.get(raw[:4])
        if make is not None:
            return make(raw)
    return _decode_cid(raw)


_BASE58BTC = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58btc(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_BASE58BTC[digit])
    zeros = len(raw) - len(raw.lstrip(b"\0"))  # each leading zero byte is a leading "1"
    return "1" * zeros + "".join(reversed(digits))


def cid_text(cid: CID) -> str:
    """``str(cid)``, for the two bases CIDs are written in (base58btc, base32); else ``str(cid)`` itself.

    Written here rather than calling ``str(cid)`` on the path of every request:
    ``multiformats`` encodes through ``bases``, which checks its arguments with
    ``typing_validation`` on every call (~0.1 ms), raising and catching ``TypeError`` exceptions
    inside; those exceptions land in reference cycles whose tracebacks pin the caller's
    frames until the cyclic garbage collector runs. The result is the same string
    (``tests/test_cid.py`` compares them on random CIDs), in a few microseconds.

    Examples
    --------
    >>> cid = raw_cid(b"hello")
    >>> cid_text(cid) == str(cid)
    True
    >>> cid_text(dag_pb_cid(b"x", version=0))[:2]
    'Qm'
    """
    raw = bytes(cid)
    if cid.version == 0:
        return _base58btc(raw)
    name = cid.base.name
    if name == "base32":
        return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")
    if name == "base58btc":
        return "z" + _base58btc(raw)
    return str(cid)


_BASE58BTC_VALUES = {char: value for value, char in enumerate(_BASE58BTC)}


def cid_from_text(text: str) -> CID | None:
    """The CID ``text`` writes, when it is a sha2-256 CIDv0 or a CIDv1 (dag-pb, raw, dag-cbor) in base32; else ``None``.

    The counterpart of :func:`cid_text`, for the same reason (``CID.decode`` of a string
    checks its argument with ``typing_validation``, whose internal exceptions pin the
    caller's frames in reference cycles). Only the canonical text of those shapes is read
    here (the result is printed again and compared); anything else, valid or not, gives
    ``None``, and the caller asks ``CID.decode``, which also says what is wrong.

    Examples
    --------
    >>> cid = raw_cid(b"hello")
    >>> cid_from_text(str(cid)) == cid
    True
    >>> cid_from_text("not a CID") is None
    True
    """
    try:
        if len(text) == 46 and text.startswith("Qm"):  # CIDv0: 34 bytes in base58btc
            number = 0
            for char in text:
                number = number * 58 + _BASE58BTC_VALUES[char]
            raw = number.to_bytes(34, "big")
        elif len(text) == 59 and text.startswith("b"):  # CIDv1 of a 32-byte digest: 36 bytes in base32
            raw = base64.b32decode(text[1:] + "======", casefold=True)
        else:
            return None
    except (KeyError, ValueError, OverflowError, binascii.Error):
        return None
    if _FAST_CIDS.get(raw[:2] if len(raw) == 34 else raw[:4]) is None:
        return None
    cid = cid_from_bytes(raw)
    return cid if cid_text(cid) == text else None


def pbnode_has_links(block: bytes) -> bool:
    """Whether the dag-pb ``block`` may have links; ``False`` only when it is certainly a leaf.

    A whole-dataset stream of kubo's default DAGs is mostly dag-pb leaves (the file
    bytes wrapped in UnixFS); decoding each just to find no links cost a fifth of the
    stream's time. A node that is nothing but its ``Data`` field (key ``0x0a``, its
    length, then exactly the rest of the block) has no links; anything else is decoded.

    Examples
    --------
    >>> pbnode_has_links(encode_pbnode(b"leaf data", []))
    False
    >>> pbnode_has_links(encode_pbnode(b"", [PBLink(raw_cid(b"x"), "x", 1)]))
    True
    """
    if block[:1] != b"\x0a":
        return True
    try:
        length, pos = read_varint(block, 1)
    except ValueError:
        return True  # let the full decoder report it
    return pos + length != len(block)


def unixfs_leaf_payload(block: bytes) -> memoryview | None:
    """The file bytes in a dag-pb UnixFS leaf, as a view into ``block`` (no copy); ``None`` otherwise.

    Reading a chunk of a file decodes one leaf per 256 KiB; building :class:`PBNode`
    and :class:`UnixFSData` objects copies its bytes twice on the way, which doubled
    the cost of reading a large chunk from the cache. Only a node without links
    whose UnixFS type is ``File`` or ``Raw`` and which has no ``blocksizes`` is taken
    here; anything else (``None``) goes through :func:`decode_pbnode`.

    Examples
    --------
    >>> leaf = encode_pbnode(encode_unixfs(UnixFSData(UNIXFS_FILE, b"chunk", 5)), [])
    >>> bytes(unixfs_leaf_payload(leaf))
    b'chunk'
    >>> unixfs_leaf_payload(encode_pbnode(encode_unixfs(UnixFSData(UNIXFS_DIRECTORY)), [])) is None
    True
    """
    if pbnode_has_links(block):
        return None
    length, pos = read_varint(block, 1)
    message = memoryview(block)[pos:pos + length]
    kind = payload = None
    at, end = 0, len(message)
    try:
        while at < end:
            key, at = read_varint(message, at)
            field, wire = key >> 3, key & 7
            if wire == 0:
                value, at = read_varint(message, at)
                if field == 1:
                    kind = value
                elif field == 4:
                    return None  # blocksizes in a leaf: leave it to the full decoder
            elif wire == 2:
                size, at = read_varint(message, at)
                if at + size > end:
                    return None
                if field == 2:
                    payload = message[at:at + size]
                elif field == 4:
                    return None
                at += size
            else:
                return None
    except ValueError:
        return None
    if kind not in (UNIXFS_FILE, UNIXFS_RAW):
        return None
    return payload if payload is not None else message[0:0]


def decode_pbnode(block: bytes) -> PBNode:
    """Decode a dag-pb block.

    Raises ``ValueError`` for bytes that are not a dag-pb node.

    The fields every encoder writes (a link's ``Hash``, ``Name`` and ``Tsize``, the
    node's ``Data``), each with its one-byte key, are read by one loop over the
    block; a directory of 2,048 chunks decodes in a few milliseconds instead of a
    generator per link. Anything else (another field, a key of several bytes) is
    left to the general decoder, which reports or skips it as before.

    Examples
    --------
    >>> node = decode_pbnode(encode_pbnode(b"\\x08\\x01", [PBLink(raw_cid(b"x"), "x", 1)]))
    >>> node.links[0].name, node.links[0].tsize, node.data
    ('x', 1, b'\\x08\\x01')
    """
    try:
        return _decode_pbnode_common(block)
    except _Unusual:
        return _decode_pbnode_general(block)


class _Unusual(Exception):
    """A dag-pb field the common-case decoder leaves to the general one."""


def _decode_pbnode_common(block: bytes) -> PBNode:
    if type(block) is not bytes:  # slices below must be bytes (CIDs, names, data)
        block = bytes(block)
    data: bytes | None = None
    links: list[PBLink] = []
    n = len(block)
    pos = 0
    while pos < n:
        key = block[pos]
        if key == 0x12:  # field 2 (a link), length-delimited
            length, pos = read_varint(block, pos + 1)
            end = pos + length
            if end > n:
                raise ValueError("truncated length-delimited field in protobuf message")
            cid = name = tsize = None
            while pos < end:
                lkey = block[pos]
                if lkey == 0x18:  # Tsize, varint
                    tsize, pos = read_varint(block, pos + 1)
                    if pos > end:
                        raise _Unusual
                    continue
                if lkey != 0x0A and lkey != 0x12:
                    raise _Unusual
                size, pos = read_varint(block, pos + 1)
                if pos + size > end:
                    raise _Unusual
                value = block[pos:pos + size]
                pos += size
                if lkey == 0x0A:  # Hash
                    cid = cid_from_bytes(value)
                else:  # Name
                    name = value.decode("utf-8")
            if cid is None:
                raise ValueError("dag-pb link without a Hash")
            links.append(PBLink(cid, name, tsize))
        elif key == 0x0A:  # field 1 (Data), length-delimited
            length, pos = read_varint(block, pos + 1)
            if pos + length > n:
                raise ValueError("truncated length-delimited field in protobuf message")
            data = block[pos:pos + length]
            pos += length
        else:
            raise _Unusual
    return PBNode(data, tuple(links))


def _decode_pbnode_general(block: bytes) -> PBNode:
    data: bytes | None = None
    links: list[PBLink] = []
    for field, wire, value in _fields(block):
        if field == 1 and wire == 2:
            data = value  # type: ignore[assignment]
        elif field == 2 and wire == 2:
            cid = name = tsize = None
            for lf, lw, lv in _fields(value):  # type: ignore[arg-type]
                if lf == 1 and lw == 2:
                    cid = cid_from_bytes(lv)  # type: ignore[arg-type]
                elif lf == 2 and lw == 2:
                    name = lv.decode("utf-8")  # type: ignore[union-attr]
                elif lf == 3 and lw == 0:
                    tsize = lv
            if cid is None:
                raise ValueError("dag-pb link without a Hash")
            links.append(PBLink(cid, name, tsize))  # type: ignore[arg-type]
        else:
            raise ValueError(f"unexpected field {field} in dag-pb node")
    return PBNode(data, tuple(links))


# ---------------------------------------------------------------- UnixFS Data

@dataclasses.dataclass(frozen=True)
class UnixFSData:
    """The UnixFS ``Data`` message carried in a dag-pb node's data field."""

    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = ()
    hash_type: int | None = None
    fanout: int | None = None


def encode_unixfs(msg: UnixFSData) -> bytes:
    """Encode a UnixFS ``Data`` message the way kubo and js-ipfs-unixfs do.

    Field order is Type, Data, filesize, blocksizes (not packed), hashType, fanout.
    Absent (``None``) fields are left out.
    """
    # One join at the end: ``msg.data`` may be a whole chunk, and is copied once.
    parts = [_varint_field(1, msg.type)]
    if msg.data is not None:
        parts += [_key(2, 2), varint.encode(len(msg.data)), msg.data]
    if msg.filesize is not None:
        parts.append(_varint_field(3, msg.filesize))
    parts += [_varint_field(4, size) for size in msg.blocksizes]
    if msg.hash_type is not None:
        parts.append(_varint_field(5, msg.hash_type))
    if msg.fanout is not None:
        parts.append(_varint_field(6, msg.fanout))
    return b"".join(parts)


def decode_unixfs(data: bytes | None) -> UnixFSData:
    """Decode a UnixFS ``Data`` message (raises ``ValueError`` when it is not one)."""
    if data is None:
        raise ValueError("dag-pb node has no UnixFS data")
    kind = None
    payload = filesize = hash_type = fanout = None
    blocksizes: list[int] = []
    for field, wire, value in _fields(data):
        if field == 1 and wire == 0:
            kind = value
        elif field == 2 and wire == 2:
            payload = value
        elif field == 3 and wire == 0:
            filesize = value
        elif field == 4 and wire == 0:
            blocksizes.append(value)  # type: ignore[arg-type]
        elif field == 4 and wire == 2:  # packed encoding, accepted when reading
            pos = 0
            while pos < len(value):  # type: ignore[arg-type]
                size, pos = read_varint(value, pos)  # type: ignore[arg-type]
                blocksizes.append(size)
        elif field == 5 and wire == 0:
            hash_type = value
        elif field == 6 and wire == 0:
            fanout = value
        # mode (7) and mtime (8) are metadata this package neither writes nor needs
    if kind is None:
        raise ValueError("UnixFS data without a Type")
    return UnixFSData(kind, payload, filesize, tuple(blocksizes), hash_type, fanout)  # type: ignore[arg-type]


def hamt_hash(name: str | bytes) -> bytes:
    """The 64-bit murmur3 hash (x64 variant, big-endian) UnixFS HAMT shards index names by."""
    import mmh3

    raw = name.encode("utf-8") if isinstance(name, str) else name
    h1, _ = mmh3.hash64(raw, signed=False)
    return h1.to_bytes(8, "big")
