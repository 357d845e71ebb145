"""eurec4a.catalog.yaml_catalog and eurec4a.catalog.sources: the V1 YAML catalog on intake 2, the way the book uses it.

Every test opens a real catalog tree written into a temporary directory (YAML
files, netCDF files written by xarray, zarr stores, kerchunk references, JSON),
read from local paths and over HTTP from :class:`eurec4a.testing.http.StaticServer`;
the OPeNDAP tests run pydap's server (:class:`eurec4a.testing.opendap.OpendapServer`).
"""
from __future__ import annotations

import json
import os
import sys
import textwrap
import warnings

import numpy as np
import pytest
import xarray as xr

from eurec4a.catalog.sources import JSONSource, NetCDFSource, OpenDapSource, ZarrSource
from eurec4a.errors import CatalogError, CatalogNotFoundError, ParameterError
from eurec4a.catalog.registry import DRIVERS
from eurec4a.catalog.urls import normalize_url
from eurec4a.catalog.entry import Entry
from eurec4a.errors import CatalogCycleError, EntryNotFoundError
from eurec4a.catalog.yaml_catalog import YAMLCatalog, open_yaml_catalog
from eurec4a.testing.http import StaticServer

FLIGHTS = {"HALO-0119": 119.0, "HALO-0205": 205.0}
DATES = ["20200201", "20200202"]
VERSIONS = {"1.0": 10.0, "1.1": 11.0}
N = 100


def _dataset(value: float) -> xr.Dataset:
    """A small dataset whose values identify the file it came from."""
    time = np.arange(N, dtype="float64")
    return xr.Dataset(
        {"F_up_solar": (("time",), np.full(N, value, dtype="float32"))},
        coords={"time": time},
        attrs={"title": f"value {value}"},
    )


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def _write_references(store, refs_path, base_url: str) -> None:
    """A kerchunk-style reference set: metadata inline, every chunk a whole file at base_url."""
    refs = {}
    for dirpath, _, files in os.walk(store):
        for fn in files:
            full = os.path.join(dirpath, fn)
            rel = os.path.relpath(full, store).replace(os.sep, "/")
            if fn.startswith("."):
                refs[rel] = open(full).read()
            else:
                refs[rel] = [f"{base_url}/{rel}"]
    refs_path.write_text(json.dumps({"version": 1, "refs": refs}))


