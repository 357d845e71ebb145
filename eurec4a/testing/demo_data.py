"""Write the small, deterministic EUREC4A-flavoured datasets behind the demo catalog.

The demo catalog (``catalogs/demo``) points at these files through the placeholders
``@OPENDAP@`` and ``@HTTP@``; the test stack serves ``out_dir`` with a real OPeNDAP
server and a static HTTP server. Each file is a few KB to a few hundred KB and carries
the data types EUREC4A data really has, including the ones known to break on the way
through OPeNDAP:

* int16 packed with ``scale_factor``/``add_offset`` (BCO meteorology, LIMRAD94 velocity),
* float32 with ``_FillValue`` and missing values (everywhere),
* CF times ``seconds since 2020-01-01`` as float64 and as int32,
* char arrays (``S1`` with a string dimension; JOANNE ids without ``_Encoding``, ship
  track with and without ``_Encoding``) and variable-length strings (the zarr store),
* netCDF-4 and, for the file read with the plain ``netcdf`` driver, netCDF-3 classic,
* 2-D ``sounding x alt`` and ``time x range`` arrays,
* uint8 flags, int8 with ``_Unsigned = "true"``, uint16 and int64 (KT19 cloud mask):
  DAP2 has no signed byte and no 64-bit integers. Through pydap 3.5.9's server these
  arrive with other dtypes and, for ``quality`` (_Unsigned int8) and ``sample_index``
  (int64 beyond 2**31), wrong values; that is the point of this file (the IPFS/zarr
  path keeps them). Types that make pydap's server fail outright (vlen strings, char
  arrays with ``_Encoding``) are kept out of the files that catalog entries read
  over OPeNDAP.

Output is deterministic: every random draw comes from ``numpy.random.RandomState``
with a fixed seed, attributes are fixed (no ``history`` or creation dates) and
netCDF-C does not record HDF5 object times, so two runs give bit-identical files
(``tests/test_demo_data.py`` asserts it).

Why not ``xarray.Dataset.to_netcdf`` for the netCDF files: writing through netCDF4
directly gives exact control over on-disk types (char vs. vlen strings, ``_Unsigned``
bytes, packed integers with a chosen ``_FillValue``) that xarray's encoders would
otherwise choose for us. The zarr store is written with xarray on purpose, because
that is how EUREC4A zarr stores are made.

Examples
--------
>>> import tempfile, pathlib
>>> from eurec4a.testing.demo_data import write_demo_data
>>> files = write_demo_data(tempfile.mkdtemp())  # doctest: +SKIP
>>> sorted(files)[:2]  # doctest: +SKIP
['bacardi/HALO-0119', 'bacardi/HALO-0122']

From the command line::

    python eurec4a/testing/demo_data.py OUT_DIR
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import netCDF4
import numpy as np

__all__ = [
    "DEMO_FILES",
    "FLIGHTS",
    "KT19_FLIGHTS",
    "JOANNE_VERSIONS",
    "LIMRAD94_VERSIONS",
    "LIMRAD94_DATES",
    "TIME_UNITS",
    "write_demo_data",
    "write_references",
    "reference_set",
    "ipfs_objects",
    "REFERENCE_FILES",
    "main",
]

logger = logging.getLogger(__name__)

#: CF time units of every time variable in the demo data.
TIME_UNITS = "seconds since 2020-01-01"

#: HALO research flights with BACARDI files: flight id -> date (YYYYMMDD).
FLIGHTS: dict[str, str] = {
    "HALO-0119": "20200119",
    "HALO-0122": "20200122",
    "HALO-0205": "20200205",
}
#: HALO flights with a KT19 cloud-mask file (the ``flight_id`` parameter's allowed values).
KT19_FLIGHTS: tuple[str, ...] = ("HALO-0122", "HALO-0205")
#: JOANNE dropsonde product versions (the parameterised sub-catalog's allowed values).
JOANNE_VERSIONS: tuple[str, ...] = ("v2.0.0", "v1.0.0")
#: LIMRAD94 high-resolution versions (the ``version`` parameter's allowed values).
LIMRAD94_VERSIONS: tuple[str, ...] = ("1.0", "1.1")
#: LIMRAD94 low-resolution days (the ``date`` parameter's min and max).
LIMRAD94_DATES: tuple[str, ...] = ("20200201", "20200202")

#: Dataset id -> path relative to ``out_dir`` (also the path below the server base URL).
DEMO_FILES: dict[str, str] = {
    **{
        f"joanne/{v}": f"joanne/{v}/EUREC4A_JOANNE_Dropsonde-RD41_Level_3_{v}.nc"
        for v in JOANNE_VERSIONS
    },
    **{
        f"bacardi/{fid}": f"halo/bacardi/EUREC4A_HALO_BACARDI_BroadbandFluxes_{d}_R1.nc"
        for fid, d in FLIGHTS.items()
    },
    **{
        f"kt19/{fid}": f"halo/kt19/EUREC4A_HALO_KT19_cloudmask_{fid}_v1.0.nc"
        for fid in KT19_FLIGHTS
    },
    "flight_segments": "halo/flight_segments.json",
    "flight_segments_zip": "halo/flight_segments.json.zip",
    "bco/surface_met": "barbados/bco/EUREC4A_BCO_WXT_SurfaceMeteorology_20200201_v2.0.0.nc",
    "bco/meteorology_zarr": "barbados/bco/EUREC4A_BCO_WXT_SurfaceMeteorology_v2.0.0.zarr",
    **{
        f"limrad94/high_res/{v}": f"meteor/limrad94/eurec4a_rv-meteor_cloudradar_20200201_v{v}.nc"
        for v in LIMRAD94_VERSIONS
    },
    **{
        f"limrad94/low_res/{d}": f"meteor/limrad94/RV-METEOR_LIMRAD94_Ze_{d}.nc"
        for d in LIMRAD94_DATES
    },
    "meteor/track": "meteor/track/EUREC4A_Meteor_track_v1.0.nc",
    "mip/bc": "simulations/mip/EUREC4A-MIP_boundary_conditions_demo.nc",
}

#: Kerchunk references (JSON) written by :func:`write_references` next to the data they
#: point into: dataset id -> path relative to ``out_dir``. They name the data by URL, so
#: they are written once the server's address is known.
REFERENCE_FILES: dict[str, str] = {
    "mip/bc": "simulations/mip/EUREC4A-MIP_boundary_conditions_demo.ref",
}

_F32_FILL = np.float32(-999.0)
_I16_FILL = np.int16(-32768)
_GLOBAL = {
    "Conventions": "CF-1.8",
    "campaign_id": "EUREC4A",
    "institution": "EUREC4A demo (synthetic data for tests; not a measurement)",
    "license": "CC-BY-4.0",
}


# --------------------------------------------------------------------------- helpers


def _seed(name: str) -> int:
    """Fixed per-dataset seed: independent of dict order and of Python's hash salt."""
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) % (2**31)


