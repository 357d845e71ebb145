"""Flight segments of the EUREC4A aircraft: the ``all_flights.yaml`` release of flight-phase-separation.

:func:`get_flight_segments` returns what eurec4a 0.0.6 returned: the parsed file,
``{platform: {flight_id: flight}}``, each flight with ``date`` (a
:class:`datetime.date`), ``takeoff``/``landing`` and ``segments``, each segment with
``segment_id``, ``name``, ``start``/``end`` (:class:`datetime.datetime`), ``kinds``,
``irregularities`` and ``dropsondes`` (``GOOD``/``BAD``/``UGLY`` sonde ids).

How it differs from 0.0.6:

* **No GitHub API.** The file is read from GitHub's release-download URLs,
  ``{base}/latest/download/all_flights.yaml`` and
  ``{base}/download/{version}/all_flights.yaml``. Unauthenticated API calls are
  limited to 60 an hour, which broke CI builds. The base is the setting
  ``flight_segments_url`` (``EUREC4A_FLIGHT_SEGMENTS_URL``), by default
  ``https://github.com/eurec4a/flight-phase-separation/releases``.
* **Cached on disk.** A named version (a release tag such as ``"v1.2"``) never
  changes, so its copy in the cache folder is used for good: it then works
  offline. ``"latest"`` is fetched again once its copy is older than ``pointer_ttl``
  (``EUREC4A_POINTER_TTL``, the pointer file's rule); when the server cannot be
  reached, the last copy is used with a warning naming its age.
* **Clear errors.** An unknown version is a
  :class:`~eurec4a.errors.CatalogNotFoundError`, a file of the wrong structure a
  :class:`~eurec4a.errors.FlightSegmentsError`, an unreachable server without a copy
  a :class:`~eurec4a.errors.ServerUnreachableError`.
* Each call returns a new object: changing it never changes what the next call returns.

:func:`flatten_segments` and :func:`segments_by_id` are the lookups the community
book writes out in several chapters.

Examples
--------
>>> import datetime
>>> meta = {"HALO": {"HALO-0205": {"flight_id": "HALO-0205", "segments": [
...     {"segment_id": "HALO-0205_c1", "kinds": ["circle"],
...      "start": datetime.datetime(2020, 2, 5, 11, 0), "end": datetime.datetime(2020, 2, 5, 12, 0)}]}}}
>>> [s["segment_id"] for s in flatten_segments(meta, kind="circle")]
['HALO-0205_c1']
>>> segments_by_id(meta)["HALO-0205_c1"]["platform_id"]
'HALO'
"""
from __future__ import annotations

import copy
import datetime as _dt
import logging
import threading
import time
import warnings
from typing import Any
from urllib.parse import quote

import yaml

from eurec4a import settings as config
from eurec4a.cache import Cache
from eurec4a.errors import CatalogNotFoundError, FlightSegmentsError, ParameterError, ServerUnreachableError
from eurec4a.transport import http_get

__all__ = ["get_flight_segments", "flight_segments_url", "parse_flight_segments", "flatten_segments",
           "segments_by_id"]

logger = logging.getLogger(__name__)

#: Namespace of the downloaded copies in the cache folder.
CACHE_NAMESPACE = "flight-segments"
_SETTING = f"flight_segments_url / {config.ENVIRONMENT['flight_segments_url']}"

_memo: dict[str, tuple[float, bytes]] = {}  # url -> (fetched at, body): one fetch per process and ttl
_memo_lock = threading.Lock()


def flight_segments_url(version: str = "latest", base_url: str | None = None) -> str:
    """The download URL of ``all_flights.yaml`` for ``version`` (``"latest"`` or a release tag).

    Examples
    --------
    >>> flight_segments_url("v1.2", "https://example.org/releases")
    'https://example.org/releases/download/v1.2/all_flights.yaml'
    >>> flight_segments_url(base_url="https://example.org/releases/")
    'https://example.org/releases/latest/download/all_flights.yaml'
    """
    if not isinstance(version, str) or not version.strip() or "/" in version or version in (".", ".."):
        raise ParameterError(
            f"flight segments version {version!r} is not a release name; give 'latest' or a release tag "
            "of eurec4a/flight-phase-separation such as 'v1.2'")
    base = str(config.resolve("flight_segments_url", base_url).value).rstrip("/")
    if version == "latest":
        return f"{base}/latest/download/all_flights.yaml"
    return f"{base}/download/{quote(version, safe='')}/all_flights.yaml"


