"""get_intake_catalog in its three modes against the local stack: same catalog, same data, clear errors."""
from __future__ import annotations

import json
import warnings

import pytest
import xarray as xr

import eurec4a
from eurec4a.errors import (
    CatalogNotFoundError,
    ContentNotFoundError,
    InvalidCIDError,
    InvalidModeError,
    PointerFileError,
    ServerUnreachableError,
)
from eurec4a.catalog.tree import walk

MODES = ["classic", "latest", "pinned"]


def open_mode(stack, mode):
    use_ipfs = {"classic": False, "latest": True, "pinned": stack.root_cid}[mode]
    return eurec4a.get_intake_catalog(use_ipfs=use_ipfs)


def entry_tree(cat) -> dict:
    """Names, nesting, descriptions, metadata and user parameters of every entry (not drivers/args)."""
    out = {}
    for path, entry in walk(cat):
        d = entry.describe()
        params = [{k: v for k, v in p.items() if k != "_description"} for p in d.get("user_parameters") or []]
        out[path] = {
            "description": d.get("description"),
            "metadata": {k: v for k, v in (d.get("metadata") or {}).items() if k != "catalog_dir"},
            "container": d.get("container"),
            "user_parameters": params,
        }
    return out


def data_entries(tree: dict) -> list[str]:
    return sorted(p for p, d in tree.items() if d["container"] == "xarray")


@pytest.fixture(scope="module")
def trees(demo_stack):
    with demo_stack.configured():
        return {mode: entry_tree(open_mode(demo_stack, mode)) for mode in MODES}


def test_entry_trees_are_equal_in_every_mode(trees):
    classic = trees["classic"]
    assert len(classic) >= 20
    assert trees["latest"] == classic
    assert trees["pinned"] == classic


def test_demo_has_the_shapes_the_real_catalog_has(trees):
    paths = set(trees["classic"])
    assert "HALO.BACARDI.irradiances.HALO-0205" in paths  # three nested sub-catalogs below the root
    assert "barbados.bco.surface_met" in paths
    assert any(t["user_parameters"] for t in trees["classic"].values())
    # like the real catalog: a misspelt "escription", and a description written inside args
    assert sorted(p for p, t in trees["classic"].items() if not t["description"]) == [
        "ATR.isotope_analyzer.water_vapor.CRDS", "HALO.BACARDI.irradiances.HALO-0122"]
    assert all(t["description"] == "" for t in trees["classic"].values() if not t["description"])


def _all_parameter_calls(cat, path):
    """The entry called with every allowed value of each parameter (defaults otherwise)."""
    entry = cat[path]
    calls = [((), entry)]
    for p in entry.describe().get("user_parameters") or []:
        for value in p.get("allowed") or []:
            calls.append(((p["name"], value), entry(**{p["name"]: value})))
    return calls


def test_every_dataset_opens_identically_in_every_mode(stack, trees):
    """Values, dtypes and attributes agree after decoding, for every parameter value.

    Known, documented type caveats of OPeNDAP (see eurec4a/testing/catalogs/README.md and the docs) do not
    show up here: the IPFS copy is made from what the classic catalog delivers, so both
    modes give the same (OPeNDAP-shaped) values; ``test_opendap_type_caveats_are_carried_into_the_ipfs_copy``
    asserts what that means for the affected variables.
    """
    cats = {mode: open_mode(stack, mode) for mode in MODES}
    compared = 0
    for path in data_entries(trees["classic"]):
        classic_calls = _all_parameter_calls(cats["classic"], path)
        for mode in ("latest", "pinned"):
            other_calls = _all_parameter_calls(cats[mode], path)
            assert [c[0] for c in other_calls] == [c[0] for c in classic_calls]
            for (param, a), (_, b) in zip(classic_calls, other_calls):
                ds_a = a.to_dask()
                ds_b = b.to_dask()
                assert all(v.chunks is not None for v in ds_b.data_vars.values() if v.ndim), f"{path} not dask-backed"
                xr.testing.assert_identical(ds_a.load(), ds_b.load())
                compared += 1
    assert compared >= 2 * 12


def test_opendap_type_caveats_are_carried_into_the_ipfs_copy(stack):
    """int8 with _Unsigned arrives over OPeNDAP (pydap) as uint16 with wrong values; the copy keeps them.

    This is the documented exception: the IPFS copy reproduces what the classic catalog
    serves, it does not repair it. The original values are those in the netCDF file.
    """
    from eurec4a.testing.demo_data import DEMO_FILES

    original = xr.open_dataset(stack.workdir / "www" / "data" / DEMO_FILES["kt19/HALO-0122"])
    classic = open_mode(stack, "classic").HALO.KT19.cloudmask.read()
    pinned = open_mode(stack, "pinned").HALO.KT19.cloudmask.read()
    assert original["quality"].dtype == "uint8"
    assert classic["quality"].dtype != original["quality"].dtype
    assert not (classic["quality"].values == original["quality"].values).all()
    xr.testing.assert_identical(classic["quality"], pinned["quality"])


