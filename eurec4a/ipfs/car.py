"""CARv1 archives: write blocks out, read (and verify) blocks in.

A CAR (https://ipld.io/specs/transport/car/carv1/) is a DAG-CBOR header
``{"roots": [CID, ...], "version": 1}`` followed by ``varint(len) | CID | block``
sections. It is how the publisher hands a catalog to any IPFS node
(``ipfs dag import``) and how a trustless gateway answers ``?format=car``.

Written here rather than taken from a library because ``libipld.decode_car``
accepts only DAG-CBOR blocks (it rejects the dag-pb and raw blocks UnixFS is made
of) and must hold the whole archive in memory; this reader streams. The header
uses the ``dag-cbor`` package, CIDs and varints come from ``multiformats``.

Examples
--------
>>> import io
>>> from eurec4a.ipfs.codecs import raw_cid
>>> buf = io.BytesIO()
>>> cid = raw_cid(b"hi")
>>> with CarWriter(buf, [cid]) as car:
...     car.put(cid, b"hi")
>>> _ = buf.seek(0)
>>> reader = CarReader(buf)
>>> reader.roots == [cid]
True
>>> [(str(c), b) for c, b in reader]
[('bafkreiepinbumzepnoln7co5vea4kf3lcctnqolb3u6bvsellgznymt2uq', b'hi')]
"""
from __future__ import annotations

import io
import os
from typing import BinaryIO, Iterable, Iterator

import dag_cbor
from multiformats import CID, varint

from eurec4a.errors import CarFormatError
from eurec4a.ipfs.codecs import cid_from_bytes, read_varint, verify_block

__all__ = ["CarWriter", "CarReader", "CarStreamParser", "header_roots", "read_car", "write_car", "MAX_BLOCK_SIZE",
           "MAX_NETWORK_SECTION"]

#: A section longer than this is not a block any implementation writes (kubo caps
#: blocks at 2 MiB, the spec's soft limit); refusing it bounds memory on bad input.
MAX_SECTION = 4 * 1024 * 1024 + 1024
#: Largest block accepted from the network (bytes): the IPFS limit of 2 MiB. A CAR
#: section announcing more is rejected before its bytes are read.
MAX_BLOCK_SIZE = 2 * 1024 * 1024
#: Most bytes a binary CID takes: four varints and a digest (identity digests are capped
#: at 128 bytes, sha2-512 has 64).
MAX_CID_BYTES = 256
#: Largest CAR section accepted from the network: a block plus its CID.
MAX_NETWORK_SECTION = MAX_BLOCK_SIZE + MAX_CID_BYTES


class CarWriter:
    """Write a CARv1 stream block by block (blocks are never held in memory together).

    Parameters
    ----------
    fileobj
        A binary file object opened for writing.
    roots
        The root CIDs recorded in the header.
    header
        Write the header (default). ``False`` writes sections only: a spool whose
        header (naming a root known only at the end) is written in front of it later.
    """

    def __init__(self, fileobj: BinaryIO, roots: Iterable[CID], *, header: bool = True):
        self._f = fileobj
        self._seen: set[bytes] = set()
        if header:
            encoded = dag_cbor.encode({"roots": [CID.decode(bytes(r)) for r in roots], "version": 1})
            self._f.write(varint.encode(len(encoded)))
            self._f.write(encoded)

    def put(self, cid: CID, block: bytes) -> None:
        """Append one block; a block already written is skipped (CARs hold each once)."""
        key = bytes(cid)
        if key in self._seen:
            return
        self._seen.add(key)
        self._f.write(varint.encode(len(key) + len(block)))
        self._f.write(key)
        self._f.write(block)

    def __enter__(self) -> "CarWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.flush()


def write_car(path: str | os.PathLike, roots: Iterable[CID], blocks: Iterable[tuple[CID, bytes]]) -> None:
    """Write ``blocks`` to a CAR file at ``path`` atomically (temp file, then rename)."""
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        with CarWriter(f, roots) as car:
            for cid, block in blocks:
                car.put(cid, block)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise CarFormatError(f"CAR archive truncated: wanted {n} bytes, got {len(data)}")
    return data


def _read_uvarint(f: BinaryIO) -> int | None:
    """Read a varint from a stream; ``None`` at a clean end of stream."""
    result = shift = 0
    first = True
    while True:
        b = f.read(1)
        if not b:
            if first:
                return None
            raise CarFormatError("CAR archive truncated inside a varint")
        first = False
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise CarFormatError("malformed varint in CAR archive")