def _require(cond: bool, url: str, what: str) -> None:
    if not cond:
        raise FlightSegmentsError(
            f"flight segments file {url} is not the all_flights.yaml of flight-phase-separation: {what}. "
            f"Expected {{platform: {{flight_id: {{..., segments: [{{segment_id, start, end, kinds, ...}}]}}}}}}; "
            f"check the setting {_SETTING}")


def parse_flight_segments(raw: bytes | str, source: str = "all_flights.yaml") -> dict[str, Any]:
    """Parse and check the structure of an ``all_flights.yaml`` (platforms, flights, segments).

    Raises
    ------
    FlightSegmentsError
        Not YAML, or not ``{platform: {flight_id: flight}}`` with segments that have
        ``segment_id``, ``kinds`` and datetime ``start``/``end``.

    Examples
    --------
    >>> parse_flight_segments("HALO: {HALO-0205: {flight_id: HALO-0205, segments: []}}")
    {'HALO': {'HALO-0205': {'flight_id': 'HALO-0205', 'segments': []}}}
    >>> parse_flight_segments("- a")
    Traceback (most recent call last):
    ...
    eurec4a.errors.FlightSegmentsError: flight segments file all_flights.yaml is not ...
    """
    try:
        doc = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise FlightSegmentsError(f"flight segments file {source} is not valid YAML ({exc}); "
                                  f"check the setting {_SETTING}") from None
    _require(isinstance(doc, dict) and bool(doc), source, f"the top level is a {type(doc).__name__}, "
             "not a non-empty mapping of platforms")
    for platform, flights in doc.items():
        _require(isinstance(flights, dict), source, f"platform {platform!r} is not a mapping of flights")
        for flight_id, flight in flights.items():
            where = f"flight {flight_id!r} of {platform!r}"
            _require(isinstance(flight, dict), source, f"{where} is not a mapping")
            segments = flight.get("segments", [])
            _require(isinstance(segments, list), source, f"{where}: 'segments' is not a list")
            for i, seg in enumerate(segments):
                _require(isinstance(seg, dict) and isinstance(seg.get("segment_id"), str), source,
                         f"{where}: segment {i} has no 'segment_id'")
                for key in ("start", "end"):
                    _require(isinstance(seg.get(key), _dt.datetime), source,
                             f"segment {seg['segment_id']!r}: {key!r} is not a date and time")
                _require(isinstance(seg.get("kinds", []), list), source,
                         f"segment {seg['segment_id']!r}: 'kinds' is not a list")
    return doc


def _age(seconds: float) -> str:
    # Said in the unit a reader expects ("3 days", not "259200 s").
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} seconds"


def _fetch(url: str, version: str) -> bytes:
    try:
        return http_get(url, setting=_SETTING)
    except CatalogNotFoundError as exc:
        raise CatalogNotFoundError(
            f"flight segments version {version!r} does not exist: {url} has no all_flights.yaml ({exc}). "
            "Give 'latest' or a release tag of eurec4a/flight-phase-separation (e.g. 'v1.2'), "
            f"or check the setting {_SETTING}") from exc