@pytest.mark.parametrize("mode", MODES)
def test_book_access_patterns(stack, mode):
    cat = open_mode(stack, mode)
    assert sorted(cat) == ["ATR", "HALO", "JOANNE", "Meteor", "barbados", "simulations"]
    assert [name for name in cat] == list(cat)
    assert cat.HALO.BACARDI.irradiances["HALO-0205"].describe()["name"] == "HALO-0205"  # item access with a flight id
    assert "bco" in list(cat["barbados"])
    assert cat["barbados.bco"].describe()["container"] == "catalog"  # dotted string key
    items = dict(cat.Meteor.LIMRAD94.items())
    assert set(items) == {"low_res", "high_res"}
    assert len(list(cat.Meteor.LIMRAD94.values())) == 2
    for name, source in cat.HALO.BACARDI.irradiances.items():  # describe() in a loop
        d = source.describe()
        assert d["name"] == name and d["container"] == "xarray"
        assert set(d) >= {"name", "container", "description", "user_parameters", "metadata", "args"}
        assert "doi" in source.metadata
        # HALO-0122's key is misspelt ("escription"): "" like intake 0.7, never None
        assert d["description"] == source.description and bool(source.description) is (name != "HALO-0122")
    segments = cat.HALO.flight_segments.read()
    assert segments  # json entry
    ds = cat.Meteor.LIMRAD94.high_res(version="1.0").to_dask()
    assert "heave_rate" not in ds  # 1.1 adds it: the parameter was honoured, not ignored
    assert "heave_rate" in cat.Meteor.LIMRAD94.high_res(version="1.1").to_dask()
    joanne_v1 = cat.JOANNE(version="v1.0.0").level3.to_dask()  # sub-catalog called with a parameter
    joanne_v2 = cat.JOANNE.level3.to_dask()
    assert joanne_v1.sizes["sounding"] != joanne_v2.sizes["sounding"]


@pytest.mark.parametrize("mode", MODES)
def test_bad_parameter_values_are_refused(stack, mode):
    cat = open_mode(stack, mode)
    with pytest.raises(eurec4a.ParameterError) as info:
        cat.Meteor.LIMRAD94.high_res(version="9.9")
    assert "version" in str(info.value) and "1.1" in str(info.value)
    with pytest.raises(eurec4a.ParameterError, match="flight"):
        cat.HALO.KT19.cloudmask(flight="HALO-0205")


@pytest.mark.parametrize("mode", MODES)
def test_chunks_are_honoured(stack, mode):
    cat = open_mode(stack, mode)
    ds = cat.Meteor.LIMRAD94.high_res(chunks={"time": 10}).to_dask()
    var = next(iter(ds.data_vars.values()))
    assert var.chunks[0][0] == 10


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "value, error, words",
    [
        (1, InvalidModeError, ["use_ipfs must be False, True or a CID string", "int"]),
        (0.0, InvalidModeError, ["float"]),
        (["Qm"], InvalidModeError, ["list"]),
        ("not-a-cid", InvalidCIDError, ["not-a-cid", "Accepted"]),
        ("", InvalidCIDError, ["empty"]),
        ("QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9", InvalidCIDError, ["not a valid"]),
        ("QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT0N", InvalidCIDError, ["typo"]),
    ],
)
def test_bad_use_ipfs_fails_before_any_network_access(stack, value, error, words):
    before = stack.request_counts()
    with pytest.raises(error) as info:
        eurec4a.get_intake_catalog(use_ipfs=value)
    for word in words:
        assert word in str(info.value)
    assert stack.request_counts() == before


def test_none_means_classic(stack):
    assert sorted(eurec4a.get_intake_catalog(use_ipfs=None)) == sorted(eurec4a.get_intake_catalog())


def test_cid_forms_are_equivalent(stack):
    for form in (stack.root_cid, f"ipfs://{stack.root_cid}", f"/ipfs/{stack.root_cid}"):
        assert sorted(eurec4a.get_intake_catalog(use_ipfs=form)) == ["ATR", "HALO", "JOANNE", "Meteor", "barbados", "simulations"]


