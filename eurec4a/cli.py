"""The ``eurec4a`` command: look at the catalog, manage the cache, publish new versions.

Subcommands (``eurec4a SUBCOMMAND --help`` for each)::

    eurec4a tree [--ipfs | --cid CID] [PATH]   the catalog as an indented tree; a dataset's entry
    eurec4a cid                                latest catalog root CID
    eurec4a versions [--json]                  published catalog versions, newest first
    eurec4a doctor                             settings, where they came from, reachability
    eurec4a pull --cid CID ENTRY...            copy catalog + datasets (or sub-catalogs) into the cache
    eurec4a cache info|clear                   the local block cache
    eurec4a ipfs build SRC OUT_DIR             build the IPFS catalog from a classic one
    eurec4a pointer add FILE CID [--date D]    add a version to a pointer file

Exit status: 0 on success, 1 when the command failed (one line ``eurec4a: error: ...``
on stderr), 2 for bad usage (argparse's convention). Warnings are printed as one line
``eurec4a: warning: ...``; ``-vv`` adds the details (and tracebacks) to the log.

Examples
--------
>>> main(["cid", "--help"])  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
import time
import warnings
from typing import Any, Iterator, Sequence

from eurec4a import settings as config
from eurec4a.errors import EntryNotFoundError, Eurec4aError, InvalidCIDError
from eurec4a.settings import format_size

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
        if args.cid.strip().lower() in ("true", "latest", "yes"):
            raise InvalidCIDError(f"--cid {args.cid} is not a CID: --cid takes a catalog root CID "
                                  "(see `eurec4a versions`); for the latest catalog, use --ipfs instead.")
        return args.cid
    return bool(getattr(args, "ipfs", False))


def _open(args: argparse.Namespace):
    from eurec4a.api import get_intake_catalog

    return get_intake_catalog(_mode(args), catalog_url=args.catalog_url, pointer_url=args.pointer_url,
                              gateways=args.gateways)


def _is_catalog(obj: Any) -> bool:
    """True for an opened catalog and for a catalog entry met by a walk (not yet opened)."""
    from intake.catalog.base import Catalog

    if isinstance(obj, Catalog):
        return True
    return _describe(obj).get("container") == "catalog"


def _navigate(cat: Any, path: str | None) -> Any:
    """The sub-catalog or dataset at the dotted ``path`` (``None``: the whole catalog)."""
    parts = [p for p in (path or "").split(".") if p]
    for i, part in enumerate(parts):
        if not _is_catalog(cat):
            done = ".".join(parts[:i])
            raise EntryNotFoundError(
                f"{done!r} is a dataset, not a catalog, so it has no entry {part!r}; "
                f"see `eurec4a tree {done}` for what it holds."
            )
        if part not in cat:
            where = ".".join(parts[:i])
            names = ", ".join(sorted(cat)) or "none"
            raise EntryNotFoundError(
                f"there is no entry {part!r} in {where or 'the top level of the catalog'}; "
                f"the entries there are: {names}. Check the spelling (names are case-sensitive)."
            )
        cat = cat[part]
    return cat


def _describe(entry: Any) -> dict[str, Any]:
    try:
        return dict(entry.describe())
    except Exception:  # pragma: no cover - a broken entry still gets a record
        return {}


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value


def _entry_record(path: str, entry: Any) -> dict[str, Any]:
    d = _describe(entry)
    record = {"path": path, "driver": _one(d.get("driver") or d.get("plugin")), "container": d.get("container")}
    if not _is_catalog(entry):
        record.update(description=d.get("description", ""), arguments=d.get("args", {}),
                      parameters=d.get("user_parameters", []), metadata=d.get("metadata", {}))
    return record


def _format_entry(record: dict[str, Any]) -> str:
    """A dataset entry as text: description, driver, arguments, parameters, metadata."""
    lines = [f"{record['path']}  [{record['driver']}]"]
    if record.get("description"):
        lines.append(f"  description: {record['description']}")
    lines.append(f"  driver:      {record['driver']} (container {record['container']})")
    if record.get("arguments"):
        lines.append("  arguments:")
        lines += [f"    {k}: {v}" for k, v in record["arguments"].items()]
    if record.get("parameters"):
        lines.append("  parameters:")
        for p in record["parameters"]:
            text = f"    {p.get('name')}: {p.get('type')} = {p.get('default')}"
            if p.get("allowed"):
                text += f", one of {p['allowed']}"
            if p.get("min") is not None or p.get("max") is not None:
                text += f" in [{p.get('min')}, {p.get('max')}]"
            if p.get("description"):
                text += f"  ({p['description']})"
            lines.append(text)
    if record.get("metadata"):
        lines.append("  metadata:")
        lines += [f"    {k}: {v}" for k, v in record["metadata"].items()]
    return "\n".join(lines) + "\n"


def _cmd_tree(args: argparse.Namespace) -> int:
    from eurec4a.catalog.tree import tree, walk

    if args.gateways and not (args.ipfs or args.cid):
        warnings.warn("--gateway does nothing without --ipfs or --cid: the classic catalog is read over HTTP, "
                      "not through IPFS gateways.", UserWarning, stacklevel=2)
    prefix = ".".join(p for p in (args.path or "").split(".") if p)
    cat = _navigate(_open(args), prefix)
    if not _is_catalog(cat):
        record = _entry_record(prefix, cat)
        sys.stdout.write(json.dumps(record, indent=1, default=str) + "\n" if args.json else _format_entry(record))
        return 0
    if args.json:
        # absolute catalog paths, so that `eurec4a pull` and `eurec4a tree` take them back as they are
        rows = [_entry_record(f"{prefix}.{path}" if prefix else path, entry) for path, entry in walk(cat)]
        sys.stdout.write(json.dumps(rows, indent=1, default=str) + "\n")
    else:
        text = tree(cat)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _cmd_cid(args: argparse.Namespace) -> int:
    from eurec4a.versions import get_latest_intake_cid

    print(get_latest_intake_cid(args.pointer_url))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    from eurec4a.versions import fetch_pointer

    pointer = fetch_pointer(args.pointer_url)
    origin = getattr(pointer, "origin", "server")
    versions = list(pointer.versions)
    if args.json:
        print(json.dumps([{"date": v.date, "cid": v.cid, "from": origin} for v in versions], indent=1))
        return 0
    if origin != "server":
        print(f"# from the {origin}, not from the pointer file itself (it could not be fetched)")
    if not versions:
        print(f"# the pointer file lists no dated versions; the latest is {pointer.latest}")
    for v in versions:
        latest = "  (latest)" if v.cid == str(pointer.latest) else ""
        print(f"{v.date}  {v.cid}{latest}")
    return 0


def _probe(url: str, timeout: float) -> tuple[bool, str]:
    """Whether ``url`` answers, and how: ``(ok, "answered in 12 ms")`` or ``(False, reason)``."""
    from eurec4a.errors import Eurec4aError
    from eurec4a.transport import http_get

    start = time.monotonic()
    try:
        http_get(url, setting="doctor", timeout=timeout, deadline=timeout + config.CONNECT_TIMEOUT,
                 max_size=1 << 20)
    except Eurec4aError as exc:  # any failure is a finding, not a crash: its first sentence
        return False, str(exc).split(". ")[0]
    return True, f"answered in {(time.monotonic() - start) * 1000:.0f} ms"


#: What to do when a server does not answer, per setting, in CLI words.
_ADVICE = {
    "catalog_url": "classic mode will fail; try `eurec4a tree --ipfs` or set EUREC4A_CATALOG_URL / --catalog-url",
    "pointer_url": "`--ipfs` falls back to the cached or shipped pointer; or pin a version with `--cid CID`",
    "gateway": "skipped while down; the other gateways are tried",
}


def _cmd_doctor(args: argparse.Namespace) -> int:
    from eurec4a.cache import Cache

    settings = config.Settings.resolve(catalog_url=args.catalog_url, pointer_url=args.pointer_url,
                                       cache_dir=args.cache_dir, gateways=args.gateways)
    probe_timeout = min(float(settings.timeout), 10.0)
    findings = []
    exists = settings.config_file.is_file()
    default_file = settings.config_file == config.config_file_path({})
    findings.append(("config_file", str(settings.config_file),
                     "default" if default_file else f"environment ({config.ENVIRONMENT['config_file']})",
                     True, "in use" if exists else "not present: no file settings apply", ""))
    for setting in settings.values.values():
        ok, detail, advice = True, "", ""
        if setting.name in ("catalog_url", "pointer_url") and str(setting.value).startswith(("http://", "https://")):
            ok, detail = _probe(str(setting.value), probe_timeout)
            advice = "" if ok else _ADVICE[setting.name]
        elif setting.name == "cache_size":
            detail = f"({setting.value} bytes)"
        elif setting.name in ("timeout", "deadline", "pointer_ttl"):
            detail = "seconds"
        value = format_size(setting.value) if setting.name == "cache_size" else setting.value
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        findings.append((setting.name, str(value) if value is not None else "none", setting.describe(),
                         ok, detail, advice))
    local = [g for g in settings.gateway_settings if g.source in (config.Source.LOCAL_NODE, config.Source.ENVIRONMENT)]
    for g in settings.gateway_settings:
        cid = "bafkqaaa"  # the empty identity CID: every gateway can answer it without any lookup
        ok, how = _probe(f"{g.value}/ipfs/{cid}?format=raw", probe_timeout)
        findings.append(("gateway", g.value, g.describe(), ok, how, "" if ok else _ADVICE["gateway"]))
    if not local:
        findings.append(("local node", "none found", "IPFS_GATEWAY / ~/.ipfs/gateway", False, "",
                         "install and start an IPFS node (kubo) or set IPFS_GATEWAY for faster access"))
    info = Cache.from_settings(settings).info()
    findings.append(("cache", str(info["path"]), settings.setting("cache_dir").describe(), True,
                     f"{info['entries']} entries, {format_size(info['size_bytes'])} of {format_size(info['max_size'])} "
                     f"(limit from {settings.setting('cache_size').describe()})", ""))
    if args.json:
        print(json.dumps([dict(zip(("what", "value", "source", "ok", "detail", "advice"), f)) for f in findings],
                         indent=1))
    else:
        for what, value, source, ok, detail, advice in findings:
            # "ok" only where something was checked (a server answered, a file was found)
            mark = "!! " if not ok else "ok " if what in ("catalog_url", "pointer_url", "gateway") else "   "
            print(f"{mark}{what:<19} {value}  [{source}]" + (f" {detail}" if detail else "")
                  + (f"\n    -> {advice}" if advice else ""))
    catalog_down = any(not f[3] for f in findings if f[0] == "catalog_url")
    gateways_down = all(not f[3] for f in findings if f[0] == "gateway")
    return 1 if catalog_down and gateways_down else 0


def _expand_entries(cid: str, entries: Sequence[str], gateways: Any) -> list[str]:
    """Dataset paths for ``entries``: a sub-catalog stands for every IPFS dataset below it."""
    from eurec4a.api import get_intake_catalog
    from eurec4a.catalog.tree import walk

    cat = get_intake_catalog(use_ipfs=cid, gateways=gateways)
    out: list[str] = []
    skipped: list[str] = []
    for path in entries:
        node = _navigate(cat, path)
        if not _is_catalog(node):
            out.append(path)
            continue
        for sub, entry in walk(node):
            if _is_catalog(entry):
                continue
            full = f"{path}.{sub}" if path else sub
            urlpath = str((_describe(entry).get("args") or {}).get("urlpath", ""))
            (out if urlpath.startswith("ipfs://") else skipped).append(full)
    if skipped:
        warnings.warn(f"not pulled, because they are not stored on IPFS in this catalog version: "
                      f"{', '.join(skipped)}.", UserWarning, stacklevel=2)
    return list(dict.fromkeys(out))


def _cmd_pull(args: argparse.Namespace) -> int:
    from eurec4a.offline import pull

    entries = _expand_entries(args.cid, args.entries, args.gateways) if args.entries else []
    report = pull(args.cid, entries, gateways=args.gateways, progress=not args.quiet)
    print(f"pulled catalog {report['cid']} and {len(report['datasets'])} dataset(s), {format_size(report['bytes'])}")
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from eurec4a.cache import Cache

    settings = config.Settings.resolve(cache_dir=args.cache_dir)
    cache = Cache.from_settings(settings)  # the whole folder: blocks, completeness markers, documents
    if args.action == "clear":
        cache.clear()
        print(f"cleared {cache.path}")
        return 0
    info = cache.info()
    if args.json:
        print(json.dumps({k: str(v) if k == "path" else v for k, v in info.items()}, indent=1))
    else:
        print(f"path:     {info['path']}  [{settings.setting('cache_dir').describe()}]\n"
              f"entries:  {info['entries']} files ({info['blocks']} blocks, many of them packed together)\n"
              f"size:     {format_size(info['size_bytes'])}\n"
              f"limit:    {format_size(info['max_size'])}  [{settings.setting('cache_size').describe()}]")
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


def _sub(sub: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eurec4a`` command.

    Examples
    --------
    >>> build_parser().parse_args(["cache", "info"]).action
    'info'
    """
    parser = argparse.ArgumentParser(
        prog="eurec4a", description="Access and publish the EUREC4A intake catalog.",
        epilog="Settings come from arguments, then environment variables (EUREC4A_*), then the configuration "
               "file; `eurec4a doctor` shows each with its source.")
    parser.add_argument("--version", action="version", version=f"eurec4a {config.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug and tracebacks)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _sub(sub, "tree", "show the catalog as an indented tree, or one entry", """\
Show the catalog as an indented tree: sub-catalogs end in '/', each line names the
driver in brackets and the parameters with their default and accepted values.
With PATH, show only that part; when PATH is a dataset, show its description,
driver, arguments, parameters and metadata.

Without --ipfs or --cid, the classic catalog is read over HTTP.""")
    _add_catalog_options(p)
    p.add_argument("path", nargs="?", metavar="PATH",
                   help="dotted path of a sub-catalog or dataset, e.g. HALO.BACARDI or barbados.bco.surface_met")
    p.add_argument("--json", action="store_true",
                   help="JSON records instead of text; paths are full catalog paths, as `pull` takes them")
    p.set_defaults(func=_cmd_tree)

    p = _sub(sub, "cid", "print the latest catalog root CID",
             "Print the root CID of the latest IPFS catalog, as named by the pointer file.")
    p.add_argument("--pointer-url", help="pointer file URL (default: EUREC4A_CID_POINTER_URL or GitHub)")
    p.set_defaults(func=_cmd_cid)

    p = _sub(sub, "versions", "list published catalog versions, newest first", """\
List the published catalog versions (date and root CID), newest first. When the
pointer file cannot be fetched, the list comes from a cached copy or from the
snapshot shipped with eurec4a, and the output says so.""")
    p.add_argument("--pointer-url", help="pointer file URL (default: EUREC4A_CID_POINTER_URL or GitHub)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_versions)

    p = _sub(sub, "doctor", "show every setting with its source, and whether servers answer", """\
Show every setting (catalog and pointer URLs, timeout, deadline, pointer TTL,
flight segments URL, cache folder and size limit, gateways), where each value
came from (argument, environment variable, configuration file, default), which
configuration file is in use, and whether the catalog server, the pointer file
and each gateway answer. Exits 1 only when neither the catalog nor any gateway
answers.""")
    _add_catalog_options(p, ipfs_modes=False)
    p.add_argument("--cache-dir", help="cache directory (default: EUREC4A_CACHE_DIR or the user cache folder)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_doctor)

    p = _sub(sub, "pull", "copy a pinned catalog and datasets into the cache for offline use", """\
Copy a pinned catalog version and the named datasets into the local cache, verified,
so that they open later with no network. An ENTRY that is a sub-catalog stands for
every dataset below it (datasets not stored on IPFS are skipped with a warning).""")
    p.add_argument("--cid", required=True, help="catalog root CID to pull (see `eurec4a versions`)")
    p.add_argument("entries", nargs="*", metavar="ENTRY",
                   help="dotted path of a dataset or sub-catalog, e.g. HALO.BACARDI")
    p.add_argument("--gateway", action="append", dest="gateways", help="IPFS gateway URL (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_pull)

    p = _sub(sub, "cache", "show or clear the local cache", """\
actions:
  info    where the cache folder is, how many blocks and bytes it holds, and its
          size limit (each with the setting it comes from)
  clear   delete everything in the cache; it is filled again on the next access""")
    p.add_argument("action", choices=["info", "clear"], metavar="ACTION", help="info or clear (see above)")
    p.add_argument("--cache-dir", help="cache directory (default: EUREC4A_CACHE_DIR or the user cache folder)")
    p.add_argument("--json", action="store_true", help="machine-readable output (info)")
    p.set_defaults(func=_cmd_cache)

    p = _sub(sub, "ipfs", "publishing: build an IPFS catalog", """\
actions:
  build SRC OUT_DIR   build the IPFS catalog (and one CAR file) from a classic catalog""")
    ipfs_sub = p.add_subparsers(dest="ipfs_command", metavar="ACTION", required=True)
    b = _sub(ipfs_sub, "build", "build the IPFS catalog (and one CAR) from a classic catalog", """\
Build the IPFS variant of a classic catalog: every dataset becomes a zarr store,
the catalog tree and the data go into OUT_DIR and one CAR file to upload.""")
    b.add_argument("source", help="path or URL of the classic catalog's root file")
    b.add_argument("out_dir", help="output directory (catalog tree and catalog.car)")
    b.add_argument("--catalog-only", action="store_true", help="do not convert datasets")
    b.set_defaults(func=_cmd_build)

    p = _sub(sub, "pointer", "publishing: update a pointer file (cids.json)", """\
actions:
  add FILE CID [--date D]   add a catalog version to a pointer file and make it the latest""")
    pointer_sub = p.add_subparsers(dest="pointer_command", metavar="ACTION", required=True)
    a = _sub(pointer_sub, "add", "add a catalog version and make it the latest",
             "Add a catalog version to a pointer file (created if missing) and make it the latest.")
    a.add_argument("file", help="pointer file to update (created if missing)")
    a.add_argument("cid", help="catalog root CID")
    a.add_argument("--date", help="YYYY-MM-DD (default: today, UTC)")
    a.set_defaults(func=_cmd_pointer_add)
    return parser


#: Python-API advice in package messages, and what to type at the command line instead.
_CLI_WORDS = [
    (re.compile(r"eurec4a\.get_intake_catalog\(use_ipfs=True\)"), "eurec4a tree --ipfs"),
    (re.compile(r"use_ipfs=True"), "--ipfs"),
    (re.compile(r"use_ipfs=(?:\"<CID>\"|'<CID>'|a CID)"), "--cid CID"),
    (re.compile(r"use_ipfs=False"), "no --ipfs/--cid (the classic catalog)"),
    (re.compile(r"\bcatalog_url=(?=[^'\"])"), "--catalog-url "),
    (re.compile(r"\bpointer_url=(?=[^'\"])"), "--pointer-url "),
    (re.compile(r"\bgateways=(?=[^'\"])"), "--gateway "),
]


def _cli_words(message: str) -> str:
    """A package message on one line, with API advice turned into CLI flags."""
    text = str(message)
    for pattern, replacement in _CLI_WORDS:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Print warnings as ``eurec4a: warning: ...`` on one line, for this command only."""
    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' signature
        print(f"eurec4a: warning: {_cli_words(str(message))}", file=file or sys.stderr)

    previous = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Errors are printed as one line ``eurec4a: error: ...`` (exit 1), never as a traceback;
    ``-vv`` logs the traceback too.

    Examples
    --------
    >>> main(["pointer", "add", "/tmp/cids.json", "not-a-cid"])  # doctest: +SKIP
    1
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    with _one_line_warnings():
        try:
            return int(args.func(args) or 0)
        except Eurec4aError as exc:
            logger.debug("the command failed", exc_info=True)
            print(f"eurec4a: error: {_cli_words(str(exc))}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:  # pragma: no cover
            return 130
        except Exception as exc:  # a library error the package did not turn into its own: still one line
            logger.debug("unexpected failure", exc_info=True)
            print(f"eurec4a: error: {type(exc).__name__}: {_cli_words(str(exc))} (eurec4a did not expect this "
                  "failure; run the command again with -vv and report the output as a bug)", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
