"""Open the EUREC4A intake catalog (intake V1 YAML) with intake 2 and this package's drivers.

:func:`open_yaml_catalog` opens a YAML catalog file from any fsspec URL and
returns an :class:`intake.catalog.Catalog` that behaves the way the community's
book uses it (``list(cat)``, ``cat.HALO.BACARDI.irradiances["HALO-0205"]``,
``cat["barbados.bco"]``, ``.items()``, ``.describe()``, ``.to_dask()``,
``entry(parameter=value)``...).

Why this module exists rather than ``intake.open_catalog``: with intake 2.0 and
intake-xarray 2.0 the V1 catalog API still parses the YAML, but

* templated entries need jinja2, which intake 2 no longer depends on;
* intake-xarray's sources are adapters without ``describe()``/metadata, ignore
  parameters when called (``entry(version=1.1)`` silently returns the default
  data) and drop ``chunks`` for OPeNDAP;
* ``driver: json`` is not registered any more;
* a catalog file that includes itself makes ``walk()`` recurse forever;
* the driver used for a name depends on which package's entry point was loaded last.

Here every entry at every nesting level is created by
:class:`~eurec4a.catalog.entry.Entry`, which maps driver names through
:mod:`eurec4a.catalog.registry` (our sources in :mod:`eurec4a.catalog.sources`
and :class:`YAMLCatalog` first, intake's registry only for other names), renders
``args`` with jinja2 (:mod:`eurec4a.catalog.templates`) from validated parameters
(:mod:`eurec4a.catalog.parameters`), propagates the root catalog's storage
options to every URL of the same protocol (:mod:`eurec4a.catalog.urls`), and
refuses to open a catalog file that is already open above itself
(:class:`~eurec4a.errors.CatalogCycleError`). YAML files are fetched and parsed
once per opened catalog tree (:mod:`eurec4a.catalog.loader`), and
:func:`eurec4a.catalog.tree.walk` fetches each nesting level's files at once.

Examples
--------
>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "catalog.yml").write_text('''
... sources:
...   flights:
...     driver: json
...     args: {urlpath: "{{CATALOG_DIR}}/flights_{{ platform }}.json"}
...     parameters:
...       platform: {description: aircraft, type: str, default: HALO, allowed: [HALO, P3]}
... ''')
>>> _ = (d / "flights_P3.json").write_text('["P3-0117"]')
>>> cat = open_yaml_catalog(str(d / "catalog.yml"))
>>> list(cat)
['flights']
>>> cat.flights(platform="P3").read()
['P3-0117']
>>> cat.flights(platform="ATR")
Traceback (most recent call last):
...
eurec4a.errors.ParameterError: entry 'flights': parameter 'platform'='ATR' is not allowed; accepted: str, one of ['HALO', 'P3']
"""
from __future__ import annotations

import os
from typing import Any

from intake.catalog.base import Catalog
from intake.catalog.local import YAMLFileCatalog

from eurec4a.catalog.entry import Entry
from eurec4a.catalog.loader import Session
from eurec4a.catalog.parameters import Parameter, parse_parameters
from eurec4a.catalog.registry import register_driver
from eurec4a.catalog.urls import normalize_url, parent_dir
from eurec4a.errors import CatalogError, EntryNotFoundError, ParameterError

__all__ = ["open_yaml_catalog", "YAMLCatalog"]