def _new_nc(path: Path, title: str, fmt: str = "NETCDF4", **attrs: str) -> netCDF4.Dataset:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = netCDF4.Dataset(path, "w", format=fmt)
    ds.setncatts({**_GLOBAL, "title": title, **attrs})
    return ds


def _time_var(ds: netCDF4.Dataset, dim: str, values: np.ndarray, dtype: str = "f8",
              name: str = "time") -> None:
    v = ds.createVariable(name, dtype, (dim,))
    v.setncatts({"standard_name": "time", "long_name": "time", "units": TIME_UNITS,
                 "calendar": "standard", "axis": "T"})
    v[:] = values.astype(dtype)


def _f32(ds: netCDF4.Dataset, name: str, dims: tuple[str, ...], data: np.ndarray,
         missing_fraction: float, rng: np.random.RandomState, **attrs: str) -> None:
    """float32 variable with _FillValue; a fraction of values is masked (written as fill)."""
    v = ds.createVariable(name, "f4", dims, fill_value=_F32_FILL)
    v.setncatts(attrs)
    data = np.asarray(data, dtype="f4")
    mask = rng.random_sample(data.shape) < missing_fraction
    v[:] = np.ma.masked_array(data, mask=mask)


def _packed_i16(ds: netCDF4.Dataset, name: str, dims: tuple[str, ...], data: np.ndarray,
                scale: float, offset: float, **attrs: str) -> None:
    """int16 packed variable; NaNs in ``data`` become the int16 _FillValue."""
    v = ds.createVariable(name, "i2", dims, fill_value=_I16_FILL)
    v.setncatts({"scale_factor": np.float32(scale), "add_offset": np.float32(offset), **attrs})
    # Pack ourselves (auto-scaling off) so rounding is fixed and independent of netCDF4.
    v.set_auto_maskandscale(False)
    packed = np.round((data - offset) / scale)
    packed = np.where(np.isnan(packed), _I16_FILL, np.clip(packed, -32767, 32767))
    v[:] = packed.astype("i2")


