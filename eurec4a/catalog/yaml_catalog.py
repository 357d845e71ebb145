"""Open the EUREC4A intake catalog (intake V1 YAML) with intake 2 and intake-xarray 2.

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

Here every entry at every nesting level is created by :class:`Entry`, which
maps driver names through :data:`DRIVERS` (our sources in :mod:`eurec4a.catalog.sources`
and :class:`YAMLCatalog` first, intake's registry only for other names), renders
``args`` with jinja2 (sandboxed, undefined names are errors) from validated
parameters, propagates the root catalog's storage options to every URL of the
same protocol, and refuses to open a catalog file that is already open above
itself (:class:`CatalogCycleError`). YAML files are fetched and parsed once per
opened catalog tree (:func:`parse_yaml`: libyaml, objects built directly), and
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

import ast
import datetime as _dt
import functools
import inspect
import logging
import os
import posixpath
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fsspec
import yaml
from fsspec.core import split_protocol
from intake.catalog.base import Catalog
from intake.catalog.entry import CatalogEntry as _IntakeCatalogEntry
from intake.catalog.local import LocalCatalogEntry, UserParameter, YAMLFileCatalog

from eurec4a.catalog.sources import (
    JSONSource,
    NetCDFSource,
    OpenDapSource,
    ZarrSource,
    _family,
    url_protocols,
    with_default_timeouts,
)
from eurec4a.settings import ENVIRONMENT
from eurec4a.transport import http_get, http_get_many
from eurec4a.errors import (
    CatalogCycleError,
    EntryNotFoundError,
    CatalogError,
    CatalogNotFoundError,
    Eurec4aError,
    ParameterError,
    ServerUnreachableError,
)

__all__ = [
    "open_yaml_catalog",
    "YAMLCatalog",
    "Entry",
    "Parameter",
    "DRIVERS",
    "known_drivers",
    "resolve_driver",
    "normalize_url",
    "parse_yaml",
]

logger = logging.getLogger(__name__)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Threads fetching catalog files at once from filesystems without an async API (``ipfs``).
PREFETCH_WORKERS = 16

#: Parameter types of intake V1 catalogs (``type:`` of a parameter).
PARAMETER_TYPES = ("bool", "datetime", "dict", "float", "int", "list", "mlist", "str", "tuple", "unicode", "other")


# --------------------------------------------------------------------------------------
# URLs and storage options
# --------------------------------------------------------------------------------------
def normalize_url(url: str) -> str:
    """One spelling per file: absolute local paths, ``.``/``..``/``//`` removed from URL paths.

    Used as the key of the parse cache and of cycle detection. Chained URLs
    (``simplecache::https://...``) are returned unchanged.

    Examples
    --------
    >>> normalize_url("https://example.org/cat/./HALO/../main.yaml")
    'https://example.org/cat/main.yaml'
    >>> normalize_url("file:///data//cat.yml")
    '/data/cat.yml'
    """
    url = os.fspath(url)
    if "::" in url:
        return url
    proto, rest = split_protocol(url)
    if proto in (None, "file", "local"):
        path = rest if proto else url
        return os.path.normpath(os.path.abspath(os.path.expanduser(path))).replace(os.sep, "/")
    head, sep, tail = rest.partition("/")
    tail = posixpath.normpath("/" + tail) if sep else ""
    return f"{proto}://{head}{tail if tail != '/' else ''}"


def _parent_dir(url: str) -> str:
    """``CATALOG_DIR`` of a catalog file: its URL up to the last ``/`` (no trailing slash)."""
    if "::" in url or "://" in url:
        return url.rsplit("/", 1)[0]
    return posixpath.dirname(url) or "/"


class _Session:
    """State shared by every catalog opened below one :func:`open_yaml_catalog` call.

    Holds the root's storage options (applied to every URL of the root's
    protocol) and the parsed YAML of every file read, so a file included from
    several places, or a catalog re-created with parameters, is fetched and
    parsed once.
    """

    def __init__(self, root_url: str, storage_options: dict[str, Any] | None):
        self.root_options = dict(storage_options or {})
        protos = url_protocols(root_url)
        # Options of a chained root URL are already keyed by protocol: not propagated.
        self.root_family = _family(protos[0]) if len(protos) == 1 else None
        self._parsed: dict[str, Any] = {}
        self._raw: dict[str, bytes] = {}  # fetched by prefetch(), not parsed yet
        self._filesystems: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}

    def options_for(self, url: Any, explicit: dict[str, Any] | None = None) -> dict[str, Any]:
        """Storage options for ``url``: its own (``explicit``) over the root's, when the protocols match."""
        out = dict(explicit or {})
        if not self.root_options or self.root_family is None or not isinstance(url, str):
            return out
        protos = url_protocols(url)
        if len(protos) == 1:
            if _family(protos[0]) == self.root_family:
                return {**self.root_options, **out}
            return out
        for proto in protos[1:]:
            if _family(proto) == self.root_family:
                out[proto] = {**self.root_options, **(out.get(proto) or {})}
        return out

    def load_yaml(self, url: str, explicit: dict[str, Any] | None = None) -> dict[str, Any]:
        """The parsed catalog file at ``url`` (cached)."""
        with self._lock:
            if url in self._parsed:
                return self._parsed[url]
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:  # two threads asking for one file fetch it once
            with self._lock:
                if url in self._parsed:
                    return self._parsed[url]
                raw = self._raw.pop(url, None)
            data = self._fetch_and_parse(url, explicit, raw)
            with self._lock:
                self._parsed[url] = data
            return data

    def _filesystem(self, url: str, explicit: dict[str, Any] | None = None):
        """``(filesystem, path)`` for ``url`` with the session's options (one lookup per protocol and options)."""
        key = (url.split("://", 1)[0] if "://" in url else "", repr(explicit) if explicit else "")
        fs = self._filesystems.get(key)
        if fs is None or "::" in url:
            opts = self.options_for(url, explicit)
            protos = url_protocols(url)
            if len(protos) == 1:
                opts = with_default_timeouts(protos[0], opts)
            fs, fspath = fsspec.core.url_to_fs(url, **opts)
            if "::" not in url:
                self._filesystems[key] = fs
            return fs, fspath
        return fs, fs._strip_protocol(url)

    def prefetch(self, urls: Any) -> None:
        """Fetch the remote catalog files at ``urls`` all at once, ahead of :meth:`load_yaml`.

        Files already parsed or fetched, local files, and files a filesystem says it
        holds locally (``fs.has_local(path)``, e.g. the ``ipfs`` block cache) are
        skipped. Asynchronous filesystems (``http``) get every request in one
        ``asyncio.gather``, others a thread pool, so a level of a catalog tree costs one
        round trip. Nothing is raised here: a file that fails is fetched again, and its
        error raised, when the catalog is opened.
        """
        with self._lock:
            todo = [u for u in dict.fromkeys(urls) if u not in self._parsed and u not in self._raw]
        groups: dict[int, tuple[Any, list[tuple[str, str]]]] = {}
        plain_http = [u for u in todo if _plain_http(u)]
        if len(plain_http) >= 2:  # eurec4a.transport: deadline, size cap, checked redirects
            results = http_get_many(plain_http, setting=_CATALOG_SETTING, **_http_limits(self.root_options))
            with self._lock:
                for url, raw in zip(plain_http, results):
                    if isinstance(raw, bytes) and url not in self._parsed:
                        self._raw[url] = raw
                    elif not isinstance(raw, bytes):
                        logger.debug("prefetch of %s failed: %r", url, raw)
        for url in todo:
            if "::" in url or url_protocols(url)[0] in ("file", "local") or _plain_http(url):
                continue
            try:
                fs, path = self._filesystem(url)
                has_local = getattr(fs, "has_local", None)
                if has_local is not None and has_local(path):
                    continue
            except Exception:  # reported when the catalog is opened
                logger.debug("prefetch of %s skipped", url, exc_info=True)
                continue
            groups.setdefault(id(fs), (fs, []))[1].append((url, path))
        for fs, items in groups.values():
            if len(items) < 2:
                continue  # one file: no round trip to save; load_yaml fetches it
            if getattr(fs, "async_impl", False) and getattr(fs, "loop", None) is not None:
                results = _gather_cat(fs, [path for _, path in items])
            else:
                with ThreadPoolExecutor(max_workers=min(PREFETCH_WORKERS, len(items))) as pool:
                    results = list(pool.map(lambda item: _try_cat(fs, item[1]), items))
            with self._lock:
                for (url, _), raw in zip(items, results):
                    if isinstance(raw, bytes) and url not in self._parsed:
                        self._raw[url] = raw
                    elif not isinstance(raw, bytes):
                        logger.debug("prefetch of %s failed: %r", url, raw)

    def _fetch_and_parse(self, url: str, explicit: dict[str, Any] | None, raw: bytes | None = None) -> dict[str, Any]:
        try:
            if raw is None and _plain_http(url):
                raw = http_get(url, setting=_CATALOG_SETTING, **_http_limits(self.options_for(url, explicit)))
            elif raw is None:
                # cat_file: one GET per file (open() would first ask for the size).
                fs, fspath = self._filesystem(url, explicit)
                raw = fs.cat_file(fspath)
        except Eurec4aError:
            raise
        except FileNotFoundError as exc:
            raise CatalogNotFoundError(f"catalog file {url} does not exist ({exc})") from exc
        except IsADirectoryError as exc:
            raise CatalogNotFoundError(f"catalog file {url} is a directory ({exc})") from exc
        except Exception as exc:
            if _is_network_error(exc):
                raise ServerUnreachableError(f"cannot read catalog file {url}: {type(exc).__name__}: {exc}") from exc
            raise
        try:
            data = parse_yaml(raw)
        except yaml.YAMLError as exc:
            raise CatalogError(f"catalog file {url} is not valid YAML: {exc}") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise CatalogError(f"catalog file {url} must hold a mapping, not a {type(data).__name__}")
        meta = data.get("metadata") or {}
        if not isinstance(meta, dict):
            raise CatalogError(f"catalog file {url}: 'metadata' must be a mapping, not a {type(meta).__name__}")
        version = data.get("version") or meta.get("version") or 1
        if not isinstance(version, (int, float)) or version > 1:
            raise CatalogError(f"catalog file {url} is an intake V2 catalog (version: {version!r}); "
                               "this catalog reader opens intake V1 YAML catalogs only")
        sources = data.get("sources")
        if sources is not None and not isinstance(sources, dict):
            raise CatalogError(f"catalog file {url}: 'sources' must be a mapping of entry name to entry")
        return data


