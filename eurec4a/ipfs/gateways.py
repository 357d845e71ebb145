"""An ordered list of IPFS gateways, asked over ``aiohttp`` with failover, deadlines and backoff.

Why failover is safe here: every byte from a gateway is verified against its CID
before use (:mod:`eurec4a.ipfs.filesystem`), so any gateway can be asked, and a gateway
that sends altered blocks is simply left alone.

The numbers (each a module constant, documented where it is defined):

* **deadline** (setting ``deadline``, ``EUREC4A_DEADLINE``, default 60 s): one
  request, all its attempts and every byte of the answer included, ends within
  it, whatever servers do (drip-feeding, stalling, endless bodies). Past it the
  request ends in a :class:`~eurec4a.errors.GatewayError` naming the deadline.
* **read timeout** (setting ``timeout``, ``EUREC4A_TIMEOUT``, default 30 s): the
  longest silence while waiting for bytes; connecting has
  :data:`~eurec4a.settings.CONNECT_TIMEOUT` (5 s).
* **sizes**: a block may have at most 2 MiB (:data:`~eurec4a.ipfs.car.MAX_BLOCK_SIZE`,
  rejected as it streams); an answer may not exceed what the verified parent
  announced (its ``Tsize``) by more than :data:`TSIZE_ALLOWANCE`; CAR and raw answers
  are asked for with ``Accept-Encoding: identity`` and never decompressed.
* **failover**: every transport failure (refused, reset, timed out, cut short,
  malformed CAR, HTTP 5xx, a refused redirect) means "this gateway failed": the next
  one is asked. At most ``2 x gateways + 2`` attempts, at least :data:`MIN_ATTEMPTS`,
  and :data:`UNREACHABLE_ATTEMPTS` per gateway that cannot be reached at all (one,
  if it could not be reached in an earlier call either).
* **404**: definitive only when every configured gateway says so (a local node that
  lacks content answers 404 too), or every one that could be reached at all; then
  :class:`~eurec4a.errors.ContentNotFoundError`.
  When some said 404 and the others failed, the :class:`~eurec4a.errors.GatewayError`
  lists the former in its ``not_found_at`` attribute (the filesystem then checks the
  path against verified blocks itself).
  For content known to exist (linked from verified blocks) it is a
  :class:`~eurec4a.errors.GatewayError` instead, never "does not exist".
* **backoff within one call**: a gateway that failed is asked again after
  :data:`BACKOFF_BASE` seconds, doubling per failure up to :data:`BACKOFF_MAX`.
  Across calls, a gateway that failed recently is asked after the healthy ones,
  and that demotion decays (it lasts as long as its backoff), so repeated failing
  calls in one process never grow: each is bounded by the deadline.
* **tampering**: a gateway that sent bytes not matching their CID is left alone for
  :data:`TAMPER_BACKOFF` (300 s) by every request of the process. A malformed CAR is
  not tampering, just a failure.
* **429**: ``Retry-After`` (seconds or an HTTP date) is honoured up to
  :data:`RETRY_AFTER_MAX` (300 s); without one the gateway rests 1 s. A call waits
  for a resting gateway at most :data:`REST_WAIT_MAX` (5 s, and never past the
  deadline); otherwise it asks the other gateways or gives up at once.
* **redirects**: never followed automatically; at most :data:`MAX_REDIRECTS` hops,
  each only if :func:`eurec4a.transport.redirect_allowed` allows it (same origin or a
  configured gateway; never link-local, loopback or private addresses nobody
  configured). A refused redirect is a gateway failure.
* **concurrency**: at most :data:`PER_GATEWAY_CONNECTIONS` connections per gateway,
  no other cap.

Gateway health (tampering rests, 429 rests, recent failures) is shared by the whole
process, because a gateway that lies to one filesystem lies to all;
:func:`reset_gateway_state` forgets it.

Examples
--------
>>> pool = GatewayPool(["http://127.0.0.1:8080"])
>>> pool.urls
['http://127.0.0.1:8080']
>>> gateway_url("http://127.0.0.1:8080", "bafy", ["a b", "#1"], {"format": "raw"})
'http://127.0.0.1:8080/ipfs/bafy/a%20b/%231?format=raw'
"""
from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import random
import threading
import time
import urllib.parse
import warnings
from typing import Awaitable, Callable, Iterable, TypeVar

