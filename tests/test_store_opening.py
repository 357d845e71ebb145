"""Opening a zarr store on IPFS: the metadata and the coordinates xarray reads come in two round trips.

Real parts: stores written by xarray/zarr (v2 and v3, consolidated), imported as UnixFS,
served by the stack's :class:`~eurec4a.testing.gateway.TrustlessGateway` on 127.0.0.1.
"""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from eurec4a.catalog.sources import ZarrSource, _opening_keys, _prefetch_store_opening
from eurec4a.ipfs.filesystem import IPFSFileSystem
from eurec4a.publish.importer import MemoryBlockStore, import_directory
from eurec4a.testing.gateway import TrustlessGateway


def _soundings(n=40, levels=30):
    """A sounding dataset's shape: two dimension coordinates and a launch time in CF units."""
    launch = np.datetime64("2020-01-20T00:00:00", "ns") + np.arange(n) * np.timedelta64(1, "h")
    return xr.Dataset(
        {"ta": (("sounding", "alt"), np.random.default_rng(1).random((n, levels)))},
        coords={"sounding": np.arange(n), "alt": np.arange(levels) * 10.0, "launch_time": ("sounding", launch)},
    )


def _published(tmp_path, zarr_format):
    path = tmp_path / "store.zarr"
    ds = _soundings()
    encoding = {name: {"chunks": (10,)} for name in ("sounding", "launch_time")}
    encoding["ta"] = {"chunks": (10, 30)}
    ds.to_zarr(path, zarr_format=zarr_format, consolidated=True, encoding=encoding)
    store = MemoryBlockStore()
    return ds, str(import_directory(path, store, "unixfs-v1-2025", hidden=True)), dict(store.blocks)


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part:UserWarning")  # zarr 3's own
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_opening_a_store_reads_metadata_and_coordinates_in_two_round_trips(tmp_path, zarr_format):
    ds, root, blocks = _published(tmp_path, zarr_format)
    cache = str(tmp_path / "cache")
    with TrustlessGateway(blocks) as gw:
        _prefetch_store_opening(f"ipfs://{root}", {"gateways": [gw.url], "cache_dir": cache})
        first = len(gw.requests)
        # the metadata files at once (absent ones included), then every coordinate chunk at once:
        # sounding (4 chunks), alt (1), launch_time (first and last of 4)
        assert first == 4 + 4 + 1 + 2, [r.path for r in gw.requests]
        src = ZarrSource(f"ipfs://{root}", storage_options={"gateways": [gw.url], "cache_dir": cache})
        opened = src.to_dask()  # the source prefetches again: everything is here, no request
        assert len(gw.requests) == first, [r.path for r in gw.requests[first:]]
        xr.testing.assert_identical(opened.load(), ds)


def test_the_opening_of_a_store_makes_xarrays_own_opening_reads_local(tmp_path):
    ds, root, blocks = _published(tmp_path, 2)
    cache = str(tmp_path / "cache")
    with TrustlessGateway(blocks) as gw:
        _prefetch_store_opening(f"ipfs://{root}", {"gateways": [gw.url], "cache_dir": cache})
        before = len(gw.requests)
        fs = IPFSFileSystem(gateways=[gw.url], cache_dir=cache, skip_instance_cache=True)
        for key in [".zmetadata", ".zgroup", ".zattrs", "sounding/0", "sounding/3", "alt/0", "launch_time/0",
                    "launch_time/3"]:
            fs.cat_file(f"{root}/{key}")
        assert len(gw.requests) == before  # all of it came with the opening


