"""Tests of the UnixFS importer (:mod:`eurec4a.publish.importer`).

Two groups:

* ``@pytest.mark.npm``: root CIDs compared with independent JavaScript implementations,
  ``ipfs-unixfs-importer`` (IPIP-499 profiles, kubo's parameters) and ``ipfs-car``
  (``@ipld/unixfs``), installed from the npm registry with the exact versions pinned in
  ``tests/npm/package-lock.json``. All inputs are generated deterministically in a temp
  dir and one node process computes every reference CID (``tests/npm/cids.mjs``).
* pure Python: CAR output read back and verified block by block, files read back
  through :class:`eurec4a.ipfs.unixfs.UnixFSReader`, determinism, options and errors.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eurec4a.ipfs.car import read_car
from eurec4a.ipfs.unixfs import UnixFSReader
from eurec4a.errors import PublishError
from eurec4a.ipfs.codecs import (
    UNIXFS_DIRECTORY,
    UNIXFS_HAMT_SHARD,
    UNIXFS_SYMLINK,
    decode_pbnode,
    decode_unixfs,
)
from eurec4a.publish.importer import (
    PROFILES,
    MemoryBlockStore,
    Profile,
    ProfileError,
    SourceError,
    get_profile,
    import_bytes,
    import_directory,
    import_file,
    import_to_car,
)

NPM_DIR = Path(__file__).parent / "npm"
#: `npm ci` downloads ~125 small packages; generous for a slow registry, still bounded.
NPM_CI_TIMEOUT = 600
#: One node run over every job (~45 MB files and a 5000-file directory per profile).
NODE_TIMEOUT = 600

KIB = 1024
MIB = 1024 * KIB


class Discard:
    """A sink that drops blocks (the CID is all these tests compare)."""

    def __init__(self) -> None:
        self.count = 0

    def put(self, cid, block) -> None:
        self.count += 1


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes."""
    return random.Random(f"{seed}-{size}").randbytes(size)


def write_file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- input trees

def make_tree(root: Path) -> Path:
    """Nested directories, unicode names whose UTF-8 and UTF-16 orders differ, no hidden, no empty dir."""
    files = {
        "a.txt": b"a file at the top\n",
        "a-b": b"dash sorts before dot",
        "B-upper": b"upper case sorts first",
        "sub/b.bin": payload(3000, 1),
        "sub/deeper/c.dat": payload(70_000, 2),
        "sub/deeper/deepest/d": b"d",
        "ünïcødé/日本語.txt": "こんにちは".encode(),
        "ünïcødé/\uff61half": b"U+FF61 (UTF-8 EF..)",
        "ünïcødé/\U0001f389party": b"U+1F389 (UTF-8 F0.., UTF-16 D83C..)",
        "empty-file": b"",
    }
    for rel, data in files.items():
        write_file(root / rel, data)
    return root


def make_nested(root: Path) -> Path:
    """The tree plus hidden files and directories and empty directories."""
    make_tree(root)
    write_file(root / ".hidden-file", b"secret")
    write_file(root / ".hidden-dir" / "x", b"x")
    write_file(root / "sub" / ".zattrs", b'{"zarr": true}')
    (root / "empty-dir").mkdir()
    (root / "sub" / "deeper" / "empty").mkdir()
    return root


