"""What the ``ipfs`` client does with bad answers: completeness markers, sizes, redirects, escaping.

The bad gateways here are tiny scripted HTTP servers on 127.0.0.1 (started by the
tests), each answering every request with one prepared answer; the honest one is
the stack's :class:`~eurec4a.testing.gateway.TrustlessGateway`.
"""
from __future__ import annotations

import asyncio
import http.server
import io
import threading
import time
import urllib.request

import pytest

import eurec4a
from eurec4a.cache import Cache
from eurec4a.errors import ContentNotFoundError, GatewayError, InvalidCIDError
from eurec4a.ipfs.car import CarWriter
from eurec4a.ipfs.cid import parse_cid
from eurec4a.ipfs.codecs import raw_cid
from eurec4a.ipfs.filesystem import IPFSFileSystem
from eurec4a.publish.importer import MemoryBlockStore, import_directory
from eurec4a.testing.gateway import TrustlessGateway

NAMES = ["a#b.txt", "50%.txt", "q?x.txt", "with space.txt", "ünï.txt", "plain.txt"]


def _content(tmp_path, name="tree", marker="a"):
    root = tmp_path / name
    (root / "sub").mkdir(parents=True)
    for i, n in enumerate(NAMES):
        (root / n).write_text(f"{marker} file {i}")
    (root / "sub" / "data.bin").write_bytes(bytes(range(256)) * 2048)
    store = MemoryBlockStore()
    cid = import_directory(root, store, "unixfs-v1-2025", chunk_size=65536)
    return str(cid), dict(store.blocks)


class Scripted:
    """A local HTTP server answering every GET with ``answer(path) -> (status, headers, body chunks)``."""

    def __init__(self, answer):
        owner = self
        self.paths: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                owner.paths.append(self.path)
                status, headers, chunks = answer(self.path)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                except OSError:  # the client hung up: expected for endless bodies
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _car(roots, blocks) -> bytes:
    buf = io.BytesIO()
    with CarWriter(buf, roots) as car:
        for cid, block in blocks:
            car.put(cid, block)
    return buf.getvalue()


def _forever(first: bytes, then: bytes):
    def chunks():
        yield first
        while True:
            yield then
    return chunks()


def _fs(urls, tmp_path, **kw):
    return IPFSFileSystem(gateways=urls, cache_dir=str(tmp_path / "cache"), skip_instance_cache=True, **kw)


CAR_HEADERS = {"Content-Type": "application/vnd.ipld.car"}


# ------------------------------------------------------------ issue 15.1: completeness markers
@pytest.mark.parametrize("answer", ["empty CAR then garbage", "empty CAR then unrelated blocks forever",
                                    "another DAG under the root's name"])
def test_a_bad_answer_never_marks_a_dag_complete(tmp_path, answer):
    root, blocks = _content(tmp_path)
    other_root, other_blocks = _content(tmp_path, "other", marker="b")
    root_cid = parse_cid(root)
    header = _car([root_cid], [])
    unrelated = _car([raw_cid(b"x")], [(raw_cid(b"x" * 1000), b"x" * 1000)])[len(_car([raw_cid(b"x")], [])):]

    def bad(path):
        if answer == "empty CAR then garbage":
            return 200, CAR_HEADERS, _forever(header, b"\xff" * 65536)
        if answer == "empty CAR then unrelated blocks forever":
            return 200, CAR_HEADERS, _forever(header, unrelated * 64)
        return 200, CAR_HEADERS, [_car([root_cid], other_blocks.items())]

    with Scripted(bad) as liar:
        with pytest.raises(GatewayError):
            _fs([liar.url], tmp_path, deadline=2).prefetch(root)
    cache = Cache(tmp_path / "cache")
    assert not cache.is_complete(root_cid)
    assert cache.info()["entries"] == 0  # nothing the answer did not have to contain was stored
    with TrustlessGateway(blocks) as honest:
        fs = _fs([honest.url], tmp_path)
        assert fs.prefetch(root) == 1
        for i, name in enumerate(NAMES):
            assert fs.cat(f"{root}/{name}") == f"a file {i}".encode()
        assert honest.count() == 1
        assert _fs([honest.url], tmp_path).prefetch(root) == 0  # marked complete now
        assert honest.count() == 1


