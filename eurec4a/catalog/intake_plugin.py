"""Make plain ``intake.open_catalog`` use this package's drivers for EUREC4A catalogs.

intake 2 maps a catalog entry's ``driver:`` name through its registry, filled from
the ``intake.drivers`` entry points of every installed package. intake-xarray 2
registers ``opendap``, ``zarr`` and ``netcdf`` there too, and which package wins
depends on the order in which the entry points are listed. With intake-xarray's
adapters, parameters are silently ignored (``high_res(version=1.1)`` opens the
default version) and ``describe()`` is missing. A catalog file's
``plugins: source: - module: intake_xarray`` block only imports that module; it
registers nothing.

intake imports every ``intake.imports`` entry point when it is itself imported,
and drivers registered at run time win over entry points. This package declares
this module as such an entry point, so importing intake registers
:data:`eurec4a.catalog.registry.DRIVERS` (short names) at run time, whatever else
is installed. Importing it by hand does the same. Only the data drivers are
registered: intake keeps its own catalog class for ``yaml_file_cat``, so other
catalogs a user opens with plain intake behave as before.

Examples
--------
>>> import eurec4a.catalog.intake_plugin
>>> from intake.source import registry
>>> registry["opendap"].__module__
'eurec4a.catalog.sources'
"""
from __future__ import annotations

from intake.source import register_driver

from eurec4a.catalog.registry import DRIVERS

__all__ = ["register", "DATA_DRIVERS"]

#: The driver names registered: the EUREC4A catalog's data drivers.
DATA_DRIVERS = ("opendap", "zarr", "netcdf", "json")


def register() -> list[str]:
    """Register this package's drivers in intake's registry (replacing others of the same name).

    Returns the names registered.
    """
    for name in DATA_DRIVERS:
        register_driver(name, DRIVERS[name], clobber=True)
    return list(DATA_DRIVERS)


register()
