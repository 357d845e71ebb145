"""intake V1 data sources for the EUREC4A catalog: ``opendap``, ``zarr``, ``netcdf``, ``json``.

intake-xarray 2 replaced its V1 sources by thin adapters over intake 2 readers:
they have no ``describe()`` and no metadata, ignore parameters when called, and
the OPeNDAP adapter drops ``chunks``. intake 2 itself no longer registers a
``json`` driver. The catalog and the community's book need the V1 behaviour, so
these classes implement it directly on xarray and fsspec (a few dozen lines
each), as :class:`intake.source.base.DataSource` subclasses:

* ``to_dask()`` opens lazily with dask, honouring ``chunks`` (``None`` means one
  chunk per variable, ``{}``);
* ``read()`` returns the data in memory (xarray sources: ``Dataset.load()``;
  ``json``: the parsed document);
* ``discover()`` and ``describe()`` work as in intake 1; ``metadata`` and
  ``description`` are set by the catalog entry.

Every URL goes through fsspec with the storage options the catalog hands down
(:mod:`eurec4a.catalog.yaml_catalog` propagates the root catalog's options to every
URL of the same protocol), so an ``ipfs://`` filesystem configured once reaches
every read. xarray is imported only when data is opened: listing and walking a
catalog never imports it.

Examples
--------
>>> import json, pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "flights.json"
>>> _ = p.write_text(json.dumps({"HALO-0205": "RF09"}))
>>> JSONSource(str(p)).read()
{'HALO-0205': 'RF09'}
"""
from __future__ import annotations

import json
import logging
from typing import Any

import fsspec
from intake.source.base import DataSource, Schema

from eurec4a.catalog.network import is_network_error, unreachable_error
from eurec4a.catalog.opendap import configure_netcdf_client, open_guarded
from eurec4a.catalog.urls import (
    CACHING_PROTOCOLS,
    HTTP_PROTOCOLS,
    LOCAL_PROTOCOLS,
    merge_options,
    protocol_family,
    url_protocols,
)
from eurec4a import settings
from eurec4a.errors import CatalogError, CatalogNotFoundError, Eurec4aError, GatewayError

__all__ = [
    "XarraySource",
    "OpenDapSource",
    "ZarrSource",
    "NetCDFSource",
    "JSONSource",
    "with_default_timeouts",
    "OPENDAP_TIMEOUT",
]

logger = logging.getLogger(__name__)

#: Seconds an OPeNDAP request may take (pydap's ``timeout``, libnetcdf's ``HTTP.TIMEOUT``).
OPENDAP_TIMEOUT = 120
#: Seconds libnetcdf may take to connect to an OPeNDAP server.
OPENDAP_CONNECT_TIMEOUT = 15