_YAML = "tag:yaml.org,2002:"
#: Scalar tags whose PyYAML constructors :func:`parse_yaml` calls directly (plain functions).
_YAML_SCALARS = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "timestamp"))


class _SlowPath(Exception):
    """The document uses a YAML feature :func:`parse_yaml` leaves to ``yaml.load``."""


def parse_yaml(raw: bytes | str) -> Any:
    """The same as ``yaml.load(raw, Loader=CSafeLoader)``, in about two thirds of the time.

    libyaml parses and composes the document (in C); PyYAML's constructor then
    visits every node generically (two-step generators for recursive structures,
    per-node bookkeeping), which is most of the time a catalog file takes to load.
    Here mappings, sequences and strings are built directly, the other plain
    scalars (null, bool, int, float, timestamp) by PyYAML's own constructors, and
    anchors keep their sharing. Anything else (merge keys ``<<``, ``!!set``,
    ``!!binary``, custom tags, unhashable keys) sends the whole document to
    ``yaml.load``, so the result and the errors are PyYAML's.

    Examples
    --------
    >>> parse_yaml(b"a: [1, 2.5, x, null, 2020-02-01]")
    {'a': [1, 2.5, 'x', None, datetime.date(2020, 2, 1)]}
    """
    if not hasattr(yaml, "CSafeLoader"):
        return yaml.load(raw, Loader=_Loader)
    loader = yaml.CSafeLoader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _construct(node, loader, {})
    except _SlowPath:
        pass
    except TypeError:  # e.g. an unhashable mapping key: PyYAML's error message is better
        pass
    finally:
        loader.dispose()
    return yaml.load(raw, Loader=_Loader)


