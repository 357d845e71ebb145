"""Driver name -> class: this package's drivers first, intake's registry for other names.

Every entry of a catalog opened by this package maps its ``driver:`` through
:func:`resolve_driver`. :data:`DRIVERS` holds the package's own sources under the
names the EUREC4A catalog uses (``opendap``, ``zarr``, ``netcdf``, ``json``) and the
intake-xarray class paths the real files name; the catalog class registers itself
(``yaml_file_cat``, ``intake.catalog.local.YAMLFileCatalog``) with
:func:`register_driver` when :mod:`eurec4a.catalog.yaml_catalog` is imported, so
this module imports no catalog class. intake's own registry is only asked for
other names: there intake-xarray registers the same short names, and which one
wins depends on the order entry points load.

Examples
--------
>>> resolve_driver("opendap").__name__
'OpenDapSource'
>>> resolve_driver("intake_xarray.xzarr.ZarrSource").__name__
'ZarrSource'
"""
from __future__ import annotations

import inspect
import logging
import threading
from typing import Any

from eurec4a.catalog.sources import JSONSource, NetCDFSource, OpenDapSource, ZarrSource

__all__ = ["DRIVERS", "register_driver", "known_drivers", "resolve_driver", "accepted_kwargs"]

logger = logging.getLogger(__name__)

#: Driver name -> class. Applied to every entry of catalogs opened here, before
#: intake's registry (where intake-xarray registers the same names).
DRIVERS: dict[str, type] = {
    "opendap": OpenDapSource,
    "zarr": ZarrSource,
    "netcdf": NetCDFSource,
    "json": JSONSource,
    "intake_xarray.opendap.OpenDapSource": OpenDapSource,
    "intake_xarray.netcdf.NetCDFSource": NetCDFSource,
    "intake_xarray.xzarr.ZarrSource": ZarrSource,
    "intake_xarray.OpenDapSource": OpenDapSource,
    "intake_xarray.NetCDFSource": NetCDFSource,
}


def register_driver(name: str, cls: type) -> None:
    """Make ``driver: name`` open ``cls`` in every catalog opened by this package.

    Examples
    --------
    >>> register_driver("json", JSONSource)
    >>> resolve_driver("json") is JSONSource
    True
    """
    DRIVERS[name] = cls


_RESOLVED: dict[str, Any] = {}
_RESOLVE_LOCK = threading.Lock()


def known_drivers() -> list[str]:
    """Driver names an entry may use: this package's, then intake's registry.

    Examples
    --------
    >>> "opendap" in known_drivers()
    True
    """
    names = set(k for k in DRIVERS if "." not in k)
    try:
        from intake.source import registry

        names.update(registry)
    except Exception:  # pragma: no cover - a broken third-party entry point
        logger.debug("intake's driver registry could not be listed", exc_info=True)
    return sorted(names)


def resolve_driver(name: str) -> type:
    """The class for driver ``name``: :data:`DRIVERS` first, then intake's registry or a dotted import.

    Results (and failures) are cached, so each plugin is imported once.

    Raises
    ------
    LookupError
        No driver of that name (the entry turns this into a :class:`CatalogError`).
    """
    if name in DRIVERS:
        return DRIVERS[name]
    with _RESOLVE_LOCK:
        if name in _RESOLVED:
            hit = _RESOLVED[name]
            if isinstance(hit, BaseException):
                raise LookupError(str(hit))
            return hit
    try:
        from intake.source import registry

        if name in registry:
            cls = registry[name]
        elif "." in name or ":" in name:
            from intake.utils import import_name

            cls = import_name(name) if ":" in name else import_name(":".join(name.rsplit(".", 1)))
        else:
            raise LookupError(f"no driver named {name!r}")
        if not inspect.isclass(cls):
            raise LookupError(f"{name!r} is not a class")
    except Exception as exc:  # import failures of third-party plugins included
        err = LookupError(f"{type(exc).__name__}: {exc}")
        with _RESOLVE_LOCK:
            _RESOLVED[name] = err
        raise err from exc
    with _RESOLVE_LOCK:
        _RESOLVED[name] = cls
    return cls


def accepted_kwargs(cls: type) -> tuple[set[str], bool]:
    """Names of ``cls.__init__``'s keyword arguments, and whether it takes ``**kwargs``.

    Examples
    --------
    >>> names, varkw = accepted_kwargs(JSONSource)
    >>> "urlpath" in names, "metadata" in names
    (True, False)
    """
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # pragma: no cover
        return set(), True
    names = {p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name not in ("self", "metadata") and not p.name.startswith("_")}
    varkw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    return names, varkw
