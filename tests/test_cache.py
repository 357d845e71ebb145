"""Tests of the persistent CID block cache (eurec4a.cache), on real files in tmp_path."""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from pathlib import Path

import platformdirs
import pytest
from multiformats import CID, multihash

from eurec4a.cache import (
    CACHE_DIR_ENV,
    CACHE_SIZE_ENV,
    DEFAULT_CACHE_SIZE,
    EVICT_LOW_WATER,
    STALE_TEMP_AGE,
    TEMP_SUFFIX,
    BlockCache,
    atomic_write_bytes,
    default_cache_dir,
    default_cache_size,
    Cache,
    parse_size,
)
from eurec4a.errors import BlockVerificationError, CacheError, ConfigurationError, InvalidCIDError
from eurec4a.ipfs.codecs import dag_pb_cid, raw_cid


def block(n: int, size: int = 100) -> bytes:
    """Distinct deterministic bytes for block number ``n``."""
    return (n.to_bytes(4, "big") * (size // 4 + 1))[:size]


def set_mtime(path: Path, seconds_ago: float) -> None:
    t = time.time() - seconds_ago
    os.utime(path, (t, t))


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


# ---------------------------------------------------------------- round trip and keys

def test_put_get_round_trip(tmp_path):
    cache = BlockCache(tmp_path, max_size="1MiB")
    data = block(1, 1000)
    cid = raw_cid(data)
    assert cache.get(cid) is None
    assert cid not in cache
    cache.put(cid, data)
    assert cid in cache
    assert cache.get(cid) == data
    assert cache.get(str(cid)) == data  # a CID string works as well
    path = cache.entry_path(cid)
    assert path.read_bytes() == data
    assert path.relative_to(tmp_path).parts[0] == "blocks"
    assert len(path.relative_to(tmp_path).parts) == 3  # blocks/<shard>/<entry>
    assert temp_files(tmp_path) == []


def test_cid_versions_and_codecs_share_one_entry(tmp_path):
    cache = BlockCache(tmp_path)
    data = block(2)
    cache.put(dag_pb_cid(data, version=0), data)
    assert cache.get(dag_pb_cid(data, version=1)) == data
    assert cache.get(raw_cid(data)) == data
    assert cache.info()["entries"] == 1


def test_a_fresh_cache_object_sees_earlier_entries(tmp_path):
    data = block(3)
    BlockCache(tmp_path).put(raw_cid(data), data)
    assert BlockCache(tmp_path).get(raw_cid(data)) == data


def test_invalid_cid_is_rejected(tmp_path):
    with pytest.raises(InvalidCIDError, match="not-a-cid"):
        BlockCache(tmp_path).get("not-a-cid")


# ---------------------------------------------------------------- verification

def test_corrupted_entry_is_a_miss_and_is_deleted(tmp_path, caplog):
    cache = BlockCache(tmp_path)
    data = block(4, 500)
    cid = raw_cid(data)
    cache.put(cid, data)
    path = cache.entry_path(cid)
    damaged = bytearray(path.read_bytes())
    damaged[123] ^= 0x01
    path.write_bytes(bytes(damaged))

    with caplog.at_level(logging.WARNING, logger="eurec4a.cache"):
        assert cache.get(cid) is None
    assert not path.exists()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "eurec4a.cache"]
    assert len(warnings) == 1
    assert str(cid) in warnings[0].getMessage()
    assert "corrupted" in warnings[0].getMessage()

    cache.put(cid, data)  # the caller refetches and stores again
    assert cache.get(cid) == data


def test_truncated_entry_is_a_miss(tmp_path):
    cache = BlockCache(tmp_path)
    data = block(5, 500)
    cid = raw_cid(data)
    cache.put(cid, data)
    cache.entry_path(cid).write_bytes(data[:200])  # as after a torn write
    assert cache.get(cid) is None
    assert cid not in cache


def test_put_with_wrong_bytes_raises_and_stores_nothing(tmp_path):
    cache = BlockCache(tmp_path)
    cid = raw_cid(block(6))
    with pytest.raises(BlockVerificationError, match=str(cid)):
        cache.put(cid, block(7))
    assert cid not in cache
    assert cache.info()["entries"] == 0
    assert temp_files(tmp_path) == []


def test_identity_cids_need_no_storage(tmp_path):
    cid = CID("base32", 1, "raw", multihash.digest(b"inline", "identity"))
    cache = BlockCache(tmp_path)
    cache.put(cid, b"inline")
    assert cache.get(cid) == b"inline"
    assert cache.info()["entries"] == 0


# ---------------------------------------------------------------- eviction

def fill(cache: BlockCache, count: int, size: int = 100) -> list:
    cids = []
    for n in range(count):
        data = block(n, size)
        cid = raw_cid(data)
        cache.put(cid, data)
        cids.append(cid)
    return cids


def test_evict_removes_least_recently_used_first(tmp_path):
    cache = BlockCache(tmp_path, max_size="1MiB")
    cids = fill(cache, 5)
    for age, cid in zip([500, 400, 300, 200, 100], cids):  # cids[0] oldest
        set_mtime(cache.entry_path(cid), age)
    before = cache.entry_path(cids[0]).stat().st_mtime
    assert cache.get(cids[0]) is not None  # a hit makes it the most recently used
    assert cache.entry_path(cids[0]).stat().st_mtime > before

    removed = cache.evict(target=300)
    assert removed == 2
    assert [cid in cache for cid in cids] == [True, False, False, True, True]
    assert cache.info()["size_bytes"] == 300


def test_evict_defaults_to_max_size(tmp_path):
    cache = BlockCache(tmp_path, max_size=10_000)
    cids = fill(cache, 5)
    for age, cid in zip([50, 40, 30, 20, 10], cids):
        set_mtime(cache.entry_path(cid), age)
    cache.max_size = 250
    assert cache.evict() == 3
    assert [cid in cache for cid in cids] == [False, False, False, True, True]


def test_put_evicts_automatically_and_respects_max_size(tmp_path):
    cache = BlockCache(tmp_path, max_size=1000)
    cids = fill(cache, 10)  # exactly at the limit: nothing evicted yet
    assert cache.info() == {"path": str(tmp_path), "entries": 10, "size_bytes": 1000, "max_size": 1000,
                            "blocks": 10}
    for age, cid in zip(range(1000, 0, -100), cids):  # cids[0] oldest
        set_mtime(cache.entry_path(cid), age)
    assert cache.get(cids[0]) is not None  # now the newest of the old ones
    data = block(99)
    cache.put(raw_cid(data), data)  # 1100 bytes > limit: evict to the low-water mark

    info = cache.info()
    assert info["size_bytes"] <= 1000 * EVICT_LOW_WATER
    assert raw_cid(data) in cache
    assert cids[0] in cache
    # the two oldest untouched entries went first
    assert cids[1] not in cache and cids[2] not in cache
    assert all(cid in cache for cid in cids[3:])


def test_over_limit_cache_is_trimmed_on_first_put_of_a_new_process(tmp_path):
    fill(BlockCache(tmp_path, max_size="1MiB"), 20)
    cache = BlockCache(tmp_path, max_size=1000)  # the user lowered the limit
    data = block(99)
    cache.put(raw_cid(data), data)
    assert cache.info()["size_bytes"] <= 1000


def test_blocks_larger_than_the_limit_or_limit_zero_are_not_stored(tmp_path):
    cache = BlockCache(tmp_path / "a", max_size=50)
    data = block(1, 100)
    cache.put(raw_cid(data), data)
    assert raw_cid(data) not in cache
    off = BlockCache(tmp_path / "b", max_size=0)
    off.put(raw_cid(data), data)
    assert off.info()["entries"] == 0
    # a cache with storing turned off still reads what is there
    BlockCache(tmp_path / "b").put(raw_cid(data), data)
    assert off.get(raw_cid(data)) == data


def test_evict_ignores_files_deleted_by_another_process(tmp_path):
    cache = BlockCache(tmp_path, max_size="1MiB")
    cids = fill(cache, 4)
    entries = list(cache._scan())  # the listing an evicting process made ...
    for cid in cids[:2]:
        os.unlink(cache.entry_path(cid))  # ... before another process deleted two files
    removed, freed = cache._evict_entries(entries, 400, 100)
    assert (removed, freed) == (1, 300)
    assert cache.info()["entries"] == 1


# ---------------------------------------------------------------- crashes and housekeeping

def test_leftover_temp_file_is_never_read_and_is_cleaned(tmp_path):
    cache = BlockCache(tmp_path)
    data = block(8, 300)
    cid = raw_cid(data)
    entry = cache.entry_path(cid)
    entry.parent.mkdir(parents=True)
    stale = entry.with_name(f"{entry.name}.1234-deadbeef{TEMP_SUFFIX}")
    stale.write_bytes(data[:100])  # a writer crashed halfway
    fresh = entry.with_name(f"{entry.name}.5678-feedf00d{TEMP_SUFFIX}")
    fresh.write_bytes(data[:50])  # a writer still at work in another process

    assert cache.get(cid) is None
    assert cid not in cache
    assert cache.info()["entries"] == 0

    set_mtime(stale, STALE_TEMP_AGE + 60)
    cache.evict()
    assert not stale.exists()
    assert fresh.exists()  # younger than an hour: may be in flight

    set_mtime(fresh, STALE_TEMP_AGE + 60)
    cache.clear()
    assert temp_files(tmp_path) == []


def test_info_counts_entries_and_bytes(tmp_path):
    cache = BlockCache(tmp_path, max_size="2 MB")
    assert cache.info() == {"path": str(tmp_path), "entries": 0, "size_bytes": 0, "max_size": 2_000_000,
                            "blocks": 0}
    sizes = [10, 200, 3000]
    for n, size in enumerate(sizes):
        cache.put(raw_cid(block(n, size)), block(n, size))
    cache.put(raw_cid(block(0, 10)), block(0, 10))  # again: still one entry
    info = cache.info()
    assert info["entries"] == len(sizes)
    assert info["size_bytes"] == sum(sizes)


def test_clear_empties_the_cache(tmp_path):
    cache = BlockCache(tmp_path)
    cids = fill(cache, 5)
    cache.clear()
    assert cache.info()["entries"] == 0
    assert not any(cid in cache for cid in cids)
    assert [p for p in (tmp_path / "blocks").rglob("*") if p.is_file()] == []
    fill(cache, 1)  # usable afterwards
    assert cache.info()["entries"] == 1


def test_path_that_is_a_file_is_a_cache_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CacheError, match="not a directory"):
        BlockCache(target)


