"""Settings: every value the package uses, where it came from, resolved once.

Every setting is resolved in one documented order; the first that is set wins:

1. the keyword argument of the call (``get_intake_catalog(catalog_url=...)``),
2. the environment variable (``EUREC4A_CATALOG_URL`` ...),
3. the configuration file (``$EUREC4A_CONFIG``, else ``<user config dir>/eurec4a/config.json``),
4. the default, which points at the real EUREC4A infrastructure.

IPFS gateways form an ordered list instead, built from every source (see
:func:`resolve_gateways`): ``gateways=`` replaces discovery; otherwise
``IPFS_GATEWAY`` (IPIP-280), ipfsspec's ``IPFSSPEC_GATEWAYS``, the configuration
file's ``gateways``, the ``gateway`` file of a local node (``$IPFS_PATH/gateway`` or
``~/.ipfs/gateway``), then the fallbacks (``EUREC4A_IPFS_GATEWAYS``, default: public
gateways).

:class:`Settings` holds all of them, each as a :class:`Setting` with its value and
:class:`Source`. It is resolved once per call of the public API and handed down as
constructor arguments (the ``ipfs`` filesystem, the cache, the pointer fetch, the
drivers), the way fsspec passes its configuration; no other module reads the
environment. ``eurec4a doctor`` prints it.

Invalid values are refused when they are resolved, with a
:class:`~eurec4a.errors.ConfigurationError` naming the setting, where it came from
and the accepted form.

Examples
--------
>>> import os
>>> os.environ["EUREC4A_CATALOG_URL"] = "http://127.0.0.1:8000/catalog.yml"
>>> s = resolve("catalog_url")
>>> s.value, s.source.name, s.origin
('http://127.0.0.1:8000/catalog.yml', 'ENVIRONMENT', 'EUREC4A_CATALOG_URL')
>>> resolve("catalog_url", "http://example.org/catalog.yml").source
<Source.ARGUMENT: 'argument'>
>>> del os.environ["EUREC4A_CATALOG_URL"]
>>> os.environ["EUREC4A_TIMEOUT"] = "-1"
>>> resolve("timeout")
Traceback (most recent call last):
...
eurec4a.errors.ConfigurationError: timeout='-1' (environment variable EUREC4A_TIMEOUT) is not valid: expected a positive number of seconds, e.g. 30.
>>> del os.environ["EUREC4A_TIMEOUT"]
"""
from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

from eurec4a.errors import ConfigurationError

try:
    from eurec4a._version import version as __version__
except ImportError:  # pragma: no cover - running from a tree without setuptools_scm output
    __version__ = "0.0.0+unknown"

logger = logging.getLogger(__name__)

__all__ = [
    "USER_AGENT",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "REQUEST_DEADLINE",
    "DEFAULT_CATALOG_URL",
    "DEFAULT_POINTER_URL",
    "DEFAULT_FLIGHT_SEGMENTS_URL",
    "DEFAULT_PUBLIC_GATEWAYS",
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_POINTER_TTL",
    "ENVIRONMENT",
    "Source",
    "Setting",
    "Settings",
    "resolve",
    "resolve_gateways",
    "config_file_path",
    "parse_size",
    "format_size",
]

#: Sent with every request, so server operators can see who asks (and which version).
USER_AGENT = f"eurec4a/{__version__} (+https://github.com/eurec4a/eurec4a-intake)"
#: Seconds to wait for a TCP connection; a server that does not answer by then is down for us.
CONNECT_TIMEOUT = 5.0
#: Default seconds to wait between bytes of an answer (``timeout``).
READ_TIMEOUT = 30.0
#: Default seconds one request may take in total, whatever the server does (``deadline``).
REQUEST_DEADLINE = 60.0