def _char_array(ds: netCDF4.Dataset, name: str, dim: str, strings: list[str],
                nchar: int, encoding: str | None, **attrs: str) -> None:
    """Fixed-width char array (S1 with a string dimension)."""
    sdim = f"{name}_strlen"
    ds.createDimension(sdim, nchar)
    v = ds.createVariable(name, "S1", (dim, sdim) if dim else (sdim,))
    v.setncatts(attrs)
    if encoding:
        v.setncattr("_Encoding", encoding)
    v.set_auto_chartostring(False)
    # Shorter strings are NUL-padded by numpy, as netCDF char arrays are.
    arr = np.array([s.encode("utf-8")[:nchar] for s in strings], dtype=f"S{nchar}")
    chars = netCDF4.stringtochar(arr)
    v[:] = chars if dim else chars[0]


# --------------------------------------------------------------------------- datasets


def _joanne(path: Path, version: str) -> None:
    """JOANNE-like Level-3 dropsondes: sounding x alt, char-array sonde and flight ids."""
    rng = np.random.RandomState(_seed("joanne" + version))
    n_sond = 12 if version == "v2.0.0" else 8
    alt = np.arange(0, 4000, 40, dtype="i4")  # 100 levels
    with _new_nc(path, "EUREC4A JOANNE Level-3 gridded dropsonde data (demo)",
                 product_version=version, platform="HALO") as ds:
        ds.createDimension("sounding", n_sond)
        ds.createDimension("alt", alt.size)
        a = ds.createVariable("alt", "i4", ("alt",))
        a.setncatts({"standard_name": "geopotential_height", "units": "m", "axis": "Z"})
        a[:] = alt
        launch = 86400.0 * 21 + np.sort(rng.uniform(0, 86400 * 20, n_sond)).round(0)
        _time_var(ds, "sounding", launch, name="launch_time")
        ids = [f"{200000000 + 1000 * i + rng.randint(0, 999)}" for i in range(n_sond)]
        # Char arrays without _Encoding: pydap 3.5.9's server fails (HTTP 500) on char
        # arrays with _Encoding and on vlen strings, and JOANNE must stay servable.
        _char_array(ds, "sonde_id", "sounding", ids, 9, None,
                    long_name="sonde identifier", cf_role="profile_id")
        flights = [list(FLIGHTS)[i % len(FLIGHTS)] for i in range(n_sond)]
        _char_array(ds, "flight_id", "sounding", flights, 9, None,
                    long_name="HALO flight identifier")
        _f32(ds, "lat", ("sounding",), 13.3 + rng.uniform(-1, 1, n_sond), 0.0, rng,
             standard_name="latitude", units="degree_north")
        _f32(ds, "lon", ("sounding",), -57.7 + rng.uniform(-1, 1, n_sond), 0.0, rng,
             standard_name="longitude", units="degree_east")
        z = alt[None, :].astype("f8")
        ta = 299.0 - 0.0065 * z + rng.normal(0, 0.3, (n_sond, alt.size))
        _f32(ds, "ta", ("sounding", "alt"), ta, 0.05, rng,
             standard_name="air_temperature", units="K")
        p = 101300.0 * np.exp(-z / 8400.0) + rng.normal(0, 20, (n_sond, alt.size))
        _f32(ds, "p", ("sounding", "alt"), p, 0.05, rng,
             standard_name="air_pressure", units="Pa")
        rh = np.clip(0.8 - z / 8000.0 + rng.normal(0, 0.05, (n_sond, alt.size)), 0, 1)
        rh[:, -5:] = np.nan  # top levels never reached: fill
        _packed_i16(ds, "rh", ("sounding", "alt"), rh, 1e-4, 0.0,
                    standard_name="relative_humidity", units="1")
        for name, mean in (("u", -8.0), ("v", -1.0)):
            _f32(ds, name, ("sounding", "alt"), mean + rng.normal(0, 2, (n_sond, alt.size)),
                 0.05, rng, standard_name=f"{'eastward' if name == 'u' else 'northward'}_wind",
                 units="m s-1")