def test_unwritable_cache_dir_warns_once_and_keeps_working(tmp_path, caplog):
    (tmp_path / "blocks").write_text("in the way")  # no directory can be made there
    cache = BlockCache(tmp_path)
    with caplog.at_level(logging.WARNING, logger="eurec4a.cache"):
        for n in range(3):
            cache.put(raw_cid(block(n)), block(n))  # no exception: caching is optional
            assert cache.get(raw_cid(block(n))) is None
    warnings = [r for r in caplog.records if r.name == "eurec4a.cache"]
    assert len(warnings) == 1
    assert CACHE_DIR_ENV in warnings[0].getMessage() and CACHE_SIZE_ENV in warnings[0].getMessage()


# ---------------------------------------------------------------- settings

def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    cache = BlockCache()
    assert cache.path == tmp_path / "mine"
    cache.put(raw_cid(b"x"), b"x")
    assert (tmp_path / "mine" / "blocks").is_dir()

    monkeypatch.delenv(CACHE_DIR_ENV)
    assert default_cache_dir() == Path(platformdirs.user_cache_dir("eurec4a"))


def test_cache_size_from_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_SIZE_ENV, raising=False)
    assert default_cache_size() == DEFAULT_CACHE_SIZE
    monkeypatch.setenv(CACHE_SIZE_ENV, "500 MiB")
    assert BlockCache(tmp_path).max_size == 500 * 1024**2
    monkeypatch.setenv(CACHE_SIZE_ENV, "0")
    assert BlockCache(tmp_path).max_size == 0
    monkeypatch.setenv(CACHE_SIZE_ENV, "ten gigs")
    with pytest.raises(ConfigurationError, match=CACHE_SIZE_ENV):
        BlockCache(tmp_path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0),
        ("1234", 1234),
        (1234, 1234),
        ("10GB", 10 * 1000**3),
        ("10 gb", 10 * 1000**3),
        ("500 MiB", 500 * 1024**2),
        ("1.5GiB", 3 * 1024**3 // 2),
        ("2k", 2048),
        ("3 kB", 3000),
        ("7B", 7),
        (" 1 TiB ", 1024**4),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "ten", "10 XB", "-5", "1e9", "10 GB extra", -1, True, 1.5, None])