def with_default_timeouts(protocol: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Add bounded aiohttp timeouts to options of an ``http(s)`` filesystem that set none.

    fsspec's HTTP filesystem waits up to aiohttp's default of five minutes per
    request; a catalog must fail in bounded time instead: the settings ``timeout``
    (``EUREC4A_TIMEOUT``, between bytes) and ``deadline`` (``EUREC4A_DEADLINE``, in total).

    Examples
    --------
    >>> sorted(with_default_timeouts("https", {})["client_kwargs"])
    ['timeout']
    >>> with_default_timeouts("file", {"auto_mkdir": True})
    {'auto_mkdir': True}
    """
    options = dict(options or {})
    if protocol not in HTTP_PROTOCOLS:
        return options
    client_kwargs = dict(options.get("client_kwargs") or {})
    if "timeout" not in client_kwargs:
        import aiohttp

        # the same settings as every other request of the package (one owner: eurec4a.settings)
        client_kwargs["timeout"] = aiohttp.ClientTimeout(
            total=float(settings.resolve("deadline").value), sock_connect=settings.CONNECT_TIMEOUT,
            sock_read=float(settings.resolve("timeout").value),
        )
        options["client_kwargs"] = client_kwargs
    return options


def _chained_options(url: str, storage_options: dict[str, Any] | None) -> dict[str, Any]:
    """Storage options for fsspec, with HTTP timeouts added to each HTTP layer of ``url``."""
    opts = dict(storage_options or {})
    protos = url_protocols(url)
    if len(protos) == 1:
        return with_default_timeouts(protos[0], opts)
    for proto in protos[1:]:
        if proto in HTTP_PROTOCOLS:
            opts[proto] = with_default_timeouts(proto, opts.get(proto))
    return opts


class _CatalogSourceMixin:
    """What every source of this package shares: entry-aware naming in errors, transport options."""

    #: How to reach the servers (timeouts, headers, gateways), set by the catalog entry. Kept
    #: apart from ``storage_options`` so that ``repr()`` and ``yaml()`` show the catalog's
    #: arguments only (and ``yaml()`` stays loadable with ``yaml.safe_load``).
    transport_options: dict[str, Any] = {}

    def fs_options(self) -> dict[str, Any]:
        """The storage options used to open the data: the transport options, then the source's own."""
        return merge_options(self.transport_options, getattr(self, "storage_options", None))

    def _where(self) -> str:
        name = getattr(self, "name", None) or type(self).__name__
        return f"entry {name!r} ({type(self).name} driver)"


class XarraySource(_CatalogSourceMixin, DataSource):
    """Base of the gridded sources: an ``xarray.Dataset`` opened from ``urlpath``.

    Parameters
    ----------
    urlpath : str
        Where the data are (path or fsspec URL, see the subclass).
    chunks : dict, int, str or None
        dask chunks for :meth:`to_dask`; ``None`` means ``{}`` (the dataset's own
        chunking, one chunk per variable for unchunked files).
    xarray_kwargs : dict, optional
        Passed to :func:`xarray.open_dataset`.
    storage_options : dict, optional
        fsspec options for ``urlpath``.
    metadata : dict, optional
        Set by the catalog entry.
    **kwargs
        Further keyword arguments for :func:`xarray.open_dataset`.
    """

    container = "xarray"
    version = "1.0"
    partition_access = True

    def __init__(
        self,
        urlpath: str | list[str],
        chunks: Any = None,
        xarray_kwargs: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(storage_options=storage_options or {}, metadata=metadata)
        self.urlpath = urlpath
        self.chunks = chunks
        self.xarray_kwargs = {**(xarray_kwargs or {}), **kwargs}
        self._ds = None

    # -- what subclasses implement -------------------------------------------------
    def _open(self, chunks: Any):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- intake V1 API ---------------------------------------------------------------
    def to_dask(self):
        """The dataset, lazily loaded with dask in the entry's ``chunks``."""
        chunks = {} if self.chunks is None else self.chunks
        ds = self._open_checked(chunks)
        self._ds = ds
        return ds

    read_chunked = to_dask

    def read(self):
        """The dataset, loaded into memory (no dask)."""
        ds = self._open_checked(None)
        return ds.load()

    def _get_schema(self) -> Schema:
        if self._ds is None:
            self.to_dask()
        ds = self._ds
        meta = {
            "dims": dict(ds.sizes),
            "data_vars": {k: list(v.coords) for k, v in ds.data_vars.items()},
            "coords": tuple(ds.coords),
        }
        meta.update(ds.attrs)
        return Schema(datashape=None, dtype=None, shape=None, npartitions=None, extra_metadata=meta)

    def discover(self) -> dict[str, Any]:
        """Open the dataset (lazily) and describe its structure: dims, variables, attributes."""
        self._load_metadata()
        return {"container": self.container, "dtype": None, "shape": None,
                "npartitions": None, "metadata": self.metadata}

    def _get_partition(self, i: int):
        return self.to_dask()

    def _close(self) -> None:
        if self._ds is not None:
            self._ds.close()
            self._ds = None

    def _data_url(self) -> str:
        """The URL to name in errors: for ``reference://`` the references file (``fo``)."""
        url = str(self.urlpath)
        fo = (getattr(self, "storage_options", None) or {}).get("fo")
        if url.rstrip("/") == "reference:" and isinstance(fo, str):
            return f"{url} (references {fo})"
        return url

    def _open_checked(self, chunks: Any):
        try:
            return self._open(chunks)
        except Eurec4aError:
            raise
        except FileNotFoundError as exc:
            if is_network_error(exc):  # fsspec's HTTP reports a refused connection as "not found"
                raise unreachable_error(self._data_url(), exc, self._where(),
                                        catalog_dir=(self.metadata or {}).get("catalog_dir")) from exc
            raise CatalogNotFoundError(f"{self._where()}: {self._data_url()} does not exist ({exc})") from exc
        except Exception as exc:
            # zarr/netCDF over HTTP fail with aiohttp's errors naming only the host: name the URL.
            if is_network_error(exc):
                raise unreachable_error(self._data_url(), exc, self._where(),
                                        catalog_dir=(self.metadata or {}).get("catalog_dir")) from exc
            raise


class OpenDapSource(XarraySource):
    """A dataset on an OPeNDAP (DAP2) server.

    Parameters
    ----------
    urlpath : str
        The dataset's OPeNDAP URL (without ``.dds``/``.das``).
    chunks : dict, int or None
        dask chunks for :meth:`to_dask`.
    engine : {"pydap", "netcdf4"}
        The DAP client: pydap (pure Python) or libnetcdf's.
    auth : None
        Only anonymous access is supported (the EUREC4A servers are public).

    Examples
    --------
    >>> src = OpenDapSource("http://127.0.0.1:1/x.nc", chunks={"time": 10}, engine="netcdf4")
    >>> src.chunks, src.engine
    ({'time': 10}, 'netcdf4')
    """

    name = "opendap"
    ENGINES = ("pydap", "netcdf4")

    def __init__(self, urlpath: str, chunks: Any = None, engine: str = "pydap", auth: Any = None,
                 xarray_kwargs: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                 storage_options: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(urlpath, chunks=chunks, xarray_kwargs=xarray_kwargs,
                         storage_options=storage_options, metadata=metadata, **kwargs)
        self.engine = engine
        self.auth = auth

    def open_kwargs(self, chunks: Any) -> dict[str, Any]:
        """Keyword arguments for :func:`xarray.open_dataset` (engine, chunks, timeout)."""
        if self.engine not in self.ENGINES:
            raise CatalogError(f"{self._where()}: engine {self.engine!r} is not an OPeNDAP client; "
                               f"use one of {list(self.ENGINES)}")
        if self.auth is not None:
            raise CatalogError(f"{self._where()}: auth={self.auth!r} is not supported; "
                               "the EUREC4A OPeNDAP servers are public (auth: null)")
        kw = dict(self.xarray_kwargs)
        kw["engine"] = self.engine
        kw["chunks"] = chunks
        if self.engine == "pydap":
            kw.setdefault("timeout", OPENDAP_TIMEOUT)
        return kw

    def _open(self, chunks: Any):
        kw = self.open_kwargs(chunks)
        if self.engine == "netcdf4":
            configure_netcdf_client(OPENDAP_TIMEOUT, OPENDAP_CONNECT_TIMEOUT)
        # a server that is down or dies mid-read is reported with its URL, not as a library error
        chunks = kw.pop("chunks")
        return open_guarded(self.urlpath, chunks=chunks, where=self._where(),
                            catalog_dir=(self.metadata or {}).get("catalog_dir"), **kw)


class NetCDFSource(XarraySource):
    """netCDF file(s): a local path, a glob or list (opened together), or any fsspec URL.

    Remote files (``https://``, ``ipfs://``...) are downloaded once into a local
    cache (``simplecache::`` is added when the URL has no caching layer) because
    libnetcdf reads local files only; ``simplecache::https://...`` URLs of the
    catalog work as written.

    Parameters
    ----------
    urlpath : str or list of str
        Path, glob or URL.
    chunks : dict, int or None
        dask chunks for :meth:`to_dask`.
    xarray_kwargs : dict, optional
        For :func:`xarray.open_dataset` (or :func:`xarray.open_mfdataset` with
        several files, e.g. ``combine``, ``concat_dim``).
    storage_options : dict, optional
        fsspec options; for chained URLs keyed by protocol.

    Examples
    --------
    >>> NetCDFSource("simplecache::https://example.org/x.nc").local_url()
    'simplecache::https://example.org/x.nc'
    >>> NetCDFSource("https://example.org/x.nc").local_url()
    'simplecache::https://example.org/x.nc'
    """

    name = "netcdf"

    def local_url(self) -> str | list[str]:
        """The URL to hand to :func:`fsspec.open_local`: remote ones get a caching layer."""
        if isinstance(self.urlpath, (list, tuple)):
            return [self._local_url_one(u) for u in self.urlpath]
        return self._local_url_one(self.urlpath)

    @staticmethod
    def _local_url_one(url: str) -> str:
        protos = url_protocols(url)
        if protos[0] in LOCAL_PROTOCOLS or protos[0] in CACHING_PROTOCOLS:
            return url
        return "simplecache::" + url

    def _local_files(self) -> list[str]:
        url = self.local_url()
        first = url[0] if isinstance(url, list) else url
        opts = self.fs_options()
        if first.startswith("simplecache::") and not str(
            self.urlpath[0] if isinstance(self.urlpath, (list, tuple)) else self.urlpath
        ).startswith("simplecache::"):
            # We added the caching layer: the options belong to the inner filesystem.
            inner = url_protocols(first)[1]
            opts = {inner: opts} if opts else {}
        opts = _chained_options(first, opts)
        try:
            local = fsspec.open_local(url, mode="rb", **opts)
        except FileNotFoundError as exc:
            if is_network_error(exc):  # fsspec's HTTP reports a refused connection as "not found"
                raise unreachable_error(str(self.urlpath), exc, self._where(),
                                        catalog_dir=(self.metadata or {}).get("catalog_dir")) from exc
            raise CatalogNotFoundError(f"{self._where()}: {self.urlpath} does not exist ({exc})") from exc
        files = local if isinstance(local, list) else [local]
        if not files:
            raise CatalogNotFoundError(f"{self._where()}: no file matches {self.urlpath}")
        return files

    def _open(self, chunks: Any):
        import xarray as xr

        files = self._local_files()
        kw = dict(self.xarray_kwargs)
        kw.pop("path_as_pattern", None)
        multi = isinstance(self.urlpath, (list, tuple)) or "*" in str(self.urlpath) or len(files) > 1
        if multi:
            kw.setdefault("combine", "by_coords")
            return xr.open_mfdataset(files, chunks={} if chunks is None else chunks, **kw)
        return xr.open_dataset(files[0], chunks=chunks, **kw)


class ZarrSource(XarraySource):
    """A zarr store (v2 or v3): a path, any fsspec URL, or kerchunk references.

    ``reference::<url of a references JSON>`` (e.g. ``reference::ipfs://CID/refs.json``)
    and ``reference://`` with ``storage_options: {fo: <url>}`` (optionally
    ``remote_protocol``/``remote_options``) open the references with fsspec's
    reference filesystem: the JSON is read with the storage options of its own
    protocol, and chunks with those of the protocol the references point to
    (inherited from the catalog when it matches).

    Parameters
    ----------
    urlpath : str
        Store location.
    chunks : dict, int or None
        dask chunks; ``None`` (default) means the store's own chunks.
    consolidated : bool or None
        Whether to use consolidated metadata (``None``: try it, fall back).
    storage_options : dict, optional
        fsspec options (keyed by protocol for chained URLs).

    Examples
    --------
    >>> ZarrSource("reference::ipfs://bafy/refs.json").is_reference
    True
    >>> ZarrSource("reference://", storage_options={"fo": "https://example.org/x.ref"}).is_reference
    True
    """

    name = "zarr"

    def __init__(self, urlpath: str, chunks: Any = None, consolidated: bool | None = None,
                 storage_options: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                 xarray_kwargs: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(urlpath, chunks=chunks, xarray_kwargs=xarray_kwargs,
                         storage_options=storage_options, metadata=metadata, **kwargs)
        self.consolidated = consolidated

    @property
    def is_reference(self) -> bool:
        """Whether ``urlpath`` names kerchunk references (``reference::...``)."""
        return url_protocols(self.urlpath)[0] == "reference"

    def _check_protocols(self) -> None:
        for proto in url_protocols(self.urlpath):
            try:
                fsspec.get_filesystem_class(proto)
            except (ValueError, ImportError) as exc:
                raise CatalogError(
                    f"{self._where()}: cannot open {self.urlpath}: fsspec has no usable "
                    f"filesystem for protocol {proto!r} ({exc})"
                ) from exc

    def _reference_store(self):
        """A zarr store on fsspec's reference filesystem, for every form the EUREC4A catalog uses.

        * ``reference::<url of the references>`` (e.g. ``reference::ipfs://CID``): options keyed
          by protocol (``{"reference": {...}, "ipfs": {...}}``);
        * ``reference://`` with the references in ``storage_options["fo"]`` (a URL or the
          references themselves) and optionally ``target_protocol``/``target_options``,
          ``remote_protocol``/``remote_options`` beside it, as kerchunk writes them.
        """
        import zarr

        url = str(self.urlpath)
        opts = self.fs_options()
        if url.startswith("reference::"):
            fo = url.split("::", 1)[1]
            if not fo:
                raise CatalogError(f"{self._where()}: {url!r} names no references file after 'reference::'; "
                                   "write reference::<url of the references JSON>, or urlpath: reference:// "
                                   "with storage_options: {fo: <url>}")
            if "::" in fo:
                raise CatalogError(f"{self._where()}: {url!r}: only one layer below 'reference::' "
                                   "is supported (reference::<protocol>://path/refs.json)")
            ref_opts = dict(opts.pop("reference", {}) or {})
            target_protocol = url_protocols(fo)[0]
            target_options = opts.pop(target_protocol, None)
        else:  # reference://[path], the references in storage_options["fo"]
            ref_opts = dict(opts)
            fo = ref_opts.pop("fo", None) or url[len("reference://"):] or None
            if fo is None:
                raise CatalogError(f"{self._where()}: urlpath 'reference://' needs the references in "
                                   "storage_options: {fo: <url of the references JSON>}")
            target_protocol = ref_opts.pop("target_protocol", None)
            if target_protocol is None and isinstance(fo, str):
                target_protocol = url_protocols(fo)[0]
            target_options = ref_opts.pop("target_options", None)
        if isinstance(fo, str) and "::" in fo:
            raise CatalogError(f"{self._where()}: references {fo!r}: chained URLs are not supported for the "
                               "references file; give its plain URL")
        target_options = with_default_timeouts(target_protocol, target_options) if target_protocol else None
        remote_protocol = ref_opts.pop("remote_protocol", None)
        remote_options = ref_opts.pop("remote_options", None)
        if remote_options is None and remote_protocol is not None:
            remote_options = opts.get(remote_protocol) if url.startswith("reference::") else None
        if remote_protocol is not None:
            remote_options = with_default_timeouts(remote_protocol, remote_options)
        # zarr 3 needs an async filesystem all the way down: asynchronous=True for the
        # reference filesystem and for the remote filesystems it creates.
        remote_options = {**(remote_options or {}), "asynchronous": True}
        where = fo if isinstance(fo, str) else "given inline"
        try:
            fs = fsspec.filesystem(
                "reference", fo=fo, target_protocol=target_protocol, target_options=target_options,
                remote_protocol=remote_protocol, remote_options=remote_options, asynchronous=True, **ref_opts,
            )
        except Eurec4aError:
            raise
        except FileNotFoundError as exc:
            raise CatalogNotFoundError(f"{self._where()}: references {where} do not exist ({exc})") from exc
        except (ValueError, TypeError) as exc:
            raise CatalogError(f"{self._where()}: cannot use references {where}: {exc}") from exc
        except Exception as exc:
            if is_network_error(exc):
                raise unreachable_error(where, exc, self._where(),
                                        catalog_dir=(self.metadata or {}).get("catalog_dir")) from exc
            raise
        if remote_protocol is None:
            self._configure_remote_filesystems(fs, target_protocol, target_options or {})
        return zarr.storage.FsspecStore(fs, read_only=True, path="")

    @staticmethod
    def _configure_remote_filesystems(fs, target_protocol: str, target_options: dict[str, Any]) -> None:
        """Give the chunk filesystems the reference filesystem detected bounded timeouts and,
        when they use the references file's own protocol, its options (e.g. the catalog's
        IPFS settings): fsspec creates them from the references with no options at all."""
        from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

        replaced = {}
        for key, sub in list(fs.fss.items()):
            if key is None or key in LOCAL_PROTOCOLS:
                continue
            opts = target_options if protocol_family(key) == protocol_family(target_protocol) else {}
            opts = with_default_timeouts(key, opts)
            if not opts:
                continue
            new = fsspec.filesystem(key, **{**opts, "asynchronous": True})
            if not new.async_impl:
                new = AsyncFileSystemWrapper(new, asynchronous=True)
            replaced[id(sub)] = new
            fs.fss[key] = new
        if fs.fss.get(None) is not None and id(fs.fss[None]) in replaced:
            fs.fss[None] = replaced[id(fs.fss[None])]

    def _open(self, chunks: Any):
        import xarray as xr

        self._check_protocols()
        kw = dict(self.xarray_kwargs)
        kw["chunks"] = chunks
        if self.consolidated is not None:
            kw["consolidated"] = self.consolidated
        if self.is_reference:
            kw.setdefault("consolidated", False)
            return xr.open_zarr(self._reference_store(), **kw)
        protos = url_protocols(self.urlpath)
        if protos == ["file"] and "://" not in str(self.urlpath):
            return xr.open_zarr(self.urlpath, **kw)
        opts = _chained_options(self.urlpath, self.fs_options())
        if protos == ["ipfs"]:
            _prefetch_store_opening(str(self.urlpath), opts)
        if opts and not (len(protos) == 1 and protos[0] in LOCAL_PROTOCOLS):
            kw["storage_options"] = opts
        # zarr >= 3.2 refuses storage options (even empty ones) for local paths and file:// URLs
        return xr.open_zarr(self.urlpath, **kw)


#: Most files :func:`_prefetch_store_opening` fetches at once (metadata files, then chunks of
#: dimension coordinates) before xarray opens a zarr store on IPFS.
PREFETCH_OPENING_FILES = 256
#: The files zarr reads first when it opens a store, whichever format it has.
_STORE_METADATA = (".zmetadata", "zarr.json", ".zgroup", ".zattrs")


def _opening_keys(meta: Any) -> list[str]:
    """Keys of the chunks xarray reads when it opens a store, from its consolidated metadata.

    ``meta`` is a decoded ``.zmetadata`` (zarr v2) or ``zarr.json`` (zarr v3 with
    ``consolidated_metadata``). xarray loads the 1-D dimension coordinates whole (to
    build its indexes) and reads the first and last values of 1-D variables in CF time
    units (``... since ...``, such as a sounding's ``launch_time``) to choose how to decode
    them. Anything unexpected gives no keys.

    Examples
    --------
    >>> _opening_keys({"zarr_consolidated_format": 1, "metadata": {
    ...     "time/.zarray": {"shape": [5], "chunks": [2]},
    ...     "time/.zattrs": {"_ARRAY_DIMENSIONS": ["time"]},
    ...     "launch_time/.zarray": {"shape": [5], "chunks": [1]},
    ...     "launch_time/.zattrs": {"_ARRAY_DIMENSIONS": ["time"], "units": "seconds since 2020-01-01"},
    ...     "ta/.zarray": {"shape": [5, 3], "chunks": [5, 3]},
    ...     "ta/.zattrs": {"_ARRAY_DIMENSIONS": ["time", "alt"]}}})
    ['time/0', 'time/1', 'time/2', 'launch_time/0', 'launch_time/4']
    """
    def count(shape: Any, chunks: Any) -> int:
        if not (isinstance(shape, list) and isinstance(chunks, list) and len(shape) == len(chunks) == 1):
            return 0
        n, c = shape[0], chunks[0]
        return -(-n // c) if isinstance(n, int) and isinstance(c, int) and n > 0 and c > 0 else 0

    def wanted(name: str, dims: Any, attrs: Any, n: int) -> list[int]:
        """Which chunks of a 1-D array of ``n`` chunks xarray reads at open."""
        if not n or not isinstance(dims, list) or len(dims) != 1:
            return []
        if dims == [name.rsplit("/", 1)[-1]]:
            return list(range(n))
        units = attrs.get("units") if isinstance(attrs, dict) else None
        return sorted({0, n - 1}) if isinstance(units, str) and " since " in units else []

    keys: list[str] = []
    if not isinstance(meta, dict):
        return keys
    if meta.get("zarr_consolidated_format") == 1 and isinstance(meta.get("metadata"), dict):
        md = meta["metadata"]
        for key, attrs in md.items():
            if not key.endswith("/.zattrs") or not isinstance(attrs, dict):
                continue
            name = key[: -len("/.zattrs")]
            array = md.get(f"{name}/.zarray")
            if isinstance(array, dict):
                n = count(array.get("shape"), array.get("chunks"))
                keys += [f"{name}/{i}" for i in wanted(name, attrs.get("_ARRAY_DIMENSIONS"), attrs, n)]
        return keys
    md = (meta.get("consolidated_metadata") or {}).get("metadata") if meta.get("zarr_format") == 3 else None
    for name, array in (md or {}).items() if isinstance(md, dict) else ():
        if not isinstance(array, dict) or array.get("node_type") != "array":
            continue
        grid = array.get("chunk_grid") or {}
        encoding = array.get("chunk_key_encoding") or {"name": "default"}
        if grid.get("name") != "regular" or encoding.get("name") not in ("default", "v2"):
            continue
        n = count(array.get("shape"), (grid.get("configuration") or {}).get("chunk_shape"))
        chunks = wanted(name, array.get("dimension_names"), array.get("attributes"), n)
        if encoding["name"] == "default":
            sep = (encoding.get("configuration") or {}).get("separator", "/")
            keys += [f"{name}/c{sep}{i}" for i in chunks]
        else:
            keys += [f"{name}/{i}" for i in chunks]
    return keys


def _prefetch_store_opening(url: str, options: dict[str, Any]) -> None:
    """Fetch what xarray reads to open the zarr store at ``ipfs://...`` ``url``, in two round trips.

    xarray (through zarr) asks for a store's metadata, then loads its dimension
    coordinates one after the other: against a gateway that is one round trip per
    coordinate (a sounding dataset: five in all). Asked for together first (the metadata
    files at once, then every chunk of every dimension coordinate at once), the answers
    are verified and cached like any read, and xarray's own reads then find them locally.
    A gateway failure is raised as it is (a read would meet it too, and the gateways it
    concerns are then resting); anything else that fails here is left to xarray's own
    reads to report.
    """
    import asyncio

    from fsspec.asyn import sync

    try:
        fs = fsspec.filesystem("ipfs", **options)
        base = url.rstrip("/")

        async def cat_all(paths: list[str]) -> list[Any]:
            answers = await asyncio.gather(*(fs._cat_file(p) for p in paths), return_exceptions=True)
            for answer in answers:
                if isinstance(answer, GatewayError):  # what xarray's own read would have met
                    raise answer
            return answers

        # _cat_file, not cat: cat would treat "?", "*" and "[" in names as glob patterns
        answers = sync(fs.loop, cat_all, [f"{base}/{name}" for name in _STORE_METADATA])
        keys: list[str] = []
        for answer in answers[:2]:
            if isinstance(answer, bytes):
                try:
                    keys += _opening_keys(json.loads(answer))
                except ValueError:
                    pass
        if keys:
            sync(fs.loop, cat_all, [f"{base}/{key}" for key in keys[:PREFETCH_OPENING_FILES]])
    except GatewayError:
        raise  # no gateway delivers (or one tampers): the same error a read would give, with its story
    except Exception as exc:  # noqa: BLE001 - xarray's own reads say what is wrong
        logger.debug("prefetching the opening of %s failed: %r", url, exc)


class JSONSource(_CatalogSourceMixin, DataSource):
    """A JSON document; :meth:`read` returns it parsed (dict, list...).

    Parameters
    ----------
    urlpath : str
        Path or fsspec URL of the JSON file.
    storage_options : dict, optional
        fsspec options.
    text_encoding : str
        The file's encoding.
    compression : str, optional
        fsspec compression of the file (``zip``, ``gzip``..., or ``infer`` from the name).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> _ = p.write_text("[1, 2]")
    >>> JSONSource(str(p)).read()
    [1, 2]
    """

    name = "json"
    container = "python"
    version = "1.0"
    partition_access = False

    def __init__(self, urlpath: str, storage_options: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None, text_encoding: str = "utf-8",
                 compression: str | None = None, **kwargs: Any):
        super().__init__(storage_options=storage_options or {}, metadata=metadata)
        self.urlpath = urlpath
        self.encoding = text_encoding
        self.compression = compression
        self.kwargs = kwargs

    def read(self) -> Any:
        """The parsed JSON document."""
        opts = _chained_options(self.urlpath, self.fs_options())
        try:
            with fsspec.open(self.urlpath, mode="rt", encoding=self.encoding, compression=self.compression,
                             **opts) as f:
                text = f.read()
        except Eurec4aError:
            raise
        except FileNotFoundError as exc:
            if is_network_error(exc):  # fsspec's HTTP reports a refused connection as "not found"
                raise unreachable_error(str(self.urlpath), exc, self._where(),
                                        catalog_dir=(self.metadata or {}).get("catalog_dir")) from exc
            raise CatalogNotFoundError(f"{self._where()}: {self.urlpath} does not exist ({exc})") from exc
        except ValueError as exc:  # e.g. an unknown compression
            raise CatalogError(f"{self._where()}: cannot read {self.urlpath}: {exc}") from exc
        except Exception as exc:
            if is_network_error(exc):
                raise unreachable_error(str(self.urlpath), exc, self._where(),
                                        catalog_dir=(self.metadata or {}).get("catalog_dir")) from exc
            raise
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CatalogError(f"{self._where()}: {self.urlpath} is not valid JSON ({exc})") from exc

    def _get_schema(self) -> Schema:
        return Schema(datashape=None, dtype=None, shape=None, npartitions=1, extra_metadata={})

    def discover(self) -> dict[str, Any]:
        """Structure of the source (JSON has none beyond its metadata)."""
        return {"container": self.container, "dtype": None, "shape": None, "npartitions": 1,
                "metadata": self.metadata}

    def to_dask(self):
        """JSON is not gridded data: use :meth:`read`."""
        raise CatalogError(f"{self._where()}: JSON is not gridded data and has no dask form; "
                           "use .read() to get the parsed document")

    def _close(self) -> None:
        pass