DEFAULT_CATALOG_URL = "https://raw.githubusercontent.com/eurec4a/eurec4a-intake/master/catalog.yml"
DEFAULT_POINTER_URL = "https://raw.githubusercontent.com/eurec4a/ipfs_tools/main/cids.json"
DEFAULT_FLIGHT_SEGMENTS_URL = "https://github.com/eurec4a/flight-phase-separation/releases"
#: Used only when no gateway is configured and no local node is found, with a one-time warning.
DEFAULT_PUBLIC_GATEWAYS = ("https://ipfs.io", "https://dweb.link", "https://trustless-gateway.link")
#: The cache's size limit when none is set: 10 GiB.
DEFAULT_CACHE_SIZE = 10 * 1024**3
#: Seconds a fetched pointer file stays fresh before it is asked for again.
DEFAULT_POINTER_TTL = 600.0


class Source(enum.Enum):
    """Where a setting's value came from, in the order they are consulted."""

    ARGUMENT = "argument"
    ENVIRONMENT = "environment"
    CONFIG_FILE = "configuration file"
    LOCAL_NODE = "local IPFS node"
    DEFAULT = "default"


@dataclasses.dataclass(frozen=True)
class Setting:
    """A resolved setting: its value, its :class:`Source`, and which variable or file set it.

    Examples
    --------
    >>> Setting("timeout", 30.0, Source.DEFAULT).describe()
    'default'
    >>> Setting("timeout", 5.0, Source.ENVIRONMENT, "EUREC4A_TIMEOUT").describe()
    'environment (EUREC4A_TIMEOUT)'
    """

    name: str
    value: Any
    source: Source
    origin: str = ""

    def describe(self) -> str:
        """The source in words, with the variable or file that set it."""
        return f"{self.source.value} ({self.origin})" if self.origin else self.source.value


# ---------------------------------------------------------------- value parsers

_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1024**4, "tb": 1000**4, "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
SIZE_FORMS = ("a non-negative number of bytes, optionally with a unit, e.g. 0 (no caching), "
              "1048576, 500MiB, 10GiB or 10GB (KiB/MiB/GiB/TiB: powers of 1024; kB/MB/GB/TB: powers of 1000)")