def test_parse_size_rejects_bad_values_helpfully(bad):
    with pytest.raises(ConfigurationError) as info:
        parse_size(bad)  # type: ignore[arg-type]
    message = str(info.value)
    assert "cache_size" in message and repr(bad) in message
    assert "500MiB" in message and "10GB" in message  # says what is accepted


# ---------------------------------------------------------------- pointer-file helpers

def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "sub" / "doc.json"
    atomic_write_bytes(target, b'{"catalog": "bafy"}')
    atomic_write_bytes(target, b"[1, 2]")
    assert target.read_bytes() == b"[1, 2]"
    assert temp_files(tmp_path) == []


def test_documents_round_trip_with_their_storage_time(tmp_path):
    cache = Cache(tmp_path)
    assert cache.get_document("pointers", "https://a/cids.json") is None
    before = time.time()
    cache.put_document("pointers", "https://a/cids.json", b"one")
    cache.put_document("pointers", "https://b/cids.json", b"two")
    cache.put_document("segments", "https://a/cids.json", b"three")  # namespaces are separate
    data, stored = cache.get_document("pointers", "https://a/cids.json")
    assert data == b"one" and before - 1 <= stored <= time.time() + 1
    assert cache.get_document("pointers", "https://b/cids.json")[0] == b"two"
    assert cache.get_document("segments", "https://a/cids.json")[0] == b"three"
    cache.put_document("pointers", "https://a/cids.json", b"new")
    assert cache.get_document("pointers", "https://a/cids.json")[0] == b"new"
    assert temp_files(tmp_path) == []


