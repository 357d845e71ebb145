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
from eurec4a.ipfs.codecs import cid_from_bytes, verify_block

__all__ = ["CarWriter", "CarReader", "read_car", "write_car"]

#: A section longer than this is not a block any implementation writes (kubo caps
#: blocks at 2 MiB, the spec's soft limit); refusing it bounds memory on bad input.
MAX_SECTION = 4 * 1024 * 1024 + 1024


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
        value, n, _rest = varint.decode_raw(section[pos:pos + 10])
        values.append(value)
        pos += n
    end = pos + values[3]
    return cid_from_bytes(section[:end]), end


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
        try:
            header = dag_cbor.decode(_read_exact(fileobj, length))
        except CarFormatError:
            raise
        except Exception as exc:
            raise CarFormatError(f"not a CAR archive{self._where()}: header is not DAG-CBOR ({exc})") from exc
        if not isinstance(header, dict) or header.get("version") != 1:
            raise CarFormatError(f"not a CARv1 archive{self._where()}: header {header!r}")
        self.roots: list[CID] = list(header.get("roots") or [])

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