def test_a_well_formed_cid_that_nobody_has(stack):
    with pytest.raises(ContentNotFoundError) as info:
        eurec4a.get_intake_catalog(use_ipfs="QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")
    assert "QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N" in str(info.value) and "typo" in str(info.value)


def test_a_cid_without_catalog_yml(stack):
    """The CID of a dataset (a zarr store) is content, but not a catalog root."""
    dataset_cid = next(iter(stack.build.datasets.values())).split("//")[1].split("/")[0]
    with pytest.raises(CatalogNotFoundError, match="holds no catalog.yml"):
        eurec4a.get_intake_catalog(use_ipfs=dataset_cid)


def test_pointer_that_is_not_json_or_lacks_latest(stack, tmp_path):
    from eurec4a.testing import StaticServer

    (tmp_path / "html.json").write_text("<html>moved</html>")
    (tmp_path / "nolatest.json").write_text(json.dumps({"intake": {"versions": []}}))
    with StaticServer(tmp_path) as srv:
        with pytest.raises(PointerFileError, match="not valid JSON"):
            eurec4a.get_intake_catalog(use_ipfs=True, pointer_url=f"{srv.url}/html.json")
        with pytest.raises(PointerFileError, match="intake.latest"):
            eurec4a.get_intake_catalog(use_ipfs=True, pointer_url=f"{srv.url}/nolatest.json")


def test_unreachable_servers_name_url_and_setting(stack, tmp_path):
    from eurec4a.testing import StaticServer

    with StaticServer(tmp_path) as srv:
        url = srv.url
    with pytest.raises(ServerUnreachableError) as info:
        eurec4a.get_intake_catalog(catalog_url=f"{url}/catalog.yml")
    assert f"{url}/catalog.yml" in str(info.value) and "use_ipfs=True" in str(info.value)
    with pytest.raises(ServerUnreachableError) as info:
        eurec4a.get_intake_catalog(use_ipfs=True, pointer_url=f"{url}/cids.json")
    assert f"{url}/cids.json" in str(info.value) and "EUREC4A_CID_POINTER_URL" in str(info.value)


def test_missing_classic_catalog_file(stack):
    with pytest.raises(CatalogNotFoundError):
        eurec4a.get_intake_catalog(catalog_url=stack.catalog_url.replace("catalog.yml", "nope.yml"))


def test_endpoints_by_keyword_override_environment(stack, monkeypatch):
    monkeypatch.setenv("EUREC4A_CATALOG_URL", "http://127.0.0.1:9/catalog.yml")
    monkeypatch.setenv("IPFS_GATEWAY", "http://127.0.0.1:9")
    monkeypatch.setenv("EUREC4A_CID_POINTER_URL", "http://127.0.0.1:9/cids.json")
    assert sorted(eurec4a.get_intake_catalog(catalog_url=stack.catalog_url))
    cat = eurec4a.get_intake_catalog(use_ipfs=True, pointer_url=stack.pointer_url, gateways=[stack.gateway_url])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a configured gateway: no public-gateway warning
        assert cat.barbados.bco.surface_met.read().sizes["time"] > 0


def test_latest_follows_the_pointer_and_versions_list_it(stack):
    assert eurec4a.get_latest_intake_cid() == stack.root_cid
    versions = eurec4a.get_catalog_versions()
    assert versions[0].cid == stack.root_cid


def test_warm_pinned_open_and_walk_needs_no_request(stack):
    """A second process (same cache) opening a pinned catalog makes zero requests."""
    cat = open_mode(stack, "pinned")
    first = list(walk(cat))
    eurec4a.IPFSFileSystem.clear_instance_cache()  # as a new process: no instances, no memory
    before = stack.request_counts()
    again = list(walk(open_mode(stack, "pinned")))
    assert [p for p, _ in again] == [p for p, _ in first]
    assert stack.request_counts() == before


# --------------------------------------------------------------------------- use_ipfs=None, json data


def _urlpaths(cat) -> dict[str, str]:
    """Dotted entry path -> urlpath of every data entry (what distinguishes classic from IPFS)."""
    return {path: str((entry.describe().get("args") or {}).get("urlpath", ""))
            for path, entry in walk(cat) if entry.describe().get("container") != "catalog"}


