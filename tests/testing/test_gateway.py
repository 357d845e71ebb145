"""The trustless gateway of the test stack, with real clients (requests, ipfsspec 0.6.0) and real DAGs.

The UnixFS DAGs are built here by hand with the encoders of :mod:`eurec4a.ipfs.codecs`
(chunked files with raw leaves, a plain directory, a HAMT-sharded directory with
sub-shards), so the expected block sets are known independently of the gateway.
"""
from __future__ import annotations

import socket

import fsspec
import pytest
import requests
from multiformats import CID

from eurec4a.ipfs.car import read_car, write_car
from eurec4a.errors import BlockVerificationError
from eurec4a.ipfs.codecs import (
    HAMT_HASH_MURMUR3,
    UNIXFS_DIRECTORY,
    UNIXFS_FILE,
    UNIXFS_HAMT_SHARD,
    PBLink,
    UnixFSData,
    dag_pb_cid,
    encode_pbnode,
    encode_unixfs,
    hamt_hash,
    raw_cid,
    verify_block,
)
from eurec4a.testing.faults import Faults
from eurec4a.testing.gateway import CAR_TYPE, BlockStore, TrustlessGateway

TIMEOUT = 10
CHUNK = 100
FANOUT = 16  # small fanout: 40 names are sure to collide and make sub-shards


# ---------------------------------------------------------------- DAG builders