class YAMLCatalog(YAMLFileCatalog):
    """A catalog described by one intake V1 YAML file, opened with this package's drivers.

    Usually created by :func:`open_yaml_catalog` or by a ``yaml_file_cat`` /
    ``intake.catalog.local.YAMLFileCatalog`` entry. Catalogs never reload (``ttl``
    is ``None``): a catalog version is immutable.

    Parameters
    ----------
    path : str
        Path or fsspec URL of the YAML file.
    storage_options : dict, optional
        fsspec options for ``path`` (and, at the root, for every URL of the same protocol).
    transport_options : dict, optional
        Root only: fsspec options on how to reach the servers (timeouts, headers,
        gateways), applied like ``storage_options`` but never shown in the
        arguments of entries (``repr``, ``describe()``, ``yaml()``).
    """

    name = "yaml_file_cat"
    container = "catalog"
    version = "1.0"
    #: How :class:`~eurec4a.catalog.entry.Entry` recognises a driver that opens a catalog file.
    is_yaml_catalog = True

    def __init__(self, path: str, storage_options: dict[str, Any] | None = None, *,
                 name: str | None = None, description: str | None = None,
                 metadata: dict[str, Any] | None = None, ttl: float | None = None,
                 _session: Session | None = None, _chain: tuple[str, ...] = (),
                 _dotted: tuple[str, ...] = (), _inherited: dict[str, Parameter] | None = None,
                 _bound: dict[str, Any] | None = None, transport_options: dict[str, Any] | None = None,
                 autoreload: bool = False,
                 getenv: bool = True, getshell: bool = False, **kwargs: Any):
        if kwargs:
            raise CatalogError(f"catalog {path}: unknown arguments {sorted(kwargs)} for a YAML file catalog")
        self.path = normalize_url(path)
        self._session = _session or Session(self.path, storage_options, transport_options)
        own = dict(storage_options or {})
        self._explicit_options = own
        self._chain = tuple(_chain) + (self.path,)
        self._dotted = tuple(_dotted)
        self._inherited = dict(_inherited or {})
        self._bound = dict(_bound or {})
        self.catalog_dir = parent_dir(self.path)
        self.autoreload = False
        self.filesystem = None
        self.access = True
        self.text = None
        Catalog.__init__(
            self, name=name, description=description, metadata=metadata, ttl=ttl,
            getenv=getenv, getshell=getshell,
            storage_options=self._session.options_for(self.path, own) or None,
        )

    # -- what entries and walkers read ------------------------------------------------------
    @property
    def session(self) -> Session:
        """The :class:`~eurec4a.catalog.loader.Session` shared by the whole opened tree."""
        return self._session

    @property
    def chain(self) -> tuple[str, ...]:
        """The catalog files open from the root down to this one (normalized URLs)."""
        return self._chain

    @property
    def dotted(self) -> tuple[str, ...]:
        """Entry names from the root catalog to this one."""
        return self._dotted

    @property
    def bound(self) -> dict[str, Any]:
        """Parameter values set on this catalog (``cat(version=...)``), used by its entries."""
        return dict(self._bound)

    @property
    def inherited_parameters(self) -> dict[str, Parameter]:
        """Parameters handed down by the entry that opened this catalog."""
        return dict(self._inherited)

    @property
    def own_parameters(self) -> dict[str, Parameter]:
        """Parameters this catalog's file declares itself (``metadata.parameters``)."""
        return {n: p for n, p in self.user_parameters.items() if n not in self._inherited}

    def entry_objects(self) -> dict[str, Entry]:
        """Every :class:`~eurec4a.catalog.entry.Entry` of this catalog by name, none opened."""
        return dict(self._entries)

    def open_child(self, cls: type, path: str, *, storage_options: dict[str, Any] | None = None,
                   name: str | None = None, description: str | None = None,
                   metadata: dict[str, Any] | None = None, parameters: dict[str, Parameter] | None = None,
                   values: dict[str, Any] | None = None, **kwargs: Any) -> "YAMLCatalog":
        """Open the catalog file ``path`` (normalized) below this one, in this tree's session.

        ``parameters`` are handed down to the child's entries, ``values`` are the
        values already chosen for them.
        """
        return cls(path, storage_options=storage_options, name=name, description=description,
                   metadata=metadata, _session=self._session, _chain=self._chain,
                   _dotted=self._dotted + (name,), _inherited=parameters, _bound=values, **kwargs)

    def _load(self, reload: bool = False) -> None:
        data = self._session.load_yaml(self.path, self._explicit_options)
        where = ".".join(self._dotted) or self.path
        meta = data.get("metadata") or {}
        if not isinstance(meta, dict):
            raise CatalogError(f"catalog file {self.path}: 'metadata' must be a mapping")
        file_params = parse_parameters(meta.get("parameters"), f"catalog {where!r} ({self.path})")
        self.user_parameters = {**self._inherited, **file_params}
        entries = {}
        for key, spec in (data.get("sources") or {}).items():
            entries[str(key)] = Entry(str(key), spec, self)
        self._entries = entries
        merged = {k: v for k, v in meta.items() if k != "parameters"}
        merged.update(self.metadata or {})
        self.metadata = merged
        self.name = self.name or data.get("name") or self.name_from_path
        self.description = self.description or data.get("description") or ""  # "" like intake 0.7

    # -- access ----------------------------------------------------------------------------
    def _get_entry(self, name: str):
        entry = self._entries[name]
        if entry.needs_parameters():
            # No default source exists: hand out the entry, to be called with the values.
            return entry
        return entry()

    def _missing(self, key: Any) -> EntryNotFoundError:
        names = list(self._entries)
        shown = names[:20] + (["..."] if len(names) > 20 else [])
        where = ".".join(self._dotted) or self.name
        return EntryNotFoundError(f"catalog {where!r} ({self.path}) has no entry {key!r}; entries: {shown}")

    def __getitem__(self, key: Any):
        """Entry by name, dotted path (``"barbados.bco"``), list or tuple of names."""
        if isinstance(key, str) and key in self._entries:
            return self._get_entry(key)
        if isinstance(key, (tuple, list)):
            out = self
            for part in key:
                out = out[part]
            return out
        if isinstance(key, str) and "." in key:
            parts = key.split(".")
            # Entry names may contain dots themselves: try every split, longest first.
            for i in range(len(parts) - 1, 0, -1):
                head, tail = ".".join(parts[:i]), ".".join(parts[i:])
                if head in self._entries and self._entries[head].is_catalog:
                    try:
                        return self._get_entry(head)[tail]
                    except EntryNotFoundError:
                        continue
        raise self._missing(key)

    def __contains__(self, key: Any) -> bool:
        return key in self._entries

    def get_entry(self, name: str) -> Entry:
        """The :class:`Entry` object named ``name`` (not opened)."""
        try:
            return self._entries[name]
        except KeyError:
            raise self._missing(name) from None

    # -- parameters ------------------------------------------------------------------------
    def configure_new(self, **kwargs: Any):
        """This catalog with parameters set, e.g. ``cat.HALO.UNIFIED(version="0.9")``.

        Parameters of the catalog (declared in its file's ``metadata.parameters``
        or inherited from above) become the values its entries use; parameters
        of the entry that opened this catalog re-render its path.
        """
        if not kwargs:
            return self
        where = ".".join(self._dotted) or self.path
        params = self.user_parameters
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            accepted = ", ".join(f"{n} ({p.accepted()})" for n, p in params.items()) or "none"
            raise ParameterError(f"catalog {where!r}: unknown parameter(s) {unknown}; parameters: {accepted}")
        values = {k: params[k].check(v, where) for k, v in kwargs.items()}
        entry = self._entry
        if entry is not None and isinstance(entry, Entry):
            entry_params = entry.parameters()
            for_entry = {k: v for k, v in values.items() if k in entry_params}
            if for_entry:
                base = entry.get(**for_entry)
                rest = {k: v for k, v in values.items() if k not in for_entry}
                return base._rebind(rest) if rest else base
        return self._rebind(values)

    __call__ = get = configure_new

    def _rebind(self, values: dict[str, Any]) -> "YAMLCatalog":
        new = type(self)(
            self.path, storage_options=self._explicit_options or None, name=self.name,
            description=self.description, metadata=dict(self.metadata), _session=self._session,
            _chain=self._chain[:-1], _dotted=self._dotted, _inherited=self._inherited,
            _bound={**self._bound, **values},
        )
        new._entry = self._entry
        new.cat = self.cat
        new.catalog_object = getattr(self, "catalog_object", None)
        return new

    def walk(self, sofar: dict | None = None, prefix: list[str] | None = None, depth: int = 2) -> dict[str, Entry]:
        """Every entry down to ``depth`` levels, by dotted name (cycles are not followed)."""
        from eurec4a.catalog.tree import walk

        out = sofar if sofar is not None else {}
        pre = ".".join(prefix or [])
        for path, entry in walk(self, max_depth=depth):
            out[f"{pre}.{path}" if pre else path] = entry
        return out

    def describe(self) -> dict[str, Any]:
        """The entry's description when opened from a catalog; else the file's own."""
        if self._entry is not None:
            return self._entry.describe()
        return {
            "name": self.name, "container": "catalog", "plugin": [type(self).name],
            "driver": [type(self).name], "description": self.description, "direct_access": "forbid",
            "user_parameters": [p.describe() for p in self.user_parameters.values()],
            "metadata": self.metadata, "args": {"path": self.path},
        }

    def __repr__(self) -> str:
        return f"<Intake catalog: {self.name} ({self.path})>"



