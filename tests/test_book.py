"""The community book's catalog operations ("How to EUREC4A"), in classic, latest and pinned mode.

The idioms are those the book's chapters use (research report, section 2), written
against the demo catalog's entries; each mode must give the same result. The flight
segments idioms run against the demo stack's stand-in for the GitHub release downloads.
"""
from __future__ import annotations

import datetime
import io
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import eurec4a
from eurec4a import segments as segments_module

MODES = ["classic", "latest", "pinned"]


def open_mode(stack, mode):
    return eurec4a.get_intake_catalog(use_ipfs={"classic": False, "latest": True, "pinned": stack.root_cid}[mode])


def tree(cat, level=0):
    """show_intake_catalog.md / simulations.md, verbatim (bare except included)."""
    prefix = " " * (3 * level)
    try:
        for child in list(cat):
            parameters = [p["name"] for p in cat[child].describe().get("user_parameters", [])]
            if len(parameters) > 0:
                parameter_str = " (" + ", ".join(parameters) + ")"
            else:
                parameter_str = ""
            print(prefix + str(child) + parameter_str)
            tree(cat[child], level + 1)
    except:  # noqa: E722 - the book's code
        pass


def get_datasets(cat, path=""):
    """icon_les.md: dotted paths of every dataset below ``cat``."""
    datasets = []
    for child in list(cat):
        desc = cat[child].describe()
        if desc["container"] == "catalog":
            datasets.extend(get_datasets(cat[child], path + "." + child if path else child))
        else:
            datasets.extend([path + "." + desc["name"]])
    return datasets


def list_with_parameters(cat):
    """meteor_cloudradar.md / merian_cloudradar.md: entries, parameters and their ranges."""
    out = []
    for key, source in cat.items():
        desc = source.describe()
        user_parameters = desc.get("user_parameters", [])
        params = " (" + ", ".join(p["name"] for p in user_parameters) + ")"
        out.append(f"{key}{params}: {desc['description']}")
        for parameter in user_parameters:
            out.append(f"    {parameter['name']}: {parameter.get('min')} ... {parameter.get('max')} "
                       f"default: {parameter['default']}")
    return out


def book_results(cat) -> dict:
    """Every idiom's result in a comparable form."""
    r = {}
    r["first five"] = list(sorted(cat))[:5]  # data_on_ipfs.md
    r["HALO"] = list(cat.HALO)
    r["BACARDI"] = list(cat.HALO.BACARDI)
    r["dotted"] = list(cat["barbados.bco"])  # bco_cloudradar.md
    r["Meteor"] = list(cat["Meteor"])  # merian_cloudradar.md: cat['MS-Merian']
    r["LIMRAD94 items"] = [k for k, _ in cat["Meteor"]["LIMRAD94"].items()]
    r["description"] = cat.HALO.BACARDI.irradiances.description  # wales.md
    buf = io.StringIO()
    with redirect_stdout(buf):
        tree(cat)
    r["tree"] = buf.getvalue()
    r["datasets"] = get_datasets(cat.simulations)
    r["parameters listing"] = list_with_parameters(cat.Meteor.LICHT_LIDAR)
    r["describe"] = {k: v for k, v in cat.HALO.BACARDI.irradiances["HALO-0205"].describe().items()
                     if k not in ("args", "plugin", "driver", "metadata")}
    # datasets, as the chapters open them
    platform = "Meteor"
    ds = {
        "flight id": cat.HALO.BACARDI.irradiances["HALO-0205"].to_dask(),  # bacardi.md
        "attribute chain": cat.JOANNE.level3.to_dask(),  # dropsondes.md
        "platform key": cat[platform].track.to_dask(),  # c3ontext.md
        "bare CID zarr": cat.barbados.bco.meteorology_ipfs.to_dask(),  # c3ontext.md level3_IR_daily
        "surface met": cat.barbados.bco.surface_met.to_dask(),
        "date string": cat["Meteor"]["LIMRAD94"].low_res(date="2020-02-02").to_dask(),  # merian
        "version": cat.Meteor.LIMRAD94.high_res(version="1.0").to_dask(),  # meteor_cloudradar.md
        "kerchunk fo": cat.simulations.EUREC4A_MIP.boundary_conditions.ERA5.to_dask(),  # eurec4a_mip.md
        "kerchunk ipfs": cat.simulations.EUREC4A_MIP.boundary_conditions.gridded.to_dask(),  # poldirad
        "community": cat.Meteor.LICHT_LIDAR.motion_corrected(date="2020-02-02 13:00").to_dask(),
    }
    r["datasets loaded"] = {k: v.load() for k, v in ds.items()}
    r["variable order"] = {k: list(v.variables) for k, v in ds.items()}
    r["values()"] = [v.to_dask().sizes["time"] for v in cat.HALO.BACARDI.irradiances.values()]  # p3_flight_tracks
    r["json"] = cat.HALO.parameters.read()  # botany_dales.md: ...parameters.read()
    return r