import aiohttp

from eurec4a import settings as config
from eurec4a.errors import (
    BlockVerificationError,
    CarFormatError,
    ContentNotFoundError,
    Eurec4aWarning,
    GatewayError,
    InvalidDAGError,
)
from eurec4a.transport import describe_network_error, redirect_allowed

logger = logging.getLogger(__name__)

__all__ = [
    "GatewayPool",
    "gateway_url",
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "TAMPER_BACKOFF",
    "MIN_ATTEMPTS",
    "UNREACHABLE_ATTEMPTS",
    "RETRY_AFTER_MAX",
    "REST_WAIT_MAX",
    "MAX_REDIRECTS",
    "PER_GATEWAY_CONNECTIONS",
    "TSIZE_ALLOWANCE",
    "AnswerTooLarge",
    "reset_gateway_state",
]

#: First backoff (seconds) after a failure within one call; doubles per failure.
BACKOFF_BASE = 0.1
#: Longest backoff (seconds) after an ordinary failure (12 attempts on one failing
#: gateway then take about 15 s).
BACKOFF_MAX = 2.0
#: How long (seconds) a gateway that sent bytes not matching their CID is left alone.
TAMPER_BACKOFF = 300.0
#: Fewest attempts one call may make. With one gateway failing 30% of its requests,
#: eleven retries lose one request in two million (0.3**12); the backoff and the
#: deadline bound how long a gateway that keeps answering with errors is retried.
MIN_ATTEMPTS = 12
#: Attempts per call on a gateway that cannot be reached at all (refused, timeout).
UNREACHABLE_ATTEMPTS = 3
#: Longest rest (seconds) a ``Retry-After`` header can impose on a gateway.
RETRY_AFTER_MAX = 300.0
#: Longest rest (seconds) of a gateway one call waits for; a gateway resting longer
#: (tampering, a long ``Retry-After``) is not asked by the call at all.
REST_WAIT_MAX = 5.0
#: Rest (seconds) after a 429 without a usable ``Retry-After``.
RETRY_AFTER_DEFAULT = 1.0
#: Redirect hops followed per attempt (each checked by ``redirect_allowed``).
MAX_REDIRECTS = 5
#: Connections kept open per gateway (the only concurrency bound).
PER_GATEWAY_CONNECTIONS = 64
#: Bytes an answer may exceed the ``Tsize`` its verified parent announced: CAR framing
#: (a varint and a CID per block) plus slack for gateways adding the path's blocks.
TSIZE_ALLOWANCE = 64 * 1024
#: Longest error text kept from a gateway's answer (bytes).
ERROR_BODY_MAX = 200

T = TypeVar("T")


class AnswerTooLarge(CarFormatError):
    """A gateway sent more bytes than the content it was asked for can have (a failure, not tampering)."""


@dataclasses.dataclass
class _Health:
    failures: int = 0
    last_failure: float = 0.0
    rest_until: float = 0.0  # tampering and 429: nobody asks before this (monotonic)
    rest_reason: str = ""


_health: dict[str, _Health] = {}
_health_lock = threading.RLock()
_warned_public = False


def _state(url: str) -> _Health:
    with _health_lock:
        return _health.setdefault(url, _Health())


def reset_gateway_state() -> None:
    """Forget every gateway's failures and rests (tests, long-running services).

    Examples
    --------
    >>> reset_gateway_state()
    """
    global _warned_public
    with _health_lock:
        _health.clear()
        _warned_public = False


def _backoff(failures: int) -> float:
    return min(BACKOFF_BASE * 2 ** max(failures - 1, 0), BACKOFF_MAX)


def gateway_url(gateway: str, cid: str, parts: Iterable[str] = (), params: dict[str, str] | None = None) -> str:
    """The URL of ``/ipfs/<cid>/<parts>`` at ``gateway``, every segment percent-escaped (RFC 3986).

    Examples
    --------
    >>> gateway_url("http://gw", "bafy", ["dir", "ä?.nc"])
    'http://gw/ipfs/bafy/dir/%C3%A4%3F.nc'
    """
    path = "/".join(urllib.parse.quote(p, safe="") for p in [cid, *parts])
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    return f"{gateway}/ipfs/{path}{query}"


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