def _bacardi(path: Path, flight_id: str, date: str) -> None:
    """BACARDI broadband irradiances of one flight: time series, float32 with fill."""
    rng = np.random.RandomState(_seed("bacardi" + flight_id))
    n = 360
    day = (int(date[4:6]) - 1) * 31 + int(date[6:8]) - 1  # Jan/Feb 2020 only
    t = day * 86400.0 + 12 * 3600.0 + 10.0 * np.arange(n)
    with _new_nc(path, f"BACARDI broadband irradiances, {flight_id} (demo)",
                 flight_id=flight_id, platform="HALO", instrument="BACARDI") as ds:
        ds.createDimension("time", n)
        _time_var(ds, "time", t)
        sza = 30 + 20 * np.sin(np.linspace(0, np.pi, n))
        down = 1360 * np.cos(np.deg2rad(sza)) + rng.normal(0, 5, n)
        _f32(ds, "F_down_solar", ("time",), down, 0.02, rng,
             standard_name="downwelling_shortwave_flux_in_air", units="W m-2")
        _f32(ds, "F_up_solar", ("time",), 0.1 * down + rng.normal(0, 20, n), 0.02, rng,
             standard_name="upwelling_shortwave_flux_in_air", units="W m-2")
        _f32(ds, "F_down_terrestrial", ("time",), 60 + rng.normal(0, 3, n), 0.02, rng,
             standard_name="downwelling_longwave_flux_in_air", units="W m-2")
        _f32(ds, "F_up_terrestrial", ("time",), 290 + rng.normal(0, 3, n), 0.02, rng,
             standard_name="upwelling_longwave_flux_in_air", units="W m-2")
        _f32(ds, "alt", ("time",), 9000 + rng.normal(0, 30, n), 0.0, rng,
             standard_name="altitude", units="m")


def _kt19(path: Path, flight_id: str) -> None:
    """KT19 cloud mask: the types DAP2 cannot carry faithfully."""
    rng = np.random.RandomState(_seed("kt19" + flight_id))
    n = 240
    day = int(FLIGHTS[flight_id][6:8]) - 1 + (31 if FLIGHTS[flight_id][4:6] == "02" else 0)
    with _new_nc(path, f"KT19 cloud mask, {flight_id} (demo)", flight_id=flight_id,
                 platform="HALO", instrument="KT19") as ds:
        ds.createDimension("time", n)
        # int32 seconds: CF times need not be floats.
        _time_var(ds, "time", day * 86400 + 13 * 3600 + np.arange(n, dtype="i4"), dtype="i4")
        cm = ds.createVariable("cloud_mask", "u1", ("time",), fill_value=np.uint8(255))
        cm.setncatts({
            "long_name": "cloud mask",
            "flag_values": np.array([0, 1, 2, 3], dtype="u1"),
            "flag_meanings": "no_cloud probably_clear probably_cloudy most_likely_cloudy",
        })
        cmv = rng.randint(0, 4, n).astype("u1")
        cmv[rng.random_sample(n) < 0.03] = 255
        cm[:] = cmv
        # Signed byte storage of unsigned data (the netCDF-3 / DAP convention).
        q = ds.createVariable("quality", "i1", ("time",))
        q.setncatts({"long_name": "quality counter (0..250)", "_Unsigned": "true",
                     "valid_range": np.array([0, 250], dtype="i2")})
        q.set_auto_maskandscale(False)
        q[:] = rng.randint(0, 251, n).astype("u1").view("i1")
        raw = ds.createVariable("bt_raw_counts", "u2", ("time",))
        raw.setncatts({"long_name": "raw detector counts", "units": "1"})
        raw[:] = rng.randint(20000, 65000, n).astype("u2")
        idx = ds.createVariable("sample_index", "i8", ("time",))
        idx.setncatts({"long_name": "running sample index since instrument start"})
        idx[:] = (np.int64(5_000_000_000) + np.arange(n, dtype="i8") * 100)
        _f32(ds, "brightness_temperature", ("time",), 290 + rng.normal(0, 5, n), 0.03, rng,
             standard_name="brightness_temperature", units="K")