@pytest.fixture(scope="module")
def catalog_root(tmp_path_factory):
    """A catalog tree like the real one: nested files, flight-id entries, parameters, json, zarr, cycles."""
    root = tmp_path_factory.mktemp("catalog")
    data = root / "data"
    data.mkdir()
    for flight, value in FLIGHTS.items():
        _dataset(value).to_netcdf(data / f"bacardi_{flight}.nc")
        _dataset(value + 0.5).to_netcdf(data / f"radar_{flight}.nc")
    for date in DATES:
        for version, value in VERSIONS.items():
            _dataset(value + int(date[-2:]) / 100).to_netcdf(data / f"limrad_{date}_v{version}.nc")
    _dataset(42.0).to_netcdf(data / "bco.nc")
    _dataset(7.0).chunk(time=10).to_zarr(data / "products.zarr", zarr_format=2, consolidated=True)
    (data / "flights.json").write_text(json.dumps({"HALO": list(FLIGHTS)}))
    _write_references(data / "products.zarr", data / "refs_local.json", (data / "products.zarr").as_uri())

    _write(root / "catalog.yml", """\
        description: test catalog
        plugins:
          source:
            - module: intake_xarray
        sources:
          HALO:
            description: HALO aircraft
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/HALO/main.yaml"}
          Meteor:
            description: RV Meteor
            driver: intake.catalog.local.YAMLFileCatalog
            args: {path: "{{CATALOG_DIR}}/Meteor/main.yaml"}
          barbados:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/barbados/main.yaml"}
          flights:
            description: flight list
            driver: json
            args: {urlpath: "{{CATALOG_DIR}}/data/flights.json"}
          products:
            description: gridded product
            driver: zarr
            args: {urlpath: "{{CATALOG_DIR}}/data/products.zarr", consolidated: true}
            metadata: {doi: 10.5072/x}
          products_ref:
            driver: zarr
            args: {urlpath: "reference::{{CATALOG_DIR}}/data/refs_local.json"}
          esm:
            driver: intake_esm.esm_datastore
            args: {obj: x.json}
        """)
    _write(root / "HALO/main.yaml", """\
        sources:
          BACARDI:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/bacardi.yaml"}
          UNIFIED:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/unified.yaml"}
        """)
    _write(root / "HALO/bacardi.yaml", """\
        sources:
          irradiances:
            description: BACARDI irradiances
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/bacardi_irradiances.yaml"}
        """)
    entries = "".join(
        f"""
          {flight}:
            description: BACARDI irradiances.
            driver: netcdf
            args:
              urlpath: "{{{{CATALOG_DIR}}}}/../data/bacardi_{flight}.nc"
              chunks: {{time: 25}}
        """ for flight in FLIGHTS)
    _write(root / "HALO/bacardi_irradiances.yaml", "sources:" + textwrap.indent(textwrap.dedent(entries), "  "))
    _write(root / "HALO/unified.yaml", f"""\
        metadata:
          parameters:
            flight_id:
              description: HALO flight
              type: str
              default: HALO-0205
              allowed: {list(FLIGHTS)}
        sources:
          radar:
            description: radar data of one flight
            driver: netcdf
            args: {{urlpath: "{{{{CATALOG_DIR}}}}/../data/radar_{{{{ flight_id }}}}.nc"}}
        """)
    _write(root / "Meteor/main.yaml", """\
        sources:
          LIMRAD94:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/LIMRAD94.yaml"}
        """)
    _write(root / "Meteor/LIMRAD94.yaml", """\
        sources:
          high_res:
            description: daily cloud radar data
            driver: netcdf
            args:
              urlpath: '{{CATALOG_DIR}}/../data/limrad_{{date.strftime("%Y%m%d")}}_v{{version}}.nc'
              chunks: {time: 50}
            parameters:
              date:
                description: date of observation
                default: 2020-02-01
                type: datetime
                min: 2020-01-17
                max: 2020-02-29
              version:
                description: version of data
                default: 1.1
                type: float
                min: 1.0
                max: 1.1
        """)
    _write(root / "barbados/main.yaml", """\
        sources:
          bco:
            description: Barbados Cloud Observatory
            driver: netcdf
            args: {urlpath: "{{CATALOG_DIR}}/../data/bco.nc", chunks: null}
          dotted.name:
            driver: json
            args: {urlpath: "{{CATALOG_DIR}}/../data/flights.json"}
          again:
            description: includes the root catalog again
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/../catalog.yml"}
        """)
    return root


@pytest.fixture(scope="module")
def http_server(catalog_root):
    with StaticServer(catalog_root) as srv:
        yield srv


@pytest.fixture(params=["local", "http"])
def cat(request, catalog_root):
    if request.param == "local":
        return open_yaml_catalog(str(catalog_root / "catalog.yml"))
    srv = request.getfixturevalue("http_server")
    return open_yaml_catalog(srv.url + "/catalog.yml")


def _value(ds: xr.Dataset) -> float:
    return float(ds.F_up_solar.values[0])


# ---------------------------------------------------------------------------------------
# access patterns of the book
# ---------------------------------------------------------------------------------------
def test_list_and_dotted_attribute_access_with_flight_id(cat):
    assert list(cat) == ["HALO", "Meteor", "barbados", "flights", "products", "products_ref", "esm"]
    assert list(cat.HALO) == ["BACARDI", "UNIFIED"]
    assert list(cat.HALO.BACARDI.irradiances) == list(FLIGHTS)
    for flight, value in FLIGHTS.items():
        ds = cat.HALO.BACARDI.irradiances[flight].to_dask()
        assert _value(ds) == value
        assert ds.F_up_solar.chunks == ((25, 25, 25, 25),)


