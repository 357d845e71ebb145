"""One entry of a YAML catalog: its driver, parameters, ``describe()`` and how it opens.

An :class:`Entry` is created for every entry at every nesting level by
:class:`~eurec4a.catalog.yaml_catalog.YAMLCatalog`. It maps ``driver:`` through
:mod:`eurec4a.catalog.registry`, checks parameters (:mod:`eurec4a.catalog.parameters`),
renders ``args`` (:mod:`eurec4a.catalog.templates`) and opens the data source, or,
for a driver class with ``is_yaml_catalog = True``, asks its catalog to open the
sub-catalog (:meth:`~eurec4a.catalog.yaml_catalog.YAMLCatalog.open_child`), so that
this module needs no catalog class.

Examples
--------
>>> import pathlib, tempfile
>>> from eurec4a.catalog.yaml_catalog import open_yaml_catalog
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "catalog.yml").write_text("sources: {a: {driver: json, args: {urlpath: a.json}}}")
>>> entry = open_yaml_catalog(str(d / "catalog.yml")).get_entry("a")
>>> entry.describe()["description"], entry.describe()["container"]
('', 'python')
"""
from __future__ import annotations

import inspect
from typing import Any

from intake.catalog.entry import CatalogEntry as _IntakeCatalogEntry
from intake.catalog.local import LocalCatalogEntry

from eurec4a.catalog.parameters import Parameter, parse_parameters
from eurec4a.catalog.registry import accepted_kwargs, known_drivers, resolve_driver
from eurec4a.catalog.templates import render
from eurec4a.catalog.urls import normalize_url
from eurec4a.errors import CatalogCycleError, CatalogError, ParameterError

__all__ = ["Entry"]


