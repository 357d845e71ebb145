"""User parameters of catalog entries: types, coercion, checks, and how values are shown.

Examples
--------
>>> p = Parameter("channel", description="ABI channel", type="int", default=13, allowed=[2, 13])
>>> p.check("2", "goes16.latlongrid")
2
>>> p.constraints()
', one of [2, 13]'
"""
from __future__ import annotations

import ast
import datetime as _dt
from typing import Any

from intake.catalog.local import UserParameter

from eurec4a.errors import CatalogError, ParameterError

__all__ = ["Parameter", "PARAMETER_TYPES", "BAD", "coerce", "parse_parameters", "show_value"]

#: Parameter types of intake V1 catalogs (``type:`` of a parameter).
PARAMETER_TYPES = ("bool", "datetime", "dict", "float", "int", "list", "mlist", "str", "tuple", "unicode", "other")

#: What :func:`coerce` returns for a value that is not of the type.
BAD = object()


def coerce(ptype: str, value: Any) -> Any:
    """``value`` as ``ptype``, or :data:`BAD`. Strings are parsed; nothing is silently truncated.

    ``datetime`` accepts :class:`datetime.datetime`, :class:`datetime.date`, ISO
    strings (``"2020-01-27 13:00"``), ``pandas.Timestamp`` and ``numpy.datetime64``,
    and gives a :class:`datetime.datetime`.

    Examples
    --------
    >>> import numpy as np
    >>> coerce("datetime", np.datetime64("2020-02-05T10:30"))
    datetime.datetime(2020, 2, 5, 10, 30)
    >>> coerce("int", 1.5) is BAD
    True
    """
    if value is None:
        return None
    if ptype in ("str", "unicode"):
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return BAD
    if ptype == "int":
        if isinstance(value, bool):
            return BAD
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value.is_integer() else BAD
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return BAD
        return BAD
    if ptype == "float":
        if isinstance(value, bool):
            return BAD
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                return BAD
        return BAD
    if ptype == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return BAD
    if ptype == "datetime":
        if hasattr(value, "to_pydatetime"):  # pandas.Timestamp (a datetime subclass): the plain type
            try:
                out = value.to_pydatetime()
            except (ValueError, TypeError):
                return BAD
            # pandas.NaT converts to itself (a datetime subclass unequal to itself): no time
            return out if isinstance(out, _dt.datetime) and out == out else BAD
        if isinstance(value, _dt.datetime):
            return value
        if isinstance(value, _dt.date):
            return _dt.datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            try:
                return _dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return BAD
        if type(value).__name__ == "datetime64" and type(value).__module__ == "numpy":
            import numpy as np

            if np.isnat(value):
                return BAD
            # microseconds: the finest unit datetime.datetime holds (a nanosecond unit gives an int)
            out = value.astype("datetime64[us]").item()
            return out if isinstance(out, _dt.datetime) else BAD
        return BAD
    if ptype in ("list", "mlist", "tuple", "dict"):
        kind = {"list": list, "mlist": list, "tuple": tuple, "dict": dict}[ptype]
        if isinstance(value, str):
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return BAD
        if kind is dict:
            return dict(value) if isinstance(value, dict) else BAD
        if isinstance(value, (list, tuple, set)):
            return kind(value)
        return BAD
    return value  # "other"


def _type_name_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return "datetime"
    name = type(value).__name__
    return name if name in PARAMETER_TYPES else "other"