def test_dotted_string_and_tuple_keys(cat):
    assert _value(cat["barbados.bco"].to_dask()) == 42.0
    assert _value(cat["HALO.BACARDI.irradiances.HALO-0119"].to_dask()) == 119.0
    assert _value(cat["HALO", "BACARDI", "irradiances", "HALO-0205"].to_dask()) == 205.0
    # an entry whose own name contains a dot
    assert cat["barbados.dotted.name"].read() == {"HALO": list(FLIGHTS)}
    with pytest.raises(KeyError) as err:
        cat["barbados.nope"]
    assert isinstance(err.value, EntryNotFoundError) and "nope" in str(err.value)
    assert not hasattr(cat.barbados, "nope")
    assert "bco" in cat.barbados and "nope" not in cat.barbados


def test_items_values_iteration_and_describe_loop(cat):
    sub = cat.HALO.BACARDI.irradiances
    names = [name for name in sub]
    assert names == list(FLIGHTS)
    items = dict(sub.items())
    assert list(items) == names
    for name, source in items.items():
        d = source.describe()
        assert d["name"] == name
        assert d["container"] == "xarray"
        assert d["plugin"] == ["netcdf"] and d["driver"] == ["netcdf"]
        assert d["description"] == "BACARDI irradiances."
        assert d["user_parameters"] == []
        assert d["args"]["chunks"] == {"time": 25}
        assert source.description == "BACARDI irradiances."
        assert source.metadata["catalog_dir"].endswith("HALO")
    assert [type(v) for v in sub.values()] == [NetCDFSource] * len(FLIGHTS)
    d = cat.Meteor.describe()
    assert d["container"] == "catalog" and d["plugin"] == ["yaml_file_cat"]


def test_read_json_and_xarray(cat):
    assert cat.flights.read() == {"HALO": list(FLIGHTS)}
    assert cat.flights.describe()["container"] == "python"
    with pytest.raises(CatalogError, match="read"):
        cat.flights.to_dask()
    ds = cat.barbados.bco.read()
    assert ds.F_up_solar.chunks is None  # in memory, no dask
    assert _value(ds) == 42.0


def test_to_dask_is_dask_backed_even_without_chunks(cat):
    ds = cat.barbados.bco.to_dask()  # chunks: null in the catalog
    assert ds.F_up_solar.chunks == ((N,),)
    ds = cat.Meteor.LIMRAD94.high_res.to_dask()
    assert ds.F_up_solar.chunks == ((50, 50),)
    # a driver argument given at call time replaces the catalog's
    ds = cat.Meteor.LIMRAD94.high_res(chunks={"time": 20}).to_dask()
    assert ds.F_up_solar.chunks == ((20,) * 5,)


def test_zarr_and_references(cat):
    src = cat.products
    ds = src.to_dask()
    assert ds.F_up_solar.chunks == ((10,) * 10,)
    assert _value(ds) == 7.0
    assert src.metadata["doi"] == "10.5072/x"
    d = src.discover()
    assert d["metadata"]["dims"] == {"time": N}
    assert d["metadata"]["title"] == "value 7.0"
    ref = cat.products_ref.to_dask()
    assert ref.F_up_solar.chunks == ((10,) * 10,)
    assert float(ref.F_up_solar.sum()) == pytest.approx(7.0 * N)


def test_references_over_http(catalog_root, http_server, tmp_path):
    refs = tmp_path / "refs.json"
    _write_references(catalog_root / "data/products.zarr", refs, http_server.url + "/data/products.zarr")
    (catalog_root / "data/refs_http.json").write_bytes(refs.read_bytes())
    src = ZarrSource(f"reference::{http_server.url}/data/refs_http.json")
    before = http_server.count()
    ds = src.to_dask()
    assert float(ds.F_up_solar.sum()) == pytest.approx(7.0 * N)
    assert http_server.count() > before + 10  # chunks came over HTTP, as the references say