def _construct(node: Any, loader: Any, shared: dict[int, Any]) -> Any:
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        if tag == _YAML + "str":
            return node.value
        if tag in _YAML_SCALARS:
            return loader.yaml_constructors[tag](loader, node)
        raise _SlowPath(tag)
    hit = shared.get(id(node))
    if hit is not None:  # an alias: the same object, as PyYAML gives
        return hit
    if isinstance(node, yaml.MappingNode) and tag == _YAML + "map":
        out: dict[Any, Any] = {}
        shared[id(node)] = out
        for key, value in node.value:
            if key.tag == _YAML + "merge":
                raise _SlowPath(key.tag)
            out[_construct(key, loader, shared)] = _construct(value, loader, shared)
        return out
    if isinstance(node, yaml.SequenceNode) and tag == _YAML + "seq":
        items: list[Any] = []
        shared[id(node)] = items
        items.extend(_construct(value, loader, shared) for value in node.value)
        return items
    raise _SlowPath(tag)


#: Named in errors of catalog files read over http(s).
_CATALOG_SETTING = f"catalog_url ({ENVIRONMENT['catalog_url']})"


def _plain_http(url: str) -> bool:
    """An ``http(s)://`` URL without chaining: read with :mod:`eurec4a.transport`."""
    return isinstance(url, str) and "::" not in url and url.lower().startswith(("http://", "https://"))


