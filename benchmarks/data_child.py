"""One measurement of ``bench_data.py``, run in a fresh process: open and load one zarr store.

Runs under two interpreters, so it imports only the standard library at module level
(and nothing from the benchmark):

* the interpreter of this package (``--kind ours``, ``pull``, ``ipfsspec``, ``local``,
  ``wire``);
* ``benchmarks/.venv-legacy`` (the published ``eurec4a==0.0.6``, intake 0.7,
  intake-xarray 0.7, ipfsspec 0.6, zarr 2): ``--kind legacy``.

Kinds:

``ours``
    ``eurec4a.get_intake_catalog(use_ipfs=ROOT)[ENTRY].to_dask()``, then ``.load()``.
    Cold or warm is decided by the parent (an empty or a filled ``EUREC4A_CACHE_DIR``).
``pull``
    ``eurec4a.pull(ROOT, [ENTRY])`` first, then the same as ``ours``.
``legacy``
    eurec4a 0.0.6: the same calls; its ``ipfs://`` reads go through ipfsspec.
``ipfsspec``
    ``xr.open_zarr("ipfs://STORE_CID")`` with ipfsspec 0.6 (``eurec4a`` is not
    imported: it would replace ipfsspec's ``ipfs`` protocol). ipfsspec 0.6 takes its
    gateway from ``IPFS_GATEWAY`` (then the deprecated ``IPFSSPEC_GATEWAYS``, then
    IPIP-280 files), which the parent sets.
``local``
    ``xr.open_zarr(PATH)`` on the same store on local disk.
``wire``
    No xarray: one ``GET /ipfs/STORE_CID?format=car&dag-scope=all`` with ``urllib``,
    the body read and dropped: what the gateway needs to send the whole DAG.

xarray, dask, zarr and numpy (and ``eurec4a`` with ``intake``, or ``ipfsspec``) are
imported before the timer starts (``import_s``): the timings compare data paths, not
environments. (``eurec4a`` imports intake on first use, ~55 ms that used to land in the
first open or pull; eurec4a 0.0.6 imports it at import. dask imports ``distributed``, when
it is installed, at the first ``compute``: ~135 ms that landed in every client's load,
diluting every ratio towards 1; it is imported before the timer too, as the catalog
benchmark does.) Loads use dask's threaded scheduler with ``--threads`` workers (8).

Protocol with the parent (stdout lines starting with ``@@BENCH``, JSON):
``{"phase": "opened", ...}`` after the open (pull included), then the child waits for
one line on stdin (the parent reads the gateway's counters in between), loads and
prints ``{"phase": "loaded", ...}`` with the timings, the checksum of the loaded data
and the peak RSS. Errors are printed as ``{"phase": "error", ...}``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
import traceback
import warnings

MARK = "@@BENCH "


def emit(**record):
    sys.stdout.write(MARK + json.dumps(record) + "\n")
    sys.stdout.flush()


def checksum(ds) -> tuple[str, int]:
    """sha256 over the data variables' names, dtypes, shapes and values; and their bytes in memory.

    Hashes the arrays' own buffers (no copy, unless an array is not C-contiguous).
    """
    import numpy as np

    h = hashlib.sha256()
    nbytes = 0
    for name in sorted(ds.data_vars):
        values = np.ascontiguousarray(ds[name].values)
        h.update(f"{name}|{values.dtype.str}|{values.shape}|".encode())
        h.update(memoryview(values).cast("B"))
        nbytes += values.nbytes
    return h.hexdigest(), nbytes


def peak_rss_bytes() -> int:
    """This process's peak RSS: ``VmHWM`` where ``/proc`` has it, else ``ru_maxrss``.

    On Linux ``getrusage(RUSAGE_SELF).ru_maxrss`` of a freshly started child is at least
    the RSS its *parent* had when it forked (the kernel carries the old address space's
    high-water mark over ``exec``), and the benchmark's parent holds every block the
    gateway serves: ``ru_maxrss`` would report the parent's size. ``VmHWM`` belongs to
    the address space ``exec`` created.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return ru_maxrss_bytes()


def ru_maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def wire(url: str) -> dict:
    import urllib.request

    req = urllib.request.Request(url, headers={"Accept": "application/vnd.ipld.car"})
    t0 = time.perf_counter()
    n = 0
    with urllib.request.urlopen(req, timeout=600) as resp:
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
    return {"total_s": time.perf_counter() - t0, "body_bytes": n}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--kind", choices=["ours", "pull", "legacy", "ipfsspec", "local", "wire"], required=True)
    p.add_argument("--root", help="catalog root CID (ours, pull, legacy)")
    p.add_argument("--entry", default="data", help="catalog entry (ours, pull, legacy)")
    p.add_argument("--store-cid", help="the store's CID (ipfsspec)")
    p.add_argument("--path", help="local store (local)")
    p.add_argument("--url", help="CAR URL (wire)")
    p.add_argument("--threads", type=int, default=8)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    try:
        if args.kind == "wire":
            rec = wire(args.url)
            emit(phase="opened")
            sys.stdin.readline()
            emit(phase="loaded", peak_rss=peak_rss_bytes(), ru_maxrss=ru_maxrss_bytes(), **rec)
            return 0
        t0 = time.perf_counter()
        import dask
        import dask.array  # noqa: F401 - imported before the timer, like every library the load needs
        import numpy  # noqa: F401
        import xarray as xr
        import zarr  # noqa: F401

        dask.config.set(scheduler="threads", num_workers=args.threads)
        import dask.base

        dask.base.get_scheduler()  # imports distributed when it is installed (as the first load would)
        if args.kind in ("ours", "pull", "legacy"):
            import eurec4a
            import intake  # noqa: F401 - the catalog library: eurec4a imports it on first use, 0.0.6 at import
        elif args.kind == "ipfsspec":
            import fsspec
            import ipfsspec  # noqa: F401

            cls = fsspec.get_filesystem_class("ipfs")
            if not cls.__module__.startswith("ipfsspec"):
                raise RuntimeError(f"the ipfs protocol is {cls.__module__}.{cls.__name__}, not ipfsspec's")
        t1 = time.perf_counter()
        pull_s = 0.0
        if args.kind == "pull":
            eurec4a.pull(args.root, [args.entry], progress=False)
            pull_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        if args.kind in ("ours", "pull", "legacy"):
            ds = eurec4a.get_intake_catalog(use_ipfs=args.root)[args.entry].to_dask()
        elif args.kind == "ipfsspec":
            ds = xr.open_zarr(f"ipfs://{args.store_cid}", consolidated=True)
        else:
            ds = xr.open_zarr(args.path, consolidated=True)
        t3 = time.perf_counter()
        emit(phase="opened", import_s=t1 - t0, pull_s=pull_s, open_s=t3 - t2)
        sys.stdin.readline()
        t4 = time.perf_counter()
        ds = ds.load()
        t5 = time.perf_counter()
        rss, ru_maxrss = peak_rss_bytes(), ru_maxrss_bytes()  # before the checksum (which copies nothing)
        digest, nbytes = checksum(ds)
        version = getattr(sys.modules.get("eurec4a"), "__version__", None)
        emit(phase="loaded", load_s=t5 - t4, total_s=pull_s + (t3 - t2) + (t5 - t4), checksum=digest,
             nbytes=nbytes, peak_rss=rss, ru_maxrss=ru_maxrss, version=version,
             variables=len(ds.data_vars))
    except BaseException as exc:  # reported to the parent, which shows it in the table
        emit(phase="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-3000:])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
