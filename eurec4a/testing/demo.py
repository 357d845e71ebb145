"""The main job on the embedded demo stack: ``python -m eurec4a.testing.demo``.

Starts the local stack (HTTP, OPeNDAP, IPFS gateway; the IPFS catalog is built
from the classic one on the way), then does what a user does in each of the three
modes: open the catalog, look at its tree, describe an entry, load a dataset, and
shows that the three agree. Finally it opens the pinned catalog again from the
cache with every server stopped.

Examples
--------
>>> main([])  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from typing import Sequence

__all__ = ["main"]

ENTRY = "barbados.bco.surface_met"


def _dataset_summary(ds) -> str:
    names = ", ".join(f"{k}{tuple(v.dims)}:{v.dtype}" for k, v in ds.data_vars.items())
    return f"{dict(ds.sizes)}  {names}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return 0 when all three modes agree."""
    parser = argparse.ArgumentParser(prog="python -m eurec4a.testing.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.simplefilter("ignore", category=RuntimeWarning)

    os.environ.setdefault("EUREC4A_CACHE_DIR", tempfile.mkdtemp(prefix="eurec4a-demo-cache-"))
    import eurec4a
    from eurec4a.testing import DemoStack
    from eurec4a.catalog.tree import tree

    print(f"eurec4a {eurec4a.__version__}: starting the local stack (HTTP, OPeNDAP, IPFS gateway)...")
    start = time.perf_counter()
    with DemoStack(latency=args.latency) as stack, stack.configured():
        print(f"  ready in {time.perf_counter() - start:.1f} s")
        print(f"  classic catalog: {stack.catalog_url}")
        print(f"  pointer file:    {stack.pointer_url}")
        print(f"  IPFS gateway:    {stack.gateway_url}")
        print(f"  IPFS catalog built from the classic one: root CID {stack.root_cid}")
        print(f"  {stack.build.summary().splitlines()[2]}")
        modes = {"classic (use_ipfs=False)": False, "latest (use_ipfs=True)": True,
                 f"pinned (use_ipfs={stack.root_cid!r})": stack.root_cid}
        datasets = {}
        names = {}
        for label, mode in modes.items():
            print(f"\n=== {label} ===")
            before = stack.request_counts()
            t0 = time.perf_counter()
            cat = eurec4a.get_intake_catalog(use_ipfs=mode)
            names[label] = sorted(cat)
            print(tree(cat), end="")
            entry = cat[ENTRY]
            info = entry.describe()
            driver = info.get("driver") or info.get("plugin")
            driver = ", ".join(driver) if isinstance(driver, (list, tuple)) else driver
            print(f"\n{ENTRY}: {info['description']}  [driver {driver}]")
            ds = entry.to_dask().load()
            datasets[label] = ds
            after = stack.request_counts()
            print(f"  {_dataset_summary(ds)}")
            print(f"  {time.perf_counter() - t0:.2f} s, requests: " +
                  ", ".join(f"{k} {after[k] - before.get(k, 0)}" for k in after))
        print("\n=== do the modes agree? ===")
        ok = len({tuple(v) for v in names.values()}) == 1
        print(f"  same top-level entries in all modes: {ok}")
        reference = next(iter(datasets.values()))
        for label, ds in datasets.items():
            same = ds.identical(reference) or ds.equals(reference)
            ok &= same
            print(f"  {ENTRY} in {label.split(' ')[0]}: {'same values' if same else 'DIFFERENT'}")
        print("\n=== offline: every server stopped, the pinned catalog from the cache ===")
        for server in stack.servers:
            server.stop()
        cat = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid)
        ds = cat[ENTRY].to_dask().load()
        same = ds.equals(reference)
        ok &= same
        print(f"  opened {len(list(cat))} top-level entries and loaded {ENTRY}: {'same values' if same else 'DIFFERENT'}")
    print("\nall modes agree" if ok else "\nMODES DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