def test_clear_removes_blocks_markers_and_documents(tmp_path):
    cache = Cache(tmp_path)
    cid = raw_cid(b"x")
    cache.put(cid, b"x")
    cache.mark_complete(cid)
    cache.put_document("pointers", "u", b"doc")
    assert cache.is_complete(cid) and cache.info()["entries"] == 2
    cache.clear()
    assert not cache.is_complete(cid)
    assert cache.get(cid) is None
    assert cache.get_document("pointers", "u") is None
    assert cache.info()["entries"] == 0


def test_eviction_of_any_block_drops_completeness_markers(tmp_path):
    cache = Cache(tmp_path)
    cids = fill(cache.blocks, 3)
    cache.mark_complete(cids[0])
    assert cache.evict(target=0) == 3
    assert not cache.is_complete(cids[0])


def test_cache_from_settings_uses_the_configured_folder_and_size(tmp_path):
    from eurec4a.settings import Settings

    settings = Settings.resolve(cache_dir=str(tmp_path / "c"), cache_size="2KiB", environ={})
    cache = Cache.from_settings(settings)
    assert cache.path == tmp_path / "c" and cache.max_size == 2048


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
def test_a_fifo_or_a_symlink_to_dev_zero_in_the_cache_is_a_miss(tmp_path):
    cache = Cache(tmp_path)
    fifo_cid, zero_cid = raw_cid(b"fifo"), raw_cid(b"zero")
    for cid in (fifo_cid, zero_cid):
        cache.blocks.entry_path(cid).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(cache.blocks.entry_path(fifo_cid))
    os.symlink("/dev/zero", cache.blocks.entry_path(zero_cid))
    start = time.monotonic()
    assert cache.get(fifo_cid) is None
    assert cache.get(zero_cid) is None
    assert time.monotonic() - start < 5  # neither hangs nor reads forever
    cache.put_document("pointers", "u", b"doc")
    (doc,) = (tmp_path / "documents" / "pointers").iterdir()
    doc.unlink()
    os.symlink("/dev/zero", doc)
    assert cache.get_document("pointers", "u") is None


def _worker(root: str, worker: int, rounds: int, max_size: int, start, results) -> None:
    """Put and get shared and private blocks; report the problems found on ``results``."""
    cache = BlockCache(root, max_size=max_size)
    problems = []
    shared = [block(n, 4000) for n in range(20)]
    own = [block(1000 * (worker + 1) + n, 3000) for n in range(10)]
    start.wait()  # all processes write the shared blocks at the same moment
    for _ in range(rounds):
        for data in shared + own:
            cid = raw_cid(data)
            cache.put(cid, data)
            got = cache.get(cid)
            # with a small limit another process may have evicted it: a miss is fine,
            # wrong bytes never are
            if got is not None and got != data:
                problems.append(f"worker {worker}: wrong bytes for {cid}")
            elif got is None and max_size >= 10**7:
                problems.append(f"worker {worker}: miss for {cid} right after put")
    results.put(problems)


