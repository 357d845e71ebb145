"""Rendering an entry's ``args`` with jinja2: ``{{CATALOG_DIR}}`` and parameter templates.

Templates are rendered in a sandbox (catalogs come from remote servers) with
undefined names as errors (never an empty string in a URL, which would open other
data). ``{{CATALOG_DIR}}``, which nearly every catalog path uses, is substituted
without compiling a template.

Examples
--------
>>> import datetime
>>> render({"urlpath": "{{CATALOG_DIR}}/x_{{ date.strftime('%Y%m%d') }}.nc"},
...        {"CATALOG_DIR": "/cat", "date": datetime.datetime(2020, 2, 5)}, "entry 'x'")
{'urlpath': '/cat/x_20200205.nc'}
"""
from __future__ import annotations

import functools
import re
from typing import Any

from eurec4a.errors import CatalogError, ParameterError

__all__ = ["render"]

#: ``{{ CATALOG_DIR }}``, the one template most catalog paths use (rendered without jinja2).
_CATALOG_DIR_TAG = re.compile(r"\{\{\s*CATALOG_DIR\s*\}\}")


@functools.lru_cache(maxsize=None)
def _jinja_env():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    # Sandboxed: catalogs come from remote servers. Strict: an undefined name is an
    # error, never an empty string in a URL (which would open other data).
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=8192)
def _template(source: str):
    return _jinja_env().from_string(source)


def render(obj: Any, context: dict[str, Any], where: str, missing: dict[str, Any] | None = None) -> Any:
    """``obj`` with every string rendered as a jinja2 template in ``context``.

    ``missing`` maps parameters that have no value (no default, not given) to
    their :class:`~eurec4a.catalog.parameters.Parameter`: a template that uses one
    is a :class:`ParameterError`.

    Examples
    --------
    >>> render(["{{ version }}", 1], {"version": "1.1"}, "entry 'high_res'")
    ['1.1', 1]
    """
    if isinstance(obj, str):
        if "{{" not in obj and "{%" not in obj:
            return obj
        if "CATALOG_DIR" in context:
            # The common case, "{{CATALOG_DIR}}/x.yaml", without compiling a template (~0.5 ms each).
            rest = _CATALOG_DIR_TAG.sub("", obj)
            if "{{" not in rest and "{%" not in rest and "{#" not in rest:
                value = str(context["CATALOG_DIR"])
                return _CATALOG_DIR_TAG.sub(lambda _: value, obj)
        import jinja2

        try:
            return _template(obj).render(context)
        except jinja2.UndefinedError as exc:
            for name, p in (missing or {}).items():
                if f"'{name}'" in str(exc.message):
                    raise ParameterError(f"{where}: parameter {name!r} has no default and must be given, "
                                         f"e.g. entry({name}=...); accepted: {p.accepted()}") from exc
            params = sorted(k for k in context if k != "CATALOG_DIR")
            raise CatalogError(f"{where}: template {obj!r}: {exc.message}; the entry defines "
                               f"{params or 'no parameters'} (a parameter without default must be given)") from exc
        except jinja2.TemplateError as exc:
            raise CatalogError(f"{where}: template {obj!r} cannot be rendered: {exc}") from exc
    if isinstance(obj, dict):
        return {k: render(v, context, where, missing) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(render(v, context, where, missing) for v in obj)
    return obj