def make_many(root: Path, count: int, prefix: str = "measurement-", suffix: str = ".nc") -> Path:
    """A flat directory of ``count`` small files with distinct contents."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = f"{prefix}{i:05d}{suffix}"
        (root / name).write_bytes(name.encode())
    return root


def make_nested_shards(root: Path) -> Path:
    """A directory that shards (small threshold) holding another one that shards too."""
    make_many(root, 40, prefix="top-", suffix="")
    make_many(root / "inner", 40, prefix="in-", suffix=".bin")
    make_many(root / "inner" / "deep", 3, prefix="deep-", suffix="")
    write_file(root / "inner" / "ユニコード", b"unicode in a shard")
    return root


# ---------------------------------------------------------------- reference cases

PROFILE_NAMES = list(PROFILES)

# (case id, kind, input name, profile, overrides, hidden, tool)
CASES: list[tuple[str, str, str, str, dict, bool, str]] = []


def _add(cid: str, kind: str, source: str, profile: str, overrides: dict | None = None,
         hidden: bool = False, tool: str = "importer") -> None:
    CASES.append((cid, kind, source, profile, overrides or {}, hidden, tool))


for _p in PROFILE_NAMES:
    _c = PROFILES[_p].chunk_size
    _w = PROFILES[_p].max_links
    _add(f"{_p}/file/empty", "file", "size-0", _p)
    _add(f"{_p}/file/one-byte", "file", "size-1", _p)
    _add(f"{_p}/file/one-chunk", "file", f"size-{_c}", _p)
    _add(f"{_p}/file/one-chunk-plus-1", "file", f"size-{_c + 1}", _p)
    _add(f"{_p}/file/three-chunks-plus-5", "file", f"size-{3 * _c + 5}", _p)
    if _w * _c <= 64 * MIB:  # the real second DAG level (174 x 256 KiB + 1 byte = 44.5 MiB)
        _add(f"{_p}/file/over-width", "file", f"size-{_w * _c + 1}", _p)
    # A second level with the profile's own width but 1 KiB chunks (1025 x 1 KiB for v1)
    _add(f"{_p}/file/width-exact-1k", "file", f"size-{_w * KIB}", _p, {"chunk_size": KIB})
    _add(f"{_p}/file/over-width-1k", "file", f"size-{_w * KIB + 7}", _p, {"chunk_size": KIB})
    # Deeper trees: 16-byte chunks, 4 links per node (2, 3 and 4 levels, partial last nodes)
    for _n in (64, 80, 256, 257, 1027):
        _add(f"{_p}/file/tiny-tree-{_n}", "file", f"size-{_n}", _p, {"chunk_size": 16, "max_links": 4})
    _add(f"{_p}/dir/tree", "dir", "tree", _p)
    _add(f"{_p}/dir/nested-no-hidden", "dir", "nested", _p)
    _add(f"{_p}/dir/nested-hidden", "dir", "nested", _p, hidden=True)
    _add(f"{_p}/dir/empty", "dir", "empty", _p)
    _add(f"{_p}/dir/hamt-default-threshold", "dir", "many", _p, hidden=True)
    _add(f"{_p}/dir/hamt-nested", "dir", "shards", _p, {"hamt_threshold": 500})
    _add(f"{_p}/dir/hamt-fanout-16", "dir", "shards", _p, {"hamt_threshold": 500, "hamt_fanout": 16})
    _add(f"{_p}/dir/threshold-at", "dir", "boundary", _p, {"hamt_threshold": "at"})
    _add(f"{_p}/dir/threshold-over", "dir", "boundary", _p, {"hamt_threshold": "over"})

# ipfs-car: CIDv1, raw leaves, 1 MiB chunks, 1024 wide: the unixfs-v1-2025 parameters
for _size in (0, 1, MIB, MIB + 1, 3 * MIB + 5):
    _add(f"ipfs-car/file/size-{_size}", "file", f"size-{_size}", "unixfs-v1-2025", tool="ipfs-car")
_add("ipfs-car/dir/tree", "dir", "tree", "unixfs-v1-2025", tool="ipfs-car")


def _make_source(name: str, base: Path) -> Path:
    path = base / name
    if path.exists():
        return path
    if name.startswith("size-"):
        return write_file(path, payload(int(name[5:])))
    if name == "tree":
        return make_tree(path)
    if name == "nested":
        return make_nested(path)
    if name == "empty":
        path.mkdir()
        return path
    if name == "many":  # over 256 KiB by every estimate: kubo's real sharding threshold
        return make_many(path, 5000)
    if name == "shards":
        return make_nested_shards(path)
    if name == "boundary":
        return make_many(path, 30, prefix="boundary-")
    raise AssertionError(name)


def _flat_size(path: Path, profile: Profile) -> int:
    """The directory's size by the profile's estimate, measured on the flat node we write."""
    store = MemoryBlockStore()
    root = import_directory(path, store, profile.replace(hamt_threshold=2**62))
    block = store.get(root)
    if profile.hamt_estimate == "block-bytes":
        return len(block)
    # links-bytes: UTF-8 name bytes plus CID bytes of every link
    return sum(len(link.name.encode()) + len(bytes(link.cid)) for link in decode_pbnode(block).links)


def _resolve(case: tuple, base: Path) -> tuple[Path, Profile, dict]:
    """Materialize a case's input; return it, the Python profile and the JS job options."""
    _, _, source, profile_name, overrides, _, _ = case
    path = _make_source(source, base)
    overrides = dict(overrides)
    if overrides.get("hamt_threshold") in ("at", "over"):
        size = _flat_size(path, PROFILES[profile_name])
        overrides["hamt_threshold"] = size if overrides["hamt_threshold"] == "at" else size - 1
    profile = get_profile(profile_name, **overrides)
    js = {}
    if "chunk_size" in overrides:
        js["chunkSize"] = overrides["chunk_size"]
    if "max_links" in overrides:
        js["maxLinks"] = overrides["max_links"]
    if "hamt_threshold" in overrides:
        js["threshold"] = overrides["hamt_threshold"]
    if "hamt_fanout" in overrides:
        js["fanoutBits"] = overrides["hamt_fanout"].bit_length() - 1
    return path, profile, js