class Dag:
    """Blocks of a small UnixFS tree, with what each path's answer must contain."""

    def __init__(self):
        self.blocks: dict[CID, bytes] = {}

    def add(self, cid, block):
        self.blocks[cid] = block
        return cid

    def file(self, data: bytes, version=1):
        """A file of raw leaves of CHUNK bytes under a dag-pb root (one raw block if it fits)."""
        if len(data) <= CHUNK:
            cid = self.add(raw_cid(data), data)
            return cid, [cid]
        leaves = [self.add(raw_cid(data[i:i + CHUNK]), data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]
        sizes = tuple(min(CHUNK, len(data) - i) for i in range(0, len(data), CHUNK))
        fs = encode_unixfs(UnixFSData(UNIXFS_FILE, filesize=len(data), blocksizes=sizes))
        block = encode_pbnode(fs, [PBLink(c, "", s) for c, s in zip(leaves, sizes)])
        root = self.add(dag_pb_cid(block, version), block)
        return root, [root, *leaves]

    def directory(self, entries: dict[str, CID], version=0):
        links = [PBLink(cid, name, len(self.blocks[cid])) for name, cid in sorted(entries.items())]
        block = encode_pbnode(encode_unixfs(UnixFSData(UNIXFS_DIRECTORY)), links)
        return self.add(dag_pb_cid(block, version), block)

    def hamt(self, entries: dict[str, CID], depth=0):
        """A HAMT shard; returns its CID and, per name, the shard nodes a lookup visits."""
        bits = FANOUT.bit_length() - 1
        slots: dict[int, list[str]] = {}
        for name in entries:
            h = int.from_bytes(hamt_hash(name), "big")
            index = (h >> (64 - (depth + 1) * bits)) & (FANOUT - 1)
            slots.setdefault(index, []).append(name)
        links, trails, bitfield = [], {}, 0
        for index in sorted(slots):
            bitfield |= 1 << index
            names = slots[index]
            prefix = f"{index:X}"
            if len(names) == 1:
                links.append(PBLink(entries[names[0]], prefix + names[0], len(self.blocks[entries[names[0]]])))
                trails[names[0]] = []
            else:
                sub, sub_trails = self.hamt({n: entries[n] for n in names}, depth + 1)
                links.append(PBLink(sub, prefix, len(self.blocks[sub])))
                for n in names:
                    trails[n] = [sub, *sub_trails[n]]
        data = encode_unixfs(UnixFSData(
            UNIXFS_HAMT_SHARD, data=bitfield.to_bytes(FANOUT // 8, "big"),
            hash_type=HAMT_HASH_MURMUR3, fanout=FANOUT,
        ))
        block = encode_pbnode(data, links)
        cid = self.add(dag_pb_cid(block, 1), block)
        return cid, trails


BIG = bytes((i * 7) % 251 for i in range(450))  # 5 leaves: 4 x 100 + 50


@pytest.fixture(scope="module")
def dag():
    d = Dag()
    d.hello, _ = d.file(b"hello world\n")
    d.big, d.big_blocks = d.file(BIG)
    d.a, _ = d.file(b"a file in sub\n")
    d.sub = d.directory({"a.txt": d.a})
    d.names = {f"file_{i:02d}.txt": d.file(f"content {i}\n".encode())[0] for i in range(40)}
    d.shard, d.shard_trails = d.hamt(d.names)
    d.root = d.directory({"hello.txt": d.hello, "big.bin": d.big, "sub": d.sub, "shard": d.shard})
    assert d.root.version == 0  # kubo's default root
    return d


@pytest.fixture(scope="module")
def gateway(dag):
    with TrustlessGateway(BlockStore(dag.blocks)) as gw:
        yield gw


def get(gw, path, **kwargs):
    return requests.get(gw.url + path, timeout=TIMEOUT, **kwargs)


def car_cids(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == CAR_TYPE
    roots, blocks = read_car(response.content)  # verifies every block
    return roots, list(blocks)


# ---------------------------------------------------------------- raw blocks

def test_raw_block_verifies_by_query_and_by_accept(gateway, dag):
    for kwargs in ({"params": {"format": "raw"}}, {"headers": {"Accept": "application/vnd.ipld.raw"}}):
        r = get(gateway, f"/ipfs/{dag.big}", **kwargs)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/vnd.ipld.raw"
        verify_block(dag.big, r.content)
        assert r.content == dag.blocks[dag.big]
        assert r.headers["Etag"] == f'"{dag.big}.raw"'
        assert r.headers["X-Ipfs-Roots"] == str(dag.big)
        assert r.headers["Cache-Control"] == "public, max-age=29030400, immutable"
        assert r.headers["Content-Disposition"].startswith("attachment")


def test_raw_block_at_the_end_of_a_path(gateway, dag):
    r = get(gateway, f"/ipfs/{dag.root}/sub/a.txt?format=raw")
    assert r.status_code == 200
    verify_block(dag.a, r.content)
    assert r.headers["X-Ipfs-Roots"] == f"{dag.root},{dag.sub},{dag.a}"
    assert r.headers["X-Ipfs-Path"] == f"/ipfs/{dag.root}/sub/a.txt"


def test_identity_cid_probe_needs_no_stored_block(gateway):
    r = requests.head(gateway.url + "/ipfs/bafkqaaa?format=raw", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["Content-Length"] == "0"


# ---------------------------------------------------------------- CARs

def test_car_dag_scopes_of_a_file(gateway, dag):
    path = f"/ipfs/{dag.root}/big.bin"
    roots, cids = car_cids(get(gateway, path, params={"format": "car", "dag-scope": "block"}))
    assert roots == [dag.root]
    assert cids == [dag.root, dag.big]
    _, cids = car_cids(get(gateway, path, params={"format": "car", "dag-scope": "entity"}))
    assert cids == [dag.root, *dag.big_blocks]
    _, cids = car_cids(get(gateway, path, headers={"Accept": "application/vnd.ipld.car; version=1; order=dfs; dups=n"}))
    assert cids == [dag.root, *dag.big_blocks]  # dag-scope=all is the default


def test_car_dag_scopes_of_directories(gateway, dag):
    _, cids = car_cids(get(gateway, f"/ipfs/{dag.root}", params={"format": "car"}))
    assert set(cids) == set(dag.blocks)  # everything is reachable from the root
    assert len(cids) == len(dag.blocks)  # dups=n
    _, cids = car_cids(get(gateway, f"/ipfs/{dag.root}", params={"format": "car", "dag-scope": "entity"}))
    assert cids == [dag.root]  # a plain directory is one block
    _, cids = car_cids(get(gateway, f"/ipfs/{dag.root}/shard", params={"format": "car", "dag-scope": "entity"}))
    sub_shards = {c for trail in dag.shard_trails.values() for c in trail}
    assert sub_shards  # the fixture really has sub-shards
    assert set(cids) == {dag.root, dag.shard, *sub_shards}
    _, cids = car_cids(get(gateway, f"/ipfs/{dag.root}/sub", params={"format": "car", "dag-scope": "all"}))
    assert cids == [dag.root, dag.sub, dag.a]


def test_path_through_a_hamt_shard(gateway, dag):
    deep = [n for n, trail in dag.shard_trails.items() if trail]
    shallow = [n for n, trail in dag.shard_trails.items() if not trail]
    assert deep and shallow
    for name in (deep[0], shallow[0]):
        target = dag.names[name]
        r = get(gateway, f"/ipfs/{dag.root}/shard/{name}", params={"format": "car", "dag-scope": "block"})
        _, cids = car_cids(r)
        assert cids == [dag.root, dag.shard, *dag.shard_trails[name], target]
        # X-Ipfs-Roots names path segments, not the shard nodes between them
        assert r.headers["X-Ipfs-Roots"] == f"{dag.root},{dag.shard},{target}"
        assert get(gateway, f"/ipfs/{dag.root}/shard/{name}").content == dag.blocks[target]
    assert get(gateway, f"/ipfs/{dag.root}/shard/file_99.txt").status_code == 404


def test_entity_bytes_returns_the_blocks_of_the_range(gateway, dag):
    root, *leaves = dag.big_blocks
    path = f"/ipfs/{dag.big}"
    cases = {
        "150:249": [root, leaves[1], leaves[2]],
        "0:*": [root, *leaves],
        "-50:*": [root, leaves[4]],
        "399:400": [root, leaves[3], leaves[4]],
        "100:-301": [root, leaves[1]],  # to = 450 - 301 = byte 149
        "10:5": [root],  # zero-length: like dag-scope=block
        "420:99999": [root, leaves[4]],
    }
    for spec, expected in cases.items():
        _, cids = car_cids(get(gateway, path, params={"format": "car", "entity-bytes": spec}))
        assert cids == expected, spec
    assert get(gateway, path, params={"format": "car", "entity-bytes": "450:*"}).status_code == 400
    assert get(gateway, path, params={"format": "car", "entity-bytes": "x:1"}).status_code == 400
    # entity-bytes on a directory is ignored (same as dag-scope=entity)
    _, cids = car_cids(get(gateway, f"/ipfs/{dag.root}", params={"format": "car", "entity-bytes": "0:10"}))
    assert cids == [dag.root]


def test_cidv0_and_cidv1_roots(gateway, dag):
    v1 = dag.root.set(version=1, base="base32")
    assert str(v1).startswith("bafy") and str(dag.root).startswith("Qm")
    for root in (dag.root, v1):
        r = get(gateway, f"/ipfs/{root}/hello.txt", params={"format": "car", "dag-scope": "block"})
        roots, cids = car_cids(r)
        assert roots == [root] and cids == [root, dag.hello]
        assert r.headers["X-Ipfs-Roots"].split(",") == [str(root), str(dag.hello)]
        assert get(gateway, f"/ipfs/{root}/hello.txt").content == b"hello world\n"


# ---------------------------------------------------------------- deserialized answers

def test_plain_get_of_files_ranges_and_directories(gateway, dag):
    r = get(gateway, f"/ipfs/{dag.root}/big.bin")
    assert r.status_code == 200 and r.content == BIG
    assert r.headers["Content-Type"] == "application/octet-stream"
    r = get(gateway, f"/ipfs/{dag.root}/hello.txt")
    assert r.headers["Content-Type"].startswith("text/plain")
    r = get(gateway, f"/ipfs/{dag.big}", headers={"Range": "bytes=95-204"})
    assert r.status_code == 206 and r.content == BIG[95:205]
    assert r.headers["Content-Range"] == f"bytes 95-204/{len(BIG)}"
    assert get(gateway, f"/ipfs/{dag.big}", headers={"Range": "bytes=450-"}).status_code == 416
    h = requests.head(f"{gateway.url}/ipfs/{dag.big}", timeout=TIMEOUT)
    assert h.status_code == 200 and h.headers["Content-Length"] == str(len(BIG)) and h.content == b""
    r = get(gateway, f"/ipfs/{dag.root}/sub")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html") and "a.txt" in r.text


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("path, status", [
    ("/ipfs/not-a-cid", 400),
    ("/ipfs/", 400),
    ("/ipfs/{root}?format=tar", 400),
    ("/ipfs/{root}?format=car&dag-scope=everything", 400),
    ("/ipfs/{root}?format=car&car-version=2", 400),
    ("/ipfs/{missing}", 404),
    ("/ipfs/{missing}?format=raw", 404),
    ("/ipfs/{missing}?format=car", 404),
    ("/ipfs/{root}/no-such-file", 404),
    ("/ipfs/{root}/no-such-file?format=car", 404),
    ("/ipfs/{root}/hello.txt/below-a-file?format=raw", 404),
    ("/elsewhere", 404),
])
def test_error_statuses(gateway, dag, path, status):
    url = path.format(root=dag.root, missing=raw_cid(b"held by nobody"))
    assert get(gateway, url).status_code == status
    assert requests.head(gateway.url + url, timeout=TIMEOUT).status_code == status


def test_missing_child_block_ends_the_car_stream_early(dag):
    blocks = dict(dag.blocks)
    del blocks[dag.big_blocks[3]]
    with TrustlessGateway(blocks) as gw:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            get(gw, f"/ipfs/{dag.big}", params={"format": "car"})
        # the blocks before the hole are served, the file bytes are not
        assert get(gw, f"/ipfs/{dag.big}", params={"format": "car", "entity-bytes": "0:99"}).status_code == 200
        assert get(gw, f"/ipfs/{dag.big}").status_code == 404
        assert get(gw, f"/ipfs/{dag.big_blocks[3]}?format=raw").status_code == 404


# ---------------------------------------------------------------- block store

def test_block_store_from_car_files_and_multihash_keys(tmp_path, dag):
    path = tmp_path / "dag.car"
    write_car(path, [dag.root], dag.blocks.items())
    with TrustlessGateway.from_cars(path) as gw:
        assert len(gw.blockstore) == len(dag.blocks)
        assert dag.root.set(version=1) in gw.blockstore  # same multihash, other CID version
        assert str(dag.hello) in gw.blockstore
        assert get(gw, f"/ipfs/{dag.root}/sub/a.txt").content == b"a file in sub\n"
    store = BlockStore()
    assert store.add_car(path) == [dag.root]
    with pytest.raises(BlockVerificationError):
        store.put(raw_cid(b"x"), b"y")
    assert raw_cid(b"x") not in store
    store.put(raw_cid(b"x"), b"y", verify=False)  # a planted bad block, served as is
    with TrustlessGateway(store) as gw:
        with pytest.raises(BlockVerificationError):
            verify_block(raw_cid(b"x"), get(gw, f"/ipfs/{raw_cid(b'x')}?format=raw").content)


# ---------------------------------------------------------------- faults

def test_tamper_is_detected_by_verifying_clients(dag):
    faults = Faults(tamper=True)
    with TrustlessGateway(dag.blocks, faults=faults) as gw:
        r = get(gw, f"/ipfs/{dag.big}?format=raw")
        assert r.status_code == 200 and len(r.content) == len(dag.blocks[dag.big])
        with pytest.raises(BlockVerificationError):
            verify_block(dag.big, r.content)
        r = get(gw, f"/ipfs/{dag.root}/big.bin?format=car")
        with pytest.raises(BlockVerificationError):
            read_car(r.content)
        faults.tamper = False
        verify_block(dag.big, get(gw, f"/ipfs/{dag.big}?format=raw").content)


def test_failures_down_and_restart_on_the_same_port(dag):
    faults = Faults(failure_rate=1.0, retry_after=3)
    with TrustlessGateway(dag.blocks, faults=faults) as gw:
        answers = [get(gw, f"/ipfs/{dag.hello}?format=raw") for _ in range(4)]
        assert [a.status_code for a in answers] == [503] * 4
        assert answers[0].headers["Retry-After"] == "3"
        assert gw.count(status=503) == 4
        faults.update(failure_rate=0.0, down=True)
        port = gw.port
        with pytest.raises(requests.exceptions.ConnectionError):
            get(gw, f"/ipfs/{dag.hello}?format=raw")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        faults.down = False
        assert gw.port == port
        assert get(gw, f"/ipfs/{dag.hello}?format=raw").content == b"hello world\n"
        gw.stop()
        with pytest.raises(requests.exceptions.ConnectionError):
            get(gw, f"/ipfs/{dag.hello}?format=raw")
        gw.restart()
        assert get(gw, f"/ipfs/{dag.hello}?format=raw").status_code == 200
        assert gw.count(path=f"/ipfs/{dag.hello}", status=200) == 2
        assert gw.count(path=f"/ipfs/{dag.hello}?format=raw") == 6


# ---------------------------------------------------------------- ipfsspec 0.6.0, unchanged

@pytest.fixture()
def ipfs_fs(gateway):
    from ipfsspec import AsyncIPFSFileSystem

    # gateway_addr bypasses ipfsspec's lru_cached IPFS_GATEWAY lookup;
    # skip_instance_cache keeps fsspec from handing back a filesystem of another test.
    fs = AsyncIPFSFileSystem(gateway_addr=gateway.url, skip_instance_cache=True)
    yield fs


def test_ipfsspec_reads_lists_and_describes(ipfs_fs, dag, gateway):
    gateway.reset_counts()
    assert ipfs_fs.cat(f"{dag.root}/big.bin") == BIG
    with ipfs_fs.open(f"ipfs://{dag.root}/sub/a.txt") as f:
        assert f.read() == b"a file in sub\n"
    info = ipfs_fs.info(f"{dag.root}/big.bin")
    assert (info["type"], info["size"], info["CID"]) == ("file", len(BIG), str(dag.big))
    assert ipfs_fs.info(f"{dag.root}/hello.txt")["size"] == len(b"hello world\n")
    assert ipfs_fs.info(f"{dag.root}/sub")["type"] == "directory"
    assert sorted(ipfs_fs.ls(f"{dag.root}", detail=False)) == sorted(
        f"{dag.root}/{n}" for n in ("big.bin", "hello.txt", "shard", "sub")
    )
    listing = {e["name"]: e for e in ipfs_fs.ls(f"{dag.root}/sub", detail=True)}
    assert listing[f"{dag.root}/sub/a.txt"]["CID"] == str(dag.a)
    with pytest.raises(FileNotFoundError):
        ipfs_fs.info(f"{dag.root}/nothing-here")
    with pytest.raises(FileNotFoundError):
        ipfs_fs.cat(f"{raw_cid(b'held by nobody')}")
    assert gateway.count(status=200) > 0 and gateway.count(status=500) == 0


def test_ipfsspec_through_fsspec_and_the_environment(gateway, dag, monkeypatch, tmp_path):
    # The configuration a user has: IPFS_GATEWAY, and fsspec's "ipfs" protocol.
    import ipfsspec.async_ipfs

    monkeypatch.setenv("IPFS_GATEWAY", gateway.url)
    ipfsspec.async_ipfs.get_gateway.cache_clear()
    try:
        fs = fsspec.filesystem("ipfs", skip_instance_cache=True)
        assert fs.cat_file(f"{dag.root}/hello.txt") == b"hello world\n"
        fs.get_file(f"{dag.root}/big.bin", str(tmp_path / "big.bin"))
        assert (tmp_path / "big.bin").read_bytes() == BIG
    finally:
        ipfsspec.async_ipfs.get_gateway.cache_clear()


def test_ipfsspec_rejects_a_tampering_gateway(dag):
    from ipfsspec import AsyncIPFSFileSystem

    with TrustlessGateway(dag.blocks, faults=Faults(tamper=True)) as gw:
        fs = AsyncIPFSFileSystem(gateway_addr=gw.url, skip_instance_cache=True)
        with pytest.raises(ValueError, match="corrupted"):
            fs.info(f"{dag.root}/big.bin")


# ---------------------------------------------------------------- tamper modes (issue 16)
# Checked with a CAR parser of the test's own (hashlib and multiformats only), so that
# neither the client's nor the gateway's CAR code decides what the bytes are.

def _uvarint(buf, pos):
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _parse_car(body):
    """``(header bytes, [(cid, block bytes), ...])`` of a CARv1, parsed independently."""
    length, pos = _uvarint(body, 0)
    header = body[pos:pos + length]
    pos += length
    sections = []
    while pos < len(body):
        length, start = _uvarint(body, pos)
        end = start + length
        # a CID's length: CIDv0 is a bare 34-byte sha2-256 multihash; CIDv1 is four varints + digest
        if body[start:start + 2] == b"\x12\x20":
            cid_end = start + 34
        else:
            p = start
            for _ in range(3):
                _, p = _uvarint(body, p)
            dlen, p = _uvarint(body, p)
            cid_end = p + dlen
        cid = CID.decode(body[start:cid_end])
        sections.append((cid, body[cid_end:end]))
        pos = end
    return header, sections


def _hashes_to(cid, block):
    from multiformats import multihash

    return multihash.digest(block, cid.hashfun.name) == bytes(cid.digest)


def test_car_answers_are_well_formed_by_an_independent_parser(gateway, dag):
    import dag_cbor

    r = get(gateway, f"/ipfs/{dag.root}/big.bin?format=car")
    header, sections = _parse_car(r.content)
    assert dag_cbor.decode(header) == {"version": 1, "roots": [dag.root]}
    assert [cid for cid, _ in sections][-len(dag.big_blocks):] == list(dag.big_blocks)
    assert all(_hashes_to(cid, block) for cid, block in sections)
    assert len({bytes(cid) for cid, _ in sections}) == len(sections)  # dups=n


def test_wrong_block_mode_serves_a_valid_block_under_the_wrong_cid(dag):
    with TrustlessGateway(dag.blocks, faults=Faults(mode="wrong_block")) as gw:
        raw = get(gw, f"/ipfs/{dag.hello}?format=raw").content
        assert raw != dag.blocks[dag.hello] and not _hashes_to(dag.hello, raw)
        assert _hashes_to(raw_cid(raw), raw)  # a valid block: of another CID
        _, sections = _parse_car(get(gw, f"/ipfs/{dag.big}?format=car").content)
    first_cid, first_block = sections[0]
    assert first_cid == dag.big and not _hashes_to(first_cid, first_block)
    assert any(_hashes_to(cid, first_block) for cid in dag.blocks)  # a genuine block of the DAG
    assert all(_hashes_to(cid, block) for cid, block in sections[1:])
    with pytest.raises(BlockVerificationError):
        read_car(get_car_with(dag, "wrong_block"))


def get_car_with(dag, mode):
    with TrustlessGateway(dag.blocks, faults=Faults(mode=mode)) as gw:
        return get(gw, f"/ipfs/{dag.big}?format=car").content


def test_car_header_mode_corrupts_only_the_header(dag):
    import dag_cbor

    honest = get_car_with(dag, None)
    body = get_car_with(dag, "car_header")
    length, pos = _uvarint(body, 0)
    assert len(body) == len(honest) and body[pos + length:] == honest[pos + length:]
    assert body[pos:pos + length] == b"\xff" * length
    with pytest.raises(dag_cbor.decoding.CBORDecodingError):
        dag_cbor.decode(body[pos:pos + length])
    with pytest.raises(BlockVerificationError):  # CarFormatError included
        read_car(body)


def test_flip_first_mode_alters_one_byte_of_the_first_block(dag):
    honest = get_car_with(dag, None)
    body = get_car_with(dag, "flip_first")
    assert len(body) == len(honest)
    diff = [i for i in range(len(body)) if body[i] != honest[i]]
    assert len(diff) == 1
    _, sections = _parse_car(body)
    assert not _hashes_to(*sections[0]) and all(_hashes_to(c, b) for c, b in sections[1:])
    with pytest.raises(BlockVerificationError):
        read_car(body)


@pytest.mark.parametrize("mode", ["endless", "short", "truncate"])
def test_transport_modes_on_car_answers(dag, mode):
    honest = get_car_with(dag, None)
    with TrustlessGateway(dag.blocks, faults=Faults(mode=mode, seed=3)) as gw:
        with requests.get(f"{gw.url}/ipfs/{dag.big}?format=car", timeout=TIMEOUT, stream=True) as r:
            if mode == "endless":
                data = b""
                for chunk in r.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > len(honest) + 1_000_000:
                        break
                assert data.startswith(honest) and len(data) > len(honest) + 1_000_000
            elif mode == "short":
                assert r.content == honest[: len(honest) // 2]
            else:
                with pytest.raises(requests.exceptions.ChunkedEncodingError):
                    r.content  # noqa: B018 - reading is the test


def test_redirect_and_liar404_modes_on_the_gateway(dag):
    faults = Faults(mode="liar404")
    with TrustlessGateway(dag.blocks, faults=faults) as gw:
        assert get(gw, f"/ipfs/{dag.hello}?format=raw").status_code == 404
        faults.update(mode="redirect", redirect_url="http://127.0.0.1:9")
        r = get(gw, f"/ipfs/{dag.hello}?format=raw", allow_redirects=False)
        assert r.status_code == 302 and r.headers["Location"] == f"http://127.0.0.1:9/ipfs/{dag.hello}?format=raw"
        faults.update(mode=None)
        assert get(gw, f"/ipfs/{dag.hello}?format=raw").content == dag.blocks[dag.hello]
