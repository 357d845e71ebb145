"""Server failures while data are read become the package's errors, naming the URL.

xarray's OPeNDAP clients fail in their own ways when a server is down or dies
mid-read: pydap raises ``requests.exceptions.ConnectionError`` (with urllib3's
retry wording), libnetcdf an ``OSError: [Errno -68] NetCDF: I/O failure`` (or
``-70 ... DAP server error``, and sometimes ``FileNotFoundError``, errno 2, for a
server that merely refused the connection). A user should instead get a
:class:`~eurec4a.errors.ServerUnreachableError` that says which URL failed and
that it is the server, not the data, that is missing.

Two places can fail: opening (metadata requests) and loading (data requests,
run later by dask). :func:`open_guarded` covers both: it opens the dataset
lazily with :func:`xarray.open_dataset` and wraps every lazily loaded variable in
a small array whose reads translate network errors, then makes dask arrays of
them with the public :func:`dask.array.from_array`. xarray offers no hook for
errors of a backend, hence this module.

Which failures count as the server's is decided by
:func:`eurec4a.catalog.network.is_network_error`, the catalog layer's one classifier.

Examples
--------
>>> open_guarded("http://127.0.0.1:9/x.nc", engine="pydap")  # doctest: +SKIP
"""
from __future__ import annotations

import logging
from typing import Any

from eurec4a.catalog.network import is_network_error, unreachable_error

logger = logging.getLogger(__name__)

__all__ = ["open_guarded", "configure_netcdf_client"]


_NETCDF_CONFIGURED: tuple[float, float] | None = None


def configure_netcdf_client(timeout: float, connect_timeout: float) -> None:
    """Set up libnetcdf's DAP client for this process, once: bounded requests, no cookie files.

    * ``HTTP.TIMEOUT`` and ``HTTP.CONNECTTIMEOUT``: its curl default waits forever; a
      catalog must fail in bounded time.
    * ``HTTP.COOKIEJAR`` is ``os.devnull``: without a jar libnetcdf creates a
      ``/tmp/occookies*`` file per dataset it opens and deletes it only when the dataset is
      closed, so every process that ends with a dataset open (a dask worker, a notebook
      kernel, a catalog build) leaves one behind. That file never outlives its dataset, so
      nothing is lost: the EUREC4A servers set no cookies, and curl still keeps a session's
      cookies in memory.

    Settings the user made (``.ncrc``, ``netCDF4.rc_set``) are left alone. Called when a
    dataset is opened and again where its data are read (dask workers are processes of
    their own); without ``netCDF4`` (or a libnetcdf without ``rc_set``) it does nothing.

    Examples
    --------
    >>> configure_netcdf_client(120, 15)
    """
    global _NETCDF_CONFIGURED
    if _NETCDF_CONFIGURED is not None:
        return
    try:
        import netCDF4
    except ImportError:  # pydap-only installs: no libnetcdf to configure
        _NETCDF_CONFIGURED = (timeout, connect_timeout)
        return
    if getattr(netCDF4, "__has_nc_rc_set__", False):
        import os

        for key, value in (("HTTP.TIMEOUT", str(timeout)), ("HTTP.CONNECTTIMEOUT", str(connect_timeout)),
                           ("HTTP.COOKIEJAR", os.devnull)):
            if not netCDF4.rc_get(key):
                netCDF4.rc_set(key, value)
    _NETCDF_CONFIGURED = (timeout, connect_timeout)


class _Guarded:
    """A lazily indexed xarray variable whose reads turn network errors into package errors."""

    def __init__(self, variable: Any, url: str, where: str, catalog_dir: str | None,
                 netcdf_timeouts: tuple[float, float] | None = None):
        self.variable = variable
        self.netcdf_timeouts = netcdf_timeouts  # set for libnetcdf datasets: configure readers too
        self.catalog_dir = catalog_dir
        self.url = url
        self.where = where
        self.shape = variable.shape
        self.dtype = variable.dtype
        self.ndim = variable.ndim

    def __getitem__(self, key: Any):
        import numpy as np

        if self.netcdf_timeouts is not None:  # a dask worker's first read reopens the dataset
            configure_netcdf_client(*self.netcdf_timeouts)
        try:
            return np.asarray(self.variable[key].values)
        except Exception as exc:
            if is_network_error(exc):
                raise unreachable_error(self.url, exc, self.where, catalog_dir=self.catalog_dir) from exc
            raise


