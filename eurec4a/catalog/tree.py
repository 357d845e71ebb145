"""Walk a catalog and print it as a tree: sub-catalogs, sources, drivers, parameters.

:func:`walk` yields the dotted path and entry of every entry at every level;
:func:`tree` renders the same walk as text. Both open sub-catalogs with their
default parameters, never open data, stop at a catalog file that is already open
above itself (reported once per walk with :class:`CatalogCycleWarning`, naming
the chain of files), and go on past sub-catalogs that fail to load (``tree``
shows the error on the entry's line).

intake's own ``Catalog.walk`` recurses without cycle detection and prints and
swallows errors; these functions are written here for that reason. For remote
catalogs every catalog file is fetched before the walk, breadth first, each
nesting level's files all at once: a walk of the catalog costs about one round
trip per nesting level instead of one per file.

Examples
--------
>>> import pathlib, tempfile
>>> from eurec4a.catalog.yaml_catalog import open_yaml_catalog
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "catalog.yml").write_text('''
... sources:
...   HALO:
...     driver: yaml_file_cat
...     args: {path: "{{CATALOG_DIR}}/halo.yml"}
... ''')
>>> _ = (d / "halo.yml").write_text('''
... sources:
...   track:
...     driver: netcdf
...     args: {urlpath: "{{CATALOG_DIR}}/track_{{ flight_id }}.nc"}
...     parameters:
...       flight_id: {description: flight, type: str, default: HALO-0205, allowed: [HALO-0205, HALO-0207]}
... ''')
>>> cat = open_yaml_catalog(str(d / "catalog.yml"))
>>> [path for path, entry in walk(cat)]
['HALO', 'HALO.track']
>>> print(tree(cat).split("\\n", 1)[1])
`-- HALO/  [yaml_file_cat]
    `-- track  [netcdf]  flight_id: str = HALO-0205, one of ['HALO-0205', 'HALO-0207']
"""
from __future__ import annotations

import dataclasses
import logging
import sys
import warnings
from typing import IO, Any, Iterator, Literal

from intake.catalog.base import Catalog

from eurec4a.catalog.entry import Entry
from eurec4a.catalog.parameters import Parameter, show_value
from eurec4a.errors import CatalogCycleError, CatalogCycleWarning, CatalogError, CatalogLoadWarning