def test_reference_with_unknown_protocol_names_entry_and_reason(catalog_root, tmp_path):
    _write(tmp_path / "catalog.yml", """\
        sources:
          store:
            driver: zarr
            args: {urlpath: "reference::nosuchprotocol://x/refs.json"}
        """)
    cat = open_yaml_catalog(str(tmp_path / "catalog.yml"))
    with pytest.raises(CatalogError, match=r"'store'.*nosuchprotocol"):
        cat.store.to_dask()


def test_netcdf_simplecache_url_and_xarray_kwargs(catalog_root, http_server, tmp_path):
    _write(tmp_path / "catalog.yml", f"""\
        sources:
          bco:
            driver: netcdf
            args:
              urlpath: "simplecache::{http_server.url}/data/bco.nc"
              chunks: {{time: 30}}
              xarray_kwargs: {{drop_variables: [F_up_solar]}}
          bco_plain:
            driver: netcdf
            args: {{urlpath: "{http_server.url}/data/bco.nc"}}
        """)
    cat = open_yaml_catalog(str(tmp_path / "catalog.yml"))
    ds = cat.bco.to_dask()
    assert "F_up_solar" not in ds and ds.time.size == N
    ds = cat.bco_plain.to_dask()
    assert _value(ds) == 42.0
    missing = NetCDFSource(f"{http_server.url}/data/missing.nc")
    with pytest.raises(CatalogNotFoundError, match="missing.nc"):
        missing.to_dask()


# ---------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------
def test_parameters_render_the_url(cat):
    default = cat.Meteor.LIMRAD94.high_res
    assert _value(default.to_dask()) == pytest.approx(11.01)  # 2020-02-01, v1.1
    older = cat.Meteor.LIMRAD94.high_res(version=1.0)
    assert older.urlpath.endswith("limrad_20200201_v1.0.nc")
    assert _value(older.to_dask()) == pytest.approx(10.01)
    other_day = cat.Meteor.LIMRAD94.high_res(date="2020-02-02", version="1.0")
    assert _value(other_day.to_dask()) == pytest.approx(10.02)
    assert other_day.parameter_values["version"] == 1.0
    # calling the source again re-renders too (intake-xarray 2 returned itself)
    assert _value(older(version=1.1).to_dask()) == pytest.approx(11.01)
    # the default source is untouched
    assert default.urlpath.endswith("limrad_20200201_v1.1.nc")
    ups = {p["name"]: p for p in default.describe()["user_parameters"]}
    assert ups["version"]["min"] == 1.0 and ups["version"]["max"] == 1.1 and ups["version"]["type"] == "float"


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"versoin": 1.0}, r"'Meteor\.LIMRAD94\.high_res'.*unknown parameter.*versoin.*version \(float in \[1\.0, 1\.1\]\)"),
        ({"version": 2.0}, r"'Meteor\.LIMRAD94\.high_res'.*'version'=2\.0 is above the maximum 1\.1"),
        ({"version": 0.5}, r"'version'=0\.5 is below the minimum 1\.0"),
        ({"version": "latest"}, r"'version'='latest' is not a float; accepted: float in \[1\.0, 1\.1\]"),
        ({"date": "2021-01-01"}, r"'date'='2021-01-01' is above the maximum 2020-02-29"),
        ({"date": "yesterday"}, r"'date'='yesterday' is not a datetime"),
    ],
)
def test_bad_parameters_raise_parameter_error(cat, kwargs, pattern):
    with pytest.raises(ParameterError, match=pattern):
        cat.Meteor.LIMRAD94.high_res(**kwargs)