def test_after_cache_clear_a_pinned_walk_makes_one_request(stack, tmp_path):
    from eurec4a.catalog.tree import walk

    cache_dir = str(tmp_path / "cache")
    stack.gateway.reset_counts()
    names = [p for p, _ in walk(eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, cache_dir=cache_dir))]
    # one request per DAG: the catalog tree, and the demo's remote sub-catalog, which has its own CID
    cold = stack.gateway.count()
    assert cold == 2
    Cache(cache_dir).clear()
    IPFSFileSystem.clear_instance_cache()
    stack.gateway.reset_counts()
    again = [p for p, _ in walk(eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, cache_dir=cache_dir))]
    assert again == names
    assert stack.gateway.count() == cold  # markers did not survive the clear: no block-by-block walk


# ------------------------------------------------------------ counts: each block once
def test_no_directory_block_is_fetched_twice(tmp_path):
    root, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        for name in NAMES:
            fs.cat_file(f"{root}/{name}")  # cat_file: fsspec's cat would glob "q?x.txt" with a listing
        fs.cat_file(f"{root}/sub/data.bin")
        assert gw.count() == len(NAMES) + 1  # one request per file
        # after the first, every file is asked for by its own CID: no path below the root again
        later = [r.path for r in gw.requests[1:]]
        assert all(root not in p for p in later), later
        assert fs.statistics["blocks_dropped"] == 0
        assert _fs([gw.url], tmp_path).cat(f"{root}/sub/data.bin") == bytes(range(256)) * 2048
        assert gw.count() == len(NAMES) + 1  # warm: no request


def test_concurrent_cold_reads_bring_each_directory_block_once(tmp_path):
    """zarr opens a store with concurrent probes, dask reads many chunks at once: one request per file, no more."""
    import asyncio

    root, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)

        async def probe_and_read():
            absent = [fs._cat_file(f"{root}/zarr.json"), fs._cat_file(f"{root}/.zgroup")]
            present = [fs._cat_file(f"{root}/{name}") for name in NAMES]
            return await asyncio.gather(*absent, *present, return_exceptions=True)

        got = asyncio.run_coroutine_threadsafe(probe_and_read(), fs.loop).result(60)
        assert all(isinstance(g, FileNotFoundError) for g in got[:2]), got[:2]
        assert got[2:] == [f"a file {i}".encode() for i in range(len(NAMES))]
        # at most ROOT_PATH_REQUESTS reads asked by path (one round trip for zarr's probes);
        # the absent names were answered from the root block those answers carried (never
        # asked for alone), and every other file came by its own CID
        from eurec4a.ipfs.filesystem import ROOT_PATH_REQUESTS

        with_root = [r.path for r in gw.requests if root in r.path]
        assert len(with_root) <= ROOT_PATH_REQUESTS, with_root
        assert not [p for p in with_root if "format=raw" in p], with_root
        assert gw.count() <= len(NAMES) + 2
        assert fs.statistics["blocks_dropped"] == 0


def test_file_names_are_percent_escaped(tmp_path):
    root, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        for i, name in enumerate(NAMES):
            assert fs.cat(f"ipfs://{root}/{name}") == f"a file {i}".encode()
        assert sorted(n.rsplit("/", 1)[1] for n in fs.ls(root, detail=False)) == sorted(NAMES + ["sub"])


# ------------------------------------------------------------ broken answers: fail over
def _proxy_answer(honest_url, mangle):
    def answer(path):
        with urllib.request.urlopen(honest_url + path, timeout=10) as r:
            body = r.read()
        return 200, {**CAR_HEADERS, "Content-Length": str(len(body))}, [mangle(body)]
    return answer


