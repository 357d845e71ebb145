"""Kerchunk references on IPFS (``reference::ipfs://``): both the references and the chunks verified."""
import json

import xarray as xr
import yaml

import eurec4a
from eurec4a.testing import TrustlessGateway, BlockStore
from eurec4a.publish.importer import import_bytes


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