def test_sub_catalog_called_with_a_parameter(cat):
    assert _value(cat.HALO.UNIFIED.radar.to_dask()) == 205.5
    unified = cat.HALO.UNIFIED(flight_id="HALO-0119")
    assert list(unified) == ["radar"]
    assert _value(unified.radar.to_dask()) == 119.5
    assert _value(unified["radar"].to_dask()) == 119.5
    up = unified.radar.describe()["user_parameters"]
    assert up[0]["name"] == "flight_id" and up[0]["allowed"] == list(FLIGHTS)
    # the entry's own call overrides the catalog's value
    assert _value(unified.radar(flight_id="HALO-0205").to_dask()) == 205.5
    with pytest.raises(ParameterError, match=r"'HALO\.UNIFIED'.*'flight_id'='HALO-9999' is not allowed.*HALO-0119"):
        cat.HALO.UNIFIED(flight_id="HALO-9999")
    with pytest.raises(ParameterError, match=r"unknown parameter.*'flight'"):
        cat.HALO.UNIFIED(flight="HALO-0119")


def test_parameter_without_default_must_be_given(tmp_path):
    _write(tmp_path / "catalog.yml", """\
        sources:
          track:
            driver: json
            args: {urlpath: "{{CATALOG_DIR}}/{{ flight_id }}.json"}
            parameters:
              flight_id: {description: flight, type: str}
        """)
    (tmp_path / "HALO-0205.json").write_text("[205]")
    cat = open_yaml_catalog(str(tmp_path / "catalog.yml"))
    with pytest.raises(ParameterError, match=r"'track'.*'flight_id' has no default and must be given"):
        cat.track.read()
    assert cat.track.describe()["user_parameters"][0]["name"] == "flight_id"
    assert cat.track(flight_id="HALO-0205").read() == [205]
    assert cat["track"](flight_id="HALO-0205").read() == [205]


# ---------------------------------------------------------------------------------------
# drivers, errors, cycles, storage options
# ---------------------------------------------------------------------------------------
def test_unknown_driver_names_driver_entry_and_known_drivers(cat):
    with pytest.raises(CatalogError) as err:
        cat.esm
    msg = str(err.value)
    assert "intake_esm.esm_datastore" in msg and "'esm'" in msg
    for known in ("opendap", "zarr", "netcdf", "json", "yaml_file_cat"):
        assert f"'{known}'" in msg
    assert "No plugins loaded" not in msg
    d = cat.get_entry("esm").describe()  # describing a broken entry still works
    assert d["plugin"] == ["intake_esm.esm_datastore"] and d["container"] is None


def test_our_drivers_win_over_intake_xarray(cat):
    assert type(cat.barbados.bco) is NetCDFSource
    assert type(cat.products) is ZarrSource
    assert type(cat.flights) is JSONSource
    assert type(cat.Meteor) is YAMLCatalog and type(cat.HALO) is YAMLCatalog
    assert all(isinstance(e, Entry) for e in cat.HALO.BACARDI.irradiances._entries.values())


def test_cycle_entry_raises_clear_error(cat):
    with pytest.raises(CatalogCycleError) as err:
        cat.barbados.again
    assert err.value.chain[0] == err.value.chain[-1] == normalize_url(cat.path)
    assert "barbados/main.yaml" in str(err.value)
    # a walk ends, and reports the cycle once
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = list(cat.walk(depth=20))
    assert "barbados.again" in paths and not any(p.startswith("barbados.again.") for p in paths)
    cycle_warnings = [w for w in caught if "cycle" in str(w.message)]
    assert len(cycle_warnings) == 1


