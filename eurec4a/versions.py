"""The pointer file (``cids.json``): which catalog CID is the latest, and its history.

Format::

    {"intake": {"latest": "<CID>",
                "versions": [{"date": "YYYY-MM-DD", "cid": "<CID>"}, ...]}}

Reading (:func:`get_latest_intake_cid`, :func:`get_catalog_versions`) is what users
need; writing (:func:`add_version`, :func:`update_pointer_file`) is what maintainers
need after publishing a new catalog version.

How a pointer is obtained, in order:

1. from memory, if this process fetched it already (at most one fetch per process
   and URL within the time to live);
2. from the on-disk copy in the cache, if younger than the time to live
   (``pointer_ttl``, default 600 s, ``EUREC4A_POINTER_TTL``);
3. from the server;
4. if the server cannot be reached: the last copy on disk, however old, with a
   warning that names its age; else the snapshot shipped inside the package
   (only for the URL it is a snapshot of), with a warning naming its date;
5. else :class:`~eurec4a.errors.ServerUnreachableError` naming the URL and the
   setting that changes it.

A pointer file that is not JSON or lacks ``intake.latest`` is never used: it is a
:class:`~eurec4a.errors.PointerFileError`, also when it is an old copy on disk.

Examples
--------
>>> doc = {"intake": {"latest": "QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N", "versions": []}}
>>> str(parse_pointer(doc).latest)
'QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N'
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import re
import logging
import math
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from multiformats import CID

from eurec4a import settings as config
from eurec4a.cache import Cache
from eurec4a.ipfs.cid import parse_cid
from eurec4a.errors import InvalidCIDError, PointerFileError, ServerUnreachableError
from eurec4a.transport import http_get

logger = logging.getLogger(__name__)

__all__ = [
    "CatalogVersion",
    "Pointer",
    "parse_pointer",
    "fetch_pointer",
    "get_latest_intake_cid",
    "get_catalog_versions",
    "SNAPSHOT_PATH",
    "MAX_POINTER_DEPTH",
    "json_depth",
    "clear_memo",
]

#: The snapshot of the community's pointer file shipped with each release.
SNAPSHOT_PATH = Path(__file__).parent / "data" / "cids.json"

_memo: dict[str, tuple[float, "Pointer"]] = {}
_memo_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class CatalogVersion:
    """One published catalog version: its date (``YYYY-MM-DD``) and root CID."""

    date: str
    cid: str


@dataclasses.dataclass(frozen=True)
class Pointer:
    """A parsed pointer file."""

    latest: CID
    versions: tuple[CatalogVersion, ...]
    raw: dict
    #: Where it came from: ``"server"``, or in words the cached copy or shipped snapshot used offline.
    origin: str = "server"


#: Deepest JSON nesting a pointer file may have (the real one has 4 levels).
MAX_POINTER_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(text: bytes | bytearray | str, limit: int | None = None) -> int:
    """How deep the arrays and objects of a JSON text nest, without parsing it.

    Checked before :func:`json.loads`, whose recursion a deeply nested document
    (``[[[[...]]]]`` 100,000 levels deep) would exhaust. Brackets inside strings do
    not count; the text need not be valid JSON. With ``limit``, counting stops at the
    first level beyond it (that level is returned).

    Examples
    --------
    >>> json_depth(b'{"intake": {"versions": [{"cid": "[["}]}}')
    4
    >>> json_depth("[" * 100000)
    100000
    >>> json_depth("[" * 100000, limit=32)
    33
    """
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    brackets = _JSON_STRING.sub(b"", bytes(text)).translate(None, _NOT_BRACKET)
    depth = deepest = 0
    for b in brackets:
        if b in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def parse_pointer(doc: Any, *, source: str = "pointer file") -> Pointer:
    """Validate a decoded pointer document (or its JSON text/bytes).

    Raises
    ------
    PointerFileError
        When it is not JSON, not an object, lacks ``intake.latest``, or holds a bad CID or date.

    Examples
    --------
    >>> parse_pointer(b"[]")
    Traceback (most recent call last):
    ...
    eurec4a.errors.PointerFileError: pointer file is not a JSON object ...
    """
    expected = 'expected {"intake": {"latest": "<CID>", "versions": [{"date": "YYYY-MM-DD", "cid": "<CID>"}]}}'
    if isinstance(doc, (bytes, bytearray, str)):
        if json_depth(doc, MAX_POINTER_DEPTH) > MAX_POINTER_DEPTH:
            raise PointerFileError(
                f"{source} nests its JSON more than {MAX_POINTER_DEPTH} levels deep; a pointer file has at most "
                f"{MAX_POINTER_DEPTH} levels. The server sent something else (broken or hostile): "
                f"check the setting pointer_url ({config.ENVIRONMENT['pointer_url']}); {expected}"
            )
        try:
            doc = json.loads(doc)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise PointerFileError(f"{source} is not valid JSON ({exc}); {expected}") from None
    if not isinstance(doc, dict):
        raise PointerFileError(f"{source} is not a JSON object (got {type(doc).__name__}); {expected}")
    intake = doc.get("intake")
    if not isinstance(intake, dict) or "latest" not in intake:
        raise PointerFileError(f"{source} has no 'intake.latest' entry; {expected}")
    try:
        latest = parse_cid(intake["latest"])
    except InvalidCIDError as exc:
        raise PointerFileError(f"{source}: 'intake.latest' is not a valid CID: {exc}") from None
    versions_raw = intake.get("versions", [])
    if not isinstance(versions_raw, list):
        raise PointerFileError(f"{source}: 'intake.versions' must be a list; {expected}")
    versions = []
    for i, item in enumerate(versions_raw):
        if not isinstance(item, dict) or not isinstance(item.get("date"), str) or "cid" not in item:
            raise PointerFileError(f"{source}: 'intake.versions[{i}]' must be an object with 'date' and 'cid'; {expected}")
        try:
            _dt.date.fromisoformat(item["date"])
            cid = parse_cid(item["cid"])
        except ValueError as exc:
            raise PointerFileError(f"{source}: 'intake.versions[{i}]' is invalid: {exc}") from None
        versions.append(CatalogVersion(item["date"], str(cid)))
    # newest first; stable for equal dates (the later entry in the file counts as newer)
    ordered = sorted(enumerate(versions), key=lambda iv: (iv[1].date, iv[0]), reverse=True)
    return Pointer(latest, tuple(v for _, v in ordered), doc)


#: Cache document namespace of pointer-file copies (:meth:`eurec4a.cache.Cache.put_document`).
DOCUMENT_NAMESPACE = "pointers"
#: A copy stored more than this many seconds in the future (a clock that jumped) has an unknown age.
CLOCK_SKEW = 60.0


def _read_disk(url: str, cache_dir: str | None = None) -> tuple[Pointer, float] | None:
    """The cached copy of the pointer at ``url`` and the time it was fetched, or ``None``."""
    try:
        found = Cache(config.resolve("cache_dir", cache_dir).value, 0).get_document(DOCUMENT_NAMESPACE, url)
    except Exception as exc:  # an unusable cache folder is a miss, never a failure here
        logger.debug("cannot read the cached pointer file: %s", exc)
        return None
    if found is None:
        return None
    data, stored = found
    if stored - time.time() > CLOCK_SKEW:
        stored = -math.inf  # its age is unknown: treat it as stale
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:
        return parse_pointer(doc, source="cached pointer file"), stored
    except PointerFileError:
        return None


def _write_disk(url: str, pointer: Pointer, cache_dir: str | None = None) -> None:
    try:
        Cache(config.resolve("cache_dir", cache_dir).value, 0).put_document(
            DOCUMENT_NAMESPACE, url, json.dumps(pointer.raw, sort_keys=True).encode("utf-8"))
    except Exception as exc:  # a read-only cache must not break catalog access
        logger.warning("could not store pointer file in the cache: %s", exc)


def _snapshot(url: str, snapshot: str | os.PathLike | None) -> tuple[Pointer, str] | None:
    path = Path(snapshot) if snapshot else SNAPSHOT_PATH
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("url") != url:
        return None  # a snapshot of another pointer file is not an answer for this one
    taken = str(record.get("taken", "unknown date"))
    pointer = parse_pointer(record["content"], source=f"pointer snapshot {path}")
    return dataclasses.replace(pointer, origin=f"snapshot shipped with eurec4a, taken {taken}"), taken


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:.0f} days"


def fetch_pointer(pointer_url: str | None = None, *, ttl: float | None = None, snapshot: str | None = None,
                  refresh: bool = False, cache_dir: str | None = None) -> Pointer:
    """Get the pointer file, from memory, disk cache, server or fallbacks (see module docs).

    Parameters
    ----------
    pointer_url
        URL of ``cids.json``; default from ``EUREC4A_CID_POINTER_URL`` or the EUREC4A one.
    ttl
        Seconds a copy stays fresh (default from ``EUREC4A_POINTER_TTL``, 600).
    snapshot
        A snapshot file to fall back on (default: the one shipped with the package).
    refresh
        Ask the server even if a fresh copy exists.
    cache_dir
        The cache folder holding the on-disk copy (default: the ``cache_dir`` setting,
        ``EUREC4A_CACHE_DIR``); the copy is a document of :class:`eurec4a.cache.Cache`.

    Examples
    --------
    >>> fetch_pointer("http://127.0.0.1:8000/cids.json").latest  # doctest: +SKIP
    CID('base58btc', 0, 'dag-pb', '1220...')
    """
    url_setting = config.resolve("pointer_url", pointer_url)
    url = url_setting.value
    ttl_value = float(config.resolve("pointer_ttl", ttl).value)
    snapshot = config.resolve("pointer_snapshot", snapshot).value
    now = time.time()
    if not refresh:
        with _memo_lock:
            hit = _memo.get(url)
        if hit and now - hit[0] < ttl_value:
            return hit[1]
        disk = _read_disk(url, cache_dir)
        if disk and now - disk[1] < ttl_value:
            with _memo_lock:
                _memo[url] = (disk[1], disk[0])
            return disk[0]
    try:
        body = http_get(url, setting=f"pointer_url ({config.ENVIRONMENT['pointer_url']})")
    except ServerUnreachableError as exc:
        disk = _read_disk(url, cache_dir)
        if disk:
            warnings.warn(
                f"pointer file {url} could not be fetched ({exc.__cause__ or exc}); using the copy "
                f"fetched {_age(now - disk[1])} ago. A newer catalog version may exist.",
                stacklevel=3,
            )
            return dataclasses.replace(disk[0], origin=f"copy cached {_age(now - disk[1])} ago")
        snap = _snapshot(url, snapshot)
        if snap:
            warnings.warn(
                f"pointer file {url} could not be fetched and no copy is cached; using the snapshot "
                f"shipped with eurec4a, taken {snap[1]}. A newer catalog version may exist.",
                stacklevel=3,
            )
            return snap[0]
        raise
    pointer = parse_pointer(body, source=f"pointer file {url}")
    _write_disk(url, pointer, cache_dir)
    with _memo_lock:
        _memo[url] = (now, pointer)
    return pointer


def get_latest_intake_cid(pointer_url: str | None = None, **kwargs: Any) -> str:
    """The root CID of the latest IPFS catalog, as named by the pointer file.

    Examples
    --------
    >>> import eurec4a
    >>> eurec4a.get_latest_intake_cid()  # doctest: +SKIP
    'QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N'
    """
    return str(fetch_pointer(pointer_url, **kwargs).latest)


def get_catalog_versions(pointer_url: str | None = None, **kwargs: Any) -> list[CatalogVersion]:
    """All published catalog versions, newest first.

    Examples
    --------
    >>> import eurec4a
    >>> [(v.date, v.cid) for v in eurec4a.get_catalog_versions()][:1]  # doctest: +SKIP
    [('2024-05-01', 'Qm...')]
    """
    return list(fetch_pointer(pointer_url, **kwargs).versions)


def clear_memo() -> None:
    """Forget pointers fetched by this process (tests, long-running servers)."""
    with _memo_lock:
        _memo.clear()