class Entry(LocalCatalogEntry):
    """One entry of a YAML catalog, created with this package's drivers.

    ``entry()`` / ``entry(**parameters)`` returns the data source (or
    sub-catalog) with ``args`` rendered from the parameters; ``describe()``
    returns ``name, container, description, user_parameters, metadata, args,
    plugin, driver, direct_access`` like intake 1.

    Keyword arguments of a call are either parameters of the entry (validated:
    :class:`~eurec4a.errors.ParameterError` for an unknown name, a value outside
    ``allowed``/``min``/``max`` or of the wrong type) or arguments of the driver
    (``chunks``, ``engine``, ``storage_options``...) that replace those of the catalog.
    """

    def __init__(self, name: str, spec: Any, catalog: Any):
        _IntakeCatalogEntry.__init__(self)
        self._name = name
        self._catalog = catalog
        self._catalog_dir = catalog.catalog_dir
        self._filesystem = None
        self._cache = []
        self._error: Exception | None = None
        self._plugin_cls: Any = None
        self._container_override = None
        where = self.where
        if not isinstance(spec, dict):
            spec = {}
            self._error = CatalogError(f"entry {where!r} of {catalog.path}: an entry must be a mapping")
        self._spec = spec
        # intake 0.7 gives "" for an entry without description (e.g. a misspelt key)
        description = spec.get("description")
        self._description = description if isinstance(description, str) else ""
        self._driver = spec.get("driver")
        self._direct_access = spec.get("direct_access", "forbid")
        metadata = spec.get("metadata") or {}
        if not isinstance(metadata, dict):
            metadata = {}
            self._error = self._error or CatalogError(
                f"entry {where!r} of {catalog.path}: 'metadata' must be a mapping")
        self._metadata = dict(metadata)
        args = spec.get("args") or {}
        self._open_args = args if isinstance(args, dict) else {}
        if not isinstance(args, dict) and self._error is None:
            self._error = CatalogError(f"entry {where!r} of {catalog.path}: 'args' must be a mapping")
        try:
            self._own_parameters = parse_parameters(spec.get("parameters"), f"entry {where!r} of {catalog.path}")
        except CatalogError as exc:
            self._own_parameters = {}
            self._error = self._error or exc
        if self._driver is None and self._error is None:
            self._error = CatalogError(f"entry {where!r} of {catalog.path} names no driver; "
                                       f"known drivers: {known_drivers()}")

    # -- identity --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def driver_spec(self) -> Any:
        """The entry's ``driver:`` as written in the catalog file."""
        return self._driver

    @property
    def own_parameters(self) -> dict[str, Parameter]:
        """The parameters the entry declares itself (not those inherited from its catalog)."""
        return dict(self._own_parameters)

    @property
    def where(self) -> str:
        """The entry's dotted path from the root catalog (for messages)."""
        return ".".join(self._catalog.dotted + (self._name,))

    # -- driver ----------------------------------------------------------------------------
    def _driver_names(self) -> list[str]:
        drv = self._driver
        if isinstance(drv, str):
            return [drv]
        if isinstance(drv, (list, tuple)):
            return [d for d in drv if isinstance(d, str)]
        if isinstance(drv, dict):
            return [v.get("class") for v in drv.values() if isinstance(v, dict) and isinstance(v.get("class"), str)]
        if inspect.isclass(drv):
            return []
        return []

    def plugin_class(self) -> type:
        """The data-source class of this entry, or :class:`CatalogError` (unknown driver, bad entry)."""
        if self._error is not None:
            raise self._error
        if self._plugin_cls is not None:
            return self._plugin_cls
        if inspect.isclass(self._driver):
            self._plugin_cls = self._driver
            return self._driver
        names = self._driver_names()
        failures = []
        for name in names:
            try:
                self._plugin_cls = resolve_driver(name)
                return self._plugin_cls
            except LookupError as exc:
                failures.append(f"{name!r} ({exc})")
        raise CatalogError(
            f"entry {self.where!r} of {self._catalog.path}: unknown driver {self._driver!r}"
            + (f" [{'; '.join(failures)}]" if failures else "")
            + f"; known drivers: {known_drivers()}"
        )

    @property
    def _plugin(self) -> list:
        try:
            return [self.plugin_class()]
        except CatalogError:
            return []

    @property
    def _container(self) -> str | None:
        if self._container_override is not None:
            return self._container_override
        try:
            return getattr(self.plugin_class(), "container", None)
        except CatalogError:
            return None

    @_container.setter
    def _container(self, value: str | None) -> None:
        self._container_override = value

    @property
    def is_catalog(self) -> bool:
        """Whether the entry opens a sub-catalog (without opening it)."""
        return self._container == "catalog"

    # -- parameters ------------------------------------------------------------------------
    def parameters(self) -> dict[str, Parameter]:
        """All parameters of the entry: the catalog's (inherited) and its own (which win)."""
        return {**self._catalog.user_parameters, **self._own_parameters}

    @property
    def _user_parameters(self) -> list[Parameter]:
        return list(self.parameters().values())

    def describe(self) -> dict[str, Any]:
        """name, container, description, user_parameters, metadata, args, plugin, driver, direct_access."""
        try:
            cls = self.plugin_class()
            plugin = [cls.name if isinstance(getattr(cls, "name", None), str) else f"{cls.__module__}.{cls.__name__}"]
        except CatalogError:
            plugin = self._driver_names() or [repr(self._driver)]
        return {
            "name": self._name,
            "container": self._container,
            "plugin": plugin,
            "driver": plugin,
            "description": self._description,
            "direct_access": self._direct_access,
            "user_parameters": [p.describe() for p in self.parameters().values()],
            "metadata": self._metadata,
            "args": self._open_args,
        }

    def target_url(self) -> str | None:
        """For a catalog entry, the normalized URL of the file it opens with default parameters."""
        try:
            cls = self.plugin_class()
        except CatalogError:
            return None
        if not (inspect.isclass(cls) and getattr(cls, "is_yaml_catalog", False)):
            return None
        _, args, _ = self._render_args({})
        path = args.get("path", args.get("urlpath"))
        return normalize_url(path) if isinstance(path, str) else None

    def _render_args(self, kwargs: dict[str, Any]) -> tuple[dict[str, Parameter], dict[str, Any], dict[str, Any]]:
        """Validate ``kwargs`` and render ``args``: (parameters, rendered args, parameter values)."""
        params = self.parameters()
        bound = self._catalog.bound
        values: dict[str, Any] = {}
        for name, p in params.items():
            if name in kwargs:
                values[name] = p.check(kwargs[name], self.where)
            elif name in bound:
                values[name] = bound[name]
            elif p.default is not None:
                values[name] = p.check(p.default, self.where)
        context = {"CATALOG_DIR": self._catalog_dir, **values}
        missing = {n: p for n, p in params.items() if n not in values}
        args = render(self._open_args, context, f"entry {self.where!r}", missing)
        return params, args, values

    def _split_kwargs(self, cls: type, kwargs: dict[str, Any]) -> tuple[dict, dict, dict]:
        """(parameters, driver arguments, left over) from the keyword arguments of a call."""
        params = self.parameters()
        names, varkw = accepted_kwargs(cls)
        names |= set(self._open_args)
        pvals, dargs, rest = {}, {}, {}
        for k, v in kwargs.items():
            if k in params:
                pvals[k] = v
            elif k in names or (varkw and k in ("chunks", "storage_options", "xarray_kwargs")):
                dargs[k] = v
            else:
                rest[k] = v
        return pvals, dargs, rest

    def _unknown(self, rest: dict[str, Any], cls: type) -> ParameterError:
        params = self.parameters()
        names, _ = accepted_kwargs(cls)
        accepted = ", ".join(f"{n} ({p.accepted()})" for n, p in params.items()) or "none"
        return ParameterError(
            f"entry {self.where!r}: unknown parameter(s) {sorted(rest)}; parameters: {accepted}; "
            f"driver arguments: {sorted((names | set(self._open_args)) - {'metadata'})}"
        )

    # -- opening ---------------------------------------------------------------------------
    def get(self, **user_parameters: Any):
        """The data source (or catalog) of this entry, for these parameters."""
        if not user_parameters and self._default_source is not None:
            return self._default_source
        cls = self.plugin_class()
        pvals, dargs, rest = self._split_kwargs(cls, user_parameters)
        is_cat = inspect.isclass(cls) and getattr(cls, "is_yaml_catalog", False)
        if rest and not is_cat:
            raise self._unknown(rest, cls)
        params, args, values = self._render_args(pvals)
        args.update(dargs)
        if is_cat:
            source = self._open_catalog(cls, args, params, values)
            if rest:  # parameters of the sub-catalog file itself
                source = source.configure_new(**rest)
        else:
            source = self._open_source(cls, args)
        source.name = self._name
        source.description = self._description
        source.cat = self._catalog
        source.catalog_object = self._catalog
        source._entry = self
        source._passed_kwargs = list(user_parameters)
        source.parameter_values = values
        if not user_parameters:
            self._default_source = source
        return source

    def _open_source(self, cls: type, args: dict[str, Any]):
        session = self._catalog.session
        names, varkw = accepted_kwargs(cls)
        url = args.get("urlpath")
        if "storage_options" in names or varkw:
            opts = session.options_for(url, args.get("storage_options"))
            if opts:
                args["storage_options"] = opts
        metadata = {**self._metadata, "catalog_dir": self._catalog_dir}
        try:
            source = cls(**args, metadata=metadata)
        except TypeError as exc:
            raise CatalogError(f"entry {self.where!r}: driver {cls.__name__} does not accept the entry's "
                               f"arguments {sorted(args)}: {exc}") from exc
        if hasattr(source, "transport_options"):  # our sources: servers reached with the tree's settings
            source.transport_options = session.transport_for(url, args.get("storage_options"))
        return source

    def _open_catalog(self, cls: type, args: dict[str, Any], params: dict[str, Parameter], values: dict[str, Any]):
        path = args.pop("path", None) or args.pop("urlpath", None)
        if not isinstance(path, str):
            raise CatalogError(f"entry {self.where!r}: a catalog entry needs args.path (the YAML file), got {path!r}")
        target = normalize_url(path)
        chain = self._catalog.chain
        if target in chain:
            loop = chain[chain.index(target):] + (target,)
            raise CatalogCycleError(
                f"entry {self.where!r} of {self._catalog.path} opens {target}, which is already open "
                f"above it: {' -> '.join(loop)}; the catalog includes itself",
                loop,
            )
        for key in ("name", "description"):
            args.pop(key, None)
        metadata = {**(args.pop("metadata", None) or {}), **self._metadata}
        return self._catalog.open_child(
            cls, target, storage_options=args.pop("storage_options", None), name=self._name,
            description=self._description, metadata=metadata, parameters=params, values=values, **args)

    def needs_parameters(self) -> list[str]:
        """Parameters used by ``args`` that have no value unless given in the call."""
        try:
            params = self.parameters()
        except CatalogError:
            return []
        bound = self._catalog.bound
        unset = [n for n, p in params.items() if p.default is None and n not in bound]
        if not unset:
            return []
        text = repr(self._open_args)
        return [n for n in unset if n in text]

    def __getitem__(self, item: Any):
        return self()[item]

    def to_dask(self):
        """``entry().to_dask()``: fails with the parameters to give when some have no default."""
        return self().to_dask()

    def read(self):
        """``entry().read()``."""
        return self().read()

    def discover(self):
        """``entry().discover()``."""
        return self().discover()

    def __repr__(self) -> str:
        return f"<Entry {self.where!r} driver={self._driver!r}>"