def _bco(path: Path) -> None:
    """BCO WXT surface meteorology: int32 CF times, int16 packed variables."""
    rng = np.random.RandomState(_seed("bco"))
    n = 720  # one day at 2 minutes
    t = 31 * 86400 + 120 * np.arange(n, dtype="i4")
    with _new_nc(path, "BCO surface meteorology (Vaisala WXT), 2020-02-01 (demo)",
                 platform="BCO", location="Barbados Cloud Observatory, Deebles Point",
                 product_version="v2.0.0") as ds:
        ds.createDimension("time", n)
        _time_var(ds, "time", t, dtype="i4")
        diurnal = np.sin(2 * np.pi * np.arange(n) / n)
        ta = 299.5 + 1.5 * diurnal + rng.normal(0, 0.1, n)
        ta[rng.random_sample(n) < 0.02] = np.nan
        _packed_i16(ds, "T", ("time",), ta, 0.01, 273.15, standard_name="air_temperature",
                    units="K")
        pa = 101500 + 150 * diurnal + rng.normal(0, 10, n)
        _packed_i16(ds, "P", ("time",), pa, 10.0, 100000.0, standard_name="air_pressure",
                    units="Pa")
        rh = np.clip(0.75 - 0.1 * diurnal + rng.normal(0, 0.02, n), 0, 1)
        _packed_i16(ds, "RH", ("time",), rh, 1e-4, 0.0, standard_name="relative_humidity",
                    units="1")
        _f32(ds, "wspd", ("time",), np.abs(7 + rng.normal(0, 1.5, n)), 0.02, rng,
             standard_name="wind_speed", units="m s-1")
        rain = np.where(rng.random_sample(n) < 0.05, rng.exponential(2.0, n), 0.0)
        _f32(ds, "rain_rate", ("time",), rain, 0.0, rng,
             standard_name="rainfall_rate", units="mm h-1")


def _limrad94_high(path: Path, version: str) -> None:
    """LIMRAD94 high-res radar (time x range); 1.1 adds heave correction."""
    rng = np.random.RandomState(_seed("limrad94"))  # same base field for both versions
    nt, nr = 240, 60
    t = 31 * 86400.0 + 3.0 * np.arange(nt)
    rg = (150.0 + 30.0 * np.arange(nr)).astype("f4")
    with _new_nc(path, f"RV Meteor LIMRAD94 cloud radar, high resolution, v{version} (demo)",
                 platform="RV Meteor", instrument="RPG-FMCW94 (LIMRAD94)",
                 product_version=version) as ds:
        ds.createDimension("time", nt)
        ds.createDimension("range", nr)
        _time_var(ds, "time", t)
        r = ds.createVariable("range", "f4", ("range",))
        r.setncatts({"long_name": "range from antenna", "units": "m"})
        r[:] = rg
        ze = -30 + 15 * rng.random_sample((nt, nr))
        ze[:, 40:] = np.nan  # above cloud: nothing
        ze[rng.random_sample((nt, nr)) < 0.3] = np.nan
        v = ds.createVariable("Ze", "f4", ("time", "range"), fill_value=_F32_FILL, zlib=True,
                              complevel=4, chunksizes=(60, nr))
        v.setncatts({"long_name": "equivalent radar reflectivity factor", "units": "dBZ"})
        v[:] = np.ma.masked_invalid(ze.astype("f4"))
        vm = rng.normal(-0.5, 1.0, (nt, nr))
        if version != "1.0":
            vm = vm - 0.1 * np.sin(np.arange(nt) / 5.0)[:, None]  # heave correction
        vm[np.isnan(ze)] = np.nan
        _packed_i16(ds, "vm", ("time", "range"), vm, 0.001, 0.0,
                    long_name="mean Doppler velocity", units="m s-1")
        if version != "1.0":
            h = ds.createVariable("heave_rate", "f4", ("time",), fill_value=_F32_FILL)
            h.setncatts({"long_name": "ship heave rate", "units": "m s-1"})
            h[:] = (0.1 * np.sin(np.arange(nt) / 5.0)).astype("f4")


def _limrad94_low(path: Path, date: str) -> None:
    """LIMRAD94 daily averaged reflectivity (time x range)."""
    rng = np.random.RandomState(_seed("limrad94low" + date))
    nt, nr = 96, 40
    day = int(date[6:8]) - 1 + 31
    with _new_nc(path, f"RV Meteor LIMRAD94 30 s / 30 m averaged reflectivity, {date} (demo)",
                 platform="RV Meteor", instrument="RPG-FMCW94 (LIMRAD94)") as ds:
        ds.createDimension("time", nt)
        ds.createDimension("range", nr)
        _time_var(ds, "time", day * 86400.0 + 900.0 * np.arange(nt))
        r = ds.createVariable("range", "f4", ("range",))
        r.setncatts({"long_name": "range from antenna", "units": "m"})
        r[:] = (150.0 + 30.0 * np.arange(nr)).astype("f4")
        ze = -35 + 20 * rng.random_sample((nt, nr))
        _f32(ds, "Ze", ("time", "range"), ze, 0.4, rng,
             long_name="equivalent radar reflectivity factor", units="dBZ")


