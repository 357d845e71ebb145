"""Publishing: build the IPFS catalog from the classic one.

:func:`build_ipfs_catalog` walks a classic catalog file by file and, for every
dataset entry, opens the data the way a user would (OPeNDAP, HTTP netCDF, zarr),
writes it as consolidated zarr, imports that store into UnixFS (hidden files
included: zarr v2 keeps its metadata in dot-files) and rewrites the entry to
``driver: zarr`` with ``urlpath: ipfs://<dataset CID>``, keeping name,
description, metadata and parameters. Entries with user parameters that have
``allowed`` values become one directory with a zarr store per combination
(``ipfs://<CID>/{{ flight_id }}``), so calling the entry with a parameter still
selects the data. Nested catalog files are rewritten in place of the originals,
the rewritten tree is imported, and one CAR holds every block (datasets and
catalog) with the catalog root as its root, ready for ``ipfs dag import``.

A dataset that cannot be converted is reported by name with the reason; its entry
stays as it was and the build goes on; :class:`BuildReport` ``.ok`` is then
false and the command exits non-zero. Entries already on IPFS are kept as they are.

The output is deterministic: the same input gives the same root CID (zarr metadata
is written with sorted keys, no timestamps are added, directory entries are
sorted by the importer).

Examples
--------
>>> report = build_ipfs_catalog("catalogs/demo/catalog.yml", "build/ipfs")  # doctest: +SKIP
>>> report.root_cid  # doctest: +SKIP
'Qm...'
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import Any

import fsspec
import yaml

from eurec4a.ipfs.car import CarWriter
from eurec4a.errors import PublishError
from eurec4a.publish.importer import import_directory, import_file

logger = logging.getLogger(__name__)

__all__ = ["build_ipfs_catalog", "BuildReport", "DATASET_PROFILE", "CATALOG_PROFILE"]

#: Datasets are imported as the community documents it: ``ipfs add -r -H --raw-leaves``.
DATASET_PROFILE = "kubo-raw-leaves"
#: The catalog tree is imported as ``ipfs add -r`` does by default (CIDv0, like the published catalogs).
CATALOG_PROFILE = "unixfs-v0-2015"

_CATALOG_DRIVERS = {"yaml_file_cat", "intake.catalog.local.YAMLFileCatalog", "yaml_files_cat"}
_DATA_DRIVERS = {"opendap", "netcdf", "zarr"}
_COPY_DRIVERS = {"json", "jsonfiles", "textfiles", "csv"}


@dataclasses.dataclass
class BuildReport:
    """What a build did: the root CID, the CAR, converted and failed datasets."""

    root_cid: str
    car_path: Path
    catalog_dir: Path
    datasets: dict[str, str] = dataclasses.field(default_factory=dict)
    kept: list[str] = dataclasses.field(default_factory=list)
    failures: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        lines = [f"catalog root CID: {self.root_cid}", f"CAR: {self.car_path}",
                 f"datasets converted: {len(self.datasets)}, kept as they were: {len(self.kept)}, failed: {len(self.failures)}"]
        lines += [f"  FAILED {name}: {reason}" for name, reason in sorted(self.failures.items())]
        return "\n".join(lines)


def _join(base: str, rel: str) -> str:
    if "://" in base:
        return posixpath.normpath(posixpath.join(base, rel)).replace(":/", "://", 1)
    return os.path.normpath(os.path.join(base, rel))


def _parent(url: str) -> str:
    return url.rsplit("/", 1)[0] if "://" in url else os.path.dirname(os.path.abspath(url))


def _read_yaml(url: str) -> Any:
    with fsspec.open(url, "rb") as f:
        return yaml.load(f.read(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _clean_encoding(ds):
    """Keep only the encoding that decodes to the same values and dtypes as the source.

    Packed variables (``scale_factor``/``add_offset``) are stored unpacked, as the float
    type they decode to: zarr v2 keeps those attributes as JSON numbers, so readers
    would decode them to float64 where the source gives float32. ``_Unsigned`` and
    source dtypes are dropped for the same reason: the copy stores what a user of the
    classic catalog sees. Times keep ``units``/``calendar`` (they decode the same way).
    """
    ds = ds.copy()
    for var in ds.variables.values():
        keep = {"units", "calendar", "dtype"} if var.dtype.kind in "mM" else set()
        if var.dtype.kind == "f" and "_FillValue" in var.encoding:
            keep.add("_FillValue")
        for key in list(var.encoding):
            if key not in keep:
                del var.encoding[key]
    return ds


#: Arguments of a classic entry that describe the original's location and protocol, not
#: how its data are decoded: the published zarr copy does not take them over.
_SOURCE_ONLY_ARGS = frozenset({"urlpath", "storage_options", "consolidated", "engine", "auth", "compression",
                               "xarray_kwargs", "path_as_pattern"})


def _write_zarr(source, target: Path) -> None:
    ds = _clean_encoding(source.to_dask())
    for name, var in ds.variables.items():
        if var.dtype.kind == "O":  # variable-length strings: zarr needs them in memory to pick a codec
            ds[name] = var.load()
    ds.to_zarr(str(target), mode="w", consolidated=True, zarr_format=2)
    _keep_variable_order(target, list(ds.variables))


def _keep_variable_order(store: Path, order: list[str]) -> None:
    """Rewrite the consolidated metadata with the variables in the source's order.

    zarr lists a group's arrays in the order of ``.zmetadata``, which it writes
    sorted by name; xarray then shows ``P, RH, T`` where the classic catalog shows
    ``T, P, RH``. The keys are the same, only their order changes.
    """
    path = Path(store) / ".zmetadata"
    doc = json.loads(path.read_text(encoding="utf-8"))
    meta = doc["metadata"]
    rank = {name: i for i, name in enumerate(order)}
    keys = sorted(meta, key=lambda k: (0, -1) if "/" not in k else (1, rank.get(k.split("/", 1)[0], len(rank))))
    doc["metadata"] = {k: meta[k] for k in keys}
    path.write_text(json.dumps(doc, indent=4), encoding="utf-8")


#: A datetime or integer parameter with ``min``/``max`` and no ``allowed`` list is
#: enumerated (days, integers) when it spans at most this many values.
MAX_RANGE_VALUES = 366


def _param_values(name: str, spec: dict) -> tuple[list[Any], str]:
    """The values of one parameter and the jinja expression that names its directory."""
    import datetime as dt

    allowed = spec.get("allowed")
    if allowed:
        return list(allowed), f"{{{{ {name} }}}}"
    ptype = spec.get("type")
    lo, hi = spec.get("min"), spec.get("max")
    if ptype == "datetime" and lo is not None and hi is not None:
        start = dt.date.fromisoformat(str(lo)[:10])
        stop = dt.date.fromisoformat(str(hi)[:10])
        days = (stop - start).days + 1
        if 0 < days <= MAX_RANGE_VALUES:
            return ([dt.datetime.combine(start + dt.timedelta(days=i), dt.time()) for i in range(days)],
                    f"{{{{ {name}.strftime('%Y-%m-%d') }}}}")
    if ptype == "int" and lo is not None and hi is not None and 0 < int(hi) - int(lo) + 1 <= MAX_RANGE_VALUES:
        return list(range(int(lo), int(hi) + 1)), f"{{{{ {name} }}}}"
    raise PublishError(
        f"parameter {name!r} has no 'allowed' values (nor a daily/integer min..max range of at most "
        f"{MAX_RANGE_VALUES} values), so its datasets cannot be enumerated"
    )


def _dir_name(value: Any) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _param_combinations(params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Every combination of parameter values, and the urlpath suffix that selects one."""
    names, values, suffix = [], [], ""
    for name, spec in params.items():
        vals, expr = _param_values(name, spec or {})
        names.append(name)
        values.append(vals)
        suffix += f"/{expr}"
    return [dict(zip(names, combo)) for combo in itertools.product(*values)], suffix