def test_each_file_fetched_and_parsed_once(catalog_root, http_server):
    cat = open_yaml_catalog(http_server.url + "/catalog.yml")
    before = {p: http_server.count(path=p) for p in ("/HALO/unified.yaml", "/Meteor/LIMRAD94.yaml")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        list(cat.walk(depth=20))
        list(cat.walk(depth=20))
    cat.HALO.UNIFIED(flight_id="HALO-0119")
    cat.Meteor.LIMRAD94.high_res(version=1.0)
    for p, n in before.items():
        assert http_server.count(path=p) == n + 1, p


def test_storage_options_reach_nested_catalogs_and_sources(catalog_root):
    """The ``dir`` filesystem only finds anything with its ``path`` option: every read needs it."""
    opts = {"path": str(catalog_root), "target_protocol": "file"}
    cat = open_yaml_catalog("dir://catalog.yml", storage_options=opts)
    assert list(cat.HALO.BACARDI.irradiances) == list(FLIGHTS)
    # without the options nothing is found: the test can fail
    with pytest.raises(CatalogNotFoundError, match="does not exist"):
        open_yaml_catalog("dir://catalog.yml", storage_options={"path": "/nonexistent", "target_protocol": "file"})
    _write(catalog_root / "dir_catalog.yml", """\
        sources:
          flights:
            driver: json
            args: {urlpath: "dir://data/flights.json"}
          bco:
            driver: netcdf
            args: {urlpath: "dir://data/bco.nc"}
          sub:
            driver: yaml_file_cat
            args: {path: "dir://barbados/main.yaml"}
        """)
    cat = open_yaml_catalog("dir://dir_catalog.yml", storage_options=opts)
    assert cat.flights.read() == {"HALO": list(FLIGHTS)}
    assert cat.flights.storage_options["path"] == str(catalog_root)
    assert _value(cat.bco.to_dask()) == 42.0
    assert list(cat.sub) == ["bco", "dotted.name", "again"]


def test_missing_catalog_file_and_bad_yaml(tmp_path, http_server):
    with pytest.raises(CatalogNotFoundError, match="nothere.yml"):
        open_yaml_catalog(str(tmp_path / "nothere.yml"))
    with pytest.raises(CatalogNotFoundError, match="nothere.yml"):
        open_yaml_catalog(http_server.url + "/nothere.yml")
    (tmp_path / "bad.yml").write_text("sources: [unclosed")
    with pytest.raises(CatalogError, match="not valid YAML"):
        open_yaml_catalog(str(tmp_path / "bad.yml"))
    (tmp_path / "v2.yml").write_text("version: 2\nentries: {}\n")
    with pytest.raises(CatalogError, match="V2"):
        open_yaml_catalog(str(tmp_path / "v2.yml"))


def test_template_sandbox_and_undefined_names(tmp_path):
    _write(tmp_path / "catalog.yml", """\
        sources:
          evil:
            driver: json
            args: {urlpath: "{{ ''.__class__.__mro__ }}"}
          typo:
            driver: json
            args: {urlpath: "{{ CATALOG_DIRR }}/x.json"}
        """)
    cat = open_yaml_catalog(str(tmp_path / "catalog.yml"))
    with pytest.raises(CatalogError, match="'evil'"):
        cat.evil
    with pytest.raises(CatalogError, match="CATALOG_DIRR"):
        cat.typo


def test_entry_points_table_matches_drivers():
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    from intake.utils import import_name

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        table = tomllib.load(f)["project"]["entry-points"]["intake.drivers"]
    assert set(table) == {"opendap", "zarr", "netcdf", "json", "yaml_file_cat"}
    for name, target in table.items():
        assert import_name(target) is DRIVERS[name], name


# ---------------------------------------------------------------------------------------
# OPeNDAP
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def opendap_server(catalog_root):
    from eurec4a.testing.opendap import OpendapServer

    with OpendapServer(catalog_root / "data") as srv:
        yield srv


@pytest.mark.parametrize("engine", ["netcdf4", "pydap"])
def test_opendap_engines_honour_chunks(opendap_server, tmp_path, engine):
    _write(tmp_path / "catalog.yml", f"""\
        sources:
          irradiances:
            driver: opendap
            args:
              urlpath: "{opendap_server.url}/bacardi_HALO-0205.nc"
              engine: {engine}
              auth: null
              chunks: {{time: 40}}
        """)
    cat = open_yaml_catalog(str(tmp_path / "catalog.yml"))
    src = cat.irradiances
    assert src.describe()["plugin"] == ["opendap"]
    ds = src.to_dask()
    assert ds.F_up_solar.chunks == ((40, 40, 20),)  # the chunks of the catalog, not dropped
    if engine == "netcdf4":
        assert float(ds.F_up_solar.sum()) == pytest.approx(205.0 * N)
    # pydap's test server answers 500 to requests for part of a variable (e.g. F[40:1:79]),
    # so with pydap only whole-variable reads are checked against the data here.
    loaded = src.read()
    assert loaded.F_up_solar.chunks is None
    assert _value(loaded) == 205.0 and float(loaded.F_up_solar.sum()) == pytest.approx(205.0 * N)


def test_opendap_bad_engine_and_auth():
    with pytest.raises(CatalogError, match="engine 'h5netcdf' is not an OPeNDAP client"):
        OpenDapSource("http://127.0.0.1:9/x.nc", engine="h5netcdf").to_dask()
    with pytest.raises(CatalogError, match="auth='esgf' is not supported"):
        OpenDapSource("http://127.0.0.1:9/x.nc", auth="esgf").to_dask()


# ------------------------------------------------------------------ parameters and descriptions (issue 11)


def test_datetime_parameters_accept_every_form_and_refuse_nat():
    import datetime

    import pandas as pd

    from eurec4a.catalog.parameters import Parameter

    p = Parameter("date", description="day", type="datetime", default="2020-01-19 20:00",
                  min="2020-01-19 00:00", max="2020-02-19 14:00")
    expected = datetime.datetime(2020, 1, 27, 13, 0)
    for value in ("2020-01-27 13:00", "2020-01-27T13:00:00", expected, pd.Timestamp("2020-01-27 13:00"),
                  np.datetime64("2020-01-27T13:00"), np.datetime64("2020-01-27T13:00:00.000000000")):
        got = p.check(value, "merian")
        assert got == expected and type(got) is datetime.datetime, value
    assert p.check(datetime.date(2020, 1, 27), "merian") == datetime.datetime(2020, 1, 27)
    for bad in (np.datetime64("NaT"), pd.NaT, "27.01.2020"):
        with pytest.raises(ParameterError, match="is not a datetime"):
            p.check(bad, "merian")


def test_allowed_values_are_shown_in_their_own_type():
    from eurec4a.catalog.parameters import Parameter

    assert Parameter("dt", type="int", default=10, allowed=[10, 20, 60]).accepted() == "int, one of [10, 20, 60]"
    assert Parameter("c", type="str", default="b", allowed=["b", "t"]).accepted() == "str, one of ['b', 't']"
    assert Parameter("v", type="float", default=1.1, min=1.0, max=1.2).accepted() == "float in [1.0, 1.2]"


def test_missing_descriptions_are_empty_strings(tmp_path):
    (tmp_path / "catalog.yml").write_text(
        "sources:\n  a:\n    escription: typo\n    driver: json\n    args: {urlpath: a.json}\n"
        "  sub:\n    driver: yaml_file_cat\n    args: {path: '{{CATALOG_DIR}}/sub.yml'}\n")
    (tmp_path / "sub.yml").write_text("sources: {}\n")
    cat = open_yaml_catalog(str(tmp_path / "catalog.yml"))
    assert cat.a.describe()["description"] == "" and cat.a.description == ""
    assert cat.sub.describe()["description"] == "" and cat.sub.description == ""
    assert cat.describe()["description"] == ""


def test_transport_options_reach_the_data_but_not_the_arguments(tmp_path):
    (tmp_path / "catalog.yml").write_text(
        "sources:\n  a:\n    description: a\n    driver: json\n    args: {urlpath: '{{CATALOG_DIR}}/a.json'}\n")
    (tmp_path / "a.json").write_text("[1]")
    transport = {"auto_mkdir": False}  # applies to URLs of the root's protocol (here: local files)
    cat = open_yaml_catalog(str(tmp_path / "catalog.yml"), transport_options=transport)
    source = cat.a
    assert source.storage_options == {} and "auto_mkdir" not in source.yaml()
    assert source.fs_options() == transport  # merged in when the data are opened
    assert source.read() == [1]
