"""Try eurec4a without the internet: the demo catalog on servers started on this machine.

Run ``python -m eurec4a.testing.demo`` to start a small web server, an OPeNDAP
server and an IPFS gateway on 127.0.0.1, all serving a small demo catalog with
EUREC4A-like data. The demo then opens the catalog in each of the three ways the
package offers (classic, latest IPFS copy, one pinned version), loads a dataset in
each, checks that all three give the same values, and finally reads the pinned
version again with every server stopped, from the local cache alone.

Run ``python -m eurec4a.testing.demo --serve`` to keep the servers running instead:
it prints ``export`` lines that point the ``eurec4a`` command and the Python
package at them, and waits until you press Ctrl-C.

Everything the demo writes (data, catalog, cache) goes into one temporary folder,
removed when it ends.

Examples
--------
>>> main(["--help"])  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
import time
from typing import Sequence

__all__ = ["main", "build_parser"]

ENTRY = "barbados.bco.surface_met"

DESCRIPTION = """\
Try eurec4a without the internet. Starts a web server, an OPeNDAP server and an
IPFS gateway on this machine (127.0.0.1), serving a small demo catalog with
EUREC4A-like data. Without options: opens the catalog in the three modes
(classic, latest IPFS copy, a pinned version), loads a dataset in each, checks
that they agree, then reads the pinned version again with every server stopped.
Everything it writes goes into one temporary folder that is removed at the end.
"""

EPILOG = """\
examples:
  python -m eurec4a.testing.demo            run the demo once (about a minute)
  python -m eurec4a.testing.demo --serve    keep the servers running; paste the
                                            printed export lines into another
                                            shell, then try 'eurec4a tree --ipfs'
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m eurec4a.testing.demo``.

    Examples
    --------
    >>> build_parser().parse_args(["--serve"]).serve
    True
    """
    parser = argparse.ArgumentParser(prog="python -m eurec4a.testing.demo", description=DESCRIPTION,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true",
                        help="start the servers, print the settings that point eurec4a at them, "
                             "and keep them running until Ctrl-C")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="make every server answer this many seconds later (to feel a slow network)")
    return parser


def _dataset_summary(ds) -> str:
    names = ", ".join(f"{k}{tuple(v.dims)}:{v.dtype}" for k, v in ds.data_vars.items())
    return f"{dict(ds.sizes)}  {names}"


def _stack_environment(stack) -> dict[str, str]:
    """What points eurec4a at ``stack``: its servers, and a cache inside the stack's folder."""
    return {**stack.env(), "EUREC4A_CACHE_DIR": str(stack.workdir / "cache")}


def _serve(stack, stop: threading.Event) -> int:
    env = _stack_environment(stack)
    print("The demo servers are running. To use them from another shell, paste:\n")
    for key, value in env.items():
        print(f"  export {key}={shlex.quote(value)}")
    print(f"\nThen try:\n  eurec4a tree --ipfs\n  eurec4a tree {ENTRY}\n  eurec4a versions\n"
          f"or in Python:\n  import eurec4a\n  cat = eurec4a.get_intake_catalog(use_ipfs={stack.root_cid!r})\n"
          "\nThe cache above is removed when the servers stop. Press Ctrl-C to stop.", flush=True)
    stop.wait()
    print("\nstopping the demo servers", flush=True)
    return 0


def _run(stack) -> int:
    import eurec4a
    from eurec4a.catalog.tree import tree

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo (or, with ``--serve``, keep its servers running); return the exit status.

    Returns 0 when all three modes agree (or when ``--serve`` was stopped with Ctrl-C).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import eurec4a
    from eurec4a.testing import DemoStack, environment

    stop = threading.Event()
    previous = {}
    if args.serve:
        # Ctrl-C and `kill` end the wait; the stack is then closed by the `with` below.
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        print(f"eurec4a {eurec4a.__version__}: starting the local servers (HTTP, OPeNDAP, IPFS gateway)...",
              flush=True)
        start = time.perf_counter()
        with DemoStack(latency=args.latency) as stack, environment(_stack_environment(stack)):
            print(f"  ready in {time.perf_counter() - start:.1f} s")
            print(f"  classic catalog: {stack.catalog_url}")
            print(f"  pointer file:    {stack.pointer_url}")
            print(f"  IPFS gateway:    {stack.gateway_url}")
            print(f"  IPFS catalog built from the classic one: root CID {stack.root_cid}")
            print(f"  {stack.build.summary().splitlines()[2]}", flush=True)
            return _serve(stack, stop) if args.serve else _run(stack)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
