"""Kerchunk references in every form the real catalog uses, in every mode; on IPFS both the references
and the chunks are verified."""
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

import eurec4a
from eurec4a.testing import TrustlessGateway, BlockStore
from eurec4a.publish.importer import import_bytes
from eurec4a.testing.demo_data import DEMO_FILES, REFERENCE_FILES


def _references_to_ipfs(fs, store_url: str) -> dict:
    """A kerchunk-style reference set for a zarr store on IPFS: metadata inline, chunks by ipfs:// URL."""
    refs = {}
    base = fs._strip_protocol(store_url)
    for path in fs.find(store_url):
        key = path[len(base) + 1:]
        if key.rsplit("/", 1)[-1].startswith("."):
            refs[key] = fs.cat(path).decode()
        else:
            refs[key] = [f"ipfs://{path}"]
    return {"version": 1, "refs": refs}


def test_reference_urls_on_ipfs_open_through_a_catalog(stack, tmp_path, monkeypatch):
    dataset_url = stack.build.datasets["barbados.bco.surface_met"]
    fs = eurec4a.IPFSFileSystem(gateways=stack.gateway_url)
    refs = json.dumps(_references_to_ipfs(fs, dataset_url), sort_keys=True).encode()
    refs_cid, blocks = import_bytes(refs, "unixfs-v1-2025")
    store = BlockStore(cars=[stack.build.car_path])
    for cid, block in blocks.items():
        store.put(cid, block)
    (tmp_path / "catalog.yml").write_text(yaml.safe_dump({"sources": {"met": {
        "description": "surface met through kerchunk references on IPFS", "driver": "zarr",
        "args": {"urlpath": f"reference::ipfs://{refs_cid}", "consolidated": False},
    }}}))
    from eurec4a.catalog.yaml_catalog import open_yaml_catalog

    expected = eurec4a.get_intake_catalog().barbados.bco.surface_met.read()
    with TrustlessGateway(store) as gw:
        monkeypatch.setenv("IPFS_GATEWAY", gw.url)  # the only gateway holding the references
        cat = open_yaml_catalog(str(tmp_path / "catalog.yml"))
        ds = cat.met.to_dask()
        assert all(v.chunks is not None for v in ds.data_vars.values())
        xr.testing.assert_identical(ds.load(), expected)
        assert gw.count() > 0  # chunks came through this gateway, block-verified


# ------------------------------------------------------------------ every form the real catalog uses

FORMS = ["ERA5", "2D", "ERA5_remote", "ERA5_chained", "gridded"]


@pytest.mark.parametrize("mode", ["classic", "latest", "pinned"])
def test_every_reference_form_opens_the_hdf5_data_in_every_mode(stack, mode):
    cat = eurec4a.get_intake_catalog(use_ipfs={"classic": False, "latest": True, "pinned": stack.root_cid}[mode])
    bc = cat.simulations.EUREC4A_MIP.boundary_conditions
    direct = xr.open_dataset(Path(stack.static.root_dir) / "data" / DEMO_FILES["mip/bc"]).load()
    for name in FORMS:
        ds = bc[name].to_dask().load()
        if name == "2D":  # decode_times: false, as the real deltas ERA5 entry
            assert ds["time"].dtype == np.int32 and ds["time"].attrs["units"] == direct["time"].encoding["units"]
            ds = xr.decode_cf(ds)
        xr.testing.assert_identical(ds, direct)


def _one_entry(tmp_path, args):
    (tmp_path / "catalog.yml").write_text(yaml.safe_dump({"sources": {"refs": {
        "description": "references", "driver": "zarr", "args": args}}}))
    from eurec4a.catalog.yaml_catalog import open_yaml_catalog

    return open_yaml_catalog(str(tmp_path / "catalog.yml")).refs


def test_reference_errors_say_what_is_wrong(stack, tmp_path):
    with pytest.raises(eurec4a.CatalogError, match=r"needs the references in storage_options: \{fo:"):
        _one_entry(tmp_path, {"urlpath": "reference://", "consolidated": False}).to_dask()
    with pytest.raises(eurec4a.CatalogError, match="names no references file after 'reference::'"):
        _one_entry(tmp_path, {"urlpath": "reference::", "consolidated": False}).to_dask()
    missing = f"{stack.static.url}/data/nothing.ref"
    with pytest.raises(eurec4a.CatalogNotFoundError, match="nothing.ref"):
        _one_entry(tmp_path, {"urlpath": "reference://", "storage_options": {"fo": missing},
                              "consolidated": False}).to_dask()
    fo = f"{stack.static.url}/data/{REFERENCE_FILES['mip/bc']}"
    source = _one_entry(tmp_path, {"urlpath": "reference://", "storage_options": {"fo": fo}, "consolidated": False})
    stack.static.faults.down = True
    with pytest.raises(eurec4a.ServerUnreachableError, match=r"connection refused"):
        source.to_dask()


def test_reference_sources_show_only_the_catalogs_arguments(stack):
    cat = eurec4a.get_intake_catalog()
    source = cat.simulations.EUREC4A_MIP.boundary_conditions.ERA5
    doc = yaml.safe_load(source.yaml())
    assert doc["sources"]["ERA5"]["args"]["storage_options"] == {
        "fo": f"{stack.static.url}/data/{REFERENCE_FILES['mip/bc']}"}