def _run_workers(root: Path, max_size: int, workers: int = 4, rounds: int = 5) -> list[str]:
    return _run_processes(_worker, workers, lambda w: (str(root), w, rounds, max_size))


def _run_processes(target, workers: int, args_for) -> list[str]:
    """Start ``workers`` spawned processes ``target(*args_for(w), start, results)`` at once; their problems."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(w), start, results)) for w in range(workers)]
    for p in procs:
        p.start()
    problems = [p for _ in procs for p in results.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return problems


def test_concurrent_processes_leave_only_valid_entries(tmp_path):
    assert _run_workers(tmp_path, max_size=10**8) == []
    cache = BlockCache(tmp_path)
    entries = [p for p in (tmp_path / "blocks").rglob("*") if p.is_file()]
    assert temp_files(tmp_path) == []
    assert len(entries) == 20 + 4 * 10
    for n in range(20):
        assert cache.get(raw_cid(block(n, 4000))) == block(n, 4000)
    for w in range(4):
        for n in range(10):
            data = block(1000 * (w + 1) + n, 3000)
            assert cache.get(raw_cid(data)) == data


def test_concurrent_processes_with_eviction_never_see_wrong_bytes(tmp_path, caplog):
    # 20 kB limit against 200 kB of blocks: processes evict what others read and write
    with caplog.at_level(logging.WARNING):
        assert _run_workers(tmp_path, max_size=20_000) == []
    assert temp_files(tmp_path) == []
    cache = BlockCache(tmp_path)
    for path in (tmp_path / "blocks").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            mh = multihash.digest(data, "sha2-256")
            assert cache.entry_path(CID("base32", 1, "raw", mh)) == path  # every entry is valid
    assert cache.info()["size_bytes"] <= 20_000 + 4 * 4000  # each process may overshoot by a block


# ---------------------------------------------------------------- packs (many blocks in one file)

def _pack_files(root: Path) -> list[Path]:
    return sorted((root / "blocks" / "packs").glob("*.pack"))


def test_put_many_writes_one_pack_that_a_fresh_cache_object_reads(tmp_path):
    blocks = [(raw_cid(block(n, 5000)), block(n, 5000)) for n in range(50)]
    assert BlockCache(tmp_path).put_many(blocks) is True
    assert len(_pack_files(tmp_path)) == 1  # 50 blocks, one file
    assert BlockCache(tmp_path).info()["entries"] == 1 and BlockCache(tmp_path).info()["blocks"] == 50
    fresh = BlockCache(tmp_path)  # another process: finds the pack by reading its index
    for cid, data in blocks:
        assert cid in fresh
        assert fresh.get(cid) == data
        path, offset, length = fresh.locate(cid)
        assert path.read_bytes()[offset:offset + length] == data
    assert sorted(fresh.stored_blocks()) == sorted(d for _, d in blocks)
    assert fresh.info()["size_bytes"] >= sum(len(d) for _, d in blocks)


def test_put_many_splits_packs_at_the_pack_size(tmp_path, monkeypatch):
    import eurec4a.cache as module

    monkeypatch.setattr(module, "PACK_BYTES", 20_000)
    blocks = [(raw_cid(block(n, 6000)), block(n, 6000)) for n in range(10)]
    BlockCache(tmp_path).put_many(blocks)
    assert len(_pack_files(tmp_path)) == 4  # 3 + 3 + 3 + 1 blocks of 6,000 bytes
    assert all(BlockCache(tmp_path).get(cid) == data for cid, data in blocks)


def test_a_single_block_is_a_file_not_a_pack(tmp_path):
    cache = BlockCache(tmp_path)
    assert cache.put_many([(raw_cid(b"alone"), b"alone")]) is True
    assert _pack_files(tmp_path) == []
    assert cache.entry_path(raw_cid(b"alone")).read_bytes() == b"alone"


def test_put_many_verifies_unless_told_the_bytes_are_verified(tmp_path):
    cache = BlockCache(tmp_path)
    with pytest.raises(BlockVerificationError):
        cache.put_many([(raw_cid(b"a"), b"a"), (raw_cid(b"b"), b"not b")])
    assert _pack_files(tmp_path) == [] and raw_cid(b"a") not in cache


def test_put_many_reports_blocks_it_could_not_store(tmp_path):
    assert BlockCache(tmp_path, max_size=0).put_many([(raw_cid(b"a"), b"a"), (raw_cid(b"b"), b"b")]) is False
    small = BlockCache(tmp_path / "small", max_size=100)
    assert small.put_many([(raw_cid(b"a"), b"a"), (raw_cid(block(1, 500)), block(1, 500))]) is False
    assert small.get(raw_cid(b"a")) == b"a"  # what fits is stored


def test_a_damaged_pack_is_a_miss_and_is_deleted(tmp_path, caplog):
    blocks = [(raw_cid(block(n)), block(n)) for n in range(5)]
    BlockCache(tmp_path).put_many(blocks)
    (pack,) = _pack_files(tmp_path)
    fresh = BlockCache(tmp_path)
    path, offset, length = fresh.locate(blocks[2][0])
    raw = bytearray(pack.read_bytes())
    raw[offset] ^= 0xFF
    pack.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="eurec4a.cache"):
        assert fresh.get(blocks[2][0]) is None
    assert "damaged" in caplog.text and not pack.exists()
    assert fresh.get(blocks[0][0]) is None  # its other blocks went with it: fetched again


@pytest.mark.parametrize("content", [
    b"",
    b"EUREC4A-PACK-1\n",
    b"not a pack at all" * 10,
    # a valid-looking footer whose index points outside the file
    b"EUREC4A-PACK-1\n" + b"\x20" + (10**9).to_bytes(8, "big") + (5).to_bytes(4, "big") + bytes(32)
    + (15).to_bytes(8, "big") + (45).to_bytes(8, "big") + b"E4A-IDX1",
])
def test_planted_or_truncated_packs_are_ignored(tmp_path, content):
    cache = BlockCache(tmp_path)
    cache.put(raw_cid(b"real"), b"real")
    packs = tmp_path / "blocks" / "packs"
    packs.mkdir(parents=True)
    (packs / "planted.pack").write_bytes(content)
    assert cache.get(raw_cid(block(7))) is None
    assert cache.get(raw_cid(b"real")) == b"real"
    assert raw_cid(block(7)) not in cache


def test_packs_of_another_process_are_found_and_evicted_ones_forgotten(tmp_path):
    reader = BlockCache(tmp_path)
    first = [(raw_cid(block(n)), block(n)) for n in range(3)]
    assert reader.get(first[0][0]) is None  # reader has looked at the (empty) packs folder
    BlockCache(tmp_path).put_many(first)  # "another process" writes a pack
    assert reader.get(first[0][0]) == first[0][1]
    BlockCache(tmp_path).clear()  # and clears the cache
    assert reader.get(first[1][0]) is None


def test_evict_removes_whole_packs_and_the_reader_forgets_them(tmp_path):
    cache = BlockCache(tmp_path, max_size="10 MiB")
    old = [(raw_cid(block(n, 1000)), block(n, 1000)) for n in range(10)]
    new = [(raw_cid(block(n, 1000)), block(n, 1000)) for n in range(10, 20)]
    cache.put_many(old)
    set_mtime(_pack_files(tmp_path)[0], 3600)
    cache.put_many(new)
    assert cache.evict(target=15_000) == 1  # the older pack, whole
    assert cache.get(old[0][0]) is None and cache.get(new[0][0]) == new[0][1]


def _pack_worker(root: str, worker: int, start, results) -> None:
    cache = BlockCache(root)
    start.wait()
    problems = []
    shared = [(raw_cid(block(n, 2000)), block(n, 2000)) for n in range(30)]  # every worker writes these
    own = [(raw_cid(block(100 * (worker + 1) + n, 2000)), block(100 * (worker + 1) + n, 2000)) for n in range(30)]
    for _ in range(3):
        cache.put_many(shared)
        cache.put_many(own)
        for cid, data in shared + own:
            got = cache.get(cid)
            if got != data:
                problems.append(f"worker {worker}: {cid} -> {got!r:.40}")
    results.put(problems)


def test_concurrent_processes_writing_packs_see_only_right_bytes(tmp_path):
    assert _run_processes(_pack_worker, 3, lambda w: (str(tmp_path), w)) == []
    assert temp_files(tmp_path) == []
    fresh = BlockCache(tmp_path)
    for w in range(3):
        for n in range(30):
            data = block(100 * (w + 1) + n, 2000)
            assert fresh.get(raw_cid(data)) == data


# ---------------------------------------------------------------- writing behind a read

def _blocks(n: int, size: int = 1000) -> list[tuple[CID, bytes]]:
    out = []
    for i in range(n):
        data = i.to_bytes(4, "big") * (size // 4)
        out.append((raw_cid(data), data))
    return out


def test_blocks_queued_for_writing_are_found_at_once_and_packed_together(tmp_path):
    blocks = _blocks(200)
    cache = BlockCache(tmp_path)
    queued = cache.put_later(blocks)
    assert queued <= 200 * 1000
    other = BlockCache(tmp_path)  # another object of the same folder (another filesystem instance)
    for cid, data in blocks[::37]:
        assert cid in other and other.get(cid) == data
    assert cache.flush(timeout=60)
    info = BlockCache(tmp_path).info()
    # queued in one call: one pack, not 200 files (a file costs ~1 ms to create)
    assert (info["blocks"], info["entries"]) == (200, 1)
    fresh = BlockCache(tmp_path)
    assert all(fresh.get(cid) == data for cid, data in blocks)


def test_queued_blocks_are_on_disk_when_the_process_ends(tmp_path):
    """A process that queued blocks and ends at once (a notebook closed after a load) loses none."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from eurec4a.cache import BlockCache\n"
        "from eurec4a.ipfs.codecs import raw_cid\n"
        "blocks = [(raw_cid(d), d) for d in (i.to_bytes(4, 'big') * 50000 for i in range(100))]\n"
        "BlockCache(sys.argv[1]).put_later(blocks)\n"  # 20 MB: still being written when the script ends
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=120)
    cache = BlockCache(tmp_path)
    missing = [i for i in range(100) if cache.get(raw_cid(i.to_bytes(4, "big") * 50000)) is None]
    assert missing == []


