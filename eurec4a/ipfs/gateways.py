"""An ordered list of IPFS gateways with failover, backoff and verification-aware retries.

Why failover is safe here: every byte from a gateway is verified against its CID
before use (:mod:`eurec4a.ipfs.filesystem`), so any gateway can be asked, and a gateway that
sends altered blocks is simply skipped.

Why failover is careful here (ipfsspec removed its own multi-gateway fallback
because it "often created more harm than use"):

* a definitive answer ends the request: a ``404`` (content not found) or a
  ``400`` is raised at once, never turned into a sweep of every gateway;
* a gateway that fails (timeout, refused connection, 5xx, bad blocks) is skipped
  for a while, with exponential backoff (0.1 s doubling up to 30 s; 5 minutes for
  a gateway that sent altered bytes), so a struggling gateway gets less load,
  not more; the state is shared by everything in the process;
* a ``429 Too Many Requests`` is honoured: the gateway rests for ``Retry-After``
  (seconds or an HTTP date), at least as long as its backoff; a rest that would
  outlast the deadline ends the request at once instead of sleeping through it;
* attempts are capped: ``2 x number of gateways + 2``, at least :data:`MIN_ATTEMPTS`
  (a gateway that answers, if with errors, is worth retrying: one failing 30% of
  its requests then still delivers every block of a large dataset), and at most
  :data:`UNREACHABLE_ATTEMPTS` per gateway that cannot be reached at all (refused
  connection, timeout: a server that is down, not a flaky one); the whole request
  has a deadline (:data:`REQUEST_DEADLINE`, 60 s by default), so a real outage ends
  in a :class:`~eurec4a.errors.GatewayError` that lists what each gateway did;
* a caller that knows the content exists (a block linked from verified data) asks
  with ``not_found="failover"``: a ``404`` then only means "this gateway does not
  have it", the next gateway is asked, and when none has it the answer is a
  :class:`~eurec4a.errors.GatewayError`, never a "does not exist" that a reader
  such as zarr would turn into fill values.

Examples
--------
>>> pool = GatewayPool(["http://127.0.0.1:8080"])
>>> pool.urls
['http://127.0.0.1:8080']
"""
from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
import threading
import time
import warnings
from typing import Callable, TypeVar

import requests

from eurec4a import settings as config
from eurec4a.errors import BlockVerificationError, ContentNotFoundError, GatewayError, InvalidCIDError
from eurec4a.transport import session

logger = logging.getLogger(__name__)

__all__ = [
    "GatewayPool",
    "REQUEST_DEADLINE",
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "TAMPER_BACKOFF",
    "MIN_ATTEMPTS",
    "UNREACHABLE_ATTEMPTS",
    "RETRY_AFTER_MAX",
    "reset_gateway_state",
]

#: Seconds after which one request gives up on all gateways.
REQUEST_DEADLINE = 60.0
#: First backoff (seconds) after a failure; doubles per consecutive failure.
BACKOFF_BASE = 0.1
#: Longest backoff for an ordinary failure.
BACKOFF_MAX = 30.0
#: How long a gateway that sent bytes not matching their CID is left alone.
TAMPER_BACKOFF = 300.0
#: Fewest attempts one request may make. With one gateway failing 30% of its requests,
#: three retries lose about one request in 120 (0.3**4), which a dataset of a few hundred
#: chunks hits almost surely; eleven lose one in two million (0.3**12). The backoff and
#: the deadline bound how long a gateway that keeps answering with errors is retried.
MIN_ATTEMPTS = 12
#: Attempts per request on a gateway that cannot be reached at all (connection refused,
#: DNS failure, timeout): it is down rather than flaky, so the error comes quickly.
UNREACHABLE_ATTEMPTS = 3
#: Longest rest a ``Retry-After`` header can impose on a gateway in this process.
RETRY_AFTER_MAX = 300.0

T = TypeVar("T")


@dataclasses.dataclass
class _GatewayState:
    url: str
    failures: int = 0
    skip_until: float = 0.0
    last_error: str = ""


_states: dict[str, _GatewayState] = {}
_states_lock = threading.Lock()
_warned_public = False