for _name in ("yaml_file_cat", "intake.catalog.local.YAMLFileCatalog", "intake.catalog.local:YAMLFileCatalog"):
    register_driver(_name, YAMLCatalog)


def open_yaml_catalog(urlpath: str, storage_options: dict[str, Any] | None = None, *,
                      transport_options: dict[str, Any] | None = None, **kwargs: Any) -> YAMLCatalog:
    """Open an intake V1 YAML catalog file from a path or any fsspec URL.

    Every entry at every nesting level uses this package's drivers
    (:data:`eurec4a.catalog.registry.DRIVERS`); ``storage_options`` are used to read ``urlpath`` and are
    handed to every nested catalog file and data source whose URL has the same
    protocol (``http``/``https`` count as one), under the protocol's key in
    chained URLs (``simplecache::https://...``, ``reference::ipfs://...``); options
    written in the catalog win over them.

    Parameters
    ----------
    urlpath : str
        The catalog file: local path, ``file://``, ``http(s)://``, ``ipfs://CID/catalog.yml``...
    storage_options : dict, optional
        fsspec options for ``urlpath``'s filesystem.
    transport_options : dict, optional
        Like ``storage_options``, for how servers are reached (timeouts, headers, IPFS
        gateways and cache), but kept out of the entries' arguments, so that a source's
        ``repr()`` and ``yaml()`` show what the catalog says.
    **kwargs
        ``name``, ``description``, ``metadata`` or ``ttl`` of the root catalog.

    Returns
    -------
    YAMLCatalog
        An :class:`intake.catalog.Catalog`.

    Raises
    ------
    CatalogNotFoundError
        No file at ``urlpath``.
    ServerUnreachableError
        The file could not be fetched (network error or timeout).
    CatalogError
        The file is not a V1 YAML catalog.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "catalog.yml").write_text("sources: {}")
    >>> open_yaml_catalog(str(d / "catalog.yml")).path.endswith("catalog.yml")
    True
    """
    return YAMLCatalog(os.fspath(urlpath), storage_options=storage_options, transport_options=transport_options,
                       **kwargs)