def test_clear_leaves_no_queued_block_behind(tmp_path):
    cache = BlockCache(tmp_path)
    blocks = _blocks(50, 100_000)
    cache.put_later(blocks)
    cache.clear()
    assert cache.flush(timeout=60)
    fresh = BlockCache(tmp_path)
    assert fresh.info()["blocks"] == 0
    assert not any(cid in fresh for cid, _ in blocks)


def test_nothing_is_queued_for_a_cache_that_stores_nothing(tmp_path):
    cache = BlockCache(tmp_path, max_size=0)
    assert cache.put_later(_blocks(3)) == 0
    assert cache.flush(timeout=5) and cache.info()["blocks"] == 0


def test_altered_bytes_are_never_queued(tmp_path):
    cache = BlockCache(tmp_path)
    with pytest.raises(BlockVerificationError):
        cache.put_later([(raw_cid(b"a"), b"a"), (raw_cid(b"b"), b"not b")])
    assert raw_cid(b"a") not in cache and raw_cid(b"b") not in cache  # nothing of the batch


def _queue_in_forked_child(root: str, results) -> None:
    cache = BlockCache(root)
    data = b"written by the child" * 1000
    try:
        cache.put_later([(raw_cid(data), data)])
        results.put("ok" if cache.flush(timeout=30) and cache.locate(raw_cid(data)) is not None else "not on disk")
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
# forking beside a running writer thread is the very case tested (Python 3.12+ warns of it)
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_writes_its_own_queue_and_the_parent_keeps_its_own(tmp_path):
    """dask and multiprocessing may fork while the parent has blocks queued: neither side hangs or loses any."""
    cache = BlockCache(tmp_path)
    blocks = _blocks(30, 200_000)  # 6 MB: still queued when the child starts
    cache.put_later(blocks)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=_queue_in_forked_child, args=(str(tmp_path), results))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and results.get(timeout=5) == "ok"
    assert cache.flush(timeout=60)
    fresh = BlockCache(tmp_path)
    assert all(fresh.get(cid) == data for cid, data in blocks)
