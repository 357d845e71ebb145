"""The ``ipfs://`` filesystem against the local trustless gateway: verified, cached, failing over."""
import pickle

import fsspec
import pytest

from eurec4a.cache import BlockCache
from eurec4a.errors import ContentNotFoundError, GatewayError
from eurec4a.ipfs.filesystem import IPFSFileSystem
from eurec4a.testing.gateway import BlockStore, TrustlessGateway
from eurec4a.publish.importer import MemoryBlockStore, import_directory

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: several chunks, a two-level file DAG with small chunks


def _tree(tmp_path):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "catalog.yml").write_text("sources: {}\n")
    (root / "sub" / "data.bin").write_bytes(PAYLOAD)
    (root / "sub" / ".zattrs").write_text('{"title": "hidden"}')
    shard = root / "many"
    shard.mkdir()
    for i in range(300):
        (shard / f"0.{i}").write_bytes(f"chunk {i}".encode())
    return root


@pytest.fixture(params=["unixfs-v0-2015", "unixfs-v1-2025"])
def content(request, tmp_path):
    store = MemoryBlockStore()
    # small chunks and a low sharding threshold, so files have inner nodes and "many" is a HAMT
    root = import_directory(_tree(tmp_path), store, request.param, hidden=True, chunk_size=65536,
                            hamt_threshold=1000)
    return root, dict(store.blocks)


def _fs(*gateways, **kw):
    return IPFSFileSystem(gateways=[g.url for g in gateways], skip_instance_cache=True, **kw)


def test_reads_files_ranges_and_listings(content):
    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw)
        assert fs.cat(f"ipfs://{root}/catalog.yml") == b"sources: {}\n"
        assert fs.cat(f"ipfs://{root}/sub/data.bin") == PAYLOAD
        assert fs.cat_file(f"ipfs://{root}/sub/data.bin", 70000, 70010) == PAYLOAD[70000:70010]
        assert fs.cat_file(f"ipfs://{root}/sub/data.bin", -5) == PAYLOAD[-5:]
        with fs.open(f"ipfs://{root}/sub/data.bin") as f:
            f.seek(200000)
            assert f.read(100) == PAYLOAD[200000:200100]
        assert fs.info(f"ipfs://{root}/sub/data.bin")["size"] == len(PAYLOAD)
        assert fs.info(f"ipfs://{root}/sub")["type"] == "directory"
        assert sorted(fs.ls(f"ipfs://{root}/sub", detail=False)) == [f"{root}/sub/.zattrs", f"{root}/sub/data.bin"]
        names = fs.ls(f"ipfs://{root}/many", detail=False)
        assert len(names) == 300
        assert fs.cat(f"ipfs://{root}/many/0.123") == b"chunk 123"  # through the HAMT shard
        assert fs.exists(f"ipfs://{root}/sub/.zattrs")
        assert not fs.exists(f"ipfs://{root}/sub/missing")


def test_one_request_per_cold_file_and_none_when_cached(content):
    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw)
        fs.cat(f"ipfs://{root}/sub/data.bin")
        assert gw.count() == 1  # path blocks and the whole file in one CAR
        fs.cat(f"ipfs://{root}/sub/data.bin")
        assert gw.count() == 1
        # a new process (fresh instance, fresh memory) sharing the cache: zero requests
        again = _fs(gw)
        assert again.cat(f"ipfs://{root}/sub/data.bin") == PAYLOAD
        assert gw.count() == 1


@pytest.mark.parametrize("profile", ["unixfs-v0-2015", "unixfs-v1-2025"])
def test_ranges_of_one_file_read_at_once_fetch_each_block_once(tmp_path, profile):
    """Many ranges of one file at once (zarr v3 shards: one inner chunk per read): no block twice."""
    import asyncio
    import random

    payload = random.Random(12).randbytes(1024 * 1024)  # 16 distinct blocks of 64 KiB
    (tmp_path / "tree" / "var").mkdir(parents=True)
    (tmp_path / "tree" / "var" / "shard").write_bytes(payload)
    store = MemoryBlockStore()
    root = import_directory(tmp_path / "tree", store, profile, chunk_size=65536)
    with TrustlessGateway(dict(store.blocks)) as gw:
        fs = _fs(gw)
        path = f"{root}/var/shard"
        size = fs.info(path)["size"]  # brings the file's root block, as a shard's index read does
        before = gw.count()

        async def ranges():
            return await asyncio.gather(*(fs._cat_file(path, lo, lo + 16384) for lo in range(0, size, 16384)))

        assert b"".join(asyncio.run_coroutine_threadsafe(ranges(), fs.loop).result(60)) == payload
        asked = [r.path for r in gw.requests[before:]]
        # one request per block of 64 KiB, each asked once, by whichever range needed it first
        # (a CAR per range sent every block four times)
        assert len(asked) == len(set(asked)) == size // 65536, asked
        assert all("format=raw" in p for p in asked)
        assert fs.statistics["bytes_received"] <= 1.01 * size + 4096
        assert _fs(gw).cat_file(path, 70000, 70010) == payload[70000:70010]
        assert gw.count() == before + len(asked)  # stored: a fresh filesystem asks nothing