# ---------------------------------------------------------------- npm fixtures

def _npm_installed() -> bool:
    wanted = json.loads((NPM_DIR / "package.json").read_text())["dependencies"]
    for name, version in wanted.items():
        manifest = NPM_DIR / "node_modules" / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text()).get("version") != version:
            return False
    return True


@pytest.fixture(scope="session")
def node_bin() -> str:
    """Node.js with the pinned reference packages installed into tests/npm/node_modules."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js >= 20 with npm is not installed: these tests compare root CIDs with the "
                    "JavaScript reference implementations (install Node.js >= 20 to run them)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    major = int(version.lstrip("v").split(".")[0]) if version.lstrip("v")[:1].isdigit() else 0
    if major < 20:
        pytest.skip(f"Node.js {version or '(unknown version)'} is too old: the JavaScript reference "
                    "implementations need Node.js >= 20")
    if not _npm_installed():
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NPM_DIR, capture_output=True, text=True, timeout=NPM_CI_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"npm ci in {NPM_DIR} did not finish within {NPM_CI_TIMEOUT} s")
        if proc.returncode != 0 or not _npm_installed():
            pytest.fail(f"npm ci in {NPM_DIR} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return node


@pytest.fixture(scope="module")
def reference(node_bin, tmp_path_factory) -> dict[str, tuple[str, Path, Profile, bool]]:
    """``case id -> (reference CID, input path, profile, hidden)`` from one node run."""
    base = tmp_path_factory.mktemp("unixfs-inputs")
    jobs = []
    resolved = {}
    for case in CASES:
        case_id, kind, _, profile_name, _, hidden, tool = case
        path, profile, js = _resolve(case, base)
        resolved[case_id] = (path, profile, hidden)
        jobs.append({"id": case_id, "tool": tool, "kind": kind, "path": str(path),
                     "profile": profile_name, "hidden": hidden, **js})
    jobs_file = base / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    try:
        proc = subprocess.run([node_bin, "cids.mjs", str(jobs_file)], cwd=NPM_DIR,
                              capture_output=True, text=True, timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"node cids.mjs did not finish within {NODE_TIMEOUT} s")
    if proc.returncode != 0:
        pytest.fail(f"node cids.mjs failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cids = json.loads(proc.stdout)
    return {cid: (cids[cid], *resolved[cid]) for cid in resolved}


@pytest.mark.npm
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_root_cid_matches_js(case, reference):
    case_id, kind = case[0], case[1]
    expected, path, profile, hidden = reference[case_id]
    sink = Discard()
    if kind == "file":
        cid, info = import_file(path, sink, profile)
        assert info.size == path.stat().st_size
        assert info.blocks == sink.count
    else:
        cid = import_directory(path, sink, profile, hidden=hidden)
    assert str(cid) == expected


@pytest.mark.npm
def test_reference_cases_exercise_what_they_claim(reference):
    """The inputs really shard / do not shard and build the DAG depths the case names say."""
    def root_node(case_id):
        _, path, profile, hidden = reference[case_id]
        store = MemoryBlockStore()
        root = import_directory(path, store, profile, hidden=hidden)
        node = decode_pbnode(store.get(root))
        return store, node, decode_unixfs(node.data)

    for p in PROFILE_NAMES:
        assert root_node(f"{p}/dir/threshold-at")[2].type == UNIXFS_DIRECTORY
        assert root_node(f"{p}/dir/threshold-over")[2].type == UNIXFS_HAMT_SHARD
        store, node, fs = root_node(f"{p}/dir/hamt-default-threshold")
        assert fs.type == UNIXFS_HAMT_SHARD and fs.fanout == 256 and fs.hash_type == 0x22
        assert all(len(link.name) == 2 for link in node.links)  # 5000 names: every slot a sub-shard
        store, node, fs = root_node(f"{p}/dir/hamt-nested")
        inner = next(link for link in node.links if link.name.endswith("inner"))
        assert decode_unixfs(decode_pbnode(store.get(inner.cid)).data).type == UNIXFS_HAMT_SHARD
        assert any(len(link.name) == 2 for link in node.links)  # a sub-shard inside the shard
        assert root_node(f"{p}/dir/hamt-fanout-16")[2].fanout == 16
        # the over-width files have two levels: root links point at File nodes, not leaves
        _, path, profile, _ = reference[f"{p}/file/over-width-1k"]
        store = MemoryBlockStore()
        cid, _ = import_file(path, store, profile)
        links = decode_pbnode(store.get(cid)).links
        assert len(links) == 2 and decode_pbnode(store.get(links[0].cid)).links


# ---------------------------------------------------------------- pure Python

def read_back(car_path: Path) -> tuple:
    roots, blocks = read_car(car_path.open("rb"))  # verifies every block against its CID
    assert len(roots) == 1
    root = roots[0]
    assert root in blocks
    reader = UnixFSReader(blocks.__getitem__)
    reachable = set(reader.walk_blocks(root))
    assert reachable == set(blocks), "the CAR holds exactly the blocks reachable from the root"
    return root, reader


def check_tree(reader: UnixFSReader, root, path: Path, hidden: bool) -> int:
    """Every file reads back equal, every directory lists exactly its names; returns files seen."""
    seen = 0
    on_disk = sorted(n for n in os.listdir(path) if hidden or not n.startswith("."))
    entries = reader.ls(root)
    assert [e.name for e in entries] == sorted(on_disk, key=lambda n: n.encode())
    for entry in entries:
        child = path / entry.name
        assert reader.resolve(root, entry.name) == entry.cid
        if child.is_symlink():
            assert entry.type == "symlink"
        elif child.is_dir():
            assert entry.type == "directory"
            seen += check_tree(reader, entry.cid, child, hidden)
        else:
            assert entry.type == "file" and entry.size == child.stat().st_size
            assert reader.read(entry.cid) == child.read_bytes()
            seen += 1
    return seen


# ------------------------------------------------- the spec, checked without the package's code
#
# A reader that shares nothing with eurec4a.ipfs (its own varints, protobuf walk, CAR
# parser and CID handling), so a bug shared by the package's writer and reader (a link
# order, a Tsize) cannot pass. dag-pb spec: links sorted by name bytes (stable), encoded
# before Data; Tsize = the cumulative size of the linked DAG's serialized blocks.


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _pb_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message; only wire types 0 (varint) and 2 (bytes)."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        else:
            raise AssertionError(f"wire type {wire} in a dag-pb block")
        out.append((field, value))
    return out


def _split_cid(buf: bytes, pos: int) -> tuple[bytes, int, int]:
    """(binary CID, codec, end) of the CID at ``pos``: CIDv0 is a bare sha2-256 multihash."""
    if buf[pos] == 0x12 and buf[pos + 1] == 0x20:
        return buf[pos:pos + 34], 0x70, pos + 34
    start = pos
    version, pos = _varint(buf, pos)
    assert version == 1
    codec, pos = _varint(buf, pos)
    _, pos = _varint(buf, pos)  # hash function
    length, pos = _varint(buf, pos)
    return buf[start:pos + length], codec, pos + length


def _spec_car(car_path: Path) -> tuple[bytes, dict[bytes, tuple[int, bytes]]]:
    """The root (binary CID) and the blocks (CID -> (codec, bytes)) of a CARv1, each hash checked."""
    buf = car_path.read_bytes()
    header_len, pos = _varint(buf, 0)
    header = buf[pos:pos + header_len]
    pos += header_len
    blocks = {}
    while pos < len(buf):
        length, pos = _varint(buf, pos)
        end = pos + length
        cid, codec, body = _split_cid(buf, pos)
        block = buf[body:end]
        assert cid[-32:] == hashlib.sha256(block).digest() and cid[-34:-32] == b"\x12\x20", "sha2-256 mismatch"
        blocks[cid] = (codec, block)
        pos = end
    # the header (dag-cbor {"roots": [CID], "version": 1}) holds the root as a tag-42 byte string: 0x00 + CID
    roots = [cid for cid in blocks if b"\x00" + cid in header]
    assert len(roots) == 1, "the header names exactly one root of the CAR"
    return roots[0], blocks


def _pb_node(block: bytes) -> tuple[bytes | None, list[tuple[bytes, bytes, int]]]:
    """Data and links (CID, name bytes, Tsize) of a dag-pb node, checking the canonical field order."""
    fields = _pb_fields(block)
    numbers = [f for f, _ in fields]
    assert numbers == sorted(numbers, reverse=True) and numbers.count(1) <= 1, "links before Data, one Data"
    links = []
    for field, value in fields:
        if field == 2:
            link = dict(_pb_fields(value))
            assert [f for f, _ in _pb_fields(value)] == sorted(link), "link fields in order Hash, Name, Tsize"
            links.append((link[1], link.get(2, b""), link[3]))
    data = next((v for f, v in fields if f == 1), None)
    return data, links


def _spec_check(car_path: Path, src: Path, hidden: bool = True) -> int:
    """Check the CAR of ``src`` against the specs, by themselves; returns the number of files checked."""
    root, blocks = _spec_car(car_path)
    sizes: dict[bytes, int] = {}

    def dag_size(cid: bytes) -> int:  # cumulative serialized size, shared sub-DAGs counted each time
        if cid not in sizes:
            codec, block = blocks[cid]
            sizes[cid] = len(block) + (sum(dag_size(c) for c, _, _ in _pb_node(block)[1]) if codec == 0x70 else 0)
        return sizes[cid]

    for cid, (codec, block) in blocks.items():
        if codec == 0x70:
            for child, name, tsize in _pb_node(block)[1]:
                assert tsize == dag_size(child), f"Tsize of link {name!r}: {tsize}, its DAG is {dag_size(child)} bytes"
            names = [name for _, name, _ in _pb_node(block)[1]]
            assert names == sorted(names), f"links not sorted by name bytes: {names}"

    def file_bytes(cid: bytes) -> bytes:
        codec, block = blocks[cid]
        if codec == 0x55:
            return block
        data, links = _pb_node(block)
        unixfs = _pb_fields(data)
        assert dict(unixfs)[1] == 2, "a file node"
        content = dict(unixfs).get(2, b"") + b"".join(file_bytes(c) for c, _, _ in links)
        assert dict(unixfs).get(3, len(content)) == len(content), "filesize"
        assert [v for f, v in unixfs if f == 4] == [len(file_bytes(c)) for c, _, _ in links], "blocksizes"
        return content

    def entries(cid: bytes) -> dict[bytes, bytes]:
        """Name -> CID of a directory, through HAMT shards (names prefixed by their hex bucket)."""
        data, links = _pb_node(blocks[cid][1])
        kind = dict(_pb_fields(data))[1]
        if kind == 1:
            return {name: c for c, name, _ in links}
        assert kind == 5, "a directory or a HAMT shard"
        width = len(f"{dict(_pb_fields(data))[6] - 1:X}")
        out = {}
        for c, name, _ in links:
            if len(name) == width:
                out.update(entries(c))  # a sub-shard
            else:
                out[name[width:]] = c
        return out

    def check(cid: bytes, path: Path) -> int:
        if path.is_file() and not path.is_symlink():
            assert file_bytes(cid) == path.read_bytes(), f"content of {path}"
            return 1
        on_disk = {n.encode() for n in os.listdir(path) if hidden or not n.startswith(".")}
        found = entries(cid)
        assert set(found) == on_disk, f"entries of {path}"
        return sum(check(c, path / name.decode()) for name, c in found.items() if not (path / name.decode()).is_symlink())

    return check(root, src)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_car_round_trip_directory(tmp_path, profile):
    src = make_nested(tmp_path / "src")
    make_nested_shards(src / "shards")
    car = tmp_path / "out.car"
    # small chunks and a small threshold so that the DAG has file trees and HAMT shards
    root = import_to_car(src, car, profile, chunk_size=1000, max_links=5, hamt_threshold=600)
    got, reader = read_back(car)
    assert got == root
    assert check_tree(reader, root, src, hidden=True) == 10 + 3 + 40 + 44
    assert _spec_check(car, src) == 10 + 3 + 40 + 44
    shard = reader.resolve(root, "shards")
    assert decode_unixfs(decode_pbnode(reader.get_block(shard)).data).type == UNIXFS_HAMT_SHARD
    assert reader.read(reader.resolve(root, "shards/inner/ユニコード")) == b"unicode in a shard"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 26_001])
def test_car_round_trip_file(tmp_path, profile, size):
    data = payload(size, 7)
    src = write_file(tmp_path / "f.bin", data)
    car = tmp_path / "f.car"
    root = import_to_car(src, car, profile, chunk_size=1000, max_links=5)
    got, reader = read_back(car)
    assert got == root == import_bytes(data, profile, chunk_size=1000, max_links=5)[0]
    assert reader.read(root) == data
    assert reader.read(root, 998, 1003) == data[998:1003]
    assert _spec_check(car, src) == 1


def test_car_of_single_raw_leaf_has_correct_header(tmp_path):
    # root is a CIDv1 raw block although the profile's nodes are CIDv0: the header is rewritten
    src = write_file(tmp_path / "small", b"tiny")
    root = import_to_car(src, tmp_path / "small.car", "kubo-raw-leaves")
    assert root.version == 1 and root.codec.name == "raw"
    assert read_back(tmp_path / "small.car")[0] == root


def test_deterministic(tmp_path):
    src = make_nested(tmp_path / "src")
    for profile in PROFILE_NAMES:
        a = import_to_car(src, tmp_path / "a.car", profile, hamt_threshold=300)
        b = import_to_car(src, tmp_path / "b.car", profile, hamt_threshold=300)
        assert a == b
        assert (tmp_path / "a.car").read_bytes() == (tmp_path / "b.car").read_bytes()
    # names listed in another order on disk give the same CID (creation order differs)
    other = tmp_path / "other"
    for rel in reversed([p.relative_to(src) for p in sorted(src.rglob("*"))]):
        target = other / rel
        if (src / rel).is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            write_file(target, (src / rel).read_bytes())
    assert import_directory(other, Discard(), hidden=True) == import_directory(src, Discard(), hidden=True)


def test_short_reads_give_the_same_cid():
    data = payload(50_000, 3)

    class Dribble(io.RawIOBase):
        def __init__(self):
            self.pos = 0
            self.rng = random.Random(1)

        def readable(self):
            return True

        def read(self, n=-1):
            n = min(n, self.rng.randint(1, 700))
            out = data[self.pos:self.pos + n]
            self.pos += len(out)
            return out

    expected = import_bytes(data, "unixfs-v0-2015", chunk_size=4096)[0]
    assert import_file(Dribble(), Discard(), "unixfs-v0-2015", chunk_size=4096)[0] == expected


def test_hidden_option(tmp_path):
    src = make_nested(tmp_path / "src")
    store = MemoryBlockStore()
    without = import_directory(src, store)
    with_hidden = import_directory(src, store, hidden=True)
    assert without != with_hidden
    reader = UnixFSReader(store.get)
    names = {e.name for e in reader.ls(without)}
    assert ".hidden-file" not in names and ".hidden-dir" not in names and "sub" in names
    assert ".zattrs" not in {e.name for e in reader.ls(reader.resolve(without, "sub"))}
    assert {".hidden-file", ".hidden-dir"} <= {e.name for e in reader.ls(with_hidden)}
    assert reader.read(reader.resolve(with_hidden, "sub/.zattrs")) == b'{"zarr": true}'


def test_symlinks_inside_are_preserved(tmp_path):
    src = make_tree(tmp_path / "src")
    os.symlink("sub/b.bin", src / "link")
    os.symlink("/nonexistent/target", src / "dangling")
    store = MemoryBlockStore()
    root = import_directory(src, store)
    reader = UnixFSReader(store.get)
    for name, target in (("link", b"sub/b.bin"), ("dangling", b"/nonexistent/target")):
        cid = reader.resolve(root, name)
        assert reader.entry(cid).type == "symlink"
        fs = decode_unixfs(decode_pbnode(store.get(cid)).data)
        assert fs.type == UNIXFS_SYMLINK and fs.data == target and fs.filesize is None
    # a symlink given as the path itself is followed
    os.symlink(src / "sub" / "b.bin", tmp_path / "top-link")
    assert import_file(tmp_path / "top-link", Discard())[0] == import_file(src / "sub" / "b.bin", Discard())[0]


MEMORY_PROBE = """
import gc, io, sys, tracemalloc
from eurec4a.publish.importer import get_profile, import_file
MIB = 1024 * 1024
profile = get_profile(sys.argv[1])
piece = bytes(range(256)) * 1024  # a reader that returns 256 KiB at most (short reads for 1 MiB chunks)