def _track(path: Path) -> None:
    """RV Meteor track: netCDF-3 classic with char arrays (with and without _Encoding).

    netCDF-3 because the catalog reads this file with the ``netcdf`` driver from a
    file object (``simplecache::`` over HTTP): xarray then needs scipy (netCDF-3) or
    h5netcdf (netCDF-4), and only scipy is a dependency here.
    """
    rng = np.random.RandomState(_seed("meteor_track"))
    n = 288  # one day at 5 minutes
    with _new_nc(path, "RV Meteor ship track, 2020-02-01 (demo)", fmt="NETCDF3_CLASSIC",
                 platform="RV Meteor", cruise_id="M161") as ds:
        ds.createDimension("time", n)
        _time_var(ds, "time", 31 * 86400.0 + 300.0 * np.arange(n))
        lat = ds.createVariable("lat", "f8", ("time",))
        lat.setncatts({"standard_name": "latitude", "units": "degree_north"})
        lat[:] = 13.5 + np.cumsum(rng.normal(0, 0.002, n))
        lon = ds.createVariable("lon", "f8", ("time",))
        lon.setncatts({"standard_name": "longitude", "units": "degree_east"})
        lon[:] = -57.0 + np.cumsum(rng.normal(0, 0.002, n))
        _f32(ds, "heading", ("time",), rng.uniform(0, 360, n), 0.02, rng,
             standard_name="platform_course", units="degree")
        _packed_i16(ds, "sog", ("time",), np.abs(rng.normal(4, 1, n)), 0.01, 0.0,
                    standard_name="platform_speed_wrt_ground", units="m s-1")
        # scalar-like char array: a string dimension only, no _Encoding (decodes to bytes)
        _char_array(ds, "platform_name", "", ["RV Meteor"], 16, None,
                    long_name="platform name")
        stations = [f"S{i // 24:02d}" if i % 24 < 6 else "transit" for i in range(n)]
        _char_array(ds, "station", "time", stations, 8, "utf-8", long_name="station label")


def _flight_segments(path: Path) -> None:
    """JSON list of HALO flights and their segments (for the ``json`` driver)."""
    flights = []
    for k, (fid, date) in enumerate(FLIGHTS.items()):
        day = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        flights.append({
            "flight_id": fid,
            "platform": "HALO",
            "date": day,
            "segments": [
                {"kind": "circle", "segment_id": f"{fid}_c{i + 1}",
                 "start": f"{day}T{12 + i:02d}:00:00", "end": f"{day}T{12 + i:02d}:55:00",
                 "dropsondes": 12 - k}
                for i in range(3)
            ],
        })
    _atomic_write_bytes(path, (json.dumps({"flights": flights}, indent=2, sort_keys=True)
                               + "\n").encode())


