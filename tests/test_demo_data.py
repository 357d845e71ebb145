"""Tests of the demo datasets, the demo/cycle catalog trees and the large catalog generator.

Datasets: deterministic (two runs, byte-identical), every required on-disk type present,
every file decodes with xarray. Catalog trees: valid YAML, every link resolves, only
placeholders as hosts, the required shapes exist, and intake itself opens the tree and
renders every parameterised urlpath to a file that the data generator wrote. For that
last check the placeholders are replaced with the local data dir (``@OPENDAP@``) and a
``file://`` URL (``@HTTP@``) instead of servers: what is tested is the catalog (intake
parsing, jinja rendering, drivers), not the servers, which other tests start for real.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import warnings
from datetime import date, timedelta
from pathlib import Path

import intake
import jinja2
import netCDF4
import numpy as np
import pytest
import xarray as xr
import yaml

from eurec4a.testing import CATALOGS_DIR
from eurec4a.testing import demo_data as demo_data_module
from eurec4a.testing.large_catalog import generate_large_catalog
from eurec4a.testing.demo_data import (
    DEMO_FILES,
    REFERENCE_FILES,
    FLIGHTS,
    JOANNE_VERSIONS,
    KT19_FLIGHTS,
    LIMRAD94_VERSIONS,
    TIME_UNITS,
    write_demo_data,
)

DEMO = CATALOGS_DIR / "demo"
CYCLE = CATALOGS_DIR / "cycle"
CATALOG_LINK_DRIVERS = {"yaml_file_cat", "intake.catalog.local.YAMLFileCatalog"}
URL_PREFIXES = ("@OPENDAP@/", "@HTTP@/", "simplecache::@HTTP@/", "reference::@HTTP@/")
#: Data on IPFS, named by CID placeholders (``eurec4a.testing.demo_data.ipfs_objects``).
CID_PREFIXES = ("ipfs://@BCO_ZARR_CID@", "reference::ipfs://@MIP_REFS_CID@", "ipfs://@COMMUNITY_CID@/")
#: The real catalog's gaps, copied on purpose: files without a description...
NO_FILE_DESCRIPTION = {"ATR/isotope-analyzer.yaml", "ATR/isotope-analyzer-wv.yaml",
                       "simulations/mip/main.yaml", "simulations/mip/bc.yaml"}
#: ...entries without one (``escription`` typo; description inside args)...
NO_ENTRY_DESCRIPTION = {("HALO/bacardi_irradiances.yaml", "HALO-0122"), ("ATR/isotope-analyzer-wv.yaml", "CRDS")}
#: ...and the one self-inclusion (ATR/isotope-analyzer-wv.yaml's CRDS opens its own file).
SELF_LINKS = {"ATR/isotope-analyzer-wv.yaml"}
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # same safe subset, faster in C


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def data_a(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_demo_data(tmp_path_factory.mktemp("demo_a"))


@pytest.fixture(scope="module")
def data_b(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_demo_data(tmp_path_factory.mktemp("demo_b"))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(
        p.stat().st_size for p in path.rglob("*") if p.is_file())


def _content_digest(ds: xr.Dataset) -> str:
    """Hash of decoded names, values, dtypes and attributes (object arrays by their text)."""
    digest = hashlib.sha256(repr(sorted(ds.attrs.items())).encode())
    for name in sorted(ds.variables):
        values = np.asarray(ds[name].values)
        digest.update(f"{name}|{values.dtype}|{values.shape}|".encode())
        digest.update(repr(sorted(ds[name].attrs.items())).encode())
        if values.dtype.kind == "O":
            digest.update("\x1f".join(map(str, values.ravel())).encode())
        else:
            digest.update(values.tobytes())
    return digest.hexdigest()


def _nc_files(files: dict[str, Path]) -> dict[str, Path]:
    return {k: p for k, p in files.items() if p.suffix == ".nc"}


def _yaml_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.suffix in (".yml", ".yaml"))


def _load(path: Path) -> dict:
    doc = yaml.load(path.read_text(), Loader=_LOADER)
    assert isinstance(doc, dict), path
    return doc


def _param_values(spec: dict) -> list:
    """Every value a parameter can take: ``allowed``, or each day of a datetime min..max."""
    if "allowed" in spec:
        return list(spec["allowed"])
    if spec.get("type") == "datetime":
        lo, hi = spec["min"], spec["max"]
        lo = lo if isinstance(lo, date) else date.fromisoformat(str(lo))
        hi = hi if isinstance(hi, date) else date.fromisoformat(str(hi))
        return [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]
    return [spec["default"]]


def _renderings(template: str, params: dict) -> list[tuple[dict, str]]:
    """(parameter values, rendered string) for every combination of parameter values."""
    combos: list[dict] = [{}]
    for name, spec in params.items():
        combos = [{**c, name: v} for c in combos for v in _param_values(spec)]
    if not params and "{{" not in template:
        return [({}, template)]
    compiled = _JINJA.from_string(template)
    return [(c, compiled.render(CATALOG_DIR="{{CATALOG_DIR}}", **c)) for c in combos]


def _entries(tree: Path):
    """Yield (yaml file, entry name, entry dict) for every entry of every file."""
    for f in _yaml_files(tree):
        for name, entry in (_load(f).get("sources") or {}).items():
            yield f, name, entry


def _link_targets(f: Path, entry: dict) -> list[Path]:
    """Files a catalog entry links to in the same tree (a catalog elsewhere, named by URL, is none)."""
    if not entry["args"]["path"].startswith("{{CATALOG_DIR}}/"):
        return []
    return [Path(r.replace("{{CATALOG_DIR}}", str(f.parent))).resolve()
            for _, r in _renderings(entry["args"]["path"], entry.get("parameters") or {})]


def _walk_depth(root: Path) -> tuple[int, set[Path], int]:
    """Longest yaml_file_cat chain, files reached and entries counted, by following links."""
    seen: set[Path] = set()
    entries = 0

    def visit(f: Path, depth: int) -> int:
        nonlocal entries
        assert f not in seen, f"cycle or double link at {f}"
        seen.add(f)
        deepest = depth
        for entry in (_load(f).get("sources") or {}).values():
            entries += 1
            if entry["driver"] in CATALOG_LINK_DRIVERS:
                for target in _link_targets(f, entry):
                    if target == f and _rel(f) in SELF_LINKS:
                        continue  # the one self-inclusion copied from the real catalog
                    deepest = max(deepest, visit(target, depth + 1))
        return deepest

    depth = visit(root.resolve(), 0)
    return depth, seen, entries


def _rel(f: Path) -> str:
    try:
        return f.resolve().relative_to(DEMO.resolve()).as_posix()
    except ValueError:
        return f.name


def _materialize(tree: Path, dest: Path, data_dir: Path, cids: dict[str, str] | None = None) -> Path:
    """Copy a catalog tree replacing @OPENDAP@ by the data dir and @HTTP@ by its file:// URL
    (and CID placeholders by ``cids``)."""
    for f in _yaml_files(tree):
        text = f.read_text().replace("@OPENDAP@", str(data_dir)).replace(
            "@HTTP@", data_dir.as_uri())
        for key, value in (cids or {}).items():
            text = text.replace(key, value)
        out = dest / f.relative_to(tree)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return dest


# --------------------------------------------------------------------------- datasets


def test_every_dataset_is_written_small_and_where_declared(data_a):
    assert set(data_a) == set(DEMO_FILES)
    root = data_a["flight_segments"].parents[1]
    for key, path in data_a.items():
        assert path == root / DEMO_FILES[key]
        assert path.exists(), key
        assert 100 <= _size(path) <= 400_000, (key, _size(path))
    # atomic writes leave no temp files behind
    assert not [p for p in root.rglob(".*") if p.name not in (".zattrs", ".zgroup", ".zarray",
                                                             ".zmetadata")]


def test_two_runs_are_byte_identical(data_a, data_b):
    root_a = data_a["flight_segments"].parents[1]
    root_b = data_b["flight_segments"].parents[1]
    a, b = _tree_bytes(root_a), _tree_bytes(root_b)
    assert sorted(a) == sorted(b)
    differing = [k for k in a if a[k] != b[k]]
    assert differing == []
    # and the decoded content hashes the same (what must stay stable even if bytes changed)
    for key in _nc_files(data_a):
        with xr.open_dataset(data_a[key]) as da, xr.open_dataset(data_b[key]) as db:
            xr.testing.assert_identical(da, db)
            assert _content_digest(da) == _content_digest(db)


def test_rewriting_into_the_same_dir_gives_the_same_bytes(data_a, tmp_path):
    out = tmp_path / "again"
    write_demo_data(out)
    first = _tree_bytes(out)
    write_demo_data(out)  # overwrite in place, zarr store included
    assert _tree_bytes(out) == first


def test_every_netcdf_file_decodes_with_xarray(data_a):
    for key, path in _nc_files(data_a).items():
        with xr.open_dataset(path) as ds:
            ds.load()
            times = [v for v in ds.variables.values() if np.issubdtype(v.dtype, np.datetime64)]
            assert times, f"{key}: no decoded CF time"
            for t in times:
                assert t.values.min() >= np.datetime64("2020-01-01")
                assert t.values.max() < np.datetime64("2020-03-01")
            assert ds.attrs["campaign_id"] == "EUREC4A"
            assert "history" not in ds.attrs and "date_created" not in ds.attrs


def test_required_on_disk_types_are_present(data_a):
    found: dict[str, list[str]] = {}

    def mark(kind: str, where: str) -> None:
        found.setdefault(kind, []).append(where)

    for key, path in _nc_files(data_a).items():
        with netCDF4.Dataset(path) as nc:
            nc.set_auto_maskandscale(False)
            mark(nc.data_model, key)
            for name, var in nc.variables.items():
                where = f"{key}:{name}"
                attrs = {a: var.getncattr(a) for a in var.ncattrs()}
                dt = var.dtype
                if dt == np.int16 and "scale_factor" in attrs and "add_offset" in attrs:
                    mark("int16 packed", where)
                if dt == np.float32 and "_FillValue" in attrs:
                    if np.any(var[:] == attrs["_FillValue"]):
                        mark("float32 with fill and missing values", where)
                if attrs.get("units") == TIME_UNITS:
                    mark("CF time", where)
                if dt == np.dtype("S1") and len(var.dimensions) >= 1:
                    mark("char array", where)
                if dt is str:
                    mark("vlen string", where)
                if len(var.dimensions) == 2 and dt != np.dtype("S1"):
                    mark("2-D " + " x ".join(var.dimensions), where)
                if dt == np.uint8:
                    mark("uint8", where)
                if dt == np.int8 and attrs.get("_Unsigned") == "true":
                    mark("int8 _Unsigned", where)
                if dt == np.int64:
                    mark("int64", where)
                if dt == np.uint16:
                    mark("uint16", where)
    zarray = json.loads((data_a["bco/meteorology_zarr"] / "present_weather" / ".zarray")
                        .read_text())
    with xr.open_zarr(data_a["bco/meteorology_zarr"]) as z:
        values = z["present_weather"].values
    if zarray["dtype"] == "|O" and zarray["filters"] == [{"id": "vlen-utf8"}] and all(
            isinstance(v, str) for v in values):
        mark("vlen string", "bco/meteorology_zarr:present_weather")
    required = ["int16 packed", "float32 with fill and missing values", "CF time", "char array",
                "vlen string", "2-D sounding x alt", "2-D time x range", "uint8",
                "int8 _Unsigned", "int64", "uint16", "NETCDF4", "NETCDF3_CLASSIC"]
    missing = [r for r in required if r not in found]
    assert missing == [], f"missing types: {missing}; found {sorted(found)}"


def test_packed_and_unsigned_values_decode_as_declared(data_a):
    path = data_a["bco/surface_met"]
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        raw = nc["T"][:]
        scale, offset = nc["T"].scale_factor, nc["T"].add_offset
        fill = nc["T"]._FillValue
    with xr.open_dataset(path) as ds:
        t = ds["T"].values
    assert np.isnan(t[raw == fill]).all() and (raw == fill).any()
    ok = raw != fill
    np.testing.assert_allclose(t[ok], raw[ok] * scale + offset, rtol=1e-6)
    assert 295 < np.nanmean(t) < 305  # K, a tropical surface

    kt19 = data_a[f"kt19/{KT19_FLIGHTS[0]}"]
    with xr.open_dataset(kt19) as ds:
        assert ds["quality"].dtype == np.uint8 and int(ds["quality"].max()) > 127
        assert ds["sample_index"].dtype == np.int64 and int(ds["sample_index"].min()) > 2**32
        assert set(np.unique(ds["cloud_mask"].values[~np.isnan(ds["cloud_mask"].values)])) <= {
            0, 1, 2, 3}
    with xr.open_dataset(data_a[f"joanne/{JOANNE_VERSIONS[0]}"]) as ds:
        assert ds.sizes["sounding"] == 12 and ds.sizes["alt"] == 100
        assert ds["flight_id"].dtype == np.dtype("S9")  # char array without _Encoding: bytes
        assert {s.decode() for s in ds["flight_id"].values} <= set(FLIGHTS)
        assert all(len(s) == 9 and s.isdigit() for s in ds["sonde_id"].values)
    with xr.open_dataset(data_a["meteor/track"]) as ds:
        assert ds["platform_name"].values.item().rstrip(b"\0") == b"RV Meteor"
        assert "transit" in {str(s) for s in ds["station"].values}


def test_versions_differ_where_they_should(data_a):
    with xr.open_dataset(data_a["limrad94/high_res/1.0"]) as v10, \
            xr.open_dataset(data_a["limrad94/high_res/1.1"]) as v11:
        assert "heave_rate" in v11 and "heave_rate" not in v10
        xr.testing.assert_identical(v10["Ze"], v11["Ze"])
        assert not np.allclose(v10["vm"].fillna(0), v11["vm"].fillna(0))
        assert (v10.attrs["product_version"], v11.attrs["product_version"]) == ("1.0", "1.1")


def test_zarr_store_is_consolidated_v2_copy_of_bco(data_a):
    store = data_a["bco/meteorology_zarr"]
    assert json.loads((store / ".zgroup").read_text())["zarr_format"] == 2
    assert (store / ".zmetadata").is_file()
    assert json.loads((store / "T" / ".zarray").read_text())["dtype"] == "<i2"
    with xr.open_zarr(store, consolidated=True) as z, \
            xr.open_dataset(data_a["bco/surface_met"]) as nc:
        assert set(z.data_vars) == set(nc.data_vars) | {"present_weather"}
        assert "rain" in set(z["present_weather"].values)
        for name in nc.data_vars:
            np.testing.assert_allclose(z[name].values, nc[name].values, rtol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(z["time"].values, nc["time"].values)


def test_json_lists_the_flights(data_a):
    doc = json.loads(data_a["flight_segments"].read_text())
    assert [f["flight_id"] for f in doc["flights"]] == list(FLIGHTS)
    assert all(len(f["segments"]) == 3 for f in doc["flights"])


def test_cli_writes_and_rejects_bad_usage(tmp_path, data_a):
    script = Path(demo_data_module.__file__)
    out = tmp_path / "cli"
    run = subprocess.run([sys.executable, str(script), str(out)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == len(DEMO_FILES)
    root_a = data_a["flight_segments"].parents[1]
    assert _tree_bytes(out) == _tree_bytes(root_a)
    bad = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "usage" in bad.stderr


# --------------------------------------------------------------------------- demo catalog


def test_demo_yaml_parses_and_describes_everything():
    files = _yaml_files(DEMO)
    assert len(files) >= 10
    for f in files:
        doc = yaml.safe_load(f.read_text())  # the plain safe loader, as intake uses
        assert isinstance(doc, dict), f
        assert bool(doc.get("description")) is (_rel(f) not in NO_FILE_DESCRIPTION), f
        assert doc.get("sources"), f
    for f, name, entry in _entries(DEMO):
        assert bool(entry.get("description")) is ((_rel(f), name) not in NO_ENTRY_DESCRIPTION), (f, name)
        assert entry.get("driver"), (f, name)
        url = (entry.get("args") or {}).get("urlpath", "")
        if entry["driver"] not in CATALOG_LINK_DRIVERS and url.startswith(("@", "simplecache::")):
            meta = entry.get("metadata") or {}
            assert {"maintainer", "doi", "tags"} <= set(meta), (f, name)
            assert isinstance(meta["tags"], list) and meta["tags"]


def _check_links(tree: Path) -> None:
    links = 0
    for f, name, entry in _entries(tree):
        if entry["driver"] in CATALOG_LINK_DRIVERS:
            path = entry["args"]["path"]
            assert path.startswith("{{CATALOG_DIR}}/") or path.startswith(CID_PREFIXES), (f, name)
            for target in _link_targets(f, entry):
                links += 1
                assert target.is_file(), (f, name, target)
    assert links >= 4


def _check_placeholders(tree: Path, min_urlpaths: int) -> None:
    for f in _yaml_files(tree):
        text = f.read_text()
        # only bare "reference://" (references given in storage_options) and CID placeholders
        schemes = re.findall(r"[\w+.-]+://(?:@\w+@)?", text)
        assert set(schemes) <= {"reference://", "ipfs://@BCO_ZARR_CID@", "ipfs://@MIP_REFS_CID@",
                                "ipfs://@COMMUNITY_CID@"}, (f, schemes)
        assert not re.search(r"(?<![\w@])(/home|/tmp|/work|/Users|[A-Za-z]:\\)", text), f
    urlpaths = 0
    for f, name, entry in _entries(tree):
        url = (entry.get("args") or {}).get("urlpath")
        if url is None:
            continue
        urlpaths += 1
        if url.startswith(CID_PREFIXES):
            continue
        if url == "reference://":  # the references file is named in storage_options
            fo = entry["args"]["storage_options"]["fo"]
            assert fo.startswith("@HTTP@/") and fo[len("@HTTP@/"):] in REFERENCE_FILES.values(), (f, name)
            continue
        assert url.startswith(URL_PREFIXES), (f, name, url)
        if url.startswith("reference::"):
            assert url.split("@", 2)[2].lstrip("/") in REFERENCE_FILES.values(), (f, name)
            continue
        for _, rendered in _renderings(url, entry.get("parameters") or {}):
            rel = rendered.split("@", 2)[2].lstrip("/")
            assert rel in DEMO_FILES.values(), (f, name, rendered)
    assert urlpaths >= min_urlpaths


@pytest.mark.parametrize("tree", [DEMO, CYCLE], ids=["demo", "cycle"])
def test_every_catalog_link_resolves_for_every_parameter_value(tree):
    _check_links(tree)


@pytest.mark.parametrize(("tree", "min_urlpaths"), [(DEMO, 12), (CYCLE, 2)], ids=["demo", "cycle"])
def test_placeholders_are_the_only_hosts(tree, min_urlpaths):
    _check_placeholders(tree, min_urlpaths)


def _demo_index() -> dict[str, tuple[Path, dict]]:
    """Dotted entry path -> (file, entry), walking links from the root (defaults for params)."""
    index: dict[str, tuple[Path, dict]] = {}

    def visit(f: Path, prefix: str) -> None:
        for name, entry in _load(f)["sources"].items():
            index[prefix + name] = (f, entry)
            if entry["driver"] in CATALOG_LINK_DRIVERS:
                targets = _link_targets(f, entry)
                if targets and targets[0] != f.resolve():  # not into a catalog elsewhere, nor a cycle
                    visit(targets[0], prefix + name + ".")

    visit(DEMO / "catalog.yml", "")
    return index


def test_demo_has_the_required_shapes():
    depth, reached, _ = _walk_depth(DEMO / "catalog.yml")
    assert depth >= 3
    assert reached == {f.resolve() for f in _yaml_files(DEMO)}  # no orphan files
    index = _demo_index()
    drivers = [(e["driver"], (e.get("args") or {}).get("engine")) for _, e in index.values()]
    assert ("opendap", "netcdf4") in drivers and ("opendap", "pydap") in drivers
    assert ("zarr", None) in drivers and ("json", None) in drivers
    assert "intake.catalog.local.YAMLFileCatalog" in {d for d, _ in drivers}
    netcdf = [e for _, e in index.values() if e["driver"] == "netcdf"]
    assert any(e["args"]["urlpath"].startswith("simplecache::@HTTP@/") for e in netcdf)

    assert index["barbados.bco"][1]["driver"] in CATALOG_LINK_DRIVERS
    assert {"HALO.BACARDI.irradiances." + f for f in FLIGHTS} <= set(index)
    high = index["Meteor.LIMRAD94.high_res"][1]["parameters"]["version"]
    assert high["allowed"] == list(LIMRAD94_VERSIONS)
    kt19 = index["HALO.KT19.cloudmask"][1]["parameters"]["flight_id"]
    assert kt19["allowed"] == list(KT19_FLIGHTS)
    low = index["Meteor.LIMRAD94.low_res"][1]["parameters"]["date"]
    assert low["type"] == "datetime" and "min" in low and "max" in low
    callable_cats = [k for k, (_, e) in index.items()
                     if e["driver"] in CATALOG_LINK_DRIVERS and e.get("parameters")]
    assert callable_cats == ["JOANNE"]
    assert index["JOANNE"][1]["parameters"]["version"]["allowed"] == list(JOANNE_VERSIONS)


def test_demo_has_the_shapes_of_the_real_catalog():
    """Each shape the real catalog has (research report, section 1) is in the demo."""
    index = _demo_index()
    args = {k: e.get("args") or {} for k, (_, e) in index.items()}
    bc = "simulations.EUREC4A_MIP.boundary_conditions."
    # kerchunk references: reference:// + fo (with and without remote_protocol), reference::<url>, on IPFS
    assert args[bc + "ERA5"] == {"urlpath": "reference://", "consolidated": False, "storage_options": {
        "fo": "@HTTP@/" + REFERENCE_FILES["mip/bc"]}}
    assert args[bc + "2D"]["decode_times"] is False
    assert {"remote_protocol", "remote_options"} <= set(args[bc + "ERA5_remote"]["storage_options"])
    assert args[bc + "ERA5_chained"]["urlpath"].startswith("reference::@HTTP@/")
    assert args[bc + "gridded"]["urlpath"] == "reference::ipfs://@MIP_REFS_CID@"
    # a bare ipfs://<CID> zarr entry with args before description and no metadata
    _, ipfs_zarr = index["barbados.bco.meteorology_ipfs"]
    assert list(ipfs_zarr)[0] == "args" and "metadata" not in ipfs_zarr
    assert ipfs_zarr["args"] == {"consolidated": True, "urlpath": "ipfs://@BCO_ZARR_CID@"}
    # json with compression, in an entry named "parameters"
    assert args["HALO.parameters"]["compression"] == "zip"
    # names with dashes and digits first
    assert {"HALO.BACARDI.irradiances.HALO-0205", bc + "2D"} <= set(index)
    # a sub-catalog that includes itself, description inside args
    f, crds = index["ATR.isotope_analyzer.water_vapor.CRDS"]
    assert _link_targets(f, crds) == [f.resolve()] and "description" in crds["args"]
    # a remote YAMLFileCatalog named by URL, not {{CATALOG_DIR}}
    _, licht = index["Meteor.LICHT_LIDAR"]
    assert licht["driver"] == "intake.catalog.local.YAMLFileCatalog"
    assert licht["args"]["path"] == "ipfs://@COMMUNITY_CID@/catalog.yaml"
    # opendap argument forms and files without a plugins block
    opendap = [a for k, a in args.items() if index[k][1]["driver"] == "opendap"]
    assert {"chunks": {}, "auth": None, "engine": "netcdf4"}.items() <= next(a for a in opendap if a["chunks"] == {}).items()
    plugins = {_rel(f): "plugins" in _load(f) for f in _yaml_files(DEMO)}
    assert plugins["catalog.yml"] and not plugins["simulations/mip/bc.yaml"]
    assert not (DEMO / "simulations" / "mip" / "bc.yaml").read_text().endswith("\n")  # like deltas.yaml
    # parameters in the community catalog: datetime min/max as strings with a time, float min/max, int allowed
    community = _load(CATALOGS_DIR / "community" / "catalog.yaml")["sources"]
    date_p = community["motion_corrected"]["parameters"]["date"]
    assert date_p["type"] == "datetime" and date_p["min"] == "2020-02-01 00:00"
    version = community["high_res"]["parameters"]["version"]
    assert (version["type"], version["min"], version["max"]) == ("float", 1.0, 1.1)
    assert community["high_res"]["parameters"]["dt"]["allowed"] == [10, 20, 60]


# Expected rendered urlpaths, relative to the data dir (also listed in eurec4a/testing/catalogs/README.md).
EXPECTED = [
    (("HALO", "BACARDI", "irradiances", "HALO-0205"), {}, "bacardi/HALO-0205"),
    (("HALO", "BACARDI", "irradiances", "HALO-0119"), {}, "bacardi/HALO-0119"),
    (("HALO", "KT19", "cloudmask"), {}, "kt19/HALO-0122"),
    (("HALO", "KT19", "cloudmask"), {"flight_id": "HALO-0205"}, "kt19/HALO-0205"),
    (("Meteor", "LIMRAD94", "high_res"), {}, "limrad94/high_res/1.1"),
    (("Meteor", "LIMRAD94", "high_res"), {"version": "1.0"}, "limrad94/high_res/1.0"),
    (("Meteor", "LIMRAD94", "low_res"), {}, "limrad94/low_res/20200201"),
    (("Meteor", "LIMRAD94", "low_res"), {"date": "2020-02-02"}, "limrad94/low_res/20200202"),
    (("barbados", "bco", "meteorology"), {}, "bco/meteorology_zarr"),
    (("barbados", "bco", "surface_met"), {}, "bco/surface_met"),
    (("Meteor", "track"), {}, "meteor/track"),
    (("JOANNE", "level3"), {}, "joanne/v2.0.0"),
]


def test_intake_opens_demo_and_renders_every_urlpath(data_a, tmp_path):
    # What the intake.imports entry point does when intake is imported after installation.
    import eurec4a.catalog.intake_plugin  # noqa: F401
    from eurec4a.testing.demo_data import write_references

    data_dir = data_a["flight_segments"].parents[1]
    write_references(data_dir, data_dir.as_uri())
    root = _materialize(DEMO, tmp_path / "demo", data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # intake's getshell warning on str defaults
        cat = intake.open_catalog(str(root / "catalog.yml"))
        assert list(cat) == ["HALO", "JOANNE", "barbados", "ATR", "simulations", "Meteor"]
        assert list(cat["barbados.bco"]) == ["meteorology", "meteorology_ipfs", "surface_met"]
        for path, params, key in EXPECTED:
            parent = cat
            for part in path[:-1]:
                parent = parent[part]
            source = parent._entries[path[-1]](**params)
            url = source.urlpath
            expected = data_a[key]
            if url.startswith("simplecache::"):
                url = url[len("simplecache::"):]
            assert url in (str(expected), expected.as_uri()), (path, params, url)
        # parameterised sub-catalog, called as in the EUREC4A book
        v1 = cat.JOANNE(version="v1.0.0")
        assert v1.level3.urlpath == str(data_a["joanne/v1.0.0"])
        assert v1.level3.engine == "netcdf4"
        # bad parameter values are refused by intake, never mapped to another file
        with pytest.raises(ValueError, match="allowed"):
            cat.Meteor.LIMRAD94._entries["high_res"](version="2.0")
        with pytest.raises(ValueError):
            cat.Meteor.LIMRAD94._entries["low_res"](date="2020-03-01")
        # drivers that read local data without a server give the generator's content
        flight = cat.HALO.BACARDI.irradiances["HALO-0205"].to_dask()
        assert flight.attrs["flight_id"] == "HALO-0205"
        assert json.load(open(data_a["flight_segments"]))["flights"][2]["flight_id"] == "HALO-0205"
        assert cat.HALO.flight_segments.read() == cat.HALO.parameters.read()  # zip compression
        met = cat.barbados.bco.meteorology.to_dask()
        assert met.sizes["time"] == 720
        track = cat.Meteor.track.read()
        assert track.sizes["time"] == 288
        # kerchunk references into the HDF5 file
        bc = cat.simulations.EUREC4A_MIP.boundary_conditions
        direct = xr.open_dataset(data_a["mip/bc"]).load()
        for name in ("ERA5", "ERA5_chained"):  # (ERA5_remote names http for the chunks: see test_references)
            xr.testing.assert_identical(bc[name].to_dask().load(), direct)
        assert bc["2D"].to_dask()["time"].dtype == np.int32  # decode_times: false


def test_cycle_tree_has_self_inclusion_and_a_loop(data_a, tmp_path):
    root = CYCLE / "catalog.yml"
    links = {(f.resolve(), t) for f, _, e in _entries(CYCLE) if e["driver"] in CATALOG_LINK_DRIVERS
             for t in _link_targets(f, e)}
    assert (root.resolve(), root.resolve()) in links  # a file that includes itself
    a, b = (CYCLE / "loop" / "a.yaml").resolve(), (CYCLE / "loop" / "b.yaml").resolve()
    assert (a, b) in links and (b, a) in links
    data_dir = data_a["flight_segments"].parents[1]
    mat = _materialize(CYCLE, tmp_path / "cycle", data_dir)
    # the package's walker ends on both cycles and names the files that close them
    from eurec4a.catalog.tree import iter_nodes
    from eurec4a.catalog.yaml_catalog import open_yaml_catalog

    nodes = list(iter_nodes(open_yaml_catalog(str(mat / "catalog.yml"))))
    cycles = {n.path: [Path(f).name for f in n.chain] for n in nodes if n.kind == "cycle"}
    assert cycles == {
        "again": ["catalog.yml", "catalog.yml"],  # the self-inclusion
        "loop.b.a": ["a.yaml", "b.yaml", "a.yaml"],  # the two-file loop
        "loop.b.root": ["catalog.yml", "a.yaml", "b.yaml", "catalog.yml"],  # back to the root through it
    }
    assert "loop.b.root" not in {n.path for n in nodes if n.kind == "catalog"}  # none followed
    cat = intake.open_catalog(str(mat / "catalog.yml"))
    assert list(cat.again.again) == list(cat)
    assert cat.loop.b.a.b.root.loop.meteorology.to_dask().sizes["time"] == 720


# --------------------------------------------------------------------------- large catalog


def test_large_catalog_has_the_requested_size_and_is_deterministic(tmp_path):
    root = generate_large_catalog(tmp_path / "a")
    depth, reached, entries = _walk_depth(root)
    files = _yaml_files(tmp_path / "a")
    assert (len(files), entries, depth) == (150, 1600, 5)
    assert reached == {f.resolve() for f in files}
    generate_large_catalog(tmp_path / "b")
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    generate_large_catalog(tmp_path / "c", seed=1)
    assert _tree_bytes(tmp_path / "a") != _tree_bytes(tmp_path / "c")

    drivers: dict[str, int] = {}
    params = 0
    for f, name, entry in _entries(tmp_path / "a"):
        drivers[entry["driver"]] = drivers.get(entry["driver"], 0) + 1
        assert entry["description"]
        if entry["driver"] not in CATALOG_LINK_DRIVERS:
            assert {"maintainer", "doi", "tags"} <= set(entry["metadata"])
        params += bool(entry.get("parameters"))
    assert drivers["yaml_file_cat"] == 149
    assert drivers["opendap"] > 1000 and {"zarr", "netcdf", "json"} <= set(drivers)
    assert params > 50
    _check_placeholders(tmp_path / "a", 1451)
    _check_links(tmp_path / "a")


def test_large_catalog_other_sizes_and_bad_arguments(tmp_path):
    root = generate_large_catalog(tmp_path / "s", n_files=12, n_entries=50, depth=3, seed=4)
    depth, reached, entries = _walk_depth(root)
    assert (len(reached), entries, depth) == (12, 50, 3)
    for kwargs in ({"depth": 0}, {"n_files": 3, "depth": 5}, {"n_files": 20, "n_entries": 10}):
        with pytest.raises(ValueError, match="must be"):
            generate_large_catalog(tmp_path / "bad", **kwargs)


def test_large_catalog_opens_with_intake(tmp_path, data_a):
    generate_large_catalog(tmp_path / "big")
    mat = _materialize(tmp_path / "big", tmp_path / "mat", data_a["flight_segments"].parents[1])
    cat = intake.open_catalog(str(mat / "catalog.yml"))
    assert len(list(cat)) >= 20
    # follow the first sub-catalog link at every level down to the bottom
    node, level = cat, 0
    while True:
        subs = [k for k in node if node._entries[k].describe()["container"] == "catalog"]
        if not subs:
            break
        node, level = node[subs[0]], level + 1
    assert 1 <= level <= 5
    leaf = next(k for k in node if node._entries[k].describe()["container"] != "catalog")
    assert node._entries[leaf].describe()["metadata"]["doi"].startswith("10.5072/")
