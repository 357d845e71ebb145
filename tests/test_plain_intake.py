"""Plain intake beside eurec4a (issue 11, point 3).

After ``pip install eurec4a`` (with intake-xarray installed as well, as users have it for
other catalogs), ``intake.open_catalog(<an EUREC4A YAML file>)`` must honour parameters
and give ``describe()``. What makes it so is the ``intake.imports`` entry point declared
in pyproject.toml: intake imports it at start-up. The check runs in a fresh interpreter,
the way a user starts one. When the eurec4a installed in this environment was installed
before the entry point existed, the test declares the entry points of this checkout's
pyproject.toml in a throw-away ``.dist-info`` folder on that interpreter's path (what
``pip install`` would write); everything else is the real installation.
"""
from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import xarray as xr

import eurec4a

ROOT = Path(__file__).resolve().parents[1]


def _declared_entry_points() -> dict[str, dict[str, str]]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return doc["project"]["entry-points"]


def _interpreter_path(tmp_path: Path) -> str:
    """PYTHONPATH for a fresh interpreter that sees this checkout and its declared entry points."""
    paths = [str(ROOT)]
    installed = {ep.value for ep in md.entry_points(group="intake.imports")}
    declared = _declared_entry_points()
    if set(declared["intake.imports"].values()) - installed:
        info = tmp_path / "site" / "eurec4a_checkout_entry_points-0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: eurec4a-checkout-entry-points\nVersion: 0\n")
        (info / "entry_points.txt").write_text(
            "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                    for group, eps in declared.items() if group == "intake.imports"))
        paths.append(str(tmp_path / "site"))
    return os.pathsep.join(paths + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])


SCRIPT = r'''
import json, sys, warnings
warnings.simplefilter("ignore")
import intake                      # only intake: eurec4a is never imported by this script
import intake_xarray               # installed beside it, as users have it
import importlib.metadata as md
from intake.source import registry
url = sys.argv[1]
cat = intake.open_catalog(url)
high = cat.high_res(version=1.0)
low = cat.motion_corrected(date="2020-02-02 13:00")
desc = cat.high_res.describe()
print(json.dumps({
    "xarray_entry_points": sorted(e.name for e in md.entry_points(group="intake.drivers")
                                  if e.value.startswith("intake_xarray")),
    "opendap_driver": registry["opendap"].__module__,
    "catalog": type(cat).__module__,
    "high_urlpath": high.urlpath,
    "high_version": high.to_dask().attrs["product_version"],
    "default_version": cat.high_res.to_dask().attrs["product_version"],
    "low_urlpath": low.urlpath,
    "describe_keys": sorted(desc),
    "parameters": [p["name"] for p in desc["user_parameters"]],
    "eurec4a_imported_by": "intake" if "eurec4a" in sys.modules else "nobody",
}))
'''


def test_plain_intake_with_intake_xarray_uses_our_drivers(stack, tmp_path):
    env = {**os.environ, "PYTHONPATH": _interpreter_path(tmp_path)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, stack.community_catalog_url], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # intake-xarray is there and claims the same driver names...
    assert {"opendap", "netcdf", "zarr"} <= set(got["xarray_entry_points"])
    # ...but the EUREC4A catalog opens with this package's drivers, through intake's own catalog
    assert got["opendap_driver"] == "eurec4a.catalog.sources"
    assert got["catalog"] == "intake.catalog.local"
    assert got["eurec4a_imported_by"] == "intake"
    # parameters are honoured (intake-xarray's adapters silently opened the default)
    assert got["high_urlpath"].endswith("_v1.0.nc") and got["high_version"] == "1.0"
    assert got["default_version"] == "1.1"
    assert got["low_urlpath"].endswith("RV-METEOR_LIMRAD94_Ze_20200202.nc")
    assert {"args", "description", "user_parameters", "metadata", "plugin"} <= set(got["describe_keys"])
    assert got["parameters"] == ["version", "dt"]


def test_our_drivers_win_in_this_process_too():
    import eurec4a.catalog.intake_plugin as plugin
    from intake.source import registry

    assert set(plugin.register()) == {"opendap", "zarr", "netcdf", "json"}
    for name in ("opendap", "zarr", "netcdf", "json"):
        assert registry[name].__module__ == "eurec4a.catalog.sources"


def test_eurec4a_open_catalog_checks_parameters_and_describes(stack):
    cat = eurec4a.open_catalog(stack.community_catalog_url)
    assert list(cat) == ["motion_corrected", "high_res"]
    assert cat.high_res(version=1.0).to_dask().attrs["product_version"] == "1.0"
    with pytest.raises(eurec4a.ParameterError, match=r"one of \[10, 20, 60\]"):
        cat.high_res(dt=15)
    with pytest.raises(eurec4a.ParameterError, match="above the maximum 1.1"):
        cat.high_res(version=1.2)
    desc = cat.motion_corrected.describe()
    assert desc["user_parameters"][0]["min"].isoformat() == "2020-02-01T00:00:00"


def test_eurec4a_open_catalog_on_ipfs_reads_verified(stack):
    url = stack.catalog_url  # the classic root, to find the community catalog's CID
    path = eurec4a.open_catalog(url).Meteor.get_entry("LICHT_LIDAR").describe()["args"]["path"]
    assert path.startswith("ipfs://") and path.endswith("/catalog.yaml")
    before = stack.gateway.count()
    cat = eurec4a.open_catalog(path, gateways=stack.gateway_url)
    ds = cat.high_res(version=1.0).to_dask()
    assert ds.attrs["product_version"] == "1.0"
    assert stack.gateway.count() > before  # read through the verifying IPFS filesystem
    expected = xr.open_dataset(Path(stack.static.root_dir) / "data" / "meteor" / "limrad94"
                               / "eurec4a_rv-meteor_cloudradar_20200201_v1.0.nc")
    xr.testing.assert_identical(ds.load(), expected.load())
