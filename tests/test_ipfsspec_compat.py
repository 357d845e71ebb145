"""Differential check: the same fsspec operations through our ``ipfs`` filesystem and stock ipfsspec 0.6.

Both ask the same local trustless gateway. Results must be equal, except for the
documented, deliberate differences (module docstring of
:mod:`eurec4a.ipfs.filesystem`): directories raise ``IsADirectoryError`` on ``cat``,
HAMT directories work, ``/ipfs/CID/...`` paths are accepted.
"""
from __future__ import annotations

import asyncio

import pytest

import eurec4a  # noqa: F401  (registers the filesystem)
from eurec4a.errors import InvalidCIDError
from eurec4a.ipfs.filesystem import IPFSFileSystem
from eurec4a.publish.importer import MemoryBlockStore, import_directory
from eurec4a.testing.gateway import TrustlessGateway

ipfsspec = pytest.importorskip("ipfsspec")  # a test dependency: missing means a broken test environment

# ipfsspec's own session finalizer calls fsspec's sync() from inside the event loop when
# an instance is garbage-collected there; that noise is ipfsspec's, not under test here.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB, several chunks


def _tree(tmp_path):
    root = tmp_path / "tree"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "catalog.yml").write_text("sources: {}\n")
    (root / "sub" / "data.bin").write_bytes(PAYLOAD)
    (root / "sub" / "deeper" / "x.txt").write_text("x")
    (root / "sub" / ".zattrs").write_text('{"title": "hidden"}')
    (root / "many").mkdir()
    for i in range(40):
        (root / "many" / f"0.{i}").write_bytes(f"chunk {i}".encode())
    return root


@pytest.fixture(scope="module", params=["unixfs-v0-2015", "unixfs-v1-2025"])
def served(request, tmp_path_factory):
    store = MemoryBlockStore()
    root = import_directory(_tree(tmp_path_factory.mktemp(request.param)), store, request.param, hidden=True,
                            chunk_size=65536, hamt_threshold=100000)
    with TrustlessGateway(dict(store.blocks)) as gw:
        yield str(root), gw


@pytest.fixture
def both(served):
    root, gw = served
    ours = IPFSFileSystem(gateway_addr=gw.url, skip_instance_cache=True)
    theirs = ipfsspec.AsyncIPFSFileSystem(gateway_addr=gw.url, skip_instance_cache=True)
    return root, ours, theirs


def _outcome(call):
    """The result of ``call()``, or the built-in exception class it raised (what user code catches)."""
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 - we compare what happens, whatever it is
        for builtin in (IsADirectoryError, NotADirectoryError, FileNotFoundError, ValueError, OSError):
            if isinstance(exc, builtin):
                return ("raises", builtin)
        return ("raises", type(exc))


OPERATIONS = [
    ("info file", lambda fs, r: fs.info(f"ipfs://{r}/catalog.yml")),
    ("info dir", lambda fs, r: fs.info(f"ipfs://{r}/sub")),
    ("info root", lambda fs, r: fs.info(r)),
    ("info big file", lambda fs, r: fs.info(f"{r}/sub/data.bin")),
    ("info missing", lambda fs, r: fs.info(f"{r}/sub/missing")),
    ("ls names", lambda fs, r: sorted(fs.ls(f"ipfs://{r}/sub", detail=False))),
    ("ls detail", lambda fs, r: sorted(fs.ls(f"ipfs://{r}/sub", detail=True), key=lambda e: e["name"])),
    ("ls root", lambda fs, r: sorted(fs.ls(r, detail=False))),
    ("cat", lambda fs, r: fs.cat(f"ipfs://{r}/catalog.yml")),
    ("cat big", lambda fs, r: fs.cat(f"ipfs://{r}/sub/data.bin")),
    ("cat_file range", lambda fs, r: fs.cat_file(f"ipfs://{r}/sub/data.bin", 70000, 70010)),
    ("cat_file open end", lambda fs, r: fs.cat_file(f"ipfs://{r}/sub/data.bin", 262000)),
    ("cat_file negative", lambda fs, r: fs.cat_file(f"ipfs://{r}/sub/data.bin", -5)),
    ("cat missing", lambda fs, r: fs.cat(f"ipfs://{r}/nothing")),
    ("open read", lambda fs, r: fs.open(f"ipfs://{r}/sub/deeper/x.txt").read()),
    ("exists file", lambda fs, r: fs.exists(f"ipfs://{r}/catalog.yml")),
    ("exists dir", lambda fs, r: fs.exists(f"ipfs://{r}/sub")),
    ("exists missing", lambda fs, r: fs.exists(f"ipfs://{r}/sub/missing")),
    ("isdir", lambda fs, r: (fs.isdir(f"{r}/sub"), fs.isdir(f"{r}/catalog.yml"))),
    ("isfile", lambda fs, r: (fs.isfile(f"{r}/sub"), fs.isfile(f"{r}/catalog.yml"))),
    ("size", lambda fs, r: (fs.size(f"{r}/sub/data.bin"), fs.size(f"{r}/sub"))),
    ("checksum", lambda fs, r: fs.checksum(f"ipfs://{r}/catalog.yml")),
    ("ukey", lambda fs, r: fs.ukey(f"ipfs://{r}/sub/data.bin")),
    ("protocol", lambda fs, r: fs.protocol),
    ("protocol concatenates", lambda fs, r: fs.protocol + "://" + r),
    ("invalid cid exists", lambda fs, r: fs.exists("ipfs://notacid/x")),
    ("invalid cid isdir", lambda fs, r: fs.isdir("notacid/x")),
    ("invalid cid isfile", lambda fs, r: fs.isfile("notacid")),
    ("invalid cid info", lambda fs, r: fs.info("ipfs://notacid/x")),
    ("find", lambda fs, r: sorted(fs.find(f"{r}/sub"))),
    ("walk", lambda fs, r: sorted((d, sorted(ds), sorted(fs_)) for d, ds, fs_ in fs.walk(f"{r}/sub"))),
    ("glob", lambda fs, r: sorted(fs.glob(f"{r}/sub/*.bin"))),
]