def parse_size(value: Any, *, setting: str = "cache_size") -> int:
    """Turn a size such as ``"10GiB"``, ``"500 MB"``, ``"0"`` or ``1024`` into bytes.

    Raises
    ------
    ConfigurationError
        The value is negative or not a size; the message names ``setting``.

    Examples
    --------
    >>> parse_size("10GB"), parse_size("500 MiB"), parse_size(0)
    (10000000000, 524288000, 0)
    >>> parse_size("lots")
    Traceback (most recent call last):
    ...
    eurec4a.errors.ConfigurationError: cache_size='lots' is not valid: expected a non-negative number of bytes, ...
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= 0:
            return value
    elif isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match and match.group(2).lower() in _UNITS:
            number, unit = match.groups()
            return int(float(number) * _UNITS[unit.lower()])
    raise ConfigurationError(f"{setting}={value!r} is not valid: expected {SIZE_FORMS}.")


def format_size(nbytes: int | float) -> str:
    """Bytes in IEC units, the one size format the package prints.

    Examples
    --------
    >>> format_size(9876), format_size(10 * 1024**3), format_size(512)
    ('9.6 KiB', '10.0 GiB', '512 B')
    """
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _seconds(allow_zero: bool) -> Callable[[Any, str], float]:
    def parse(value: Any, where: str) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
            kind = "a non-negative" if allow_zero else "a positive"
            example = "600" if allow_zero else "30"
            raise ConfigurationError(f"{where} is not valid: expected {kind} number of seconds, e.g. {example}.")
        return seconds
    return parse


#: URL schemes accepted for the catalog, the pointer file and the flight segments.
URL_SCHEMES = ("http", "https", "file", "ipfs")


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where} is not valid: expected a URL such as https://example.org/catalog.yml.")
    text = value.strip()
    if "::" in text:
        return text  # fsspec chained URL (simplecache::https://...): each part is checked when opened
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if match is None:
        return text  # a local path
    if match.group(1).lower() not in URL_SCHEMES:
        raise ConfigurationError(
            f"{where} is not valid: unknown URL scheme {match.group(1)!r}; "
            f"accepted: {', '.join(s + '://' for s in URL_SCHEMES)} or a local path."
        )
    return text


def _path(value: Any, where: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConfigurationError(f"{where} is not valid: expected a folder path such as /tmp/eurec4a-cache.")
    return Path(os.path.expanduser(str(value).strip())).absolute()


def _optional_path(value: Any, where: str) -> Path | None:
    return None if value is None else _path(value, where)


def _size(value: Any, where: str) -> int:
    try:
        return parse_size(value, setting=where.split("=", 1)[0])
    except ConfigurationError:
        raise ConfigurationError(f"{where} is not valid: expected {SIZE_FORMS}.") from None


def _gateway_list(value: Any, where: str) -> list[str]:
    items = re.split(r"[\s,]+", value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(u, str) for u in items):
        raise ConfigurationError(f"{where} is not valid: expected gateway URLs such as http://127.0.0.1:8080, "
                                 "as a list or separated by commas or spaces.")
    return [_gateway_url(u, where) for u in items if u.strip()]


def _gateway_url(url: str, where: str) -> str:
    text = url.strip().rstrip("/")
    if text.endswith("/ipfs"):
        text = text[: -len("/ipfs")]
    if not re.match(r"^https?://[^/\s]+", text):
        raise ConfigurationError(f"{where} is not valid: gateway {url!r} is not an http:// or https:// URL "
                                 "(e.g. http://127.0.0.1:8080).")
    return text


@dataclasses.dataclass(frozen=True)
class _Spec:
    env: str | None
    default: Any
    parse: Callable[[Any, str], Any]
    doc: str


#: Every single-valued setting: environment variable, default, parser, meaning.
SPECS: dict[str, _Spec] = {
    "catalog_url": _Spec("EUREC4A_CATALOG_URL", DEFAULT_CATALOG_URL, _url, "the classic catalog's root file"),
    "pointer_url": _Spec("EUREC4A_CID_POINTER_URL", DEFAULT_POINTER_URL, _url, "the pointer file naming the latest IPFS catalog"),
    "pointer_ttl": _Spec("EUREC4A_POINTER_TTL", DEFAULT_POINTER_TTL, _seconds(True), "seconds a fetched pointer file stays fresh"),
    "pointer_snapshot": _Spec("EUREC4A_POINTER_SNAPSHOT", None, _optional_path, "a pointer snapshot to fall back on offline"),
    "flight_segments_url": _Spec("EUREC4A_FLIGHT_SEGMENTS_URL", DEFAULT_FLIGHT_SEGMENTS_URL, _url,
                                 "the flight-phase-separation releases (…/latest/download/all_flights.yaml)"),
    "cache_dir": _Spec("EUREC4A_CACHE_DIR", None, _path, "the local cache folder"),
    "cache_size": _Spec("EUREC4A_CACHE_SIZE", DEFAULT_CACHE_SIZE, _size, "the cache's size limit"),
    "timeout": _Spec("EUREC4A_TIMEOUT", READ_TIMEOUT, _seconds(False), "seconds to wait for the next bytes of an answer"),
    "deadline": _Spec("EUREC4A_DEADLINE", REQUEST_DEADLINE, _seconds(False), "seconds one request may take in total"),
    "fallback_gateways": _Spec("EUREC4A_IPFS_GATEWAYS", list(DEFAULT_PUBLIC_GATEWAYS), _gateway_list,
                               "gateways tried after the configured ones"),
}
#: Keys the configuration file may hold: the settings above, plus ``gateways``.
CONFIG_KEYS = tuple(SPECS) + ("gateways",)
#: Every environment variable the package reads, by setting name.
ENVIRONMENT = {name: spec.env for name, spec in SPECS.items() if spec.env} | {
    "gateway": "IPFS_GATEWAY",
    "ipfsspec_gateways": "IPFSSPEC_GATEWAYS",
    "ipfs_path": "IPFS_PATH",
    "config_file": "EUREC4A_CONFIG",
}


def _default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("eurec4a"))


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the configuration file is looked for (``$EUREC4A_CONFIG`` overrides).

    Examples
    --------
    >>> config_file_path({"EUREC4A_CONFIG": "/etc/eurec4a.json"}).as_posix()
    '/etc/eurec4a.json'
    """
    env = os.environ if environ is None else environ
    if env.get("EUREC4A_CONFIG"):
        return Path(env["EUREC4A_CONFIG"])
    import platformdirs

    return Path(platformdirs.user_config_dir("eurec4a")) / "config.json"


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        warnings.warn(f"cannot read the configuration file {path} ({exc}); it is ignored.", stacklevel=4)
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"the configuration file {path} is not valid JSON ({exc}). Fix it or remove it; it holds an "
            'object such as {"catalog_url": "https://...", "gateways": ["http://127.0.0.1:8080"]} '
            "(EUREC4A_CONFIG names another file)."
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"the configuration file {path} must hold a JSON object, not a "
                                 f"{type(data).__name__} (EUREC4A_CONFIG names another file).")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        warnings.warn(f"the configuration file {path} has unknown keys {unknown}; they are ignored. "
                      f"Known keys: {', '.join(CONFIG_KEYS)}.", stacklevel=4)
    return data