def _http_limits(options: dict[str, Any]) -> dict[str, Any]:
    """``timeout``/``deadline`` for :mod:`eurec4a.transport` from fsspec-style http options (``None``: the settings)."""
    limits = (options.get("client_kwargs") or {}).get("timeout")
    return {"timeout": getattr(limits, "sock_read", None), "deadline": getattr(limits, "total", None)}


def _try_cat(fs: Any, path: str) -> bytes | BaseException:
    try:
        return fs.cat_file(path)
    except Exception as exc:  # handed back, raised later by load_yaml
        return exc


def _gather_cat(fs: Any, paths: list[str]) -> list[bytes | BaseException]:
    """``fs._cat_file`` of every path concurrently on the filesystem's event loop."""
    import asyncio

    from fsspec.asyn import sync

    async def gather():
        return await asyncio.gather(*(fs._cat_file(p) for p in paths), return_exceptions=True)

    try:
        return sync(fs.loop, gather)
    except Exception as exc:  # e.g. the loop is gone: fetch one by one later
        return [exc] * len(paths)


def _is_network_error(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - aiohttp is a dependency of the data extra
        return False
    return isinstance(exc, aiohttp.ClientError)


# --------------------------------------------------------------------------------------
# Parameters and templates
# --------------------------------------------------------------------------------------
_BAD = object()


def _coerce(ptype: str, value: Any) -> Any:
    """``value`` as ``ptype``, or ``_BAD``. Strings are parsed; nothing is silently truncated."""
    if value is None:
        return None
    if ptype in ("str", "unicode"):
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return _BAD
    if ptype == "int":
        if isinstance(value, bool):
            return _BAD
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value.is_integer() else _BAD
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                return _BAD
        return _BAD
    if ptype == "float":
        if isinstance(value, bool):
            return _BAD
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                return _BAD
        return _BAD
    if ptype == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return _BAD
    if ptype == "datetime":
        if isinstance(value, _dt.datetime):
            return value
        if isinstance(value, _dt.date):
            return _dt.datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            try:
                return _dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return _BAD
        if hasattr(value, "to_pydatetime"):  # pandas.Timestamp, numpy via pandas
            return value.to_pydatetime()
        return _BAD
    if ptype in ("list", "mlist", "tuple", "dict"):
        kind = {"list": list, "mlist": list, "tuple": tuple, "dict": dict}[ptype]
        if isinstance(value, str):
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return _BAD
        if kind is dict:
            return dict(value) if isinstance(value, dict) else _BAD
        if isinstance(value, (list, tuple, set)):
            return kind(value)
        return _BAD
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
        self.description = description
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
        default_value = _coerce(ptype, default)
        self.default = None if default_value is _BAD else default_value
        self.expanded_default = self.default

    def _coerce_spec(self, what: str, value: Any, ptype: str | None = None) -> Any:
        if value is None:
            return None
        out = _coerce(ptype or self.type, value)
        if out is _BAD:
            raise CatalogError(f"parameter {self.name!r}: {what} value {value!r} is not a {ptype or self.type}")
        return out

    def accepted(self) -> str:
        """What the parameter accepts, in words: ``"float in [1.0, 1.1]"``, ``"str, one of [...]"``."""
        return self.type + self.constraints()

    def constraints(self) -> str:
        """The allowed values and range, in words (``", one of [...]"``, ``" in [lo, hi]"``), or ``""``."""
        text = ""
        if self.allowed is not None:
            text += f", one of {[_show(v) for v in self.allowed]}"
        if self.min is not None or self.max is not None:
            lo = "" if self.min is None else _show(self.min)
            hi = "" if self.max is None else _show(self.max)
            text += f" in [{lo}, {hi}]"
        return text

    def check(self, value: Any, entry: str = "?") -> Any:
        """``value`` coerced to the parameter's type, or :class:`ParameterError`."""
        def fail(why: str) -> ParameterError:
            return ParameterError(f"entry {entry!r}: parameter {self.name!r}={value!r} {why}; "
                                  f"accepted: {self.accepted()}")

        out = _coerce(self.type, value)
        if out is _BAD:
            raise fail(f"is not a {self.type}")
        if self.type == "mlist":
            if self.allowed is not None:
                bad = [v for v in out if v not in self.allowed]
                if bad:
                    raise fail(f"has items {bad!r} that are not allowed")
            return out
        try:
            if self.min is not None and out < self.min:
                raise fail(f"is below the minimum {_show(self.min)}")
            if self.max is not None and out > self.max:
                raise fail(f"is above the maximum {_show(self.max)}")
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


def _show(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ") if (value.hour or value.minute or value.second) else value.date().isoformat()
    return str(value)


def _parse_parameters(spec: Any, where: str) -> dict[str, Parameter]:
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


def _render(obj: Any, context: dict[str, Any], where: str, missing: dict[str, Any] | None = None) -> Any:
    """``obj`` with every string rendered as a jinja2 template in ``context``.

    ``missing`` maps parameters that have no value (no default, not given) to
    their :class:`Parameter`: a template that uses one is a :class:`ParameterError`.
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
        return {k: _render(v, context, where, missing) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_render(v, context, where, missing) for v in obj)
    return obj


# --------------------------------------------------------------------------------------
# Drivers
# --------------------------------------------------------------------------------------
_RESOLVED: dict[str, Any] = {}
_RESOLVE_LOCK = threading.Lock()


def known_drivers() -> list[str]:
    """Driver names an entry may use: this package's, then intake's registry."""
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


def _accepted_kwargs(cls: type) -> tuple[set[str], bool]:
    """Names of ``cls.__init__``'s keyword arguments, and whether it takes ``**kwargs``."""
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # pragma: no cover
        return set(), True
    names = {p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and p.name not in ("self", "metadata") and not p.name.startswith("_")}
    varkw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    return names, varkw


# --------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------
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

    def __init__(self, name: str, spec: Any, catalog: "YAMLCatalog"):
        _IntakeCatalogEntry.__init__(self)
        self._name = name
        self._catalog = catalog
        self._catalog_dir = catalog._dir
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
        self._description = spec.get("description")
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
            self._own_parameters = _parse_parameters(spec.get("parameters"), f"entry {where!r} of {catalog.path}")
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
    def where(self) -> str:
        """The entry's dotted path from the root catalog (for messages)."""
        return ".".join(self._catalog._dotted + (self._name,))

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
        if not (inspect.isclass(cls) and issubclass(cls, YAMLCatalog)):
            return None
        _, args, _ = self._render_args({})
        path = args.get("path", args.get("urlpath"))
        return normalize_url(path) if isinstance(path, str) else None

    def _render_args(self, kwargs: dict[str, Any]) -> tuple[dict[str, Parameter], dict[str, Any], dict[str, Any]]:
        """Validate ``kwargs`` and render ``args``: (parameters, rendered args, parameter values)."""
        params = self.parameters()
        bound = self._catalog._bound
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
        args = _render(self._open_args, context, f"entry {self.where!r}", missing)
        return params, args, values

    def _split_kwargs(self, cls: type, kwargs: dict[str, Any]) -> tuple[dict, dict, dict]:
        """(parameters, driver arguments, left over) from the keyword arguments of a call."""
        params = self.parameters()
        names, varkw = _accepted_kwargs(cls)
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
        names, _ = _accepted_kwargs(cls)
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
        is_cat = inspect.isclass(cls) and issubclass(cls, YAMLCatalog)
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
        session = self._catalog._session
        names, varkw = _accepted_kwargs(cls)
        url = args.get("urlpath")
        if "storage_options" in names or varkw:
            opts = session.options_for(url, args.get("storage_options"))
            if opts:
                args["storage_options"] = opts
        metadata = {**self._metadata, "catalog_dir": self._catalog_dir}
        try:
            return cls(**args, metadata=metadata)
        except TypeError as exc:
            raise CatalogError(f"entry {self.where!r}: driver {cls.__name__} does not accept the entry's "
                               f"arguments {sorted(args)}: {exc}") from exc

    def _open_catalog(self, cls: type, args: dict[str, Any], params: dict[str, Parameter], values: dict[str, Any]):
        path = args.pop("path", None) or args.pop("urlpath", None)
        if not isinstance(path, str):
            raise CatalogError(f"entry {self.where!r}: a catalog entry needs args.path (the YAML file), got {path!r}")
        target = normalize_url(path)
        chain = self._catalog._chain
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
        return cls(
            target,
            storage_options=args.pop("storage_options", None),
            name=self._name,
            description=self._description,
            metadata=metadata,
            _session=self._catalog._session,
            _chain=chain,
            _dotted=self._catalog._dotted + (self._name,),
            _inherited=params,
            _bound=values,
            **args,
        )

    def needs_parameters(self) -> list[str]:
        """Parameters used by ``args`` that have no value unless given in the call."""
        try:
            params = self.parameters()
        except CatalogError:
            return []
        bound = self._catalog._bound
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


# --------------------------------------------------------------------------------------
# Catalogs
# --------------------------------------------------------------------------------------
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
    """

    name = "yaml_file_cat"
    container = "catalog"
    version = "1.0"

    def __init__(self, path: str, storage_options: dict[str, Any] | None = None, *,
                 name: str | None = None, description: str | None = None,
                 metadata: dict[str, Any] | None = None, ttl: float | None = None,
                 _session: _Session | None = None, _chain: tuple[str, ...] = (),
                 _dotted: tuple[str, ...] = (), _inherited: dict[str, Parameter] | None = None,
                 _bound: dict[str, Any] | None = None, autoreload: bool = False,
                 getenv: bool = True, getshell: bool = False, **kwargs: Any):
        if kwargs:
            raise CatalogError(f"catalog {path}: unknown arguments {sorted(kwargs)} for a YAML file catalog")
        self.path = normalize_url(path)
        self._session = _session or _Session(self.path, storage_options)
        own = dict(storage_options or {})
        self._explicit_options = own
        self._chain = tuple(_chain) + (self.path,)
        self._dotted = tuple(_dotted)
        self._inherited = dict(_inherited or {})
        self._bound = dict(_bound or {})
        self._dir = _parent_dir(self.path)
        self.autoreload = False
        self.filesystem = None
        self.access = True
        self.text = None
        Catalog.__init__(
            self, name=name, description=description, metadata=metadata, ttl=ttl,
            getenv=getenv, getshell=getshell,
            storage_options=self._session.options_for(self.path, own) or None,
        )

    def _load(self, reload: bool = False) -> None:
        data = self._session.load_yaml(self.path, self._explicit_options)
        where = ".".join(self._dotted) or self.path
        meta = data.get("metadata") or {}
        if not isinstance(meta, dict):
            raise CatalogError(f"catalog file {self.path}: 'metadata' must be a mapping")
        file_params = _parse_parameters(meta.get("parameters"), f"catalog {where!r} ({self.path})")
        self.user_parameters = {**self._inherited, **file_params}
        entries = {}
        for key, spec in (data.get("sources") or {}).items():
            entries[str(key)] = Entry(str(key), spec, self)
        self._entries = entries
        merged = {k: v for k, v in meta.items() if k != "parameters"}
        merged.update(self.metadata or {})
        self.metadata = merged
        self.name = self.name or data.get("name") or self.name_from_path
        self.description = self.description or data.get("description")

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


#: Driver name -> class. Applied to every entry of catalogs opened here, before
#: intake's registry (where intake-xarray registers the same names).
DRIVERS: dict[str, type] = {
    "opendap": OpenDapSource,
    "zarr": ZarrSource,
    "netcdf": NetCDFSource,
    "json": JSONSource,
    "yaml_file_cat": YAMLCatalog,
    "intake.catalog.local.YAMLFileCatalog": YAMLCatalog,
    "intake.catalog.local:YAMLFileCatalog": YAMLCatalog,
    "intake_xarray.opendap.OpenDapSource": OpenDapSource,
    "intake_xarray.netcdf.NetCDFSource": NetCDFSource,
    "intake_xarray.xzarr.ZarrSource": ZarrSource,
    "intake_xarray.OpenDapSource": OpenDapSource,
    "intake_xarray.NetCDFSource": NetCDFSource,
}


def open_yaml_catalog(urlpath: str, storage_options: dict[str, Any] | None = None, **kwargs: Any) -> YAMLCatalog:
    """Open an intake V1 YAML catalog file from a path or any fsspec URL.

    Every entry at every nesting level uses this package's drivers
    (:data:`DRIVERS`); ``storage_options`` are used to read ``urlpath`` and are
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
    return YAMLCatalog(os.fspath(urlpath), storage_options=storage_options, **kwargs)