@pytest.mark.parametrize("profile", ["unixfs-v0-2015", "kubo-raw-leaves"])
def test_first_reads_below_a_cold_directory_bring_its_block_once(tmp_path, profile):
    """Eight first reads at once below a variable's directory not here yet: its block comes once.

    A variable of thousands of chunks has a directory block of a hundred KiB and more;
    every read asking by path gets it in its answer (8 reads at once sent it 8 times).
    """
    import asyncio

    from eurec4a.ipfs import filesystem

    var = tmp_path / "tree" / "var"
    var.mkdir(parents=True)
    # 3,000 chunks of 2 KiB, all different: more than SMALL_DIRECTORY_BYTES in all
    chunks = {f"{i}.0": i.to_bytes(4, "big") * 512 for i in range(3000)}
    for name, data in chunks.items():
        (var / name).write_bytes(data)
    (tmp_path / "tree" / "meta.json").write_text("{}")
    store = MemoryBlockStore()
    root = import_directory(tmp_path / "tree", store, profile)
    with TrustlessGateway(dict(store.blocks)) as gw:
        fs = _fs(gw)
        fs.cat_file(f"{root}/meta.json")  # the root block is here, the variable's directory is not
        var_cid = fs.reader.lookup(root, "var").cid
        dir_block = len(store.blocks[var_cid])
        assert dir_block > 100_000 and fs.reader.lookup(root, "var").tsize > filesystem.SMALL_DIRECTORY_BYTES
        before = fs.statistics["bytes_received"]
        names = [f"{i}.0" for i in range(0, 3000, 375)]

        async def first_reads():
            return await asyncio.gather(*(fs._cat_file(f"{root}/var/{n}") for n in names))

        got = asyncio.run_coroutine_threadsafe(first_reads(), fs.loop).result(60)
        assert got == [chunks[n] for n in names]
        received = fs.statistics["bytes_received"] - before
        assert dir_block <= received < 1.5 * dir_block, (received, dir_block)
        count = gw.count()
        assert [_fs(gw).cat_file(f"{root}/var/{n}") for n in names] == got
        assert gw.count() == count  # stored: a fresh filesystem asks nothing


def test_a_shared_block_fetch_failing_fails_every_range_waiting_for_it(content):
    import asyncio

    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw, deadline=3, timeout=1)
        path = f"{root}/sub/data.bin"
        fs.info(path)
        gw.faults.failure_rate = 1.0

        async def ranges():
            return await asyncio.gather(*(fs._cat_file(path, lo, lo + 1000) for lo in range(0, 4000, 1000)),
                                        return_exceptions=True)

        got = asyncio.run_coroutine_threadsafe(ranges(), fs.loop).result(60)
        assert all(isinstance(g, GatewayError) for g in got), got
        assert not fs._block_flights  # nothing left under way
        gw.faults.failure_rate = 0.0
        assert fs.cat_file(path, 0, 4000) == PAYLOAD[:4000]


def test_prefetch_fetches_a_tree_once(content):
    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw)
        assert fs.prefetch(f"ipfs://{root}") == 1
        assert fs.prefetch(f"ipfs://{root}") == 0
        fs.cat(f"ipfs://{root}/catalog.yml")
        fs.cat(f"ipfs://{root}/many/0.7")
        assert gw.count() == 1


def test_corrupted_cache_entry_is_detected_and_refetched(content):
    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw)
        fs.cat(f"ipfs://{root}/catalog.yml")
        cache = BlockCache()
        file_cid = fs.info(f"ipfs://{root}/catalog.yml")["CID"]
        path, offset, length = cache.locate(file_cid)  # alone or in a pack
        data = bytearray(path.read_bytes())
        data[offset + length - 1] ^= 0xFF
        path.write_bytes(bytes(data))
        fresh = _fs(gw)
        before = gw.count()
        assert fresh.cat(f"ipfs://{root}/catalog.yml") == b"sources: {}\n"
        assert gw.count() == before + 1


