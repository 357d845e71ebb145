"""Fault switches shared by every server of the local test stack.

A :class:`Faults` object is handed to a server (:class:`~eurec4a.testing.http.StaticServer`,
:class:`~eurec4a.testing.gateway.TrustlessGateway`,
:class:`~eurec4a.testing.opendap.OpendapServer`) and can be changed from the test
thread while the server runs: every request reads the switches afresh, and
flipping :attr:`Faults.down` closes (or reopens, on the same port) the server's
listening socket through the listeners the server registered.

Failures are drawn from a seeded :class:`random.Random`, so a run with the same
seed and the same sequence of requests fails the same requests.

Examples
--------
>>> faults = Faults(failure_rate=1.0)
>>> faults.draw_failure()
True
>>> faults.failure_rate = 0.0
>>> faults.draw_failure()
False
>>> faults.as_dict()["failure_status"]
503
"""
from __future__ import annotations

import dataclasses
import logging
import random
import threading
from typing import Any, Callable

__all__ = ["Faults", "tamper_bytes"]

logger = logging.getLogger(__name__)

#: The switches a test may flip (the dataclass fields, in order).
_SWITCHES = ("latency", "failure_rate", "seed", "failure_status", "tamper", "down", "retry_after")


@dataclasses.dataclass(eq=False)
class Faults:
    """Switches that make a test server slow, failing, lying or unreachable.

    Every attribute may be assigned at any time from any thread; assignments are
    made under a lock and the servers watching this object are told about them.

    Parameters
    ----------
    latency
        Seconds every request waits before it is answered.
    failure_rate
        Probability (0..1) that a request is answered with ``failure_status``
        instead of its content.
    seed
        Seed of the random generator that draws failures (reset when assigned).
    failure_status
        HTTP status of a failed request (503 by default; 429 to simulate rate limits).
    tamper
        Alter the bytes of every response body (length unchanged where possible),
        so clients that verify what they receive can detect it.
    down
        ``True`` closes the server's listening socket (connections are refused);
        ``False`` reopens it on the same port.
    retry_after
        Seconds sent in a ``Retry-After`` header with failed requests (``None``: no header).

    Examples
    --------
    >>> f = Faults(seed=1, failure_rate=0.5)
    >>> draws = [f.draw_failure() for _ in range(8)]
    >>> f.seed = 1  # re-seeding replays the same draws
    >>> draws == [f.draw_failure() for _ in range(8)]
    True
    """

    latency: float = 0.0
    failure_rate: float = 0.0
    seed: int = 0
    failure_status: int = 503
    tamper: bool = False
    down: bool = False
    retry_after: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_rng", random.Random(self.seed))
        object.__setattr__(self, "_listeners", [])
        self._check()

    def _check(self) -> None:
        if not 0.0 <= float(self.failure_rate) <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1, got {self.failure_rate!r}")
        if float(self.latency) < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {self.latency!r}")
        if not 100 <= int(self.failure_status) <= 599:
            raise ValueError(f"failure_status must be an HTTP status (100-599), got {self.failure_status!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if "_listeners" not in self.__dict__:  # still inside the dataclass __init__
            object.__setattr__(self, name, value)
            return
        if name not in _SWITCHES:
            raise AttributeError(f"Faults has no switch {name!r}; switches are {', '.join(_SWITCHES)}")
        with self._lock:
            old = getattr(self, name)
            object.__setattr__(self, name, value)
            try:
                self._check()
            except ValueError:
                object.__setattr__(self, name, old)
                raise
            if name == "seed":
                self._rng.seed(value)
            listeners = list(self._listeners)
        # Listeners run outside the lock: stopping a server joins its threads,
        # and those threads read the switches.
        if old != value or name == "seed":  # re-assigning a seed restarts its draws
            for listener in listeners:
                listener(name, value)

    def update(self, **switches: Any) -> None:
        """Assign several switches at once (each one as by attribute assignment)."""
        for name, value in switches.items():
            setattr(self, name, value)

    def add_listener(self, listener: Callable[[str, Any], None]) -> None:
        """Call ``listener(name, new_value)`` after every change of a switch."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str, Any], None]) -> None:
        """Stop calling ``listener`` (no error when it was not registered)."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def draw_failure(self) -> bool:
        """Draw whether the current request fails (thread-safe, reproducible per seed)."""
        with self._lock:
            rate = float(self.failure_rate)
            if rate <= 0.0:
                return False
            if rate >= 1.0:
                return True
            return self._rng.random() < rate

    def as_dict(self) -> dict[str, Any]:
        """The switches as a plain dict (what a server in another process is sent)."""
        with self._lock:
            return {name: getattr(self, name) for name in _SWITCHES}


def tamper_bytes(body: bytes) -> bytes:
    """Return ``body`` with its last byte flipped (one ``0x00`` byte when it is empty).

    Flipping the last byte keeps the length (so ``Content-Length`` stays right)
    and, in a raw block or a CAR, lands in block data, which a verifying client
    detects.

    Examples
    --------
    >>> tamper_bytes(b"abc")
    b'ab\\x9c'
    >>> tamper_bytes(b"")
    b'\\x00'
    """
    if not body:
        return b"\x00"
    return body[:-1] + bytes([body[-1] ^ 0xFF])