class Parameter(UserParameter):
    """A user parameter of a catalog entry: type, default, and the values it accepts.

    Same attributes and :meth:`describe` as intake's ``UserParameter``, but the
    checks raise :class:`~eurec4a.errors.ParameterError` naming the entry, the
    parameter and what it accepts, and types are coerced strictly (``"abc"`` is
    no float, ``1.5`` no int) without pandas.

    Examples
    --------
    >>> p = Parameter("version", description="data version", type="float", default=1.1, min=1.0, max=1.1)
    >>> p.check("1.0", "LIMRAD94.high_res")
    1.0
    >>> p.check(2, "LIMRAD94.high_res")
    Traceback (most recent call last):
    ...
    eurec4a.errors.ParameterError: entry 'LIMRAD94.high_res': parameter 'version'=2 is above the maximum 1.1; accepted: float in [1.0, 1.1]
    """

    def __init__(self, name: str, description: str | None = None, type: str | None = None,
                 default: Any = None, min: Any = None, max: Any = None, allowed: Any = None):
        self.name = name
        self.description = description or ""  # intake 0.7 gives "" for a missing description
        ptype = type or (_type_name_of(default) if default is not None else "other")
        if ptype not in PARAMETER_TYPES:
            raise CatalogError(f"parameter {name!r} has unknown type {ptype!r}; types are {list(PARAMETER_TYPES)}")
        self.type = ptype
        self._default = default
        self.min = self._coerce_spec("min", min)
        self.max = self._coerce_spec("max", max)
        if allowed is not None:
            if not isinstance(allowed, (list, tuple)):
                raise CatalogError(f"parameter {name!r}: 'allowed' must be a list, not {allowed!r}")
            item_type = "other" if ptype == "mlist" else ptype
            self.allowed = [self._coerce_spec("allowed", v, item_type) for v in allowed]
        else:
            self.allowed = None
        default_value = coerce(ptype, default)
        self.default = None if default_value is BAD else default_value
        self.expanded_default = self.default

    def _coerce_spec(self, what: str, value: Any, ptype: str | None = None) -> Any:
        if value is None:
            return None
        out = coerce(ptype or self.type, value)
        if out is BAD:
            raise CatalogError(f"parameter {self.name!r}: {what} value {value!r} is not a {ptype or self.type}")
        return out

    def accepted(self) -> str:
        """What the parameter accepts, in words: ``"float in [1.0, 1.1]"``, ``"str, one of [...]"``."""
        return self.type + self.constraints()

    def constraints(self) -> str:
        """The allowed values and range, in words (``", one of [...]"``, ``" in [lo, hi]"``), or ``""``."""
        text = ""
        if self.allowed is not None:
            # each value in its own type: [10, 20] for ints, ['b', 't'] for strings
            shown = ", ".join(repr(show_value(v)) if isinstance(v, _dt.date) else repr(v) for v in self.allowed)
            text += f", one of [{shown}]"
        if self.min is not None or self.max is not None:
            lo = "" if self.min is None else show_value(self.min)
            hi = "" if self.max is None else show_value(self.max)
            text += f" in [{lo}, {hi}]"
        return text

    def check(self, value: Any, entry: str = "?") -> Any:
        """``value`` coerced to the parameter's type, or :class:`ParameterError`."""
        def fail(why: str) -> ParameterError:
            return ParameterError(f"entry {entry!r}: parameter {self.name!r}={value!r} {why}; "
                                  f"accepted: {self.accepted()}")

        out = coerce(self.type, value)
        if out is BAD:
            raise fail(f"is not a {self.type}")
        if self.type == "mlist":
            if self.allowed is not None:
                bad = [v for v in out if v not in self.allowed]
                if bad:
                    raise fail(f"has items {bad!r} that are not allowed")
            return out
        try:
            if self.min is not None and out < self.min:
                raise fail(f"is below the minimum {show_value(self.min)}")
            if self.max is not None and out > self.max:
                raise fail(f"is above the maximum {show_value(self.max)}")
        except TypeError as exc:  # incomparable, e.g. naive vs aware datetimes
            raise fail(f"cannot be compared with the bounds ({exc})") from exc
        if self.allowed is not None and out not in self.allowed:
            raise fail("is not allowed")
        return out

    def validate(self, value: Any) -> Any:
        """intake's name for :meth:`check`."""
        return self.check(value)

    def expand_defaults(self, client: bool = False, getenv: bool = True, getshell: bool = False) -> None:
        """No-op: shell and environment expansion of defaults is not supported (remote catalogs)."""
        self.expanded_default = self.default


def show_value(value: Any) -> str:
    """A parameter value as a reader writes it: dates without a zero time of day.

    Examples
    --------
    >>> import datetime
    >>> show_value(datetime.datetime(2020, 2, 5)), show_value(datetime.datetime(2020, 2, 5, 13))
    ('2020-02-05', '2020-02-05 13:00:00')
    """
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ") if (value.hour or value.minute or value.second) else value.date().isoformat()
    return str(value)


def parse_parameters(spec: Any, where: str) -> dict[str, Parameter]:
    """The ``parameters:`` mapping of a catalog entry or file as :class:`Parameter` objects.

    Raises
    ------
    CatalogError
        Not a mapping, unknown keys, or values that do not fit the type.

    Examples
    --------
    >>> parse_parameters({"dt": {"type": "int", "default": 10, "allowed": [10, 20]}}, "bco")["dt"].accepted()
    'int, one of [10, 20]'
    """
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise CatalogError(f"{where}: 'parameters' must be a mapping of name to parameter, not {type(spec).__name__}")
    out = {}
    for name, attrs in spec.items():
        if not isinstance(attrs, dict):
            raise CatalogError(f"{where}: parameter {name!r} must be a mapping (description, type, default...)")
        known = {"description", "type", "default", "min", "max", "allowed"}
        extra = set(attrs) - known
        if extra:
            raise CatalogError(f"{where}: parameter {name!r} has unknown keys {sorted(extra)}; known: {sorted(known)}")
        try:
            out[str(name)] = Parameter(str(name), **attrs)
        except CatalogError as exc:
            raise CatalogError(f"{where}: {exc}") from exc
    return out