@pytest.fixture(scope="module")
def results(demo_stack):
    with demo_stack.configured():
        return {mode: book_results(open_mode(demo_stack, mode)) for mode in MODES}


@pytest.mark.parametrize("mode", ["latest", "pinned"])
def test_every_idiom_gives_the_classic_result(results, mode):
    classic, other = results["classic"], results[mode]
    assert set(other) == set(classic)
    for key in classic:
        if key == "datasets loaded":
            for name, ds in classic[key].items():
                xr.testing.assert_identical(other[key][name], ds)
        else:
            assert other[key] == classic[key], key


def test_idioms_give_what_the_book_expects(results):
    r = results["classic"]
    assert r["first five"] == ["ATR", "HALO", "JOANNE", "Meteor", "barbados"]
    assert "HALO-0205" in r["BACARDI"] or "irradiances" in r["BACARDI"]
    assert r["dotted"] == ["meteorology", "meteorology_ipfs", "surface_met"]
    assert r["LIMRAD94 items"] == ["low_res", "high_res"]
    assert "   irradiances\n" in r["tree"] and "low_res (date)" in r["tree"]
    assert r["datasets"] == ["EUREC4A_MIP.boundary_conditions." + n
                             for n in ("ERA5", "2D", "ERA5_remote", "ERA5_chained", "gridded")]
    assert r["parameters listing"][1] == "    date: 2020-02-01 00:00:00 ... 2020-02-02 14:00:00 default: 2020-02-01 20:00:00"
    assert r["describe"]["description"] and r["describe"]["user_parameters"] == []
    assert r["variable order"]["surface met"][:3] == ["T", "P", "RH"]  # the file's order, in every mode
    assert r["datasets loaded"]["version"].attrs["product_version"] == "1.0"
    assert r["datasets loaded"]["community"].attrs["title"].endswith("(demo)")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("date", ["2020-02-02", datetime.date(2020, 2, 2), datetime.datetime(2020, 2, 2, 13),
                                  pd.Timestamp("2020-02-02 13:00"), np.datetime64("2020-02-02T13:00")])
def test_datetime_parameters_accept_every_form(stack, mode, date):
    cat = open_mode(stack, mode).Meteor.LICHT_LIDAR  # merian_cloudradar.md: motion_corrected(date=date)
    source = cat.motion_corrected(date=date)
    assert source.urlpath.endswith("RV-METEOR_LIMRAD94_Ze_20200202.nc")
    assert source.to_dask().attrs == cat.motion_corrected(date="2020-02-02 13:00").to_dask().attrs
    with pytest.raises(eurec4a.ParameterError, match=r"above the maximum 2020-02-02 14:00:00"):
        cat.motion_corrected(date=np.datetime64("2020-02-02T15:00"))


def test_flight_segments_idioms(stack):
    segments_module.clear_memo()
    meta = eurec4a.get_flight_segments()
    assert list(meta.keys()) == ["HALO", "P3"]
    segments = [{**s, "platform_id": platform_id, "flight_id": flight_id}
                for platform_id, flights in meta.items()
                for flight_id, flight in flights.items()
                for s in flight["segments"]]
    segments_by_segment_id = {s["segment_id"]: s for s in segments}
    kinds = set(k for s in segments for k in s["kinds"])
    assert {"circle", "circling", "straight_leg"} <= kinds
    common = set.intersection(*(set(s.keys()) for s in segments))
    assert {"segment_id", "name", "start", "end", "kinds", "irregularities", "dropsondes"} <= common
    segments_ordered_by_start_time = list(sorted(segments, key=lambda s: s["start"]))
    circles_feb05 = [s["segment_id"] for s in segments_ordered_by_start_time
                     if "circle" in s["kinds"] and s["start"].date() == datetime.date(2020, 2, 5)
                     and s["platform_id"] == "HALO"]
    assert circles_feb05 == ["HALO-0205_c1", "HALO-0205_c2"]
    first_dropsonde = segments_by_segment_id[circles_feb05[0]]["dropsondes"]["GOOD"][0]
    assert first_dropsonde.startswith("HALO-0205_s")
    seg = segments_by_segment_id["HALO-0205_c2"]
    circling_time = sum([s["end"] - s["start"] for s in segments if "circling" in s["kinds"]], datetime.timedelta())
    assert circling_time > seg["end"] - seg["start"]
    flight_dates = np.unique([np.datetime64(flight["takeoff"]).astype("datetime64[D]")
                              for flight in meta["P3"].values()])
    assert [str(d) for d in flight_dates] == ["2020-01-19", "2020-02-05"]
    # the helper does what the book writes out
    assert eurec4a.segments_by_id(meta)["HALO-0205_c2"] == segments_by_segment_id["HALO-0205_c2"]
    # a segment selects the same data in every mode (specmacs.md: the flight's dataset by flight id)
    cuts = [open_mode(stack, mode).HALO.BACARDI.irradiances[seg["flight_id"]].to_dask()
            .sel(time=slice(seg["start"], seg["end"])).load() for mode in MODES]
    for cut in cuts[1:]:
        xr.testing.assert_identical(cut, cuts[0])