def test_none_opens_the_classic_catalog_not_the_ipfs_copy(stack):
    """The trees have the same names in every mode: only the data addresses tell the modes apart."""
    before = stack.gateway.count()
    none = _urlpaths(eurec4a.get_intake_catalog(use_ipfs=None))
    asked_none = stack.gateway.count() - before
    classic = _urlpaths(eurec4a.get_intake_catalog(use_ipfs=False))
    # the classic demo tree has one sub-catalog on IPFS (as the real one has datasets there): the
    # classic mode asks the gateway for that one only, never for the IPFS copy of the tree
    assert stack.gateway.count() - before == asked_none <= 1  # the second open finds it in the cache
    assert none == classic
    assert none["barbados.bco.surface_met"].startswith(stack.opendap.url + "/")
    ipfs = _urlpaths(eurec4a.get_intake_catalog(use_ipfs=True))
    assert set(ipfs) == set(none)
    assert ipfs["barbados.bco.surface_met"].startswith("ipfs://")
    assert sum(url.startswith("ipfs://") for url in ipfs.values()) > sum(url.startswith("ipfs://") for url in none.values())


@pytest.mark.parametrize("mode", MODES)
def test_json_entry_reads_the_published_document(stack, mode):
    """The json driver returns the served file's content, in every mode (not just something non-empty)."""
    import requests

    expected = requests.get(f"{stack.static.url}/data/halo/flight_segments.json", timeout=10).json()
    segments = open_mode(stack, mode).HALO.flight_segments.read()
    assert segments == expected
    assert [f["flight_id"] for f in segments["flights"]][2] == "HALO-0205"


# ------------------------------------------------------------------ what a reader sees (issue 11, point 6)


@pytest.mark.parametrize("mode", MODES)
def test_repr_and_yaml_show_the_catalog_arguments_only(stack, mode):
    import yaml

    cat = open_mode(stack, mode)
    for source in (cat.barbados.bco.surface_met, cat.Meteor.track, cat.HALO.flight_segments,
                   cat.simulations.EUREC4A_MIP.boundary_conditions.ERA5):
        text = source.yaml()
        assert "ClientTimeout" not in text and "ClientTimeout" not in repr(source)
        assert "User-Agent" not in text and "client_kwargs" not in text
        doc = yaml.safe_load(text)  # round-trips through the plain safe loader
        (entry,) = doc["sources"].values()
        assert entry["args"]["urlpath"] == source.urlpath
    # the data are still read with the package's timeouts and User-Agent
    assert cat.Meteor.track.read().sizes["time"] == 288


def test_http_data_errors_name_the_url_and_advise_by_mode(stack):
    from eurec4a.catalog.sources import NetCDFSource
    from eurec4a.testing.demo_data import DEMO_FILES

    classic = open_mode(stack, "classic")
    # a netCDF file no other test downloads (a simplecache'd copy rightly needs no server)
    netcdf = NetCDFSource(f"{stack.static.url}/data/{DEMO_FILES['mip/bc']}",
                          metadata={"catalog_dir": stack.static.url})
    sources = {"zarr": classic.barbados.bco.meteorology, "netcdf": netcdf,
               "json": classic.HALO.flight_segments,
               "references": classic.simulations.EUREC4A_MIP.boundary_conditions.ERA5}
    stack.static.faults.down = True
    for kind, source in sources.items():
        with pytest.raises(eurec4a.ServerUnreachableError) as err:
            source.read() if kind == "json" else source.to_dask()
            pytest.fail(f"{kind}: no error")
        message = str(err.value)
        assert stack.static.url in message, (kind, message)
        assert "connection refused" in message, (kind, message)
        assert "use_ipfs=True" in message, (kind, message)  # classic mode: the IPFS copy is the way out


def test_opendap_errors_in_ipfs_modes_do_not_advise_ipfs(stack):
    from eurec4a.catalog.sources import OpenDapSource

    dead = "http://127.0.0.1:9/x.nc"
    for catalog_dir, advised in ((f"ipfs://{stack.root_cid}/HALO", False), (stack.static.url, True)):
        source = OpenDapSource(dead, engine="pydap", metadata={"catalog_dir": catalog_dir})
        with pytest.raises(eurec4a.ServerUnreachableError, match="cannot read http://127.0.0.1:9/x.nc") as err:
            source.to_dask()
        assert ("use_ipfs=True" in str(err.value)) is advised


def test_unreachable_catalog_server_is_not_reported_as_missing(stack):
    stack.static.faults.down = True
    with pytest.raises(eurec4a.ServerUnreachableError, match="connection refused") as err:
        open_mode(stack, "classic")
    assert "does not exist" not in str(err.value)


@pytest.mark.parametrize("mode", MODES)
def test_variable_order_is_the_sources_in_every_mode(stack, mode):
    cat = open_mode(stack, mode)
    assert list(cat.barbados.bco.surface_met.to_dask().data_vars) == ["T", "P", "RH", "wspd", "rain_rate"]