@pytest.mark.parametrize("name,operation", OPERATIONS, ids=[name for name, _ in OPERATIONS])
def test_same_result_as_ipfsspec(both, name, operation):
    root, ours, theirs = both
    expected = _outcome(lambda: operation(theirs, root))
    got = _outcome(lambda: operation(ours, root))
    assert got == expected


def test_invalid_cid_is_both_file_not_found_and_invalid_cid(both):
    _, ours, _ = both
    with pytest.raises(FileNotFoundError) as info:
        ours.info("ipfs://notacid/x")
    assert isinstance(info.value, InvalidCIDError)


def test_async_api_matches(both):
    root, ours, theirs = both

    async def run(fs):
        return (
            await fs._cat_file(f"{root}/catalog.yml"),
            await fs._cat_file(f"{root}/sub/data.bin", 10, 20),
            await fs._info(f"{root}/sub"),
            sorted(await fs._ls(f"{root}/sub", detail=False)),
            await fs._exists(f"{root}/sub/missing"),
            await fs._isdir(f"{root}/sub"),
            await fs._isfile(f"{root}/catalog.yml"),
            await fs._cat([f"{root}/catalog.yml", f"{root}/sub/deeper/x.txt"]),
        )

    async def both_async():
        served_root = root
        ours_async = IPFSFileSystem(gateway_addr=ours.gateway_urls[0], asynchronous=True, skip_instance_cache=True)
        theirs_async = ipfsspec.AsyncIPFSFileSystem(gateway_addr=ours.gateway_urls[0], asynchronous=True,
                                                    skip_instance_cache=True)
        assert served_root
        mine = await run(ours_async)
        other = await run(theirs_async)
        await (await theirs_async.set_session()).close()
        return mine, other

    mine, other = asyncio.run(both_async())
    assert mine == other


def test_get_file_downloads_the_same_bytes(both, tmp_path):
    root, ours, theirs = both
    ours.get_file(f"{root}/sub/data.bin", str(tmp_path / "ours"))
    theirs.get_file(f"{root}/sub/data.bin", str(tmp_path / "theirs"))
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "theirs").read_bytes() == PAYLOAD


# ---------------------------------------------------------------- documented differences
def test_difference_cat_of_a_directory_raises(both):
    root, ours, theirs = both
    assert b"<html" in theirs.cat(f"{root}/sub").lower()  # ipfsspec: the gateway's HTML listing
    with pytest.raises(IsADirectoryError):
        ours.cat(f"{root}/sub")


def test_difference_ipfs_prefixed_paths_are_accepted(both):
    root, ours, theirs = both
    assert ours.cat(f"/ipfs/{root}/catalog.yml") == theirs.cat(f"{root}/catalog.yml")


def test_difference_hamt_directories_work(tmp_path):
    store = MemoryBlockStore()
    root = import_directory(_tree(tmp_path), store, "unixfs-v1-2025", hidden=True, hamt_threshold=100)
    with TrustlessGateway(dict(store.blocks)) as gw:
        ours = IPFSFileSystem(gateway_addr=gw.url, skip_instance_cache=True)
        theirs = ipfsspec.AsyncIPFSFileSystem(gateway_addr=gw.url, skip_instance_cache=True)
        assert ours.cat(f"{root}/many/0.7") == theirs.cat(f"{root}/many/0.7") == b"chunk 7"
        assert len(ours.ls(f"{root}/many", detail=False)) == 40
        with pytest.raises((NotImplementedError, NotADirectoryError)):  # ipfsspec cannot list a HAMT
            theirs.ls(f"{root}/many")


def test_unknown_constructor_keyword_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="gatewayaddr"):
        IPFSFileSystem(gatewayaddr="http://127.0.0.1:1", skip_instance_cache=True)


def test_gateway_addr_is_asked_first(served):
    root, gw = served
    fs = IPFSFileSystem(gateway_addr=gw.url, gateways=["http://127.0.0.1:9"], skip_instance_cache=True)
    assert fs.gateway_urls == [gw.url, "http://127.0.0.1:9"]
    before = gw.count()
    assert fs.cat(f"{root}/catalog.yml") == b"sources: {}\n"
    assert gw.count() > before