def _zip_one(source: Path, path: Path) -> None:
    """``source`` alone in a zip archive (``compression: zip`` of the json driver), bit-reproducible."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(source.name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: no file times
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, source.read_bytes())
    _atomic_write_bytes(path, buf.getvalue())


def _mip_bc(path: Path) -> None:
    """EUREC4A-MIP-like boundary conditions: netCDF-4 (HDF5) with contiguous, uncompressed,
    little-endian variables, so that kerchunk-style references can point at byte ranges.
    Variables are not in alphabetical order (``T, P, RH``): readers must keep the order."""
    rng = np.random.RandomState(_seed("mip_bc"))
    nt, ncell = 4, 3
    with _new_nc(path, "EUREC4A-MIP boundary conditions (demo, HDF5 for kerchunk references)",
                 experiment="control", product_version="v0.1") as ds:
        ds.createDimension("time", nt)
        ds.createDimension("cell", ncell)
        t = ds.createVariable("time", "<i4", ("time",), contiguous=True)
        t.setncatts({"standard_name": "time", "units": TIME_UNITS, "calendar": "standard"})
        t[:] = 31 * 86400 + 21600 * np.arange(nt, dtype="i4")
        for name, dtype, base, spread, attrs in (
            ("T", "<f8", 299.0, 2.0, {"standard_name": "air_temperature", "units": "K"}),
            ("P", "<f8", 101300.0, 300.0, {"standard_name": "air_pressure", "units": "Pa"}),
            ("RH", "<f4", 0.7, 0.1, {"standard_name": "relative_humidity", "units": "1"}),
        ):
            v = ds.createVariable(name, dtype, ("time", "cell"), contiguous=True)
            v.setncatts(attrs)
            v[:] = (base + spread * rng.random_sample((nt, ncell))).astype(dtype)


def reference_set(nc_path: str | os.PathLike[str], data_url: str) -> dict:
    """Kerchunk-style references (version 1) to the variables of :func:`_mip_bc`'s file at ``data_url``.

    Zarr v2 metadata inline, each variable one chunk ``[data_url, offset, length]``.
    Written here rather than with kerchunk (not a dependency): the file's variables are
    contiguous and uncompressed, so each one is a single byte range, found by searching
    the file for the variable's bytes (and checked to occur exactly once).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _mip_bc(d / "bc.nc")
    >>> refs = reference_set(d / "bc.nc", "https://example.org/bc.nc")["refs"]
    >>> refs["T/0.0"][0], json.loads(refs["T/.zarray"])["shape"]
    ('https://example.org/bc.nc', [4, 3])
    """
    raw = Path(nc_path).read_bytes()
    refs: dict[str, object] = {".zgroup": json.dumps({"zarr_format": 2})}
    with netCDF4.Dataset(nc_path) as ds:
        refs[".zattrs"] = json.dumps({k: ds.getncattr(k) for k in ds.ncattrs()}, sort_keys=True)
        for name, var in ds.variables.items():
            var.set_auto_maskandscale(False)
            data = np.ascontiguousarray(var[:])
            body = data.tobytes()
            offset = raw.find(body)
            if offset < 0 or raw.find(body, offset + 1) >= 0:
                raise ValueError(f"{nc_path}: variable {name!r} is not one unique contiguous byte range")
            attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in
                     ((k, var.getncattr(k)) for k in var.ncattrs())}
            refs[f"{name}/.zattrs"] = json.dumps({**attrs, "_ARRAY_DIMENSIONS": list(var.dimensions)},
                                                 sort_keys=True)
            refs[f"{name}/.zarray"] = json.dumps({
                "chunks": list(data.shape), "compressor": None, "dtype": data.dtype.str, "fill_value": None,
                "filters": None, "order": "C", "shape": list(data.shape), "zarr_format": 2}, sort_keys=True)
            refs[f"{name}/" + ".".join("0" * data.ndim)] = [data_url, offset, len(body)]
    return {"version": 1, "refs": refs}


def write_references(out_dir: str | os.PathLike[str], base_url: str) -> dict[str, Path]:
    """Write :data:`REFERENCE_FILES` below ``out_dir`` for data served at ``base_url``.

    ``base_url`` is what ``out_dir`` is served as (``http://127.0.0.1:8000/data``,
    or ``out_dir``'s ``file://`` URL). Returns dataset id -> written path.
    """
    out = Path(out_dir)
    written = {}
    for key, rel in REFERENCE_FILES.items():
        nc_rel = DEMO_FILES[key]
        refs = reference_set(out / nc_rel, f"{base_url.rstrip('/')}/{nc_rel}")
        path = out / rel
        _atomic_write_bytes(path, json.dumps(refs, sort_keys=True, indent=1).encode("utf-8"))
        written[key] = path
    return written


def ipfs_objects(out_dir: str | os.PathLike[str],
                 community_catalog: str | os.PathLike[str] | None = None) -> tuple[dict[str, str], dict]:
    """Put demo data on IPFS: placeholders of the catalog -> CIDs, and the blocks to serve.

    * ``@BCO_ZARR_CID@``: the BCO zarr store (a bare ``ipfs://<CID>`` zarr entry);
    * ``@MIP_REFS_CID@``: kerchunk references that are themselves on IPFS and point
      into the MIP netCDF file on IPFS (``reference::ipfs://<CID>``);
    * ``@LIMRAD94_CID@``: the folder of LIMRAD94 files;
    * ``@COMMUNITY_CID@``: a folder holding ``community_catalog`` (a YAML file whose
      placeholders are the ones above) as ``catalog.yaml``.

    Deterministic: the same data give the same CIDs (nothing here names a server).
    """
    from eurec4a.publish.importer import MemoryBlockStore, import_bytes, import_directory, import_file

    out = Path(out_dir)
    store = MemoryBlockStore()
    profile = "kubo-raw-leaves"
    cids = {"@BCO_ZARR_CID@": import_directory(out / DEMO_FILES["bco/meteorology_zarr"], store, profile,
                                               hidden=True),
            "@LIMRAD94_CID@": import_directory(out / "meteor" / "limrad94", store, profile)}
    nc_path = out / DEMO_FILES["mip/bc"]
    with open(nc_path, "rb") as f:
        nc_cid, _ = import_file(f, store, profile)
    refs = reference_set(nc_path, f"ipfs://{nc_cid}")
    cids["@MIP_REFS_CID@"], blocks = import_bytes(json.dumps(refs, sort_keys=True).encode("utf-8"), profile)
    store.blocks.update(blocks)
    replacements = {k: str(v) for k, v in cids.items()}
    if community_catalog is not None:
        text = Path(community_catalog).read_text(encoding="utf-8")
        for key, value in replacements.items():
            text = text.replace(key, value)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "catalog.yaml").write_text(text, encoding="utf-8")
            replacements["@COMMUNITY_CID@"] = str(import_directory(tmp, store, profile))
    return replacements, dict(store.blocks)


def _bco_zarr(path: Path, source_nc: Path) -> None:
    """Zarr v2 (consolidated) copy of the BCO surface meteorology, written by xarray."""
    import xarray as xr

    with xr.open_dataset(source_nc) as ds:
        ds = ds.load()
    ds.attrs["title"] = ds.attrs["title"].replace("(demo)", "(demo, zarr)")
    # Variable-length strings live here (zarr v2 ``vlen-utf8``), not in the netCDF files
    # served over OPeNDAP: pydap's server cannot serve them (HTTP 500 for the variable).
    codes = np.array(["clear", "light rain shower", "haze", "rain", "partly cloudy"], dtype=object)
    rng = np.random.RandomState(_seed("bco_weather"))
    ds["present_weather"] = ("time", codes[rng.randint(0, codes.size, ds.sizes["time"])])
    ds["present_weather"].attrs["long_name"] = "present weather (observer log)"
    # Keep the on-disk packing of the netCDF file; chunk in two to have >1 chunk file.
    for var in ds.variables.values():
        var.encoding = {k: v for k, v in var.encoding.items()
                        if k in ("dtype", "scale_factor", "add_offset", "_FillValue",
                                 "units", "calendar")}
        if var.dims == ("time",):
            var.encoding["chunks"] = (ds.sizes["time"] // 2,)
    # Build next to the target, then swap in, so readers never see a half-written store.
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------- public API


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _atomic_nc(path: Path, writer: Callable[[Path], None]) -> None:
    """Write a netCDF file to a temp name in the same dir, then rename (readers never see half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_demo_data(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write every demo dataset below ``out_dir``; return dataset id -> written path.

    Parameters
    ----------
    out_dir : str or path-like
        Directory to write into (created if missing). The relative layout is
        :data:`DEMO_FILES`; serve ``out_dir`` as the root of the OPeNDAP and HTTP servers
        so that ``@OPENDAP@/<relpath>`` and ``@HTTP@/<relpath>`` resolve.

    Returns
    -------
    dict of str to pathlib.Path
        One item per key of :data:`DEMO_FILES`. The zarr store is a directory.

    Examples
    --------
    >>> import tempfile
    >>> files = write_demo_data(tempfile.mkdtemp())
    >>> files["bacardi/HALO-0205"].name
    'EUREC4A_HALO_BACARDI_BroadbandFluxes_20200205_R1.nc'
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / rel for key, rel in DEMO_FILES.items()}
    for v in JOANNE_VERSIONS:
        _atomic_nc(paths[f"joanne/{v}"], lambda p, v=v: _joanne(p, v))
    for fid, date in FLIGHTS.items():
        _atomic_nc(paths[f"bacardi/{fid}"], lambda p, f=fid, d=date: _bacardi(p, f, d))
    for fid in KT19_FLIGHTS:
        _atomic_nc(paths[f"kt19/{fid}"], lambda p, f=fid: _kt19(p, f))
    _flight_segments(paths["flight_segments"])
    _zip_one(paths["flight_segments"], paths["flight_segments_zip"])
    _atomic_nc(paths["bco/surface_met"], _bco)
    _bco_zarr(paths["bco/meteorology_zarr"], paths["bco/surface_met"])
    for v in LIMRAD94_VERSIONS:
        _atomic_nc(paths[f"limrad94/high_res/{v}"], lambda p, v=v: _limrad94_high(p, v))
    for d in LIMRAD94_DATES:
        _atomic_nc(paths[f"limrad94/low_res/{d}"], lambda p, d=d: _limrad94_low(p, d))
    _atomic_nc(paths["meteor/track"], _track)
    _atomic_nc(paths["mip/bc"], _mip_bc)
    logger.info("wrote %d demo datasets below %s", len(paths), out)
    return paths


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python eurec4a/testing/demo_data.py OUT_DIR``; prints one written path per line."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python eurec4a/testing/demo_data.py OUT_DIR", file=sys.stderr)
        return 2
    for key, path in write_demo_data(argv[0]).items():
        print(f"{key}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