def test_tampering_gateway_is_never_believed(content):
    root, blocks = content
    with TrustlessGateway(blocks) as bad, TrustlessGateway(blocks) as good:
        bad.faults.tamper = True
        fs = _fs(bad, good)
        for _ in range(3):
            assert fs.cat(f"ipfs://{root}/sub/data.bin") == PAYLOAD
            assert fs.cat(f"ipfs://{root}/many/0.42") == b"chunk 42"
        assert bad.count() == 1  # asked once, then left alone
        assert good.count() >= 1


def test_only_gateway_tampers_is_an_error_not_data(content):
    root, blocks = content
    with TrustlessGateway(blocks) as bad:
        bad.faults.tamper = True
        fs = _fs(bad)
        with pytest.raises(GatewayError) as info:
            fs.cat(f"ipfs://{root}/catalog.yml")
        assert bad.url in str(info.value) and "do not match" in str(info.value)
        # what was stored are the verified blocks that came before the altered one, never altered bytes
        genuine = set(blocks.values())
        stored = list(BlockCache().stored_blocks())  # alone or in packs, as on disk
        assert all(data in genuine for data in stored)


def test_a_whole_dag_stream_with_an_altered_leaf_is_refused(content):
    """``fetch_dag`` (``pull``) hashes leaves beside the stream (deferred): an altered one still fails the answer."""
    root, blocks = content
    with TrustlessGateway(blocks) as bad:
        bad.faults.tamper = True  # the body's last byte: a leaf, hashed in the storing thread
        fs = _fs(bad)
        with pytest.raises(GatewayError) as info:
            fs.fetch_dag(root)
        assert "do not match" in str(info.value)
        assert bad.count() == 1  # refused while streaming (not later, when reading the cache back)
        assert not fs.cache.is_complete(root)
        genuine = set(blocks.values())
        assert all(data in genuine for data in BlockCache().stored_blocks())
    with TrustlessGateway(blocks) as bad, TrustlessGateway(blocks) as good:
        bad.faults.tamper = True
        fs = _fs(bad, good)
        assert fs.fetch_dag(root) == sum(map(len, blocks.values()))
        assert fs.cache.is_complete(root)
        assert fs.cat(f"ipfs://{root}/sub/data.bin") == PAYLOAD
        assert good.count() == 1 and bad.count() == 1


def test_failover_when_first_gateway_is_down(content):
    root, blocks = content
    with TrustlessGateway(blocks) as down, TrustlessGateway(blocks) as up:
        down.faults.down = True
        fs = _fs(down, up)
        for i in range(20):
            assert fs.cat(f"ipfs://{root}/many/0.{i}") == f"chunk {i}".encode()


def test_flaky_gateway_all_reads_succeed(content):
    root, blocks = content
    with TrustlessGateway(blocks) as flaky:
        flaky.faults.seed = 7
        flaky.faults.failure_rate = 0.3
        fs = _fs(flaky)
        for i in range(20):
            assert fs.cat(f"ipfs://{root}/many/0.{i}") == f"chunk {i}".encode()
        assert flaky.count() > 20  # some requests failed and were retried


def test_not_found_is_definitive_when_every_gateway_agrees(content):
    root, blocks = content
    with TrustlessGateway(blocks) as first, TrustlessGateway(blocks) as second:
        fs = _fs(first, second)
        with pytest.raises(ContentNotFoundError, match="typo"):
            fs.cat("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N/catalog.yml")
        # the path's 404 at the first gateway, then the CID itself at each: no retries, no sweep
        assert first.count() == 2 and second.count() == 1
        with pytest.raises(FileNotFoundError):
            fs.cat(f"ipfs://{root}/no/such/file")


def test_a_404_from_a_gateway_lacking_the_content_fails_over(content):
    root, blocks = content
    with TrustlessGateway(BlockStore()) as empty, TrustlessGateway(blocks) as full:
        fs = _fs(empty, full)
        assert fs.cat(f"ipfs://{root}/sub/data.bin") == PAYLOAD
        # the path at the root (404), the root alone, the rest of the path: each asked of the
        # lacking gateway first, answered by the other; never a definitive "not found"
        assert empty.count() <= 3 and full.count() <= 2


def test_rate_limited_gateway_is_rested_not_hammered(content):
    root, blocks = content
    with TrustlessGateway(blocks) as limited, TrustlessGateway(blocks) as other:
        limited.faults.failure_status = 429
        limited.faults.retry_after = 30
        limited.faults.failure_rate = 1.0
        fs = _fs(limited, other)
        for i in range(10):
            assert fs.cat(f"ipfs://{root}/many/0.{i}") == f"chunk {i}".encode()
        assert limited.count() == 1


