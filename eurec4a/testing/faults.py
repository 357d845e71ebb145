"""Fault switches shared by every server of the local test stack.

A :class:`Faults` object is handed to a server (:class:`~eurec4a.testing.http.StaticServer`,
:class:`~eurec4a.testing.gateway.TrustlessGateway`,
:class:`~eurec4a.testing.opendap.OpendapServer`) and can be changed from the test
thread while the server runs: every request reads the switches afresh, and
flipping :attr:`Faults.down` closes (or reopens, on the same port) the server's
listening socket through the listeners the server registered.

Failures are drawn from a seeded :class:`random.Random`, so a run with the same
seed and the same sequence of requests fails the same requests.

Adversarial modes
-----------------
Besides failures, latency and tampering, :attr:`Faults.mode` makes a server hostile
in one of the ways a broken or malicious server on the internet is (each one is a
case of https://github.com/eurec4a/eurec4a-intake's "hostile network" tests). The
mode applies to a request with probability :attr:`Faults.mode_rate` (1.0: every
request), drawn from the same seeded generator as failures, once the first
:attr:`Faults.honest_requests` requests have been answered honestly:

``"drip"``
    Headers (with the true ``Content-Length``), then the body one byte every
    :attr:`Faults.drip_interval` seconds (1 s): every read succeeds, the whole
    answer takes for ever. Only a total deadline ends it.
``"endless"``
    The body, then filler without end (chunked encoding): spaces after text (a
    pointer or catalog file stays "valid" JSON/YAML), seeded random bytes after
    anything else (a CAR or raw block). Only a size cap ends it.
``"gzip_bomb"``
    ``Content-Encoding: gzip``: the body, then 4 GiB of zeros, as concatenated gzip
    members (about 4 MB on the wire). Only a cap after decompression ends it.
``"truncate"``
    The true ``Content-Length``, half of the body, then the connection is closed.
``"short"``
    A ``Content-Length`` of half the body, and that half: a well-formed answer
    whose content (a CAR, a JSON file) is cut.
``"reset"``
    Half of the body, then a TCP reset (``SO_LINGER`` 0).
``"stall"``
    Half of the body, then silence until the client hangs up (at most
    :data:`STALL_LIMIT` seconds) or the server stops.
``"liar404"``
    ``404 Not Found`` for every request, content held or not.
``"redirect"``
    ``302 Found`` to :attr:`Faults.redirect_url` followed by the request's path and
    query (e.g. an unconfigured port on the same host, or ``http://169.254.169.254``).
``"wrong_block"``
    A valid block under the wrong CID: a raw-block answer is replaced by another
    (valid) block; in a CAR, the first block's bytes are replaced by those of the
    CAR's last block (or of a fixed block when there is only one), the CID kept.
``"car_header"``
    A CAR whose header is not valid DAG-CBOR (its bytes replaced by ``0xff``);
    any other body gets its first byte flipped.
``"flip_first"``
    One byte flipped in the first block of a CAR (the first byte of any other body).

``tamper=True`` (flip the body's last byte) is kept as it was. Body modes apply to
successful (2xx) ``GET`` answers only; ``liar404`` and ``redirect`` to every request.

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

__all__ = ["Faults", "tamper_bytes", "MODES", "BODY_MODES", "TAMPER_MODES", "STALL_LIMIT",
           "flip_first_block", "wrong_block", "corrupt_car_header", "car_sections"]

logger = logging.getLogger(__name__)

#: The switches a test may flip (the dataclass fields, in order).
_SWITCHES = ("latency", "failure_rate", "seed", "failure_status", "tamper", "down", "retry_after",
             "mode", "mode_rate", "redirect_url", "drip_interval", "honest_requests")
#: Every adversarial :attr:`Faults.mode` (see the module docstring).
MODES = ("drip", "endless", "gzip_bomb", "truncate", "short", "reset", "stall", "liar404", "redirect",
         "wrong_block", "car_header", "flip_first")
#: Modes that change how a successful body is sent.
BODY_MODES = ("drip", "endless", "gzip_bomb", "truncate", "short", "reset", "stall")
#: Modes that change a successful body's bytes (sent normally afterwards).
TAMPER_MODES = ("wrong_block", "car_header", "flip_first")
#: Most seconds a ``"stall"`` answer holds its connection.
STALL_LIMIT = 600.0


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
    mode
        An adversarial mode (one of :data:`MODES`, see the module docstring), or ``None``.
    mode_rate
        Probability (0..1) that a request gets :attr:`mode` (seeded draws, like failures).
    redirect_url
        Base URL the ``"redirect"`` mode sends clients to (the request's path is appended).
    drip_interval
        Seconds between two bytes in the ``"drip"`` mode.
    honest_requests
        Requests answered without :attr:`mode` before it applies (counted from when
        this switch is assigned; e.g. 1: the catalog tree is served honestly, then the
        dataset's blocks meet the adversary).

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
    mode: str | None = None
    mode_rate: float = 1.0
    redirect_url: str | None = None
    drip_interval: float = 1.0
    honest_requests: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_rng", random.Random(self.seed))
        object.__setattr__(self, "_listeners", [])
        object.__setattr__(self, "_honest_left", int(self.honest_requests))
        self._check()

    def _check(self) -> None:
        if not 0.0 <= float(self.failure_rate) <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1, got {self.failure_rate!r}")
        if float(self.latency) < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {self.latency!r}")
        if not 100 <= int(self.failure_status) <= 599:
            raise ValueError(f"failure_status must be an HTTP status (100-599), got {self.failure_status!r}")
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"mode must be None or one of {', '.join(MODES)}; got {self.mode!r}")
        if not 0.0 <= float(self.mode_rate) <= 1.0:
            raise ValueError(f"mode_rate must be between 0 and 1, got {self.mode_rate!r}")
        if self.mode == "redirect" and not self.redirect_url:
            raise ValueError("mode='redirect' needs redirect_url (set it first, or in the same update())")
        if int(self.honest_requests) < 0:
            raise ValueError(f"honest_requests must be >= 0, got {self.honest_requests!r}")
        if float(self.drip_interval) <= 0:
            raise ValueError(f"drip_interval must be > 0 seconds, got {self.drip_interval!r}")

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
            if name == "honest_requests":
                object.__setattr__(self, "_honest_left", int(value))
            listeners = list(self._listeners)
        # Listeners run outside the lock: stopping a server joins its threads,
        # and those threads read the switches.
        if old != value or name == "seed":  # re-assigning a seed restarts its draws
            for listener in listeners:
                listener(name, value)

    def update(self, **switches: Any) -> None:
        """Assign several switches at once (each one as by attribute assignment).

        A new ``mode`` is assigned last when it is ``"redirect"`` (after its
        ``redirect_url``) and first otherwise (so ``update(mode=None, redirect_url=None)``
        works too), whatever the order of the keywords.

        Examples
        --------
        >>> f = Faults()
        >>> f.update(mode="redirect", redirect_url="http://127.0.0.1:9")
        >>> f.update(redirect_url=None, mode=None)
        >>> f.mode, f.redirect_url
        (None, None)
        """
        mode_last = switches.get("mode") == "redirect"
        order = [n for n in switches if n != "mode"]
        if "mode" in switches:
            order = order + ["mode"] if mode_last else ["mode"] + order
        for name in order:
            setattr(self, name, switches[name])

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

    def draw_mode(self) -> str | None:
        """The adversarial mode of the current request, or ``None`` (seeded draw at ``mode_rate``).

        Examples
        --------
        >>> f = Faults(mode="liar404")
        >>> f.draw_mode()
        'liar404'
        >>> f.mode = None
        >>> f.draw_mode() is None
        True
        >>> f.update(mode="stall", honest_requests=1)
        >>> f.draw_mode(), f.draw_mode()
        (None, 'stall')
        """
        with self._lock:
            mode, rate = self.mode, float(self.mode_rate)
            if mode is None or rate <= 0.0:
                return None
            if self._honest_left > 0:
                object.__setattr__(self, "_honest_left", self._honest_left - 1)
                return None
            if rate >= 1.0 or self._rng.random() < rate:
                return mode
            return None

    def filler(self, size: int) -> bytes:
        """``size`` bytes of seeded random filler (the ``"endless"`` mode after binary bodies)."""
        with self._lock:
            return self._rng.randbytes(size)

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


# ---------------------------------------------------------------- tampering with CARs
# A minimal CARv1 reader of its own (varints and CID lengths), not the client's, so
# that a bug in eurec4a.ipfs.car cannot hide itself in these faults.


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("varint runs past the end")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _put_uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _cid_end(buf: bytes, pos: int) -> int:
    if buf[pos:pos + 2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash
        return pos + 34
    for _ in range(3):  # version, codec, hash function
        _, pos = _uvarint(buf, pos)
    length, pos = _uvarint(buf, pos)
    return pos + length


def car_sections(car: bytes) -> tuple[tuple[int, int], list[tuple[int, int, int]]]:
    """Where the header and the sections of a CARv1 are: ``((start, end), [(start, data, end), ...])``.

    ``start`` is where a section's length varint begins, ``data`` where its block
    bytes begin (after the CID), ``end`` where it ends. Raises ``ValueError`` when
    ``car`` is not a well-formed CAR.

    Examples
    --------
    >>> header = bytes([1, 0xA0])                  # a 1-byte header: an empty CBOR map
    >>> section = bytes([5, 1, 0x55, 0, 0, 0x61])  # CIDv1 raw, identity hash of b""; block b"a"
    >>> car_sections(header + section)
    ((1, 2), [(2, 7, 8)])
    """
    length, pos = _uvarint(car, 0)
    header = (pos, pos + length)
    pos += length
    sections = []
    while pos < len(car):
        length, data = _uvarint(car, pos)
        end = data + length
        if end > len(car):
            raise ValueError("a CAR section runs past the end")
        sections.append((pos, _cid_end(car, data), end))
        pos = end
    return header, sections


def _is_car(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/vnd.ipld.car"


def flip_first_block(body: bytes, content_type: str = "") -> bytes:
    """Flip one byte of the first block of a CAR (the first byte of any other body).

    Examples
    --------
    >>> flip_first_block(b"abc")
    b'\\x9ebc'
    """
    if _is_car(content_type):
        try:
            _, sections = car_sections(body)
        except ValueError:
            sections = []
        for _, data, end in sections:
            if end > data:
                return body[:data] + bytes([body[data] ^ 0xFF]) + body[data + 1:]
    if not body:
        return b"\x00"
    return bytes([body[0] ^ 0xFF]) + body[1:]


#: The block ``"wrong_block"`` serves when no other one is at hand (a valid raw block of its own CID).
OTHER_BLOCK = b"eurec4a.testing: a valid block, but not the one asked for\n"


def wrong_block(body: bytes, content_type: str = "") -> bytes:
    """A valid block under the wrong CID.

    A CAR keeps its first section's CID but gets the bytes of its last block (or
    :data:`OTHER_BLOCK` when it has one block); any other body is replaced by
    :data:`OTHER_BLOCK` (a different raw block, valid for its own CID).

    Examples
    --------
    >>> wrong_block(b"abc") == OTHER_BLOCK
    True
    """
    if not _is_car(content_type):
        return OTHER_BLOCK if body != OTHER_BLOCK else OTHER_BLOCK[::-1]
    try:
        _, sections = car_sections(body)
    except ValueError:
        return OTHER_BLOCK
    if not sections:
        return body
    start, data, end = sections[0]
    replacement = OTHER_BLOCK
    if len(sections) > 1:
        _, ldata, lend = sections[-1]
        if body[ldata:lend] != body[data:end]:
            replacement = body[ldata:lend]
    cid = body[_uvarint(body, start)[1]:data]
    section = _put_uvarint(len(cid) + len(replacement)) + cid + replacement
    return body[:start] + section + body[end:]


def corrupt_car_header(body: bytes, content_type: str = "") -> bytes:
    """A CAR whose header bytes are all ``0xff`` (not DAG-CBOR); other bodies: first byte flipped.

    Examples
    --------
    >>> corrupt_car_header(bytes([2, 0xA1, 0x00]), "application/vnd.ipld.car")
    b'\\x02\\xff\\xff'
    """
    if _is_car(content_type):
        try:
            (start, end), _ = car_sections(body)
        except ValueError:
            start, end = 0, 0
        if end > start:
            return body[:start] + b"\xff" * (end - start) + body[end:]
    return flip_first_block(body)
