"""A local stack of real servers for tests, demos and other EUREC4A projects' CI.

:class:`DemoStack` starts, on 127.0.0.1 and free ports:

* a static HTTP server (:class:`~eurec4a.testing.http.StaticServer`) standing in
  for GitHub raw: the classic demo catalog, the pointer file ``cids.json`` and the
  data files for ``simplecache::`` / zarr-over-HTTP entries;
* the same static server standing in for GitHub's release downloads of
  flight-phase-separation: ``<static>/releases/latest/download/all_flights.yaml``
  and ``<static>/releases/download/<version>/all_flights.yaml`` (:data:`RELEASE_VERSIONS`);
* pydap's OPeNDAP server (:class:`~eurec4a.testing.opendap.OpendapServer`) for the
  demo netCDF files;
* a trustless IPFS gateway (:class:`~eurec4a.testing.gateway.TrustlessGateway`)
  serving the IPFS variant of the catalog, which the stack *builds* from the classic
  one with :func:`eurec4a.publish.build.build_ipfs_catalog`, exactly as maintainers do.

Every server has fault switches (``stack.gateway.faults.tamper = True``,
``.down``, ``.latency``, ``.failure_rate``) for failure tests, and adversarial
modes for hostile-network tests (``faults.update(mode="drip")``: drip, endless
body, gzip bomb, truncate, short ``Content-Length``, reset, stall, liar-404,
redirect to ``redirect_url``, a valid block under the wrong CID, a corrupted CAR
header, a flip in the first block; seeded, see :mod:`eurec4a.testing.faults`).

Examples
--------
>>> import eurec4a
>>> from eurec4a.testing import DemoStack
>>> with DemoStack() as stack, stack.configured():  # doctest: +SKIP
...     classic = eurec4a.get_intake_catalog()
...     pinned = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid)
...     sorted(classic) == sorted(pinned)
True
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .faults import Faults
from .gateway import BlockStore, TrustlessGateway
from .http import StaticServer
from .opendap import OpendapServer
from .demo_data import ipfs_objects, write_demo_data, write_references

logger = logging.getLogger(__name__)

__all__ = [
    "DemoStack",
    "Faults",
    "StaticServer",
    "OpendapServer",
    "TrustlessGateway",
    "BlockStore",
    "CATALOGS_DIR",
    "materialize_catalog",
    "environment",
    "write_demo_data",
    "write_releases",
    "FLIGHT_SEGMENTS_FILE",
    "RELEASE_VERSIONS",
]

#: The demo catalogs shipped inside the package (``demo``: the demo catalog's YAML
#: sources with server placeholders; ``cycle``: a catalog that includes itself).
CATALOGS_DIR = Path(__file__).resolve().parent / "catalogs"
#: The synthetic ``all_flights.yaml`` the stack serves as flight-phase-separation's release.
FLIGHT_SEGMENTS_FILE = CATALOGS_DIR / "releases" / "all_flights.yaml"
#: Release tags the stack serves (the last one is also ``latest``).
RELEASE_VERSIONS = ("v1.1", "v1.2")


def write_releases(www: str | os.PathLike) -> Path:
    """Lay out ``all_flights.yaml`` the way GitHub serves release downloads, under ``www/releases``.

    Examples
    --------
    >>> root = write_releases(tempfile.mkdtemp())
    >>> (root / "download" / "v1.2" / "all_flights.yaml").is_file()
    True
    """
    root = Path(www) / "releases"
    for where in [f"download/{v}" for v in RELEASE_VERSIONS] + ["latest/download"]:
        (root / where).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FLIGHT_SEGMENTS_FILE, root / where / "all_flights.yaml")
    return root


def materialize_catalog(source: str | os.PathLike, target: str | os.PathLike, replacements: dict[str, str]) -> Path:
    """Copy a catalog tree and replace the server placeholders in its YAML files.

    Examples
    --------
    >>> root = materialize_catalog(CATALOGS_DIR / "demo", tempfile.mkdtemp(), {"@OPENDAP@": "http://127.0.0.1:1", "@HTTP@": "http://127.0.0.1:2"})  # doctest: +SKIP
    """
    src, dst = Path(source), Path(target)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        out = dst / rel
        if path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".yml", ".yaml"):
            text = path.read_text(encoding="utf-8")
            for key, value in replacements.items():
                text = text.replace(key, value)
            out.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(path, out)
    return dst


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for a ``with`` block; the old values come back afterwards.

    Examples
    --------
    >>> import os
    >>> with environment({"EUREC4A_TIMEOUT": "5"}):
    ...     os.environ["EUREC4A_TIMEOUT"]
    '5'
    >>> "EUREC4A_TIMEOUT" in os.environ
    False
    """
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class DemoStack:
    """Start the demo catalog's servers; build and serve its IPFS variant.

    Parameters
    ----------
    catalog
        Catalog source tree (default ``catalogs/demo``).
    workdir
        Where to put data, the served tree and the build (a temp dir by default,
        removed on :meth:`close`).
    build_ipfs
        Build the IPFS catalog and start the gateway (default). ``False`` starts only
        the classic part.
    convert_datasets
        Convert datasets to zarr on IPFS while building (default). ``False`` builds the
        IPFS catalog files only (fast; for large synthetic catalogs in benchmarks).
    latency
        Seconds every server adds to every request.

    Attributes
    ----------
    static, opendap, gateway
        The servers.
    catalog_url, pointer_url, gateway_url, root_cid
        What to hand to :func:`eurec4a.get_intake_catalog`.
    build
        The :class:`~eurec4a.publish.build.BuildReport` of the IPFS catalog.
    """

    def __init__(self, catalog: str | os.PathLike | None = None, workdir: str | os.PathLike | None = None, *,
                 build_ipfs: bool = True, convert_datasets: bool = True, latency: float = 0.0):
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="eurec4a-stack-"))
        self.catalog_source = Path(catalog) if catalog else CATALOGS_DIR / "demo"
        self.static: StaticServer | None = None
        self.opendap: OpendapServer | None = None
        self.gateway: TrustlessGateway | None = None
        self.build = None
        self.ipfs_blocks: dict = {}
        self.root_cid: str | None = None
        try:
            self._start(build_ipfs, convert_datasets, latency)
        except BaseException:
            self.close()
            raise

    def _start(self, build_ipfs: bool, convert_datasets: bool, latency: float) -> None:
        www = self.workdir / "www"
        data = www / "data"
        data.mkdir(parents=True, exist_ok=True)
        write_demo_data(data)
        write_releases(www)
        self.static = StaticServer(www, faults=Faults(latency=latency))
        self.opendap = OpendapServer(data, faults=Faults(latency=latency), workdir=self.workdir)
        # references name the data by URL: written once the server's address is known
        write_references(data, f"{self.static.url}/data")
        cids, self.ipfs_blocks = ipfs_objects(data, CATALOGS_DIR / "community-ipfs" / "catalog.yaml")
        replacements = {"@OPENDAP@": self.opendap.url, "@HTTP@": f"{self.static.url}/data", **cids}
        materialize_catalog(self.catalog_source, www / "catalog", replacements)
        materialize_catalog(CATALOGS_DIR / "community", data / "community", replacements)
        if build_ipfs:
            from eurec4a.publish.pointer import update_pointer_file
            from eurec4a.publish.build import build_ipfs_catalog

            self.build = build_ipfs_catalog(www / "catalog" / "catalog.yml", self.workdir / "build",
                                            datasets=convert_datasets)
            if not self.build.ok:
                logger.warning("demo IPFS build had failures:\n%s", self.build.summary())
            self.root_cid = self.build.root_cid
            store = BlockStore(cars=[self.build.car_path])
            for cid, block in self.ipfs_blocks.items():  # data the catalog names by CID (zarr, references)
                store.put(cid, block)
            self.gateway = TrustlessGateway(store, faults=Faults(latency=latency))
            update_pointer_file(www / "cids.json", self.root_cid)

    # ------------------------------------------------------------ addresses
    @property
    def catalog_url(self) -> str:
        return f"{self.static.url}/catalog/catalog.yml"

    @property
    def pointer_url(self) -> str:
        return f"{self.static.url}/cids.json"

    @property
    def community_catalog_url(self) -> str:
        """A community catalog outside the main tree (opened with ``intake.open_catalog`` in the book)."""
        return f"{self.static.url}/data/community/catalog.yaml"

    @property
    def flight_segments_url(self) -> str:
        """The stand-in for ``https://github.com/eurec4a/flight-phase-separation/releases``."""
        return f"{self.static.url}/releases"

    @property
    def gateway_url(self) -> str:
        if self.gateway is None:
            raise RuntimeError("this stack was started with build_ipfs=False: it has no gateway")
        return self.gateway.url

    @property
    def servers(self) -> list:
        return [s for s in (self.static, self.opendap, self.gateway) if s is not None]

    def env(self) -> dict[str, str]:
        """Environment variables that point :mod:`eurec4a` at this stack."""
        env = {"EUREC4A_CATALOG_URL": self.catalog_url, "EUREC4A_CID_POINTER_URL": self.pointer_url,
               "EUREC4A_FLIGHT_SEGMENTS_URL": self.flight_segments_url}
        if self.gateway is not None:
            env["IPFS_GATEWAY"] = self.gateway.url
        return env

    @contextlib.contextmanager
    def configured(self) -> Iterator["DemoStack"]:
        """Set :meth:`env` in ``os.environ`` for the ``with`` block (restored afterwards)."""
        with environment(self.env()):
            yield self

    def request_counts(self) -> dict[str, int]:
        """Requests each server has answered so far."""
        counts = {"static": self.static.count() if self.static else 0,
                  "gateway": self.gateway.count() if self.gateway else 0}
        if self.opendap is not None and hasattr(self.opendap, "count"):
            counts["opendap"] = self.opendap.count()
        return counts

    def set_latency(self, seconds: float) -> None:
        """Add ``seconds`` to every request of every server."""
        for server in self.servers:
            server.faults.latency = seconds

    def close(self) -> None:
        """Stop every server and remove the work directory (if the stack made it)."""
        for server in (self.gateway, self.opendap, self.static):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "DemoStack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
