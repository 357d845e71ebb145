"""One measurement of ``bench_catalog.py``, run in a fresh process: open, walk, load.

Runs under two interpreters, so it imports nothing from the benchmark and only the
standard library at module level:

* ``/work/venv`` (this package, intake 2): ``--kind ours`` (``eurec4a.get_intake_catalog``
  and :func:`eurec4a.catalog.tree.walk`) and ``--kind floor`` (plain ``intake.open_catalog``
  on a local directory);
* ``benchmarks/.venv-legacy`` (the published ``eurec4a==0.0.6``, intake 0.7,
  intake-xarray 0.7, ipfsspec): ``--kind legacy``. 0.0.6 hard-codes GitHub URLs;
  they are redirected to the local stack here, by wrapping ``requests.get`` (the
  pointer file ``cids.json``) and ``intake.open_catalog`` (the classic root). Its
  IPFS reads go to the stack's gateway through ``IPFS_GATEWAY``, which ipfsspec reads.

Protocol with the parent (stdout lines starting with ``@@BENCH``, JSON): after the
walk the child prints ``{"phase": "walked", ...}`` and, when ``--load`` names an
entry, waits for one line on stdin (the parent reads the servers' request counters
in between), loads the entry with ``.to_dask().load()`` and prints
``{"phase": "loaded", ...}``. Errors are printed as ``{"phase": "error", ...}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings

MARK = "@@BENCH "


def emit(**record):
    sys.stdout.write(MARK + json.dumps(record) + "\n")
    sys.stdout.flush()


def generic_walk(cat, seen=()):
    """Every entry of an intake (1 or 2) catalog, sub-catalogs opened with defaults; ``describe()`` each.

    What a user of plain intake does to list everything (intake's ``walk`` prints and
    swallows errors, so it is not used); cycles are not followed.
    """
    n = 0
    for name, entry in list(cat._entries.items()):
        info = entry.describe()
        n += 1
        if info.get("container") == "catalog":
            sub = entry()
            key = getattr(sub, "path", None) or getattr(sub, "urlpath", None) or name
            if key in seen:
                continue
            n += generic_walk(sub, seen + (key,))
    return n


def redirect_legacy(catalog_url, pointer_url):
    """Point eurec4a 0.0.6's hard-coded GitHub URLs at the stack."""
    import intake
    import requests

    real_get = requests.get
    real_open = intake.open_catalog

    def get(url, *args, **kwargs):
        if url.endswith("/cids.json"):
            url = pointer_url
        return real_get(url, *args, **kwargs)

    def open_catalog(url, *args, **kwargs):
        if isinstance(url, str) and url.startswith("https://raw.githubusercontent.com/eurec4a/eurec4a-intake/"):
            url = catalog_url
        return real_open(url, *args, **kwargs)

    requests.get = get
    intake.open_catalog = open_catalog


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--kind", choices=["ours", "legacy", "floor"], required=True)
    p.add_argument("--mode", default="classic", help="classic, latest, or a CID (pinned)")
    p.add_argument("--path", help="floor: the local catalog.yml")
    p.add_argument("--catalog-url")
    p.add_argument("--pointer-url")
    p.add_argument("--load", help="dotted entry to load after the walk")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    use_ipfs = {"classic": False, "latest": True}.get(args.mode, args.mode)
    try:
        t0 = time.perf_counter()
        if args.kind == "floor":
            import intake

            t1 = time.perf_counter()
            cat = intake.open_catalog(args.path)
        else:
            import eurec4a

            if args.kind == "legacy":
                redirect_legacy(args.catalog_url, args.pointer_url)
            t1 = time.perf_counter()
            cat = eurec4a.get_intake_catalog(use_ipfs=use_ipfs)
        t2 = time.perf_counter()
        if args.kind == "ours":
            from eurec4a.catalog.tree import walk

            n = 0
            for _, entry in walk(cat, on_error="raise"):
                entry.describe()
                n += 1
        else:
            n = generic_walk(cat)
        t3 = time.perf_counter()
        version = getattr(sys.modules.get("eurec4a"), "__version__", None)
        emit(phase="walked", version=version, import_s=t1 - t0, open_s=t2 - t1, walk_s=t3 - t2, entries=n)
        if args.load:
            sys.stdin.readline()
            # Import what loading needs first, outside the timer: the column compares data
            # paths, not the import times of the xarray / dask / zarr / distributed versions
            # each environment has (zarr 3 alone takes 0.2 s to import).
            ti = time.perf_counter()
            import dask.array  # noqa: F401
            import dask.base
            import netCDF4  # noqa: F401
            import xarray  # noqa: F401
            import zarr  # noqa: F401

            dask.base.get_scheduler()  # imports distributed when it is installed
            t4 = time.perf_counter()
            source = cat
            for part in args.load.split("."):
                source = source[part]
            ds = source.to_dask().load()
            t5 = time.perf_counter()
            emit(phase="loaded", load_import_s=t4 - ti, load_s=t5 - t4, variables=len(ds.data_vars))
    except BaseException as exc:  # reported to the parent, which prints it in the table
        emit(phase="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-3000:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