def _local_node_gateway(env: Mapping[str, str]) -> tuple[str, Path] | None:
    base = Path(env["IPFS_PATH"]) if env.get("IPFS_PATH") else Path.home() / ".ipfs"
    path = base / "gateway"
    try:
        line = path.read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return (line, path) if line else None


class _Resolver:
    """Reads the environment and the configuration file once, then answers for every setting."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self.env = dict(os.environ if environ is None else environ)
        self.config_path = config_file_path(self.env)
        self.file = _read_config_file(self.config_path)

    def one(self, name: str, argument: Any = None) -> Setting:
        if name not in SPECS:
            raise KeyError(f"unknown setting {name!r}; known: {', '.join(sorted(SPECS))}")
        spec = SPECS[name]
        if argument is not None:
            source, origin, raw = Source.ARGUMENT, "", argument
        elif spec.env and self.env.get(spec.env, "").strip():
            source, origin, raw = Source.ENVIRONMENT, spec.env, self.env[spec.env]
        elif self.file.get(name) is not None:
            source, origin, raw = Source.CONFIG_FILE, str(self.config_path), self.file[name]
        else:
            if name == "cache_dir":
                return Setting(name, _default_cache_dir(), Source.DEFAULT)
            return Setting(name, spec.default, Source.DEFAULT)
        where = f"{name}={raw!r}" + (f" ({'environment variable ' if source is Source.ENVIRONMENT else ''}{origin})"
                                     if origin else "")
        return Setting(name, spec.parse(raw, where), source, origin)

    def gateways(self, argument: Any = None) -> list[Setting]:
        if argument is not None:
            if isinstance(argument, str):
                argument = [argument]
            if not isinstance(argument, (list, tuple)) or not argument:
                raise ConfigurationError(f"gateways={argument!r} is not valid: expected a gateway URL or a "
                                         "non-empty list of URLs, e.g. ['http://127.0.0.1:8080'].")
            return _unique([Setting("gateway", u, Source.ARGUMENT)
                            for u in _gateway_list(list(argument), f"gateways={argument!r}")])
        found: list[Setting] = []
        for var in ("IPFS_GATEWAY", "IPFSSPEC_GATEWAYS"):
            raw = self.env.get(var, "").strip()
            if raw:
                where = f"{var}={raw!r}"
                found += [Setting("gateway", u, Source.ENVIRONMENT, var) for u in _gateway_list(raw, where)]
        if self.file.get("gateways") is not None:
            raw = self.file["gateways"]
            found += [Setting("gateway", u, Source.CONFIG_FILE, str(self.config_path))
                      for u in _gateway_list(raw, f"gateways={raw!r} ({self.config_path})")]
        node = _local_node_gateway(self.env)
        if node is not None:
            try:
                found.append(Setting("gateway", _gateway_url(node[0], str(node[1])), Source.LOCAL_NODE, str(node[1])))
            except ConfigurationError as exc:
                warnings.warn(f"the local IPFS node's gateway file is ignored: {exc}", stacklevel=4)
        fallback = self.one("fallback_gateways")
        found += [Setting("gateway", u, fallback.source, fallback.origin) for u in fallback.value]
        return _unique(found)


def _unique(settings: list[Setting]) -> list[Setting]:
    seen: set[str] = set()
    out = []
    for s in settings:
        if s.value not in seen:
            seen.add(s.value)
            out.append(s)
    return out


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting, resolved once: values and sources.

    Create it with :meth:`Settings.resolve`; read a value as ``settings.timeout``
    and its :class:`Setting` (value and source) as ``settings.setting("timeout")``.

    Examples
    --------
    >>> s = Settings.resolve(timeout=5, gateways="http://127.0.0.1:8080", environ={})
    >>> s.timeout, s.gateways, s.setting("timeout").source
    (5.0, ['http://127.0.0.1:8080'], <Source.ARGUMENT: 'argument'>)
    >>> s.setting("deadline").source.value
    'default'
    """

    values: dict[str, Setting]
    gateway_settings: tuple[Setting, ...]
    config_file: Path

    @classmethod
    def resolve(cls, *, environ: Mapping[str, str] | None = None, gateways: Any = None,
                **arguments: Any) -> "Settings":
        """Resolve every setting: arguments > environment > configuration file > default.

        Parameters
        ----------
        environ
            The environment to read (default: ``os.environ``).
        gateways
            A gateway URL or list; replaces gateway discovery.
        **arguments
            Values given by the caller, by setting name (``None`` means not given).

        Raises
        ------
        ConfigurationError
            A value is invalid, or a keyword is not a setting.
        """
        unknown = sorted(set(arguments) - set(SPECS))
        if unknown:
            raise ConfigurationError(f"unknown setting(s) {unknown}; known: {', '.join(sorted(SPECS))}.")
        resolver = _Resolver(environ)
        values = {name: resolver.one(name, arguments.get(name)) for name in SPECS}
        return cls(values, tuple(resolver.gateways(gateways)), resolver.config_path)

    def setting(self, name: str) -> Setting:
        """The :class:`Setting` (value and source) of ``name``."""
        return self.values[name]

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name].value
        raise AttributeError(name)

    @property
    def gateways(self) -> list[str]:
        """The gateway URLs in the order they are asked."""
        return [s.value for s in self.gateway_settings]

    @property
    def public_gateways(self) -> frozenset[str]:
        """The gateways that are only there as public defaults (using one warns once)."""
        return frozenset(s.value for s in self.gateway_settings
                         if s.source is Source.DEFAULT and s.value in DEFAULT_PUBLIC_GATEWAYS)

    def all(self) -> list[Setting]:
        """Every setting, gateways last, for ``eurec4a doctor``."""
        return list(self.values.values()) + list(self.gateway_settings)


def resolve(name: str, argument: Any = None, *, environ: Mapping[str, str] | None = None) -> Setting:
    """Resolve one setting ``name``: argument > environment > configuration file > default.

    Examples
    --------
    >>> resolve("pointer_url", environ={}).source.value
    'default'
    """
    return _Resolver(environ).one(name, argument)


def resolve_gateways(argument: Any = None, *, environ: Mapping[str, str] | None = None) -> list[Setting]:
    """The ordered gateway list, each with its source (see the module docs for the order).

    Examples
    --------
    >>> [g.value for g in resolve_gateways(["http://127.0.0.1:8080/"])]
    ['http://127.0.0.1:8080']
    >>> [g.origin for g in resolve_gateways(environ={"IPFSSPEC_GATEWAYS": "http://a:1 http://b:2"})][:2]
    ['IPFSSPEC_GATEWAYS', 'IPFSSPEC_GATEWAYS']
    """
    return _Resolver(environ).gateways(argument)