def get_flight_segments(version: str = "latest", *, base_url: str | None = None, ttl: float | None = None,
                        refresh: bool = False) -> dict[str, Any]:
    """The flight segments of the EUREC4A aircraft, ``{platform: {flight_id: flight}}``.

    Parameters
    ----------
    version
        ``"latest"`` (default) or a release tag of eurec4a/flight-phase-separation, e.g. ``"v1.2"``.
    base_url
        The releases URL (setting ``flight_segments_url``, env ``EUREC4A_FLIGHT_SEGMENTS_URL``).
    ttl
        Seconds a copy of ``"latest"`` stays fresh (setting ``pointer_ttl``, env ``EUREC4A_POINTER_TTL``).
    refresh
        Fetch ``"latest"`` again even if the copy is fresh.

    Returns
    -------
    dict
        The parsed ``all_flights.yaml`` (a new object on every call).

    Raises
    ------
    CatalogNotFoundError
        No such version (the server answered 404).
    FlightSegmentsError
        The file is not the expected YAML structure.
    ServerUnreachableError
        The server could not be reached and no copy is cached.

    Examples
    --------
    >>> import eurec4a
    >>> # needs the release server (GitHub, or the demo stack's stand-in)
    >>> meta = eurec4a.get_flight_segments()  # doctest: +SKIP
    >>> sorted(meta)  # doctest: +SKIP
    ['HALO', 'P3']
    """
    url = flight_segments_url(version, base_url)
    cache = Cache(config.resolve("cache_dir").value, config.resolve("cache_size").value)
    now = time.time()
    if version != "latest":  # a release never changes: any copy is good for good
        stored = cache.get_document(CACHE_NAMESPACE, url)
        if stored is not None:
            try:
                return parse_flight_segments(stored[0], url)
            except FlightSegmentsError:  # a damaged copy is a miss, fetched again
                logger.warning("cached copy of %s is damaged; fetching it again", url)
        body = _fetch(url, version)
        doc = parse_flight_segments(body, url)
        _store(cache, url, body)
        return doc
    ttl_value = float(config.resolve("pointer_ttl", ttl).value)
    if not refresh:
        with _memo_lock:
            hit = _memo.get(url)
        if hit and now - hit[0] < ttl_value:
            return parse_flight_segments(hit[1], url)
        stored = cache.get_document(CACHE_NAMESPACE, url)
        if stored is not None and now - stored[1] < ttl_value:
            try:
                doc = parse_flight_segments(stored[0], url)
                with _memo_lock:
                    _memo[url] = (stored[1], stored[0])
                return doc
            except FlightSegmentsError:
                logger.warning("cached copy of %s is damaged; fetching it again", url)
    try:
        body = _fetch(url, version)
    except ServerUnreachableError as exc:
        stored = cache.get_document(CACHE_NAMESPACE, url)
        if stored is None:
            raise
        try:
            doc = parse_flight_segments(stored[0], url)
        except FlightSegmentsError:
            raise exc from None
        warnings.warn(f"flight segments {url} could not be fetched ({exc}); using the copy fetched "
                      f"{_age(now - stored[1])} ago. A newer release may exist.", stacklevel=2)
        return doc
    doc = parse_flight_segments(body, url)
    _store(cache, url, body)
    with _memo_lock:
        _memo[url] = (now, body)
    return doc


def _store(cache: Cache, url: str, body: bytes) -> None:
    try:
        cache.put_document(CACHE_NAMESPACE, url, body)
    except OSError as exc:  # a read-only cache must not stop the reader
        logger.warning("could not store %s in the cache: %s", url, exc)


def clear_memo() -> None:
    """Forget the ``latest`` copy this process holds in memory (the disk copy stays)."""
    with _memo_lock:
        _memo.clear()


def flatten_segments(flight_segments: dict[str, Any], *, kind: str | None = None, platform: str | None = None,
                     date: _dt.date | None = None) -> list[dict[str, Any]]:
    """Every segment as one dict with ``platform_id`` and ``flight_id`` added, ordered by ``start``.

    The book's ``[{**s, "platform_id": p, "flight_id": f} for p, flights in meta.items() ...]``.

    Parameters
    ----------
    flight_segments
        What :func:`get_flight_segments` returned.
    kind
        Only segments with this kind (e.g. ``"circle"``).
    platform
        Only segments of this platform (``"HALO"``, ``"P3"``).
    date
        Only segments that start on this day.

    Examples
    --------
    >>> import datetime
    >>> t = datetime.datetime(2020, 2, 5, 10)
    >>> meta = {"P3": {"P3-0205": {"segments": [{"segment_id": "P3-0205_ci1", "kinds": ["circle"], "start": t, "end": t}]}}}
    >>> flatten_segments(meta, platform="HALO")
    []
    >>> flatten_segments(meta, date=datetime.date(2020, 2, 5))[0]["flight_id"]
    'P3-0205'
    """
    out = []
    for platform_id, flights in flight_segments.items():
        if platform is not None and platform_id != platform:
            continue
        for flight_id, flight in flights.items():
            for seg in flight.get("segments", []):
                if kind is not None and kind not in seg.get("kinds", []):
                    continue
                if date is not None and seg["start"].date() != date:
                    continue
                out.append({**copy.deepcopy(seg), "platform_id": platform_id, "flight_id": flight_id})
    return sorted(out, key=lambda s: s["start"])


def segments_by_id(flight_segments: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Segments by ``segment_id`` (``"HALO-0205_c2"``), each with ``platform_id`` and ``flight_id``.

    Examples
    --------
    >>> import datetime
    >>> t = datetime.datetime(2020, 2, 5, 10)
    >>> meta = {"HALO": {"HALO-0205": {"segments": [{"segment_id": "HALO-0205_sl1", "kinds": [], "start": t, "end": t}]}}}
    >>> segments_by_id(meta)["HALO-0205_sl1"]["flight_id"]
    'HALO-0205'
    """
    return {s["segment_id"]: s for s in flatten_segments(flight_segments)}