def _split_cid(section: bytes) -> tuple[CID, int]:
    """Split a section into its CID and the offset where the block begins."""
    if section[:2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        return cid_from_bytes(section[:34]), 34
    # CIDv1: version, codec and multihash header, all varints, then the digest
    pos = 0
    values = []
    for _ in range(4):  # version, codec, hash code, digest length
        value, pos = read_varint(section, pos)
        values.append(value)
    end = pos + values[3]
    return cid_from_bytes(section[:end]), end


#: The canonical DAG-CBOR encoding of a CARv1 header (``{"roots": [...], "version": 1}``,
#: keys in DAG-CBOR's order) around its roots: what kubo, boxo and go-car write.
_HEADER_START = b"\xa2\x65roots"
_HEADER_END = b"\x67version\x01"
#: A root in it: tag 42, a byte string of 24-255 bytes, the identity multibase prefix.
_ROOT_START = b"\xd8\x2a\x58"


def header_roots(raw: bytes) -> list[CID] | None:
    """The roots of a CARv1 header in its canonical encoding; ``None`` for any other encoding.

    Written here rather than calling ``dag_cbor.decode`` for every header: that function
    checks its argument types with ``typing_validation``, which raises and catches
    ``TypeError`` exceptions inside, and those exceptions end up in reference cycles whose
    tracebacks pin the caller's frames. For a gateway answer that is the frame parsing it,
    with every block the answer brought: they stayed in memory until the cyclic garbage
    collector ran, which a load of a few large chunks allocates too few objects to trigger
    (64 chunks of 4 MiB: the blocks of every answer were still held when dask assembled
    the result). Every CAR answer starts with a header, so the canonical one (the only one
    implementations write) is read here in a few slices; anything else, valid or not, is
    left to ``dag_cbor`` (returns ``None``).

    Examples
    --------
    >>> from eurec4a.ipfs.codecs import raw_cid
    >>> header_roots(dag_cbor.encode({"roots": [raw_cid(b"hi")], "version": 1})) == [raw_cid(b"hi")]
    True
    >>> header_roots(dag_cbor.encode({"version": 1, "roots": []})) == []
    True
    >>> header_roots(dag_cbor.encode({"roots": [], "version": 2})) is None  # for dag_cbor to refuse
    True
    """
    if not raw.startswith(_HEADER_START):
        return None
    try:
        pos = len(_HEADER_START)
        count = raw[pos] - 0x80  # an array of at most 23 roots: its length in the initial byte
        if not 0 <= count <= 23:
            return None
        pos += 1
        roots = []
        for _ in range(count):
            if raw[pos:pos + 3] != _ROOT_START:
                return None
            end = pos + 4 + raw[pos + 3]
            if raw[pos + 4] != 0 or end > len(raw):
                return None
            binary = bytes(raw[pos + 5:end])
            cid, used = _split_cid(binary)
            if used != len(binary):
                return None
            roots.append(cid)
            pos = end
    except Exception:  # noqa: BLE001 - truncated or malformed (any codec's error): dag_cbor says what is wrong
        return None
    return roots if raw[pos:] == _HEADER_END else None


class CarReader:
    """Iterate over the ``(cid, block)`` sections of a CARv1 stream.

    Parameters
    ----------
    fileobj
        A binary stream (file, ``BytesIO``, an HTTP response's raw stream).
    verify
        Hash every block and raise :class:`~eurec4a.errors.BlockVerificationError`
        when one does not match its CID (the default: a CAR from the network is
        untrusted until verified).
    source
        Where the stream comes from, named in errors.
    """

    def __init__(self, fileobj: BinaryIO, *, verify: bool = True, source: str | None = None):
        self._f = fileobj
        self.verify = verify
        self.source = source
        length = _read_uvarint(fileobj)
        if length is None or length > MAX_SECTION:
            raise CarFormatError(f"not a CAR archive{self._where()}: missing or oversized header")
        raw = _read_exact(fileobj, length)
        fast = header_roots(raw)
        if fast is not None:
            self.roots: list[CID] = fast
            return
        try:
            header = dag_cbor.decode(raw)
        except CarFormatError:
            raise
        except Exception as exc:
            raise CarFormatError(f"not a CAR archive{self._where()}: header is not DAG-CBOR ({exc})") from exc
        if not isinstance(header, dict) or header.get("version") != 1:
            raise CarFormatError(f"not a CARv1 archive{self._where()}: header {header!r}")
        self.roots = list(header.get("roots") or [])

    def _where(self) -> str:
        return f" from {self.source}" if self.source else ""

    def __iter__(self) -> Iterator[tuple[CID, bytes]]:
        while True:
            length = _read_uvarint(self._f)
            if length is None:
                return
            if length > MAX_SECTION:
                raise CarFormatError(f"CAR section of {length} bytes{self._where()} exceeds the block size limit")
            section = _read_exact(self._f, length)
            try:
                cid, start = _split_cid(section)
            except Exception as exc:
                raise CarFormatError(f"malformed CID in CAR archive{self._where()}: {exc}") from exc
            block = section[start:]
            if self.verify:
                verify_block(cid, block, source=self.source)
            yield cid, block


def read_car(data: bytes | BinaryIO, *, verify: bool = True, source: str | None = None) -> tuple[list[CID], dict[CID, bytes]]:
    """Read a whole CAR into ``(roots, {cid: block})``; blocks are verified by default.

    Examples
    --------
    >>> roots, blocks = read_car(open(path, "rb"))  # doctest: +SKIP
    """
    f = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    reader = CarReader(f, verify=verify, source=source)
    return reader.roots, dict(iter(reader))


class CarStreamParser:
    """Parse a CARv1 stream fed in pieces as they arrive (an HTTP body), with bounded memory.

    :meth:`feed` takes the next bytes and returns the complete ``(cid, block)``
    sections they finish; at most one section (:data:`MAX_NETWORK_SECTION`) plus the
    piece being fed is ever buffered, and a section announcing more is rejected at
    once. Blocks are *not* verified here: the caller verifies those it wants and drops
    the rest unhashed. Why not :class:`CarReader`: that one pulls from a blocking
    file object; an ``aiohttp`` body is pushed in chunks.

    Parameters
    ----------
    source
        Where the bytes come from, named in errors.
    max_section
        The largest section accepted.

    Examples
    --------
    >>> import io
    >>> from eurec4a.ipfs.codecs import raw_cid
    >>> buf = io.BytesIO()
    >>> with CarWriter(buf, [raw_cid(b"hi")]) as car:
    ...     car.put(raw_cid(b"hi"), b"hi")
    >>> parser = CarStreamParser()
    >>> data = buf.getvalue()
    >>> parser.feed(data[:5]) + parser.feed(data[5:]) == [(raw_cid(b"hi"), b"hi")]
    True
    >>> parser.finish()
    >>> parser.roots == [raw_cid(b"hi")]
    True
    """

    def __init__(self, *, source: str | None = None, max_section: int = MAX_NETWORK_SECTION):
        self.source = source
        self.max_section = max_section
        self.roots: list[CID] | None = None
        self._buf = bytearray()

    def _where(self) -> str:
        return f" from {self.source}" if self.source else ""

    def feed(self, data: bytes) -> list[tuple[CID, bytes]]:
        """Add ``data``; return the sections completed by it, in stream order.

        Raises
        ------
        CarFormatError
            The stream is not a CARv1, a section is too large or its CID is malformed.
        """
        self._buf += data
        out: list[tuple[CID, bytes]] = []
        buf = self._buf
        pos = 0
        while pos < len(buf):
            head = bytes(buf[pos:pos + 9])
            if not any(b < 0x80 for b in head):
                if len(buf) - pos >= 9:
                    raise CarFormatError(f"malformed varint in CAR stream{self._where()}")
                break  # the length is still arriving
            try:
                length, size = read_varint(head)
            except ValueError as exc:
                raise CarFormatError(f"malformed varint in CAR stream{self._where()}: {exc}") from None
            if length > self.max_section:
                raise CarFormatError(
                    f"CAR section of {length} bytes{self._where()} exceeds the {self.max_section}-byte "
                    "limit (blocks are at most 2 MiB)"
                )
            if len(buf) - pos - size < length:
                break  # the section is still arriving
            begin = pos + size
            pos = begin + length
            if self.roots is None:
                self.roots = self._header(bytes(buf[begin:pos]))
                continue
            # the block is copied out of the buffer once (slicing the bytearray and then
            # the section would copy every byte three times)
            with memoryview(buf) as view:
                try:
                    cid, start = _split_cid(view[begin:min(pos, begin + MAX_CID_BYTES)].tobytes())
                except Exception as exc:
                    raise CarFormatError(f"malformed CID in CAR stream{self._where()}: {exc}") from exc
                if start > length:
                    raise CarFormatError(f"malformed CID in CAR stream{self._where()}: longer than its section")
                out.append((cid, view[begin + start:pos].tobytes()))
        del buf[:pos]
        return out

    def _header(self, raw: bytes) -> list[CID]:
        fast = header_roots(raw)  # nearly every header; see there why not dag_cbor
        if fast is not None:
            return fast
        try:
            header = dag_cbor.decode(raw)
        except Exception as exc:
            raise CarFormatError(f"not a CAR stream{self._where()}: header is not DAG-CBOR ({exc})") from exc
        if not isinstance(header, dict) or header.get("version") != 1:
            raise CarFormatError(f"not a CARv1 stream{self._where()}: header {header!r:.200}")
        roots = header.get("roots") or []
        if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
            raise CarFormatError(f"not a CARv1 stream{self._where()}: roots {roots!r:.200}")
        return list(roots)

    def finish(self) -> None:
        """Check that the stream ended cleanly (no partial section, a header seen).

        Raises
        ------
        CarFormatError
            The stream was cut short or empty.
        """
        if self.roots is None:
            raise CarFormatError(f"empty or truncated CAR stream{self._where()}: no header")
        if self._buf:
            raise CarFormatError(f"CAR stream{self._where()} truncated inside a section ({len(self._buf)} bytes left)")