def test_outage_ends_in_an_error_naming_each_gateway(content):
    root, _ = content
    with TrustlessGateway(BlockStore()) as a, TrustlessGateway(BlockStore()) as b:
        a.faults.down = True
        b.faults.failure_rate = 1.0
        fs = _fs(a, b)
        with pytest.raises(GatewayError) as info:
            fs.cat(f"ipfs://{root}/catalog.yml")
        assert a.url in str(info.value) and b.url in str(info.value)


def test_filesystem_pickles_with_its_settings(content, tmp_path):
    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw, cache_dir=str(tmp_path / "c"))
        clone = pickle.loads(pickle.dumps(fs))
        assert clone.gateway_urls == [gw.url]
        assert clone.cache.path == tmp_path / "c"
        assert clone.cat(f"ipfs://{root}/catalog.yml") == b"sources: {}\n"


def test_fsspec_url_dispatch_uses_the_verified_filesystem(content, monkeypatch):
    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        monkeypatch.setenv("IPFS_GATEWAY", gw.url)
        with fsspec.open(f"ipfs://{root}/catalog.yml", "rb") as f:
            assert isinstance(f.fs, IPFSFileSystem)
            assert f.read() == b"sources: {}\n"


def test_reads_leave_no_reference_cycles_holding_their_frames(content):
    """A read's frames, and the blocks they hold, are freed when it ends, not at the next cyclic collection.

    Library calls on the read path that raise and catch exceptions inside (``typing_validation``
    in ``dag_cbor``'s header decoding and in ``multiformats``' base encoders) left cycles whose
    tracebacks pinned the frame parsing each answer, with every block it brought: a load of a
    few large chunks allocates too few objects to trigger the collector, so they piled up.
    """
    import gc
    import types

    root, blocks = content
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw)
        fs.cat(f"ipfs://{root}/catalog.yml")  # the first request of a session builds what stays (session...)
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for path in ("sub/data.bin", "many/0.123", "sub/.zattrs"):  # a CAR of many blocks, a HAMT, a small file
                assert fs.cat(f"ipfs://{root}/{path}")
            gc.collect()
            pinned = sorted({f"{o.f_code.co_name} ({o.f_code.co_filename.rsplit('/', 1)[-1]})" for o in gc.garbage
                             if isinstance(o, types.FrameType) and "eurec4a" in o.f_code.co_filename
                             and "testing" not in o.f_code.co_filename})  # not the gateway serving them
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert gw.count() >= 4  # the reads did go to the gateway
    assert pinned == []


def _read_in_forked_child(url: str, path: str, cache_dir: str, results) -> None:
    try:
        fs = IPFSFileSystem(gateways=[url], cache_dir=cache_dir, skip_instance_cache=True)
        results.put("ok" if fs.cat(path) == PAYLOAD else "other bytes")
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX only")
# forking a process whose assembly pool has threads is the very case tested (Python 3.12+ warns of it)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_large_files_are_assembled_in_the_packages_pool_even_after_a_fork(content, tmp_path):
    """Large reads run in the package's own small pool (one malloc arena per thread), and a forked child gets a new one.

    A pool inherited over ``fork`` has no threads in the child and would take work and
    never run it: the child's read would hang. So would fsspec's event loop with fsspec
    2024.12 (the oldest supported, run by ``.ci/test-min-versions.sh``), which keeps it
    across ``fork``: this test hung there until the package reset it.
    """
    import multiprocessing
    import threading

    root, blocks = content
    path = f"ipfs://{root}/sub/data.bin"  # 1 MiB: assembled in a thread
    with TrustlessGateway(blocks) as gw:
        fs = _fs(gw, cache_dir=str(tmp_path / "parent"))
        threads = []
        read = fs.reader.read
        fs.reader.read = lambda *a: threads.append(threading.current_thread().name) or read(*a)
        assert fs.cat(path) == PAYLOAD  # cold: fetched, then assembled
        assert fs.cat(path) == PAYLOAD  # warm: read back and assembled
        assert threads and all(name.startswith("eurec4a-assemble") for name in threads)
        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        child = ctx.Process(target=_read_in_forked_child, args=(gw.url, path, str(tmp_path / "child"), results))
        child.start()
        child.join(60)
        alive = child.is_alive()
        if alive:
            child.kill()
        assert not alive and child.exitcode == 0 and results.get(timeout=5) == "ok"