class _Failed(Exception):
    """One attempt failed at one gateway (internal control flow)."""

    def __init__(self, reason: str, *, unreachable: bool = False, cause: BaseException | None = None):
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable
        self.cause = cause


class GatewayPool:
    """Ask gateways in order for one thing, failing over, within a deadline.

    Parameters
    ----------
    urls
        Gateway base URLs in order of preference (``http://127.0.0.1:8080``).
    timeout
        Read timeout in seconds (setting ``timeout``, ``EUREC4A_TIMEOUT``).
    deadline
        Seconds one call may take in total (setting ``deadline``, ``EUREC4A_DEADLINE``).
    public
        The subset of ``urls`` that are public fallbacks: using one warns once.

    Examples
    --------
    >>> GatewayPool(["http://a:1", "http://b:2"], timeout=5, deadline=20).deadline
    20.0
    """

    def __init__(self, urls: list[str], *, timeout: float | None = None, deadline: float | None = None,
                 public: frozenset[str] = frozenset()):
        if not urls:
            raise GatewayError(
                "no IPFS gateway is configured. Set IPFS_GATEWAY or EUREC4A_IPFS_GATEWAYS, or pass gateways=[...]."
            )
        self.urls = list(urls)
        self.timeout = float(timeout if timeout is not None else config.READ_TIMEOUT)
        self.deadline = float(deadline if deadline is not None else config.REQUEST_DEADLINE)
        self.public = public
        self.client_timeout = aiohttp.ClientTimeout(total=None, connect=config.CONNECT_TIMEOUT,
                                                    sock_connect=config.CONNECT_TIMEOUT, sock_read=self.timeout)

    def _order(self, now: float) -> list[str]:
        """Gateways not resting, healthy ones first (a recent failure demotes until its backoff passed)."""
        ranked = []
        for index, url in enumerate(self.urls):
            state = _state(url)
            recent = state.failures and now - state.last_failure < _backoff(state.failures)
            ranked.append((1 if recent else 0, index, url))
        return [url for _, _, url in sorted(ranked)]

    async def request(
        self,
        session: aiohttp.ClientSession,
        cid: str,
        parts: Iterable[str] = (),
        params: dict[str, str] | None = None,
        *,
        accept: str,
        consume: Callable[[aiohttp.ClientResponse, str], Awaitable[T]],
        not_found: str = "definitive",
        what: str | None = None,
    ) -> T:
        """GET ``/ipfs/<cid>/<parts>?<params>`` from the gateways; ``consume`` reads and verifies the answer.

        ``consume(response, gateway_url)`` raises
        :class:`~eurec4a.errors.BlockVerificationError` for altered bytes (the gateway
        is left alone for :data:`TAMPER_BACKOFF`), :class:`~eurec4a.errors.CarFormatError`
        or a network error for a broken answer (the next gateway is asked).

        Parameters
        ----------
        not_found
            ``"definitive"``: a 404/410 from *every* gateway raises
            :class:`~eurec4a.errors.ContentNotFoundError`. ``"failover"``: the content is
            known to exist, so that ends in :class:`~eurec4a.errors.GatewayError`.
            ``"first"``: the first 404 raises :class:`~eurec4a.errors.ContentNotFoundError`
            (for a caller that checks the answer against verified blocks itself).

        Raises
        ------
        ContentNotFoundError, GatewayError
        """
        parts = list(parts)
        label = what or "/ipfs/" + "/".join([cid, *parts])
        start = time.monotonic()
        errors: dict[str, str] = {}
        causes: list[BaseException] = []
        try:
            return await asyncio.wait_for(
                self._attempts(session, cid, parts, params, accept, consume, not_found, label, errors, causes, start),
                timeout=self.deadline,
            )
        except asyncio.TimeoutError:
            error = self._give_up(label, errors, start, deadline_hit=True)
            raise error from (causes[-1] if causes else None)

    async def _attempts(self, session, cid, parts, params, accept, consume, not_found, label, errors, causes, start):
        attempts = 0
        max_attempts = max(2 * len(self.urls) + 2, MIN_ATTEMPTS)
        lacking: set[str] = set()
        unreachable: dict[str, int] = {}
        call_failures: dict[str, int] = {}
        retry_at: dict[str, float] = {}
        tried: set[str] = set()
        while True:
            # a gateway unreachable in an earlier call too gets one try per call, not several
            out = lacking | {u for u, n in unreachable.items()
                             if n >= (1 if _state(u).failures > call_failures.get(u, 0) else UNREACHABLE_ATTEMPTS)}
            now = time.monotonic()
            # a gateway resting longer than a call waits (tampering, a long Retry-After) sits this call out
            out |= {u for u in self.urls if _state(u).rest_until - now > REST_WAIT_MAX}
            live = [u for u in self._order(now) if u not in out]
            if lacking and not_found == "definitive" and out.issuperset(self.urls):
                if lacking.issuperset(self.urls):
                    raise ContentNotFoundError(
                        f"{label} was not found: every configured gateway ({', '.join(self.urls)}) answered 404. "
                        "If this is a CID or path you typed, check it for a typo."
                    )
                # the gateways that answered all said 404; the others could not be reached at all
                raise ContentNotFoundError(
                    f"{label} was not found: {', '.join(sorted(lacking))} answered 404 and "
                    f"{', '.join(sorted(out - lacking))} could not be reached. If this is a CID or path you "
                    "typed, check it for a typo; otherwise check the network (IPFS_GATEWAY, EUREC4A_IPFS_GATEWAYS)."
                )
            if not live or attempts >= max_attempts:
                error = self._give_up(label, errors, start, attempts=attempts, missing=lacking.issuperset(self.urls))
                error.not_found_at = sorted(lacking)  # type: ignore[attr-defined]
                raise error from (causes[-1] if causes else None)
            # a rest from tampering or 429 is honoured; an in-call backoff is waited out
            waits = {u: max(_state(u).rest_until, retry_at.get(u, 0.0)) - now for u in live}
            ready = [u for u in live if waits[u] <= 0]
            if not ready:
                wait = min(waits.values())
                if now + wait - start > self.deadline:
                    raise self._give_up(label, errors, start, attempts=attempts) from (causes[-1] if causes else None)
                await asyncio.sleep(wait)
                continue
            url = ready[0]
            attempts += 1
            self._maybe_warn_public(url)
            tried.add(url)
            # A gateway that answers slowly (drip-feeding, stalling between reads shorter
            # than the read timeout) must not use up the whole deadline while another
            # gateway waits: each attempt gets an equal share of what is left among the
            # gateways not yet asked in this call; the last one gets all that is left.
            budget = self.deadline - (time.monotonic() - start)
            waiting = sum(1 for u in live if u not in tried)
            if waiting:
                budget /= waiting + 1
            try:
                result = await asyncio.wait_for(
                    self._attempt(session, url, cid, parts, params, accept, consume), timeout=max(budget, 0.01))
            except asyncio.TimeoutError:
                self._failed(url, f"too slow: no complete answer within {budget:.1f} s (its share of the "
                                  f"{self.deadline:g} s deadline, EUREC4A_DEADLINE)", errors, call_failures, retry_at)
            except _NotFound as exc:
                if not_found == "first":
                    raise ContentNotFoundError(f"{label} was not found at {url} ({exc.status})") from None
                lacking.add(url)
                errors[url] = f"does not have it ({exc.status})"
            except _RateLimited as exc:
                rest = exc.seconds
                with _health_lock:
                    state = _state(url)
                    state.rest_until = max(state.rest_until, time.monotonic() + rest)
                    state.rest_reason = f"rate limited (429), resting {rest:g} s"
                errors[url] = state.rest_reason
            except BlockVerificationError as exc:
                if isinstance(exc, CarFormatError):
                    self._failed(url, f"sent a malformed answer ({exc})", errors, call_failures, retry_at)
                else:
                    causes.append(exc)
                    with _health_lock:
                        state = _state(url)
                        state.rest_until = time.monotonic() + TAMPER_BACKOFF * (1 + 0.1 * random.random())
                        state.rest_reason = f"sent bytes that do not match their CID ({exc}); left alone for {TAMPER_BACKOFF:g} s"
                    errors[url] = state.rest_reason
                    logger.warning("gateway %s sent altered content for %s; trying another gateway", url, label)
            except _Failed as exc:
                if exc.cause is not None:
                    causes.append(exc.cause)
                if exc.unreachable:
                    unreachable[url] = unreachable.get(url, 0) + 1
                self._failed(url, exc.reason, errors, call_failures, retry_at)
            else:
                self.succeeded(url)
                return result

    async def _attempt(self, session, url, cid, parts, params, accept, consume):
        target = gateway_url(url, cid, parts, params)
        headers = {"Accept": accept, "Accept-Encoding": "identity", "User-Agent": config.USER_AGENT}
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                response = await session.get(target, headers=headers, allow_redirects=False,
                                             timeout=self.client_timeout)  # the session does not decompress
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                raise _Failed(describe_network_error(exc, self.timeout), unreachable=True, cause=exc) from exc
            try:
                status = response.status
                if status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location", "")
                    nxt = urllib.parse.urljoin(target, location)
                    if not location or not redirect_allowed(target, nxt, self.urls):
                        raise _Failed(f"redirected to {nxt[:200]}, which is neither this gateway nor a configured one "
                                      "(refused)")
                    target = nxt
                    continue
                if status in (404, 410):
                    raise _NotFound(status)
                if status == 429:
                    asked = _retry_after_seconds(response.headers.get("Retry-After"))
                    raise _RateLimited(min(asked, RETRY_AFTER_MAX) if asked is not None else RETRY_AFTER_DEFAULT)
                if status != 200:
                    raise _Failed(f"HTTP {status} {response.reason or ''}".strip())
                encoding = response.headers.get("Content-Encoding", "identity").lower()
                if encoding not in ("identity", ""):
                    raise _Failed(f"answered with Content-Encoding {encoding!r} although identity was asked for")
                try:
                    return await consume(response, url)
                except (BlockVerificationError, InvalidDAGError):
                    raise
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                    raise _Failed(f"answer broke off: {describe_network_error(exc, self.timeout)}", cause=exc) from exc
            finally:
                response.release()
        raise _Failed(f"more than {MAX_REDIRECTS} redirects")

    # ------------------------------------------------------------ state changes
    def _failed(self, url: str, reason: str, errors: dict[str, str], call_failures: dict[str, int],
                retry_at: dict[str, float]) -> None:
        now = time.monotonic()
        call_failures[url] = call_failures.get(url, 0) + 1
        delay = _backoff(call_failures[url]) * (1 + 0.1 * random.random())  # jitter: clients do not return at once
        retry_at[url] = now + delay
        with _health_lock:
            state = _state(url)
            if now - state.last_failure > _backoff(state.failures) + BACKOFF_MAX:
                state.failures = 0  # old failures decay
            state.failures += 1
            state.last_failure = now
        errors[url] = reason
        logger.info("gateway %s failed (%s); asking it again after %.1f s at the earliest", url, reason, delay)

    def succeeded(self, url: str) -> None:
        """Record a good answer from ``url`` (its demotion ends)."""
        with _health_lock:
            _state(url).failures = 0

    def _give_up(self, label: str, errors: dict[str, str], start: float, *, attempts: int | None = None,
                 missing: bool = False, deadline_hit: bool = False) -> GatewayError:
        lines = "; ".join(f"{u}: {errors.get(u) or _state(u).rest_reason or 'not asked'}" for u in self.urls)
        spent = f" in {time.monotonic() - start:.1f} s"
        if attempts is not None:
            spent = f" after {attempts} attempt{'s' if attempts != 1 else ''}" + spent
        if missing:
            return GatewayError(
                f"no IPFS gateway has {label}, although it is part of verified content ({lines}){spent}. "
                "Add a gateway or a local IPFS node that holds it (IPFS_GATEWAY, EUREC4A_IPFS_GATEWAYS)."
            )
        if deadline_hit:
            return GatewayError(
                f"no IPFS gateway delivered verified content for {label} within the deadline of {self.deadline:g} s "
                f"({lines}). Raise the deadline (deadline=..., EUREC4A_DEADLINE) or the read timeout "
                f"({self.timeout:g} s; timeout=..., EUREC4A_TIMEOUT), add gateways (IPFS_GATEWAY, "
                "EUREC4A_IPFS_GATEWAYS) or run a local IPFS node."
            )
        timeout_hint = (f" The read timeout is {self.timeout:g} s (timeout=..., EUREC4A_TIMEOUT)."
                        if "timed out" in lines else "")
        return GatewayError(
            f"no IPFS gateway delivered verified content for {label}{spent} ({lines}).{timeout_hint} "
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
                Eurec4aWarning,
                stacklevel=2,
            )


class _NotFound(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


class _RateLimited(Exception):
    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds
