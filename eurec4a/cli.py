"""The ``eurec4a`` command: look at the catalog, manage the cache, publish new versions.

Subcommands (``eurec4a SUBCOMMAND --help`` for each)::

    eurec4a tree [--ipfs | --cid CID] [PATH]   the catalog as an indented tree
    eurec4a cid                                latest catalog root CID
    eurec4a versions [--json]                  published catalog versions, newest first
    eurec4a doctor                             settings, where they came from, reachability
    eurec4a pull --cid CID ENTRY...            copy catalog + datasets into the cache
    eurec4a cache info|clear                   the local block cache
    eurec4a ipfs build SRC OUT_DIR             build the IPFS catalog from a classic one
    eurec4a pointer add FILE CID [--date D]    add a version to a pointer file

Exit status: 0 on success, 1 when the command failed (message on stderr), 2 for
bad usage (argparse's convention).

Examples
--------
>>> main(["cid", "--help"])  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Sequence

from eurec4a import settings as config
from eurec4a.errors import Eurec4aError

logger = logging.getLogger(__name__)

__all__ = ["main", "build_parser"]


def _add_catalog_options(p: argparse.ArgumentParser, *, ipfs_modes: bool = True) -> None:
    if ipfs_modes:
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--ipfs", action="store_true", help="the latest IPFS catalog (via the pointer file)")
        mode.add_argument("--cid", help="a pinned catalog version (root CID)")
    p.add_argument("--catalog-url", help="classic catalog URL (default: EUREC4A_CATALOG_URL or GitHub)")
    p.add_argument("--pointer-url", help="pointer file URL (default: EUREC4A_CID_POINTER_URL or GitHub)")
    p.add_argument("--gateway", action="append", dest="gateways", help="IPFS gateway URL (repeatable)")


def _mode(args: argparse.Namespace):
    if getattr(args, "cid", None):
        return args.cid
    return bool(getattr(args, "ipfs", False))


def _open(args: argparse.Namespace):
    from eurec4a.api import get_intake_catalog

    return get_intake_catalog(_mode(args), catalog_url=args.catalog_url, pointer_url=args.pointer_url,
                              gateways=args.gateways)


def _cmd_tree(args: argparse.Namespace) -> int:
    from eurec4a.catalog.tree import tree, walk

    cat = _open(args)
    for part in [p for p in (args.path or "").split(".") if p]:
        cat = cat[part]
    if args.json:
        rows = []
        for path, entry in walk(cat):
            describe = entry.describe() if hasattr(entry, "describe") else {}
            rows.append({"path": path, "driver": describe.get("driver") or describe.get("plugin"),
                         "container": describe.get("container")})
        print(json.dumps(rows, indent=1))
    else:
        print(tree(cat), end="")
    return 0


def _cmd_cid(args: argparse.Namespace) -> int:
    from eurec4a.versions import get_latest_intake_cid

    print(get_latest_intake_cid(args.pointer_url))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    from eurec4a.versions import get_catalog_versions

    versions = get_catalog_versions(args.pointer_url)
    if args.json:
        print(json.dumps([{"date": v.date, "cid": v.cid} for v in versions], indent=1))
    else:
        for v in versions:
            print(f"{v.date}  {v.cid}")
    return 0


def _probe(url: str) -> tuple[bool, str]:
    from eurec4a.transport import session

    start = time.monotonic()
    try:
        r = session().get(url, timeout=(config.CONNECT_TIMEOUT, 10), stream=True)
        r.close()
    except Exception as exc:  # any failure is a finding, not a crash
        return False, f"unreachable ({type(exc).__name__})"
    ms = (time.monotonic() - start) * 1000
    return r.status_code < 500, f"HTTP {r.status_code} in {ms:.0f} ms"


def _cmd_doctor(args: argparse.Namespace) -> int:
    from eurec4a.cache import BlockCache

    findings = []
    problems = 0
    catalog = config.resolve("catalog_url", args.catalog_url)
    ok, how = _probe(catalog.value)
    findings.append(("catalog_url", catalog.value, catalog.describe(), ok, how,
                     "" if ok else "classic mode will fail; try use_ipfs=True or set EUREC4A_CATALOG_URL"))
    pointer = config.resolve("pointer_url", args.pointer_url)
    ok, how = _probe(pointer.value)
    findings.append(("pointer_url", pointer.value, pointer.describe(), ok, how,
                     "" if ok else "use_ipfs=True falls back to the cached or shipped pointer; pin a CID"))
    gateways = config.resolve_gateways(args.gateways)
    local = [g for g in gateways if g.source in (config.Source.LOCAL_NODE, config.Source.ENVIRONMENT)]
    for g in gateways:
        cid = "bafkqaaa"  # the empty identity CID: every gateway can answer it without any lookup
        ok, how = _probe(f"{g.value}/ipfs/{cid}?format=raw")
        findings.append(("gateway", g.value, g.describe(), ok, how, "" if ok else "skipped while down; others are tried"))
    if not local:
        findings.append(("local node", "none found", "IPFS_GATEWAY / ~/.ipfs/gateway", False, "",
                         "install and start an IPFS node (kubo) or set IPFS_GATEWAY for faster access"))
    cache = BlockCache(args.cache_dir) if args.cache_dir else BlockCache()
    info = cache.info()
    findings.append(("cache", str(info["path"]), config.resolve("cache_dir", args.cache_dir).describe(), True,
                     f"{info['entries']} blocks, {info['size_bytes'] / 1e6:.1f} MB of {info['max_size'] / 1e9:.1f} GB", ""))
    if args.json:
        print(json.dumps([dict(zip(("what", "value", "source", "ok", "detail", "advice"), f)) for f in findings], indent=1))
    for what, value, source, ok, detail, advice in findings if not args.json else []:
        mark = "ok " if ok else "!! "
        print(f"{mark}{what:<11} {value}  [{source}] {detail}" + (f"\n    -> {advice}" if advice else ""))
    problems = sum(1 for f in findings if not f[3] and f[0] in ("catalog_url",))
    return 1 if problems and all(not f[3] for f in findings if f[0] == "gateway") else 0


def _cmd_pull(args: argparse.Namespace) -> int:
    from eurec4a.offline import pull

    report = pull(args.cid, args.entries, gateways=args.gateways, progress=not args.quiet)
    print(f"pulled catalog {report['cid']} and {len(report['datasets'])} dataset(s), {report['bytes'] / 1e6:.1f} MB")
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from eurec4a.cache import BlockCache

    cache = BlockCache(args.cache_dir) if args.cache_dir else BlockCache()
    if args.action == "clear":
        cache.clear()
        print(f"cleared {cache.path}")
        return 0
    info = cache.info()
    if args.json:
        print(json.dumps({k: str(v) if k == "path" else v for k, v in info.items()}, indent=1))
    else:
        print(f"path:     {info['path']}\nentries:  {info['entries']}\nsize:     {info['size_bytes']} bytes\n"
              f"limit:    {info['max_size']} bytes")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from eurec4a.publish.build import build_ipfs_catalog

    report = build_ipfs_catalog(args.source, args.out_dir, datasets=not args.catalog_only)
    print(report.summary())
    return 0 if report.ok else 1


def _cmd_pointer_add(args: argparse.Namespace) -> int:
    from eurec4a.publish.pointer import update_pointer_file

    doc = update_pointer_file(args.file, args.cid, args.date)
    print(f"{args.file}: latest = {doc['intake']['latest']} ({len(doc['intake']['versions'])} versions)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eurec4a`` command."""
    parser = argparse.ArgumentParser(prog="eurec4a", description="Access and publish the EUREC4A intake catalog.")
    parser.add_argument("--version", action="version", version=f"eurec4a {config.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("tree", help="show the catalog as an indented tree")
    _add_catalog_options(p)
    p.add_argument("path", nargs="?", help="dotted path of a sub-catalog, e.g. HALO.BACARDI")
    p.add_argument("--json", action="store_true", help="one JSON record per entry")
    p.set_defaults(func=_cmd_tree)

    p = sub.add_parser("cid", help="print the latest catalog root CID")
    p.add_argument("--pointer-url", help="pointer file URL")
    p.set_defaults(func=_cmd_cid)

    p = sub.add_parser("versions", help="list published catalog versions, newest first")
    p.add_argument("--pointer-url", help="pointer file URL")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_versions)

    p = sub.add_parser("doctor", help="show settings, their sources, and whether servers answer")
    _add_catalog_options(p, ipfs_modes=False)
    p.add_argument("--cache-dir", help="cache directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("pull", help="copy a pinned catalog and datasets into the cache for offline use")
    p.add_argument("--cid", required=True, help="catalog root CID to pull")
    p.add_argument("entries", nargs="*", metavar="ENTRY", help="dotted entry paths of datasets to pull")
    p.add_argument("--gateway", action="append", dest="gateways", help="IPFS gateway URL (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_pull)

    p = sub.add_parser("cache", help="show or clear the local cache")
    p.add_argument("action", choices=["info", "clear"])
    p.add_argument("--cache-dir", help="cache directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_cache)

    p = sub.add_parser("ipfs", help="publishing: build an IPFS catalog")
    ipfs_sub = p.add_subparsers(dest="ipfs_command", metavar="ACTION", required=True)
    b = ipfs_sub.add_parser("build", help="build the IPFS catalog (and one CAR) from a classic catalog")
    b.add_argument("source", help="path or URL of the classic catalog's root file")
    b.add_argument("out_dir", help="output directory (catalog tree and catalog.car)")
    b.add_argument("--catalog-only", action="store_true", help="do not convert datasets")
    b.set_defaults(func=_cmd_build)

    p = sub.add_parser("pointer", help="publishing: update a pointer file (cids.json)")
    pointer_sub = p.add_subparsers(dest="pointer_command", metavar="ACTION", required=True)
    a = pointer_sub.add_parser("add", help="add a catalog version and make it the latest")
    a.add_argument("file", help="pointer file to update (created if missing)")
    a.add_argument("cid", help="catalog root CID")
    a.add_argument("--date", help="YYYY-MM-DD (default: today, UTC)")
    a.set_defaults(func=_cmd_pointer_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Examples
    --------
    >>> main(["pointer", "add", "/tmp/cids.json", "not-a-cid"])  # doctest: +SKIP
    1
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except Eurec4aError as exc:
        print(f"eurec4a: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