def _state(url: str) -> _GatewayState:
    with _states_lock:
        if url not in _states:
            _states[url] = _GatewayState(url)
        return _states[url]


def reset_gateway_state() -> None:
    """Forget every gateway's failures and backoff (for tests and long-running services)."""
    with _states_lock:
        _states.clear()


class GatewayPool:
    """Send a request to the first healthy gateway, fail over on failure.

    Parameters
    ----------
    urls
        Gateway base URLs in order of preference (``http://127.0.0.1:8080``).
    timeout
        Read timeout in seconds per attempt (connect timeout is
        :data:`~eurec4a.settings.CONNECT_TIMEOUT`).
    deadline
        Seconds after which the request fails for good.
    public
        The subset of ``urls`` that are public fallbacks: using one warns once that a
        local node would be faster.
    """

    def __init__(self, urls: list[str], *, timeout: float | None = None, deadline: float | None = None,
                 public: frozenset[str] = frozenset()):
        if not urls:
            raise GatewayError("no IPFS gateway is configured; set IPFS_GATEWAY or pass gateways=[...]")
        self.urls = list(urls)
        self.timeout = float(timeout if timeout is not None else config.READ_TIMEOUT)
        self.deadline = float(deadline if deadline is not None else REQUEST_DEADLINE)
        self.public = public

    def request(self, path: str, *, accept: str, consume: Callable[[requests.Response, str], T],
                not_found: str = "definitive") -> T:
        """GET ``path`` (``/ipfs/...``) from the gateways; ``consume`` reads and verifies the answer.

        ``consume(response, gateway_url)`` may raise
        :class:`~eurec4a.errors.BlockVerificationError`; the gateway is then skipped
        and the next one asked.

        Parameters
        ----------
        not_found
            ``"definitive"`` (default): a ``404``/``410`` raises
            :class:`~eurec4a.errors.ContentNotFoundError` at once (a CID typed by a
            user). ``"failover"``: the content is known to exist (linked from verified
            blocks), so a ``404`` only says this gateway lacks it; the other gateways
            are asked and, if none has it, :class:`~eurec4a.errors.GatewayError` is raised.
        """
        if not_found not in ("definitive", "failover"):
            raise ValueError(f"not_found must be 'definitive' or 'failover', got {not_found!r}")
        start = time.monotonic()
        attempts = 0
        max_attempts = max(2 * len(self.urls) + 2, MIN_ATTEMPTS)
        errors: dict[str, str] = {}
        lacking: set[str] = set()  # gateways that said 404 for content that exists
        unreachable: dict[str, int] = {}  # attempts that got no answer at all, per gateway
        while True:
            out = lacking | {u for u, n in unreachable.items() if n >= UNREACHABLE_ATTEMPTS}
            if out.issuperset(self.urls):
                raise self._give_up(path, errors, attempts, start, missing=lacking.issuperset(self.urls))
            now = time.monotonic()
            wall = time.time()
            candidates = [u for u in self.urls if u not in out]
            available = [u for u in candidates if _state(u).skip_until <= wall]
            if not available:
                wait = min(_state(u).skip_until for u in candidates) - wall
                if now + wait - start > self.deadline or attempts >= max_attempts:
                    raise self._give_up(path, errors, attempts, start)
                time.sleep(max(wait, 0.0))
                continue
            if attempts >= max_attempts or now - start > self.deadline:
                raise self._give_up(path, errors, attempts, start)
            url = available[0]
            attempts += 1
            self._maybe_warn_public(url)
            try:
                response = session().get(
                    url + path,
                    headers={"Accept": accept},
                    timeout=(config.CONNECT_TIMEOUT, self.timeout),
                    stream=True,
                )
            except requests.RequestException as exc:
                unreachable[url] = unreachable.get(url, 0) + 1
                self._failed(url, f"{type(exc).__name__}: {exc}", errors)
                continue
            try:
                status = response.status_code
                if status == 404 or status == 410:
                    if not_found == "failover":
                        # The gateway is healthy; it just does not hold this content: no backoff.
                        lacking.add(url)
                        errors[url] = f"does not have it ({status})"
                        continue
                    raise ContentNotFoundError(
                        f"{path.split('?')[0]} was not found (gateway {url} answered {status}). "
                        "If this is a CID you typed, check it for a typo."
                    )
                if status == 400:
                    raise InvalidCIDError(f"gateway {url} refused {path.split('?')[0]} as invalid (400): {response.text[:200]}")
                if status == 429:
                    self._rate_limited(url, response.headers.get("Retry-After"), errors)
                    continue
                if status >= 400:
                    self._failed(url, f"HTTP {status} {response.reason}", errors)
                    continue
                try:
                    result = consume(response, url)
                except BlockVerificationError as exc:
                    self._failed(url, f"sent bytes that do not match their CID ({exc})", errors, backoff=TAMPER_BACKOFF)
                    logger.warning("gateway %s sent altered content for %s; trying another gateway", url, path)
                    continue
                except (requests.RequestException, OSError) as exc:
                    self._failed(url, f"answer broke off: {type(exc).__name__}: {exc}", errors)
                    continue
                self._succeeded(url)
                return result
            finally:
                response.close()

    # ------------------------------------------------------------ state changes
    def _failed(self, url: str, reason: str, errors: dict[str, str], backoff: float | None = None) -> None:
        state = _state(url)
        with _states_lock:
            state.failures += 1
            delay = backoff if backoff is not None else min(BACKOFF_BASE * 2 ** (state.failures - 1), BACKOFF_MAX)
            delay *= 1 + 0.1 * random.random()  # jitter, so many clients do not return at once
            state.skip_until = time.time() + delay
            state.last_error = reason
        errors[url] = reason
        logger.info("gateway %s failed (%s); resting it for %.1f s", url, reason, delay)

    def _rate_limited(self, url: str, retry_after: str | None, errors: dict[str, str]) -> None:
        asked = _retry_after_seconds(retry_after)
        state = _state(url)
        with _states_lock:
            state.failures += 1
            backoff = min(BACKOFF_BASE * 2 ** (state.failures - 1), BACKOFF_MAX)
            # Never sooner than the gateway asked, nor sooner than a plain failure would allow
            # (a "Retry-After: 0" must not turn into a tight loop).
            delay = max(min(asked, RETRY_AFTER_MAX) if asked is not None else 1.0, backoff)
            state.skip_until = time.time() + delay
            state.last_error = f"rate limited (429, Retry-After {retry_after})"
        errors[url] = state.last_error
        logger.info("gateway %s is rate limiting; resting it for %.1f s", url, delay)

    def _succeeded(self, url: str) -> None:
        state = _state(url)
        with _states_lock:
            state.failures = 0
            state.skip_until = 0.0

    def _give_up(self, path: str, errors: dict[str, str], attempts: int = 0, start: float | None = None,
                 missing: bool = False) -> GatewayError:
        lines = "; ".join(f"{u}: {errors.get(u) or _state(u).last_error or 'resting after earlier failures'}" for u in self.urls)
        spent = f" after {attempts} attempt{'s' if attempts != 1 else ''}"
        if start is not None:
            spent += f" in {time.monotonic() - start:.1f} s"
        what = path.split("?")[0]
        if missing:
            return GatewayError(
                f"no IPFS gateway has {what}, although it is part of verified content ({lines}){spent}. "
                "Add a gateway or a local IPFS node that holds it (IPFS_GATEWAY, EUREC4A_IPFS_GATEWAYS)."
            )
        return GatewayError(
            f"no IPFS gateway delivered verified content for {what} ({lines}){spent}. "
            "Check your network, add gateways (IPFS_GATEWAY, EUREC4A_IPFS_GATEWAYS) or run a local IPFS node; "
            "content already in the cache (see `eurec4a pull`) works offline."
        )

    def _maybe_warn_public(self, url: str) -> None:
        global _warned_public
        if url in self.public and not _warned_public:
            _warned_public = True
            warnings.warn(
                f"no local IPFS node or configured gateway found; using the public gateway {url}. "
                "Content is verified either way, but a local node (or IPFS_GATEWAY) is faster and more reliable.",
                stacklevel=4,
            )


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), ``None`` if unusable.

    Examples
    --------
    >>> _retry_after_seconds("7"), _retry_after_seconds("soon"), _retry_after_seconds(None)
    (7.0, None, None)
    >>> _retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT")
    0.0
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)