__all__ = ["walk", "tree", "iter_nodes", "Node"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Node:
    """One entry met by a walk.

    ``kind`` is ``"source"``, ``"catalog"`` (opened or below ``max_depth``),
    ``"cycle"`` (a catalog file already open above it; ``chain`` names the files)
    or ``"error"`` (``error`` holds the exception).
    """

    path: str
    name: str
    depth: int
    entry: Any
    kind: str
    driver: str
    catalog: Catalog | None = None
    error: BaseException | None = None
    chain: tuple[str, ...] = ()
    last: tuple[bool, ...] = ()


def _is_yaml_catalog(obj: Any) -> bool:
    return bool(getattr(type(obj), "is_yaml_catalog", False))


def _entries(cat: Catalog) -> dict[str, Any]:
    if not _is_yaml_catalog(cat):  # pragma: no cover - another intake catalog
        return {name: cat[name] for name in cat}
    return cat.entry_objects()


def _driver_name(entry: Any) -> str:
    try:
        plugin = entry.describe().get("plugin")
    except Exception:  # a broken entry still gets a line
        return str(getattr(entry, "driver_spec", "?"))
    if isinstance(plugin, (list, tuple)) and plugin:
        return str(plugin[0])
    return str(plugin)


def _is_catalog(entry: Any) -> bool:
    if isinstance(entry, Entry):
        return entry.is_catalog
    return getattr(entry, "_container", None) == "catalog" or getattr(entry, "container", None) == "catalog"


def _catalog_entries(cat: Catalog) -> Iterator[Entry]:
    for entry in _entries(cat).values():
        try:
            if isinstance(entry, Entry) and entry.is_catalog:
                yield entry
        except Exception:  # a broken entry is reported by the walk itself
            continue


def _prefetch_tree(cat: Catalog, max_depth: int | None) -> None:
    """Fetch every catalog file the walk will open, breadth first: one batch of requests per nesting level.

    Each level's files are fetched at once (:meth:`eurec4a.catalog.loader.Session.prefetch`),
    then opened (``entry()``, the very objects the depth-first walk uses afterwards,
    so nothing is opened twice) to learn the next level's files. Failures are left
    for the walk, which reports them on their entry.
    """
    if not _is_yaml_catalog(cat):
        return
    session = cat.session
    level, depth = [cat], 1
    while level and (max_depth is None or depth < max_depth):
        children: list[tuple[Entry, str]] = []  # (entry, the file it opens); cycles are left to the walk
        for parent in level:
            for entry in _catalog_entries(parent):
                try:
                    url = entry.target_url()
                except Exception:  # reported when the walk opens the entry
                    continue
                if url and url not in parent.chain:
                    children.append((entry, url))
        session.prefetch([url for _, url in children])
        below = []
        for entry, _ in children:
            try:
                sub = entry()  # kept by the entry: the walk gets this very catalog
            except Exception:  # reported by the walk
                continue
            if _is_yaml_catalog(sub):
                below.append(sub)
        level, depth = below, depth + 1


def iter_nodes(cat: Catalog, *, max_depth: int | None = None) -> Iterator[Node]:
    """Every entry of ``cat`` and its sub-catalogs as :class:`Node` records, depth first.

    Sub-catalogs are opened with default parameters; a cycle or a failure to
    open is recorded on the node (never raised) and its children are skipped.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from eurec4a.catalog.yaml_catalog import open_yaml_catalog
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "catalog.yml").write_text("sources: {me: {driver: yaml_file_cat, args: {path: '{{CATALOG_DIR}}/catalog.yml'}}}")
    >>> [(n.path, n.kind) for n in iter_nodes(open_yaml_catalog(str(d / "catalog.yml")))]
    [('me', 'cycle')]
    """
    if max_depth is not None and max_depth < 1:
        return
    _prefetch_tree(cat, max_depth)
    yield from _iter(cat, max_depth, "", 1, ())


def _iter(cat: Catalog, max_depth: int | None, prefix: str, depth: int, last: tuple[bool, ...]) -> Iterator[Node]:
    entries = _entries(cat)
    descend = max_depth is None or depth < max_depth
    names = list(entries)
    for i, name in enumerate(names):
        entry = entries[name]
        node = Node(path=prefix + name, name=name, depth=depth, entry=entry, kind="source",
                    driver=_driver_name(entry), last=last + (i == len(names) - 1,))
        if isinstance(entry, Entry):
            try:
                entry.plugin_class()
            except CatalogError as exc:
                node.kind, node.error = "error", exc
        if node.kind != "error" and _is_catalog(entry):
            node.kind = "catalog"
            if descend:
                try:
                    node.catalog = entry()
                except CatalogCycleError as exc:
                    node.kind, node.error, node.chain = "cycle", exc, exc.chain
                except Exception as exc:  # shown, not raised: one broken file must not hide the rest
                    node.kind, node.error = "error", exc
        yield node
        if node.catalog is not None:
            yield from _iter(node.catalog, max_depth, node.path + ".", depth + 1, node.last)


def walk(cat: Catalog, *, max_depth: int | None = None,
         on_error: Literal["warn", "raise", "ignore"] = "warn") -> Iterator[tuple[str, Any]]:
    """``(dotted path, entry)`` of every entry in ``cat`` and its sub-catalogs, depth first.

    Parameters
    ----------
    cat : intake Catalog
        Usually from :func:`eurec4a.catalog.yaml_catalog.open_yaml_catalog`.
    max_depth : int, optional
        Levels to descend (1: the entries of ``cat`` only).
    on_error : {"warn", "raise", "ignore"}
        What to do when a sub-catalog cannot be opened or an entry names an unknown
        driver: one :class:`CatalogLoadWarning` per entry, raise the error, or nothing.
        Cycles are never followed and always warned about, once per walk.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from eurec4a.catalog.yaml_catalog import open_yaml_catalog
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "catalog.yml").write_text("sources: {a: {driver: json, args: {urlpath: a.json}}}")
    >>> dict(walk(open_yaml_catalog(str(d / "catalog.yml")))).keys()
    dict_keys(['a'])
    """
    if on_error not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_error must be 'warn', 'raise' or 'ignore', not {on_error!r}")
    warned: set[tuple[str, ...]] = set()
    for node in iter_nodes(cat, max_depth=max_depth):
        if node.kind == "cycle":
            key = tuple(sorted(set(node.chain)))
            if key not in warned:
                warned.add(key)
                warnings.warn(f"catalog cycle not followed at {node.path!r}: {' -> '.join(node.chain)}",
                              CatalogCycleWarning, stacklevel=2)
        elif node.kind == "error":
            if on_error == "raise":
                raise node.error  # type: ignore[misc]
            if on_error == "warn":
                warnings.warn(f"{node.path!r}: {type(node.error).__name__}: {node.error}",
                              CatalogLoadWarning, stacklevel=2)
        yield node.path, node.entry


def _format_param(p: Any) -> str:
    if isinstance(p, Parameter):
        text = f"{p.name}: {p.type}"
        if p.default is not None:
            text += f" = {show_value(p.default)}"
        return text + p.constraints()
    d = p.describe() if hasattr(p, "describe") else dict(p)
    return f"{d.get('name')}: {d.get('type')} = {d.get('default')}"


def _own_parameters(node: Node) -> list[Any]:
    entry = node.entry
    params = list(entry.own_parameters.values()) if isinstance(entry, Entry) else []
    cat = node.catalog
    if _is_yaml_catalog(cat):  # parameters the sub-catalog's file declares
        params += list(cat.own_parameters.values())
    return params


def tree(cat: Catalog, *, file: IO[str] | None = None, max_depth: int | None = None,
         show_params: bool = True) -> str:
    """The catalog as an indented tree of text; printed to ``file`` too when given.

    Each line shows an entry, its driver in brackets, a trailing ``/`` for
    sub-catalogs, and (``show_params``) the parameters the entry declares with
    type, default and accepted values. Cycles and sub-catalogs that fail to open
    are shown on their line, not raised.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from eurec4a.catalog.yaml_catalog import open_yaml_catalog
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "catalog.yml").write_text("sources: {gone: {driver: yaml_file_cat, args: {path: nowhere.yml}}}")
    >>> print(tree(open_yaml_catalog(str(d / "catalog.yml"))).splitlines()[1].split(":")[0])
    `-- gone/  [yaml_file_cat]  !! CatalogNotFoundError
    """
    title = getattr(cat, "name", None) or "catalog"
    path = getattr(cat, "path", None)
    lines = [f"{title}" + (f"  ({path})" if path else "")]
    for node in iter_nodes(cat, max_depth=max_depth):
        indent = "".join("    " if last else "|   " for last in node.last[:-1])
        branch = "`-- " if node.last[-1] else "|-- "
        is_cat = node.kind == "catalog" or node.kind == "cycle" or (node.kind == "error" and _is_catalog(node.entry))
        line = f"{indent}{branch}{node.name}{'/' if is_cat else ''}  [{node.driver}]"
        if node.kind == "cycle":
            line += f"  (cycle, not followed: {' -> '.join(node.chain)})"
        elif node.kind == "error":
            line += f"  !! {type(node.error).__name__}: {node.error}"
        elif node.kind == "catalog" and node.catalog is None:
            line += "  ..."
        if show_params and node.kind != "error":
            params = _own_parameters(node)
            if params:
                line += "  " + "; ".join(_format_param(p) for p in params)
        lines.append(line)
    text = "\n".join(lines)
    if file is not None:
        print(text, file=file)
    return text


def print_tree(cat: Catalog, **kwargs: Any) -> None:
    """Print :func:`tree` to standard output."""
    tree(cat, file=sys.stdout, **kwargs)
