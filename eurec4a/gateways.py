"""An ordered list of IPFS gateways with failover, backoff and verification-aware retries.

Why failover is safe here: every byte from a gateway is verified against its CID
before use (:mod:`eurec4a.ipfs`), so any gateway can be asked, and a gateway that
sends altered blocks is simply skipped.

Why failover is careful here (ipfsspec removed its own multi-gateway fallback
because it "often created more harm than use"):

* a definitive answer ends the request: a ``404`` (content not found) or a
  ``400`` is raised at once, never turned into a sweep of every gateway;
* a gateway that fails (timeout, refused connection, 5xx, bad blocks) is skipped
  for a while, with exponential backoff (0.1 s doubling up to 30 s; 5 minutes for
  a gateway that sent altered bytes), so a struggling gateway gets less load,
  not more; the state is shared by everything in the process;
* a ``429 Too Many Requests`` is honoured: the gateway rests for ``Retry-After``;
* attempts are capped (``2 x number of gateways + 2``) and the whole request has a
  deadline (:data:`REQUEST_DEADLINE`, 60 s by default), so a real outage ends in
  a :class:`~eurec4a.errors.GatewayError` that lists what each gateway did.

Examples
--------
>>> pool = GatewayPool(["http://127.0.0.1:8080"])
>>> pool.urls
['http://127.0.0.1:8080']
"""
from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
import warnings
from typing import Callable, TypeVar

import requests

from . import config
from .errors import BlockVerificationError, ContentNotFoundError, GatewayError, InvalidCIDError
from .http import session

logger = logging.getLogger(__name__)

__all__ = ["GatewayPool", "REQUEST_DEADLINE", "BACKOFF_BASE", "BACKOFF_MAX", "TAMPER_BACKOFF"]

#: Seconds after which one request gives up on all gateways.
REQUEST_DEADLINE = 60.0
#: First backoff (seconds) after a failure; doubles per consecutive failure.
BACKOFF_BASE = 0.1
#: Longest backoff for an ordinary failure.
BACKOFF_MAX = 30.0
#: How long a gateway that sent bytes not matching their CID is left alone.
TAMPER_BACKOFF = 300.0

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
        :data:`~eurec4a.config.CONNECT_TIMEOUT`).
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

    def request(self, path: str, *, accept: str, consume: Callable[[requests.Response, str], T]) -> T:
        """GET ``path`` (``/ipfs/...``) from the gateways; ``consume`` reads and verifies the answer.

        ``consume(response, gateway_url)`` may raise
        :class:`~eurec4a.errors.BlockVerificationError`; the gateway is then skipped
        and the next one asked.
        """
        start = time.monotonic()
        attempts = 0
        max_attempts = 2 * len(self.urls) + 2
        errors: dict[str, str] = {}
        while True:
            now = time.monotonic()
            wall = time.time()
            available = [u for u in self.urls if _state(u).skip_until <= wall]
            if not available:
                wait = min(_state(u).skip_until for u in self.urls) - wall
                if now + wait - start > self.deadline or attempts >= max_attempts:
                    raise self._give_up(path, errors)
                time.sleep(max(wait, 0.0))
                continue
            if attempts >= max_attempts or now - start > self.deadline:
                raise self._give_up(path, errors)
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
                self._failed(url, f"{type(exc).__name__}: {exc}", errors)
                continue
            try:
                status = response.status_code
                if status == 404 or status == 410:
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
        try:
            delay = float(retry_after) if retry_after else 1.0
        except ValueError:
            delay = 1.0
        delay = min(max(delay, 0.0), BACKOFF_MAX)
        state = _state(url)
        with _states_lock:
            state.skip_until = time.time() + delay
            state.last_error = f"rate limited (429, Retry-After {retry_after})"
        errors[url] = state.last_error

    def _succeeded(self, url: str) -> None:
        state = _state(url)
        with _states_lock:
            state.failures = 0
            state.skip_until = 0.0

    def _give_up(self, path: str, errors: dict[str, str]) -> GatewayError:
        lines = "; ".join(f"{u}: {errors.get(u) or _state(u).last_error or 'resting after earlier failures'}" for u in self.urls)
        return GatewayError(
            f"no IPFS gateway delivered verified content for {path.split('?')[0]} ({lines}). "
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
