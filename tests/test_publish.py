"""Building the IPFS catalog from a classic one: deterministic, complete, honest about failures."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import yaml

from eurec4a.ipfs.car import read_car
from eurec4a.cli import main
from eurec4a.ipfs.unixfs import UnixFSReader
from eurec4a.errors import PublishError
from eurec4a.publish.build import build_ipfs_catalog


def test_rebuilding_the_demo_gives_the_same_root_cid(demo_stack, tmp_path):
    source = demo_stack.workdir / "www" / "catalog" / "catalog.yml"
    again = build_ipfs_catalog(source, tmp_path / "again")
    assert again.ok, again.summary()
    assert again.root_cid == demo_stack.root_cid
    assert again.car_path.read_bytes() == demo_stack.build.car_path.read_bytes()


def test_the_car_holds_the_whole_catalog_and_every_dataset(demo_stack):
    roots, blocks = read_car(demo_stack.build.car_path.read_bytes())  # every block verified while read
    assert [str(r) for r in roots] == [demo_stack.root_cid]
    reader = UnixFSReader(blocks.__getitem__)
    catalog = reader.read(reader.resolve(roots[0], "catalog.yml"))
    doc = yaml.safe_load(catalog)
    assert set(doc["sources"]) == {"HALO", "JOANNE", "barbados", "ATR", "simulations", "Meteor"}
    for entry, url in demo_stack.build.datasets.items():
        cid = url.split("//")[1].split("/")[0]
        root = next((c for c in blocks if str(c) == cid), None)
        assert root is not None, f"{entry}: dataset root {cid} not in the CAR"
        # every block of the dataset is there: walking the DAG raises KeyError on a missing one
        assert sum(1 for _ in reader.walk_blocks(root)) >= 1


def test_rewritten_entries_keep_name_description_metadata_parameters(demo_stack):
    classic = yaml.safe_load((demo_stack.workdir / "www" / "catalog" / "Meteor" / "LIMRAD94.yaml").read_text())
    ipfs = yaml.safe_load((demo_stack.build.catalog_dir / "Meteor" / "LIMRAD94.yaml").read_text())
    for name, entry in classic["sources"].items():
        new = ipfs["sources"][name]
        assert new["driver"] == "zarr"
        assert new["args"]["urlpath"].startswith("ipfs://")
        for key in ("description", "metadata", "parameters"):
            assert new.get(key) == entry.get(key)
    # parameters select a directory per value inside the dataset's CID
    assert ipfs["sources"]["high_res"]["args"]["urlpath"].endswith("/{{ version }}")
    assert ipfs["sources"]["low_res"]["args"]["urlpath"].endswith("/{{ date.strftime('%Y-%m-%d') }}")


def _small_catalog(tmp_path, extra_sources: dict | None = None):
    data = tmp_path / "data"
    data.mkdir()
    ds = xr.Dataset({"t": ("time", np.arange(5, dtype="float32"))}, coords={"time": np.arange(5)})
    ds.to_netcdf(data / "good.nc")
    sources = {
        "good": {"description": "a local netCDF file", "driver": "netcdf",
                 "args": {"urlpath": "{{CATALOG_DIR}}/data/good.nc"}, "metadata": {"doi": "10.5072/x"}},
        "broken": {"description": "points nowhere", "driver": "netcdf",
                   "args": {"urlpath": "{{CATALOG_DIR}}/data/missing.nc"}},
        "already": {"description": "already on IPFS", "driver": "zarr",
                    "args": {"urlpath": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"}},
    }
    sources.update(extra_sources or {})
    (tmp_path / "catalog.yml").write_text(yaml.safe_dump({"sources": sources}))
    return tmp_path / "catalog.yml"


def test_failures_are_reported_by_name_and_the_build_goes_on(tmp_path):
    src = _small_catalog(tmp_path)
    report = build_ipfs_catalog(src, tmp_path / "out")
    assert not report.ok
    assert set(report.failures) == {"broken"}
    assert "missing.nc" in report.failures["broken"] or "No such file" in report.failures["broken"]
    assert set(report.datasets) == {"good"}
    assert report.kept == ["already"]
    doc = yaml.safe_load((report.catalog_dir / "catalog.yml").read_text())
    assert doc["sources"]["already"]["args"]["urlpath"].startswith("ipfs://bafybei")  # kept as it was
    assert doc["sources"]["good"]["metadata"] == {"doi": "10.5072/x"}
    assert "FAILED broken" in report.summary()


def test_unenumerable_parameters_are_a_reported_failure(tmp_path):
    src = _small_catalog(tmp_path, {
        "free": {"description": "free-form parameter", "driver": "netcdf",
                 "args": {"urlpath": "{{CATALOG_DIR}}/data/{{ name }}.nc"},
                 "parameters": {"name": {"description": "file", "type": "str", "default": "good"}}},
    })
    report = build_ipfs_catalog(src, tmp_path / "out")
    assert "cannot be enumerated" in report.failures["free"]


def test_command_line_build_exits_non_zero_on_failures(tmp_path, capsys):
    src = _small_catalog(tmp_path)
    assert main(["ipfs", "build", str(src), str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "FAILED broken" in out and "catalog root CID: Qm" in out


def test_catalog_only_build_and_missing_source(tmp_path):
    src = _small_catalog(tmp_path)
    report = build_ipfs_catalog(src, tmp_path / "out", datasets=False)
    assert report.ok and report.datasets == {}
    with pytest.raises(PublishError, match="does not exist"):
        build_ipfs_catalog(tmp_path / "nope.yml", tmp_path / "out2")


def test_the_built_catalog_opens_through_a_gateway(tmp_path, monkeypatch):
    import eurec4a
    from eurec4a.testing import TrustlessGateway

    src = _small_catalog(tmp_path)
    report = build_ipfs_catalog(src, tmp_path / "out")
    with TrustlessGateway.from_cars(report.car_path) as gw:
        cat = eurec4a.get_intake_catalog(use_ipfs=report.root_cid, gateways=gw.url)
        xr.testing.assert_identical(cat.good.read(), xr.open_dataset(tmp_path / "data" / "good.nc"))