class Generated(io.RawIOBase):
    def __init__(self, size):
        self.left = size
    def readable(self):
        return True
    def read(self, n=-1):
        n = min(n, self.left, len(piece))
        self.left -= n
        return piece[:n]

class Discard:
    def put(self, cid, data):
        pass

import gc
gc.collect()  # start from a collected heap: the peak must not depend on import-time garbage
tracemalloc.start()
import_file(Generated(MIB), Discard(), profile)  # warm-up: lazy imports and caches are not the import's
for size in map(int, sys.argv[2:]):
    gc.collect()
    tracemalloc.reset_peak()
    baseline, _ = tracemalloc.get_traced_memory()
    cid, info = import_file(Generated(size * MIB), Discard(), profile)
    _, peak = tracemalloc.get_traced_memory()
    print(info.size, info.blocks, peak - baseline)
"""


@pytest.mark.parametrize("profile", ["unixfs-v0-2015", "unixfs-v1-2025"])
def test_memory_does_not_grow_with_file_size(profile):
    """Peak memory while importing a 16 MiB and a 128 MiB stream: a few chunk buffers, the same for both.

    Peaks are measured against a baseline taken in the same process just before each
    import, in a process of its own: tracemalloc counts every thread, and the test
    session runs server threads that allocate on their own schedule.
    """
    chunk = get_profile(profile).chunk_size
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, profile, "16", "128"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (small_size, small_blocks, small), (large_size, large_blocks, large) = (
        map(int, line.split()) for line in out.stdout.split("\n") if line)
    assert (small_size, large_size) == (16 * MIB, 128 * MIB) and large_blocks > 8 * small_blocks - 8
    # the chunk being read, its encoded block and the parts joined into it; never one per chunk of the file
    assert small <= 4 * chunk, f"{small / chunk:.1f} chunks alive at the peak of a 16 MiB import"
    assert large - small < chunk // 2, f"peak grew by {large - small} bytes from 16 to 128 MiB"


def test_profiles_and_overrides():
    assert set(PROFILES) == {"unixfs-v0-2015", "unixfs-v1-2025", "kubo-raw-leaves"}
    v0 = PROFILES["unixfs-v0-2015"]
    assert (v0.cid_version, v0.raw_leaves, v0.chunk_size, v0.max_links, v0.hamt_threshold) == (0, False, 262144, 174, 262144)
    v1 = PROFILES["unixfs-v1-2025"]
    assert (v1.cid_version, v1.raw_leaves, v1.chunk_size, v1.max_links, v1.hamt_estimate) == (1, True, 1048576, 1024, "block-bytes")
    assert get_profile("unixfs-v1-2025", hamt_threshold=10).hamt_threshold == 10
    assert get_profile(v0) is v0
    with pytest.raises(dataclasses.FrozenInstanceError):
        v0.chunk_size = 1  # frozen
    # raw leaves are CIDv1 raw even under CIDv0 nodes; nodes follow the profile's version
    cid, blocks = import_bytes(payload(600_000), "kubo-raw-leaves")
    assert cid.version == 0
    assert {(c.version, c.codec.name) for c in blocks if c != cid} == {(1, "raw")}


@pytest.mark.parametrize("bad, match", [
    ({"profile": "unixfs-v2"}, "unixfs-v0-2015, unixfs-v1-2025, kubo-raw-leaves"),
    ({"profile": 3}, "accepted profiles"),
    ({"chunk_size": 0}, "chunk_size=0"),
    ({"chunk_size": -5}, "chunk_size=-5"),
    ({"chunk_size": 2 * MIB}, "chunk_size"),
    ({"max_links": 1}, "max_links"),
    ({"hamt_threshold": -1}, "hamt_threshold"),
    ({"hamt_fanout": 100}, "power of two"),
    ({"cid_version": 2}, "cid_version"),
    ({"hamt_estimate": "links-count"}, "links-bytes, block-bytes"),
    ({"colour": "red"}, "unknown profile field"),
])
def test_bad_profile(bad, match):
    bad = dict(bad)
    profile = bad.pop("profile", "unixfs-v1-2025")
    with pytest.raises(ProfileError, match=match) as info:
        import_bytes(b"x", profile, **bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, PublishError)


def test_bad_sources(tmp_path):
    missing = tmp_path / "missing"
    for call in (lambda: import_file(missing, Discard()),
                 lambda: import_directory(missing, Discard()),
                 lambda: import_to_car(missing, tmp_path / "x.car")):
        with pytest.raises(SourceError, match="missing") as info:
            call()
        assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, PublishError)
    a_file = write_file(tmp_path / "f", b"f")
    with pytest.raises(SourceError, match="not one"):
        import_directory(a_file, Discard())
    with pytest.raises(SourceError, match="is a directory"):
        import_file(tmp_path, Discard())
    with pytest.raises(SourceError, match="does not exist"):
        import_to_car(a_file, tmp_path / "nodir" / "x.car")
    with pytest.raises(PublishError, match="binary mode"):
        import_file(io.StringIO("text"), Discard())
    with pytest.raises(SourceError, match="pass a path or a binary file object"):
        import_file(42, Discard())
    with pytest.raises(SourceError, match="needs bytes"):
        import_bytes("text")


def test_car_inside_source_is_refused_and_failures_leave_nothing(tmp_path):
    src = make_tree(tmp_path / "src")
    with pytest.raises(PublishError, match="inside the directory"):
        import_to_car(src, src / "sub" / "self.car")
    os.mkfifo(src / "sub" / "pipe")
    with pytest.raises(SourceError, match="FIFO"):
        import_to_car(src, tmp_path / "out.car")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_name_that_is_not_utf8(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with open(os.path.join(os.fsencode(src), b"bad-\xff-name"), "wb") as f:
        f.write(b"x")
    with pytest.raises(SourceError, match="not valid UTF-8"):
        import_directory(src, Discard())


@pytest.mark.parametrize("profile", ["unixfs-v0-2015", "unixfs-v1-2025"])
def test_missing_blocks_of_a_range_follow_present_nodes_only(tmp_path, profile):
    """The blocks a byte range needs, level by level: present nodes are followed, missing ones listed."""
    data = random.Random(3).randbytes(16384)  # 16 distinct chunks of 1 KiB under 4 nodes of 4 under the root
    (tmp_path / "f").write_bytes(data)
    store = MemoryBlockStore()
    root = import_file(tmp_path / "f", store, profile, chunk_size=1024, max_links=4)[0]
    reader = UnixFSReader(store.get)
    node = reader.node(root)[0]
    inner = [link.cid for link in node.links]
    leaves = [link.cid for cid in inner for link in reader.node(cid)[0].links]
    assert len(inner) == 4 and len(leaves) == 16
    have = {root}
    assert reader.missing_blocks(root, 0, None, lambda c: False) == [root]
    assert reader.missing_blocks(root, 5000, 5010, have.__contains__) == [inner[1]]  # bytes 4096-8191
    assert reader.missing_blocks(root, 4000, 4200, have.__contains__) == [inner[0], inner[1]]
    have |= {inner[0], inner[1]}
    assert reader.missing_blocks(root, 5000, 5010, have.__contains__) == [leaves[4]]
    assert reader.missing_blocks(root, 4000, 4200, have.__contains__) == [leaves[3], leaves[4]]
    assert reader.missing_blocks(root, 15000, None, have.__contains__) == [inner[3]]
    assert reader.missing_blocks(root, 16384, None, have.__contains__) == []  # past the end
    have |= set(leaves[3:5])
    assert reader.missing_blocks(root, 3072, 5120, have.__contains__) == []
    assert reader.read(root, 3072, 5120) == data[3072:5120]