@pytest.mark.parametrize("mangle", [
    pytest.param(lambda body: body[: len(body) // 2], id="truncated"),
    pytest.param(lambda body: body[:40] + b"\xc0\x80\x80\x02" + b"\0" * 100, id="oversized block"),
    pytest.param(lambda body: b"not a car at all", id="garbage"),
])
def test_a_broken_answer_fails_over_to_the_next_gateway(tmp_path, mangle):
    root, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as honest, Scripted(_proxy_answer(honest.url, mangle)) as broken:
        fs = _fs([broken.url, honest.url], tmp_path)
        assert fs.cat(f"{root}/sub/data.bin") == bytes(range(256)) * 2048
        assert len(broken.paths) >= 1


def test_a_block_over_2_mib_is_refused_while_streaming(tmp_path):
    root, blocks = _content(tmp_path)
    huge = b"\x80\x80\x80\x02"  # a section announcing 4 MiB

    with Scripted(lambda p: (200, CAR_HEADERS, _forever(_car([parse_cid(root)], []) + huge, b"\0" * 65536))) as bad:
        start = time.monotonic()
        with pytest.raises(GatewayError, match="limit"):
            _fs([bad.url], tmp_path, deadline=60).cat(f"{root}/plain.txt")
        # every attempt was refused at the announcement: the call ended by its attempt cap, not the deadline
        assert time.monotonic() - start < 40 and len(bad.paths) > 1


def test_an_answer_larger_than_its_parent_announced_is_refused(tmp_path):
    root, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as honest:
        fs = _fs([honest.url], tmp_path)
        fs.ls(root)  # the root directory is verified now: its links announce every size

        unrelated = _car([raw_cid(b"x")], [(raw_cid(b"x" * 1000), b"x" * 1000)])[len(_car([raw_cid(b"x")], [])):]

        def endless(path):  # well-formed sections of a block nobody asked for, forever
            return 200, CAR_HEADERS, _forever(_car([raw_cid(b"x")], []), unrelated * 64)

        with Scripted(endless) as bad:
            other = _fs([bad.url], tmp_path, deadline=60)
            other.ls(root)  # from the cache
            start = time.monotonic()
            with pytest.raises(GatewayError, match="more than"):
                other.cat(f"{root}/sub/data.bin")
            assert time.monotonic() - start < 40 and len(bad.paths) > 1  # ended by the cap, not the deadline


def test_redirects_only_within_configured_gateways(tmp_path):
    root, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as honest, Scripted(lambda p: (200, {}, [b"secret"])) as elsewhere:
        def redirect(path):
            return 302, {"Location": elsewhere.url + path}, []

        with Scripted(redirect) as redirecting:
            fs = _fs([redirecting.url, honest.url], tmp_path)
            assert fs.cat(f"{root}/plain.txt") == b"a file 5"
            assert elsewhere.paths == []  # never asked: not a configured gateway

            def to_honest(path):
                return 302, {"Location": honest.url + path}, []

        with Scripted(to_honest) as redirecting:
            before = honest.count()
            fs = _fs([redirecting.url, "http://127.0.0.1:9", honest.url], tmp_path / "other")
            assert fs.cat(f"{root}/q?x.txt") == b"a file 2"
            assert redirecting.paths and honest.count() > before


def test_redirect_refused_everywhere_is_a_gateway_error(tmp_path):
    root, _ = _content(tmp_path)
    with Scripted(lambda p: (302, {"Location": "http://169.254.169.254/latest/meta-data"}, [])) as bad:
        with pytest.raises(GatewayError, match="refused"):
            _fs([bad.url], tmp_path).cat(f"{root}/plain.txt")


def test_identity_cids_over_128_bytes_are_rejected():
    from multiformats import CID, multihash

    long = CID("base32", 1, "raw", multihash.wrap(b"x" * 129, "identity"))
    with pytest.raises(InvalidCIDError, match="128"):
        parse_cid(str(long))


def test_repeated_failing_calls_do_not_grow(tmp_path):
    fs = _fs(["http://127.0.0.1:9"], tmp_path)
    times = []
    for _ in range(4):
        start = time.monotonic()
        with pytest.raises(GatewayError):
            fs.cat("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N/catalog.yml")
        times.append(time.monotonic() - start)
    assert max(times[1:]) <= max(times[0] * 2, 1.0)


def test_not_found_everywhere_is_content_not_found(tmp_path):
    _, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as a, TrustlessGateway(blocks) as b:
        with pytest.raises(ContentNotFoundError):
            _fs([a.url, b.url], tmp_path).cat("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N/x")


# ------------------------------------------------------------ full reads stream the directory once
def test_a_full_read_of_a_directory_becomes_one_stream(tmp_path):
    import asyncio

    from eurec4a.ipfs import filesystem

    root_dir = tmp_path / "store" / "var"
    root_dir.mkdir(parents=True)
    # large enough that the files read before the stream are under STREAM_RESEND_FRACTION of it
    count = 40 * filesystem.PREFETCH_TRIGGER
    assert (filesystem.PREFETCH_TRIGGER - 1) / count < filesystem.STREAM_RESEND_FRACTION
    for i in range(count):
        (root_dir / f"0.{i}").write_bytes(i.to_bytes(2, "big") * 2048)
    store = MemoryBlockStore()
    root = str(import_directory(tmp_path / "store", store, "unixfs-v1-2025"))
    with TrustlessGateway(dict(store.blocks)) as gw:
        fs = _fs([gw.url], tmp_path)
        trigger = filesystem.PREFETCH_TRIGGER
        partial = fs.cat([f"{root}/var/0.{i}" for i in range(trigger - 1)])  # below the trigger: one by one
        assert gw.count() == trigger - 1

        async def load_all():
            return await asyncio.gather(*(fs._cat_file(f"{root}/var/0.{i}") for i in range(count)))

        everything = fs.loop and asyncio.run_coroutine_threadsafe(load_all(), fs.loop).result(60)
        assert everything == [i.to_bytes(2, "big") * 2048 for i in range(count)]
        assert all(partial[f"{root}/var/0.{i}"] == everything[i] for i in range(trigger - 1))
        # concurrent cold reads each fetch on their own until the directory has seen `trigger`
        # of them once it is verified; everything after that came in one stream
        assert gw.count() <= 2 * trigger + 1 < count
        assert sum("dag-scope=all" in r.path for r in gw.requests) == 1
        # the stream's blocks were stored together (packs), not as a file per block, and the
        # stream proved the directory complete
        assert fs.cache.info()["entries"] <= gw.count() + 2 < count
        var_cid = fs.info(f"{root}/var")["CID"]
        deadline = time.monotonic() + 30  # the stream may still be storing its tail
        while not fs.cache.is_complete(var_cid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fs.cache.is_complete(var_cid)
        fresh = _fs([gw.url], tmp_path)  # every block is in the shared cache now
        assert fresh.cat_file(f"{root}/var/0.{count - 1}") == everything[-1]
        assert sum("dag-scope=all" in r.path for r in gw.requests) == 1


@pytest.mark.parametrize("size", [60_000, 600_000], ids=["one-block files", "files of several blocks"])
def test_a_directory_read_further_than_a_stream_allows_is_fetched_ahead_file_by_file(tmp_path, size):
    """A variable of a few dozen chunks read whole: the files not read yet come once each, ahead.

    At the trigger a third of the directory is here or being read; a ``dag-scope=all``
    stream would send all of that again (1.3x the data on the wire).
    """
    from eurec4a.ipfs import filesystem

    count = 3 * filesystem.PREFETCH_TRIGGER
    root, blocks, expected = _dataset(tmp_path, variables=1, files=count, size=size)
    names = sorted(expected, key=lambda n: int(n.split("/")[1].split(".")[0]))  # dask's order: 0.0, 1.0, ...
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        assert _load_like_dask(fs, root, names) == expected
        assert not [r.path for r in gw.requests if "dag-scope=all" in r.path]
        # every file was asked for once: by its read, or ahead of it (plus the root and the
        # variable's directory, which came with the first reads)
        files_asked = [r.path for r in gw.requests if r.path.split("?")[0].count("/") == 2]
        assert len(files_asked) == len(set(files_asked)) >= count - filesystem.PREFETCH_TRIGGER
        data = sum(len(v) for v in expected.values())
        assert fs.statistics["blocks_dropped"] == 0
        assert fs.statistics["bytes_received"] <= 1.05 * data, (fs.statistics, data)
        before = gw.count()
        assert _load_like_dask(_fs([gw.url], tmp_path), root, names) == expected
        assert gw.count() == before  # all of it is in the cache


def test_reads_ahead_of_files_end_with_the_reads(tmp_path):
    """A read that finds its file being fetched ahead takes those blocks; a failing gateway costs no file."""
    from eurec4a.ipfs import filesystem

    count = 3 * filesystem.PREFETCH_TRIGGER
    root, blocks, expected = _dataset(tmp_path, variables=1, files=count, size=30_000)
    names = sorted(expected, key=lambda n: int(n.split("/")[1].split(".")[0]))
    with TrustlessGateway(blocks) as gw:
        gw.faults.seed = 5
        gw.faults.failure_rate = 0.3
        fs = _fs([gw.url], tmp_path)
        assert _load_like_dask(fs, root, names, threads=4) == expected
        assert not fs._ahead and not fs._reading  # nothing is left under way


def test_a_failing_stream_still_yields_every_file(tmp_path):
    from eurec4a.ipfs import filesystem

    root_dir = tmp_path / "store" / "var"
    root_dir.mkdir(parents=True)
    count = 2 * filesystem.PREFETCH_TRIGGER
    for i in range(count):
        (root_dir / f"0.{i}").write_bytes(bytes([i]) * 5000)
    store = MemoryBlockStore()
    root = str(import_directory(tmp_path / "store", store, "unixfs-v1-2025"))
    with TrustlessGateway(dict(store.blocks)) as gw:
        gw.faults.seed = 3
        gw.faults.failure_rate = 0.3
        fs = _fs([gw.url], tmp_path)
        got = fs.cat([f"{root}/var/0.{i}" for i in range(count)])
        assert [got[f"{root}/var/0.{i}"] for i in range(count)] == [bytes([i]) * 5000 for i in range(count)]


def test_absent_probes_alone_at_a_cold_root_settle_with_one_root_block(tmp_path):
    """Only absent names asked at once below a cold root: none waits for the others forever."""
    import asyncio

    root, blocks = _content(tmp_path)
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)

        async def probes():
            names = ["zarr.json", ".zgroup", ".zattrs"]
            return await asyncio.gather(*(fs._cat_file(f"{root}/{n}") for n in names), return_exceptions=True)

        got = asyncio.run_coroutine_threadsafe(probes(), fs.loop).result(60)
        assert all(isinstance(g, FileNotFoundError) for g in got), got
        # three path requests (one round trip) and the root block asked for once, alone
        raw = [r.path for r in gw.requests if "format=raw" in r.path]
        assert len(raw) == 1 and gw.count() == 4, [r.path for r in gw.requests]


def test_an_absent_probe_ends_with_its_failing_siblings_error(tmp_path):
    """Siblings that fail on their gateways end the absent name's wait: no second round of requests."""
    import asyncio

    def answer(path):
        if "zarr.json" in path:
            return 404, {}, [b"not found"]
        return 503, {}, [b"busy"]

    root = "bafybeib7jya4wtalpvfjoohqvjcdgbfczgqqku2mz2pnezujazl6pqqymu"
    with Scripted(answer) as gw:
        fs = _fs([gw.url], tmp_path, deadline=5, timeout=2)

        async def probes():
            names = ["zarr.json", ".zgroup", ".zattrs", ".zmetadata", "var/0", "var/1"]
            return await asyncio.gather(*(fs._cat_file(f"{root}/{n}") for n in names), return_exceptions=True)

        got = asyncio.run_coroutine_threadsafe(probes(), fs.loop).result(60)
        assert all(isinstance(g, GatewayError) for g in got), got
        # the root block was never asked for alone: the siblings' failure was the answer
        assert not [p for p in gw.paths if "format=raw" in p], gw.paths


def _dataset(tmp_path, variables=10, files=6, size=20000, separator="."):
    """A store shaped like a sounding dataset: many variables of a few chunks each, metadata at its root.

    ``separator="/"`` nests the chunks as zarr's ``dimension_separator: "/"`` does (``var0/3/0``).
    """
    top = tmp_path / "dataset"
    top.mkdir()
    (top / ".zmetadata").write_text("{}")
    expected = {}
    for v in range(variables):
        for i in range(files):
            data = (bytes([v]) + i.to_bytes(2, "big")) * (size // 3)  # distinct for every chunk
            name = f"var{v}/{i}{separator}0"
            (top / name).parent.mkdir(parents=True, exist_ok=True)
            (top / name).write_bytes(data)
            expected[name] = data
    store = MemoryBlockStore()
    root = str(import_directory(top, store, "unixfs-v1-2025"))
    return root, dict(store.blocks), expected


def _load_like_dask(fs, root, names, threads=8):
    """Read ``names`` below ``root`` ``threads`` at a time, in order (dask's threaded scheduler over zarr)."""
    import asyncio

    async def load():
        slots = asyncio.Semaphore(threads)

        async def one(name):
            async with slots:
                return name, await fs._cat_file(f"{root}/{name}")

        return dict(await asyncio.gather(*(one(n) for n in names)))

    return asyncio.run_coroutine_threadsafe(load(), fs.loop).result(120)


@pytest.mark.parametrize("separator", [".", "/"])
def test_a_dataset_read_whole_streams_its_unread_directories(tmp_path, separator):
    """Many small variables (none reaches the per-directory trigger): the rest of the store comes as streams."""
    from eurec4a.ipfs import filesystem

    root, blocks, expected = _dataset(tmp_path, separator=separator)
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        got = _load_like_dask(fs, root, list(expected))
        assert got == expected
        streams = [r.path for r in gw.requests if "dag-scope=all" in r.path]
        # the first PREFETCH_TRIGGER cold reads touch a few variables; every other one is one stream
        touched = {n.split("/")[0] for n in list(expected)[: filesystem.PREFETCH_TRIGGER]}
        assert 1 <= len(streams) <= 10 - len(touched) + 1, streams
        # the reads before the trigger, those already under way then (8 at a time), the streams
        assert gw.count() <= filesystem.PREFETCH_TRIGGER + 8 + len(streams) < len(expected)
        # no block crossed the wire twice: what was received is the data plus directory blocks
        # sent along with the first reads of a directory (a few hundred bytes each)
        assert fs.statistics["blocks_dropped"] == 0
        data = sum(len(b) for b in blocks.values())
        assert fs.statistics["bytes_received"] <= 1.1 * data, (fs.statistics, data)
        streamed = [fs.info(f"{root}/var{v}")["CID"] for v in range(10)]
        deadline = time.monotonic() + 30  # a stream may still be storing its tail
        while sum(map(fs.cache.is_complete, streamed)) < len(streams) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(map(fs.cache.is_complete, streamed)) >= len(streams)
        before = gw.count()
        assert _load_like_dask(_fs([gw.url], tmp_path), root, list(expected)) == expected
        assert gw.count() == before  # all of it is in the cache


@pytest.mark.parametrize("files", [600, 100], ids=["streamed whole", "streamed entry by entry"])
def test_a_variable_nested_one_directory_per_chunk_is_read_ahead(tmp_path, files):
    """zarr v3's chunk keys (``c/0/0``) and v2's ``/`` separator: one directory per chunk row.

    No directory holds more than one chunk, so only the count below the variable can see
    the full read. Little of it read yet: one stream of the variable; more: a stream per
    chunk directory nobody has read. Either way no chunk crosses the wire twice.
    """
    from eurec4a.ipfs import filesystem

    root, blocks, expected = _dataset(tmp_path, variables=1, files=files, size=16384, separator="/")
    names = sorted(expected, key=lambda n: int(n.split("/")[1]))
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        assert _load_like_dask(fs, root, names) == expected
        streams = [r.path for r in gw.requests if "dag-scope=all" in r.path]
        if files == 600:  # the reads before the trigger are under STREAM_RESEND_FRACTION of it
            assert len(streams) == 1, streams
            assert gw.count() <= filesystem.PREFETCH_TRIGGER + 8 + 2, gw.count()
        else:  # one request per chunk directory still, many of them ahead of the reads, none twice
            assert len(streams) >= files // 2, len(streams)
            assert gw.count() <= files + 4, gw.count()
            assert len(set(streams)) == len(streams)
        data = sum(len(b) for b in blocks.values())
        assert fs.statistics["blocks_dropped"] == 0
        assert fs.statistics["bytes_received"] <= 1.1 * data, (fs.statistics, data)
        # the reads are over; the streams may still be storing their last batch
        streaming = list(fs._streams.values())
        if streaming:  # (streams of single entries are let go once done)
            asyncio.run_coroutine_threadsafe(asyncio.wait(streaming), fs.loop).result(30)
        before = gw.count()
        assert _load_like_dask(_fs([gw.url], tmp_path), root, names) == expected
        assert gw.count() == before  # all of it is in the cache


def test_a_partial_read_of_a_dataset_streams_nothing(tmp_path):
    from eurec4a.ipfs import filesystem

    root, blocks, expected = _dataset(tmp_path)
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        names = list(expected)[: filesystem.PREFETCH_TRIGGER - 1]
        assert _load_like_dask(fs, root, names) == {n: expected[n] for n in names}
        assert not [r.path for r in gw.requests if "dag-scope=all" in r.path]
        assert gw.count() == len(names)


def test_a_dataset_over_the_prefetch_limit_is_read_file_by_file(tmp_path, monkeypatch):
    from eurec4a.ipfs import filesystem

    root, blocks, expected = _dataset(tmp_path)
    monkeypatch.setattr(filesystem, "READ_AHEAD_MAX_BYTES", 100_000)  # the store has ~1.2 MB
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        assert _load_like_dask(fs, root, list(expected)) == expected
        assert not [r.path for r in gw.requests if "dag-scope=all" in r.path]
        assert gw.count() == len(expected)


def test_a_failing_read_ahead_still_yields_every_file(tmp_path):
    root, blocks, expected = _dataset(tmp_path)
    with TrustlessGateway(blocks) as gw:
        gw.faults.seed = 5
        gw.faults.failure_rate = 0.3
        fs = _fs([gw.url], tmp_path)
        assert _load_like_dask(fs, root, list(expected)) == expected
        assert fs.statistics["blocks_dropped"] == 0


def test_a_drip_feeding_gateway_ends_at_the_deadline_naming_it(tmp_path):
    root, _ = _content(tmp_path)

    def drip(path):
        def chunks():
            while True:
                time.sleep(0.3)
                yield b"\x01"
        return 200, CAR_HEADERS, chunks()

    with Scripted(drip) as slow:
        start = time.monotonic()
        with pytest.raises(GatewayError, match="EUREC4A_DEADLINE"):
            _fs([slow.url], tmp_path, timeout=2, deadline=3).cat_file(f"{root}/plain.txt")
        assert time.monotonic() - start < 3 * 1.5


def test_a_stalled_gateway_names_the_read_timeout(tmp_path):
    root, _ = _content(tmp_path)

    def stall(path):
        def chunks():
            yield b""
            time.sleep(30)
            yield b""
        return 200, CAR_HEADERS, chunks()

    with Scripted(stall) as stalled:
        with pytest.raises(GatewayError, match="EUREC4A_TIMEOUT|EUREC4A_DEADLINE"):
            _fs([stalled.url], tmp_path, timeout=0.5, deadline=4).cat_file(f"{root}/plain.txt")


# ------------------------------------------------------------ HAMT-sharded directories
def _sharded_variable(tmp_path, count, size=3000, fanout=256):
    """A variable of ``count`` chunks in a HAMT-sharded directory (kubo shards those over 256 KiB)."""
    from eurec4a.ipfs.codecs import UNIXFS_HAMT_SHARD, decode_pbnode, decode_unixfs

    top = tmp_path / "sharded"
    (top / "var").mkdir(parents=True)
    (top / ".zmetadata").write_text("{}")
    expected = {}
    for i in range(count):
        data = (i.to_bytes(3, "big")) * (size // 3)  # distinct for every chunk
        (top / "var" / f"{i}.0").write_bytes(data)
        expected[f"var/{i}.0"] = data
    store = MemoryBlockStore()
    # a low threshold shards a directory of hundreds of entries as kubo shards one of thousands
    root = import_directory(top, store, "unixfs-v1-2025", hamt_threshold=2000, hamt_fanout=fanout)
    var = next(link.cid for link in decode_pbnode(store.blocks[root]).links if link.name == "var")
    assert decode_unixfs(decode_pbnode(store.blocks[var]).data).type == UNIXFS_HAMT_SHARD
    return str(root), dict(store.blocks), expected, var


def _at_most_the_data_and_its_shards(fs, gw, blocks, expected, var):
    """Bytes received: the data, CAR framing, the shards twice, and the top shard once per request.

    A read asking by path below a sharded directory gets the shards on its path in the
    answer (the gateway walks them), and a stream of the directory sends its shards and
    up to STREAM_RESEND_FRACTION of its data again; nothing else may come twice.
    """
    from eurec4a.ipfs import filesystem
    from eurec4a.ipfs.codecs import decode_pbnode, decode_unixfs

    def shards(cid):
        node = decode_pbnode(blocks[cid])
        width = len(f"{decode_unixfs(node.data).fanout - 1:X}")
        subs = [link.cid for link in node.links if len(link.name or "") == width]
        return len(blocks[cid]) + sum(shards(s) for s in subs)

    data = sum(len(v) for v in expected.values())
    bound = (data * (1 + filesystem.STREAM_RESEND_FRACTION) + 64 * len(expected) + 2 * shards(var)
             + gw.count() * len(blocks[var]))
    assert fs.statistics["bytes_received"] <= bound, (fs.statistics, data, bound)


def test_a_sharded_directory_read_whole_becomes_one_stream(tmp_path):
    """A variable whose directory is a HAMT, loaded whole: one stream, not a request per chunk.

    Its entries cannot be listed until its shards are here; the reads so far are counted
    from the shards at hand (the others hold no entry read yet).
    """
    from eurec4a.ipfs import filesystem

    count = 40 * filesystem.PREFETCH_TRIGGER
    root, blocks, expected, var = _sharded_variable(tmp_path, count)
    names = sorted(expected, key=lambda n: int(n.split("/")[1].split(".")[0]))
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        assert _load_like_dask(fs, root, names) == expected
        assert sum("dag-scope=all" in r.path for r in gw.requests) == 1
        assert gw.count() <= 2 * filesystem.PREFETCH_TRIGGER + 8 < count
        _at_most_the_data_and_its_shards(fs, gw, blocks, expected, var)
        before = gw.count()
        for _ in range(30):  # read-ahead the load started may still be finishing: let it settle
            time.sleep(0.3)
            if gw.count() == before:
                break
            before = gw.count()
        assert _load_like_dask(_fs([gw.url], tmp_path), root, names) == expected
        assert gw.count() == before  # all of it is in the cache


def test_a_sharded_directory_read_further_than_a_stream_allows_comes_file_by_file(tmp_path):
    """A sharded variable of a few hundred chunks loaded whole: its shards come once, then each file once.

    At the trigger more of it is here or being read than a stream may send again: its
    missing shards are fetched (one ``dag-scope=entity`` request), then the files ahead.
    """
    from eurec4a.ipfs import filesystem

    count = 3 * filesystem.PREFETCH_TRIGGER * 4
    # a small fanout: shards below shards, as in a directory of tens of thousands of chunks
    root, blocks, expected, var = _sharded_variable(tmp_path, count, fanout=16)
    names = sorted(expected, key=lambda n: int(n.split("/")[1].split(".")[0]))
    with TrustlessGateway(blocks) as gw:
        fs = _fs([gw.url], tmp_path)
        first = names[: filesystem.PREFETCH_TRIGGER - 1]
        assert _load_like_dask(fs, root, first) == {n: expected[n] for n in first}
        assert _load_like_dask(fs, root, names) == expected
        assert not [r.path for r in gw.requests if "dag-scope=all" in r.path]
        files_asked = [r.path.split("?")[0] for r in gw.requests if "format=raw" in r.path]
        assert len(files_asked) == len(set(files_asked))  # no file twice
        # its shards came once, in one request; then files by their CIDs, not by path through them
        assert sum(r.path.startswith(f"/ipfs/{var}?") for r in gw.requests) == 1
        by_path = [r.path for r in gw.requests if "/var/" in r.path]
        assert len(by_path) <= 2 * filesystem.PREFETCH_TRIGGER + 8 < count // 2, len(by_path)
        assert gw.count() <= count + 2
        _at_most_the_data_and_its_shards(fs, gw, blocks, expected, var)