def _open_single(entry_name: str, entry: dict, catalog_dir: str):
    """Open one entry as a user would: through a one-entry catalog in the entry's own directory."""
    from eurec4a.catalog.yaml_catalog import open_yaml_catalog

    tmp = tempfile.mkdtemp(prefix="eurec4a-entry-")
    try:
        text = yaml.safe_dump({"sources": {entry_name: entry}}, sort_keys=False)
        text = text.replace("{{CATALOG_DIR}}", catalog_dir).replace("{{ CATALOG_DIR }}", catalog_dir)
        path = Path(tmp) / "entry.yaml"
        path.write_text(text, encoding="utf-8")
        return open_yaml_catalog(str(path))[entry_name]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Builder:
    def __init__(self, out_dir: Path, spool: CarWriter, work: Path, datasets: bool):
        self.out_dir = out_dir
        self.spool = spool
        self.work = work
        self.convert_datasets = datasets
        self.report_datasets: dict[str, str] = {}
        self.kept: list[str] = []
        self.failures: dict[str, str] = {}
        self.visited: set[str] = set()
        self._counter = itertools.count()

    def build_file(self, url: str, rel: str, dotted: str) -> None:
        key = os.path.normpath(rel)
        if key in self.visited:
            return  # a catalog that includes itself or an ancestor: written once
        self.visited.add(key)
        doc = _read_yaml(url)
        if not isinstance(doc, dict):
            raise PublishError(f"{url} is not an intake catalog file (no mapping at the top)")
        sources = doc.get("sources") or {}
        catalog_dir = _parent(url)
        for name, entry in list(sources.items()):
            if not isinstance(entry, dict):
                continue
            path = f"{dotted}.{name}" if dotted else name
            driver = str(entry.get("driver", ""))
            args = entry.get("args") or {}
            if driver in _CATALOG_DRIVERS:
                child = str(args.get("path", ""))
                if "CATALOG_DIR" not in child:
                    self.kept.append(path)  # a catalog elsewhere: referenced as it is
                    continue
                try:
                    combos, _ = _param_combinations(entry.get("parameters") or {})
                except PublishError as exc:
                    self.failures[path] = str(exc)
                    continue
                for combo in combos:
                    import jinja2

                    child_rel = jinja2.Template(child).render(CATALOG_DIR="", **combo).lstrip("/")
                    self.build_file(_join(catalog_dir, child_rel), os.path.join(os.path.dirname(rel), child_rel), path)
                continue
            urlpath = str(args.get("urlpath", ""))
            if "ipfs://" in urlpath or not self.convert_datasets:
                self.kept.append(path)
                continue
            if driver in _DATA_DRIVERS or driver in _COPY_DRIVERS:
                try:
                    sources[name] = self.convert(name, entry, catalog_dir, driver)
                    self.report_datasets[path] = sources[name]["args"]["urlpath"]
                except Exception as exc:  # reported by name; the build goes on
                    logger.warning("dataset %s could not be converted: %s", path, exc)
                    self.failures[path] = f"{type(exc).__name__}: {exc}"
            else:
                self.failures[path] = f"driver {driver!r} is not one the publisher can convert"
        target = self.out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")

    def convert(self, name: str, entry: dict, catalog_dir: str, driver: str) -> dict:
        params = entry.get("parameters") or {}
        combos, suffix = _param_combinations(params) if params else ([{}], "")
        base = self.work / f"ds{next(self._counter)}"
        base.mkdir(parents=True)
        source = _open_single(name, entry, catalog_dir)
        for combo in combos:
            target = base.joinpath(*[_dir_name(v) for v in combo.values()]) if combo else base / "data"
            target.parent.mkdir(parents=True, exist_ok=True)
            src = source(**combo) if combo else source
            if driver in _COPY_DRIVERS:
                with fsspec.open(src.urlpath, "rb") as fin, open(target, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            else:
                _write_zarr(src, target)
        new = {k: v for k, v in entry.items() if k != "args"}
        if combos == [{}]:
            target = base / "data"
            if target.is_dir():
                cid = import_directory(target, self.spool, DATASET_PROFILE, hidden=True)
            else:
                cid, _ = import_file(target, self.spool, DATASET_PROFILE)
        else:
            cid = import_directory(base, self.spool, DATASET_PROFILE, hidden=True)
        shutil.rmtree(base, ignore_errors=True)
        if driver in _COPY_DRIVERS:
            args = {k: v for k, v in (entry.get("args") or {}).items() if k != "storage_options"}
            args["urlpath"] = f"ipfs://{cid}{suffix}"
            new["args"] = args
        else:
            new["driver"] = "zarr"
            args: dict[str, Any] = {"urlpath": f"ipfs://{cid}{suffix}", "consolidated": True}
            # Arguments about decoding (chunks, decode_times...) still apply to the copy;
            # those about where and how the original was read do not.
            old_args = entry.get("args") or {}
            args.update({k: v for k, v in old_args.items() if k not in _SOURCE_ONLY_ARGS})
            new["args"] = args
        return new


def build_ipfs_catalog(source: str | os.PathLike, out_dir: str | os.PathLike, *, datasets: bool = True,
                       catalog_file: str = "catalog.yml") -> BuildReport:
    """Build the IPFS variant of a classic catalog.

    Parameters
    ----------
    source
        The classic catalog's root file: a local path or a URL (``http://.../catalog.yml``).
    out_dir
        Where the rewritten catalog tree (``out_dir/catalog``) and the CAR
        (``out_dir/catalog.car``) are written.
    datasets
        Convert datasets (default); ``False`` rewrites and imports only the catalog files.
    catalog_file
        Name of the root file inside the IPFS tree (``catalog.yml``, which
        :func:`eurec4a.get_intake_catalog` opens).

    Returns
    -------
    BuildReport
        ``.root_cid``, ``.car_path``, ``.datasets`` (entry -> ipfs URL), ``.failures``.

    Examples
    --------
    >>> report = build_ipfs_catalog("catalogs/demo/catalog.yml", "/tmp/ipfs-demo")  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    """
    out = Path(out_dir)
    tree = out / "catalog"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    src = os.fspath(source)
    if "://" not in src and not os.path.exists(src):
        raise PublishError(f"classic catalog {src} does not exist; give the path or URL of its root catalog file")
    work = Path(tempfile.mkdtemp(prefix="eurec4a-build-", dir=out))
    spool_path = work / "blocks.spool"
    spool_file = open(spool_path, "wb")
    try:
        # the sections are spooled first: the header names the root, known only at the end
        spool = CarWriter(spool_file, [], header=False)
        builder = _Builder(tree, spool, work, datasets)
        builder.build_file(src, catalog_file, "")
        root = import_directory(tree, spool, CATALOG_PROFILE, hidden=False)
        spool_file.close()
        car_path = out / "catalog.car"
        tmp = car_path.with_suffix(f".car.tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            CarWriter(f, [root])  # writes the header; the sections follow from the spool
            with open(spool_path, "rb") as body:
                shutil.copyfileobj(body, f, 1024 * 1024)
        os.replace(tmp, car_path)
    finally:
        spool_file.close()
        shutil.rmtree(work, ignore_errors=True)
    report = BuildReport(str(root), car_path, tree, builder.report_datasets, builder.kept, builder.failures)
    logger.info("%s", report.summary())
    return report