def _open_dataset(url: str, **open_kwargs: Any):
    """:func:`xarray.open_dataset`; for pydap over HTTP with the DAP2 protocol named.

    xarray's pydap backend lets pydap guess the protocol from the URL, and pydap then
    warns that it could not for every ``http(s)://`` URL; the EUREC4A servers speak DAP2.
    """
    import xarray as xr

    if open_kwargs.get("engine") != "pydap" or not str(url).startswith(("http://", "https://")):
        return xr.open_dataset(url, chunks=None, **open_kwargs)
    from pydap.client import open_url
    from xarray.backends import PydapDataStore

    kwargs = {k: v for k, v in open_kwargs.items() if k != "engine"}
    timeout = kwargs.pop("timeout", None)
    dataset = open_url(url, protocol="dap2", output_grid=False, **({"timeout": timeout} if timeout else {}))
    try:
        store = PydapDataStore(dataset, protocol="dap2")
    except TypeError:  # xarray before the protocol argument: DAP2 is its only behaviour
        store = PydapDataStore(dataset)
    return xr.open_dataset(store, chunks=None, **kwargs)


def open_guarded(url: str, *, chunks: Any = None, where: str = "", catalog_dir: str | None = None,
                 **open_kwargs: Any):
    """:func:`xarray.open_dataset` for remote data whose failures name ``url`` and the package's error.

    Parameters
    ----------
    url
        Dataset URL (e.g. OPeNDAP).
    chunks
        As for :func:`xarray.open_dataset`: ``None`` (no dask), ``{}`` (one chunk per
        variable) or a chunk spec; the data are read through the guard in every case.
    where
        Context for messages (e.g. ``"entry 'low_res' (opendap driver)"``).
    catalog_dir
        Folder of the catalog file of the entry: its protocol tells the mode, which the advice follows.
    **open_kwargs
        Passed to :func:`xarray.open_dataset` (``engine``...).

    Raises
    ------
    ServerUnreachableError
        When opening or, later, loading fails because the server did not deliver.

    Examples
    --------
    >>> open_guarded("http://127.0.0.1:9/x.nc", engine="pydap")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    eurec4a.errors.ServerUnreachableError: cannot read http://127.0.0.1:9/x.nc: the server did not deliver ...
    """
    import dask.array as da
    import numpy as np
    import xarray as xr
    from dask.base import tokenize

    engine = open_kwargs.get("engine")
    try:
        ds = _open_dataset(url, **open_kwargs)
    except Exception as exc:
        if is_network_error(exc) or (isinstance(exc, FileNotFoundError) and "://" in str(url)):
            # libnetcdf reports a refused DAP connection as ENOENT: for a URL that is the server.
            raise unreachable_error(url, exc, where, catalog_dir=catalog_dir) from exc
        raise
    replaced = {}
    for name, var in ds.variables.items():
        if name in ds.indexes or var._in_memory:
            continue  # index coordinates are read at open time; nothing lazy is left to guard
        guard = _Guarded(var, url, where, catalog_dir, _NETCDF_CONFIGURED if engine == "netcdf4" else None)
        data = da.from_array(guard, chunks=var.shape or (), name=f"eurec4a-remote-{tokenize(url, name)}",
                             meta=np.empty((0,) * var.ndim, dtype=var.dtype), asarray=False)
        replaced[name] = xr.Variable(var.dims, data, var.attrs, var.encoding)
    ds = ds.assign_coords({k: v for k, v in replaced.items() if k in ds.coords})
    ds = ds.assign({k: v for k, v in replaced.items() if k in ds.data_vars})
    if chunks not in (None, {}):
        ds = ds.chunk(chunks)
    return ds