def test_opening_keys_of_v3_metadata_and_what_is_left_out():
    meta = {"zarr_format": 3, "node_type": "group", "consolidated_metadata": {"kind": "inline", "metadata": {
        "time": {"node_type": "array", "shape": [5], "dimension_names": ["time"],
                 "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
                 "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}}},
        "launch": {"node_type": "array", "shape": [5], "dimension_names": ["time"],
                   "attributes": {"units": "hours since 2020-01-01"},
                   "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5]}},
                   "chunk_key_encoding": {"name": "v2", "configuration": {"separator": "."}}},
        "ta": {"node_type": "array", "shape": [5, 3], "dimension_names": ["time", "alt"],
               "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [5, 3]}}},
    }}}
    assert _opening_keys(meta) == ["time/c/0", "time/c/1", "time/c/2", "launch/0"]
    # what is not consolidated metadata, or is malformed, names nothing (xarray then reads as usual)
    for bad in [None, [], {"metadata": {}}, {"zarr_format": 3}, {"zarr_consolidated_format": 1, "metadata": {
            "x/.zarray": {"shape": [-1], "chunks": [0]}, "x/.zattrs": {"_ARRAY_DIMENSIONS": ["x"]}}}]:
        assert _opening_keys(bad) == []


def test_a_missing_store_is_left_to_xarray_to_report(tmp_path):
    with TrustlessGateway({}) as gw:
        _prefetch_store_opening("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N",
                                {"gateways": [gw.url], "cache_dir": str(tmp_path / "c")})  # no exception


def test_a_zarr_entry_on_ipfs_prefetches_its_opening(tmp_path, monkeypatch):
    """The wiring: ``to_dask()`` of an ``ipfs://`` zarr entry asks for its opening first (a spy, real calls)."""
    from eurec4a.catalog import sources

    ds, root, blocks = _published(tmp_path, 2)
    seen = []
    real = sources._prefetch_store_opening

    def spy(url, options):
        seen.append(url)
        return real(url, options)

    monkeypatch.setattr(sources, "_prefetch_store_opening", spy)
    with TrustlessGateway(blocks) as gw:
        src = ZarrSource(f"ipfs://{root}", storage_options={"gateways": [gw.url], "cache_dir": str(tmp_path / "c")})
        xr.testing.assert_identical(src.to_dask().load(), ds)
        assert seen == [f"ipfs://{root}"]
        # the opening's requests: the metadata files and the coordinate chunks, each once
        # then, loading, ta's 4 chunks: nothing was fetched twice
        assert len(gw.requests) == 11 + 4, [r.path for r in gw.requests]


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part:UserWarning")  # zarr 3's own
def test_a_sharded_zarr_v3_store_loads_with_each_block_once(tmp_path):
    """zarr v3 shards are read one inner chunk (a byte range) at a time, many at once.

    Each range used to be its own CAR, re-sending the shared blocks: 3x the data on the wire.
    """
    n = 1024 * 1024
    ds = xr.Dataset({"x": (("t",), np.random.default_rng(7).standard_normal(n).astype("float32"))})
    path = tmp_path / "sharded.zarr"
    ds.to_zarr(path, zarr_format=3, consolidated=True,
               encoding={"x": {"chunks": (16384,), "shards": (n,), "compressors": None}})
    store = MemoryBlockStore()
    root = str(import_directory(path, store, "unixfs-v1-2025", hidden=True))
    blocks = dict(store.blocks)
    cache = str(tmp_path / "cache")
    with TrustlessGateway(blocks) as gw:
        src = ZarrSource(f"ipfs://{root}", storage_options={"gateways": [gw.url], "cache_dir": cache})
        xr.testing.assert_identical(src.to_dask().load(), ds)
        asked = [r.path for r in gw.requests]
        raw = [p for p in asked if "format=raw" in p]
        assert raw and len(raw) == len(set(raw)), sorted(asked)  # no block of the shard asked twice
        # every block once: the shard's leaves, the metadata, the directories on the way
        # (concurrent first reads of the shard's path may each bring its small root block)
        assert not [p for p in asked if "entity-bytes" in p], asked
        assert len(asked) <= len(blocks) + 4, asked
        fresh = ZarrSource(f"ipfs://{root}", storage_options={"gateways": [gw.url], "cache_dir": cache})
        xr.testing.assert_identical(fresh.to_dask().load(), ds)
        assert len(gw.requests) == len(asked)  # the second load is all cache
