"""Shared fixtures: every test runs with its own cache, no user configuration, no public gateways.

The user's home and cache are never touched: for the whole session ``HOME`` and the XDG
folders point into a temporary folder, before any fixture of any scope runs (a
session-scoped autouse fixture is set up first), and every test gets its own cache on top.
"""
from __future__ import annotations

import pytest

def _isolate(monkeypatch: pytest.MonkeyPatch, home) -> None:
    """Every eurec4a setting away from the user's: own cache and config, no node, no public gateway."""
    monkeypatch.setenv("EUREC4A_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("EUREC4A_CONFIG", str(home / "no-config.json"))
    monkeypatch.setenv("IPFS_PATH", str(home / "ipfs"))
    monkeypatch.setenv("EUREC4A_IPFS_GATEWAYS", "http://127.0.0.1:9")
    for name in ("IPFS_GATEWAY", "IPFSSPEC_GATEWAYS", "EUREC4A_CATALOG_URL", "EUREC4A_CID_POINTER_URL",
                 "EUREC4A_CACHE_SIZE", "EUREC4A_POINTER_TTL", "EUREC4A_POINTER_SNAPSHOT", "EUREC4A_TIMEOUT",
                 "EUREC4A_DEADLINE", "EUREC4A_FLIGHT_SEGMENTS_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory):
    """``HOME``, the XDG folders and every eurec4a setting point into a temporary folder, all session.

    Session-scoped autouse fixtures are set up before every other fixture, so this also
    covers module- and session-scoped fixtures (the demo stack, ``trees`` in test_catalog).
    """
    home = tmp_path_factory.mktemp("session-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        for name, sub in (("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")):
            mp.setenv(name, str(home / sub))
        # dask's scratch folder (distributed workers) too, for this process and its children
        mp.setenv("DASK_TEMPORARY_DIRECTORY", str(home / "dask"))
        _isolate(mp, home)
        import dask

        with dask.config.set({"temporary-directory": str(home / "dask")}):
            yield home


@pytest.fixture(scope="session", autouse=True)
def netcdf_cookies_in_memory():
    """Tests that open OPeNDAP with xarray directly (the test servers' own tests) leave no cookie file.

    The package gives libnetcdf a cookie jar when it opens OPeNDAP itself
    (:func:`eurec4a.catalog.opendap.configure_netcdf_client`); a test calling
    ``xr.open_dataset(url, engine="netcdf4")`` bypasses that, and a failed open makes
    libnetcdf leave its ``/tmp/occookies*`` file behind.
    """
    try:
        import netCDF4
    except ImportError:  # the data extra is not installed: no libnetcdf, no cookie files
        yield
        return
    if getattr(netCDF4, "__has_nc_rc_set__", False) and not netCDF4.rc_get("HTTP.COOKIEJAR"):
        import os

        netCDF4.rc_set("HTTP.COOKIEJAR", os.devnull)
    yield


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's cache, config, local IPFS node and the internet.

    Public fallback gateways are replaced by an address nothing listens on (port 9 on
    loopback), so a test that forgets to configure a gateway fails fast and offline.
    """
    _isolate(monkeypatch, tmp_path_factory.mktemp("home"))
    import eurec4a

    eurec4a.reset_state()
    yield
    eurec4a.reset_state()


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory):
    """The demo stack (HTTP, OPeNDAP, gateway; IPFS catalog built from the classic one), once per session.

    Tests that flip fault switches must restore them (use the ``healthy_stack`` fixture).
    """
    from eurec4a.testing import DemoStack

    with DemoStack(workdir=tmp_path_factory.mktemp("stack")) as stack:
        assert stack.build.ok, stack.build.summary()
        yield stack


@pytest.fixture
def stack(demo_stack, monkeypatch):
    """The session's demo stack, configured through the environment, with healthy servers.

    Fault switches are reset after the test, so one test's faults never leak into the next.
    """
    for key, value in demo_stack.env().items():
        monkeypatch.setenv(key, value)
    yield demo_stack
    for server in demo_stack.servers:
        server.faults.update(latency=0.0, failure_rate=0.0, tamper=False, down=False, retry_after=None,
                             failure_status=503, mode=None, mode_rate=1.0, redirect_url=None,
                             drip_interval=1.0, honest_requests=0)
