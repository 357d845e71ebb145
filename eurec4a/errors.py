"""The exceptions this package raises.

Every error a user can provoke is one of these. Each subclasses the built-in
exception that code already catches for that kind of failure (``ValueError`` for
bad input, ``LookupError`` for something that is not there, ``ConnectionError``
for a server that cannot be reached), and all of them subclass
:class:`Eurec4aError`, so ``except eurec4a.Eurec4aError`` catches everything the
package itself reports.

Examples
--------
>>> import eurec4a
>>> try:
...     eurec4a.get_intake_catalog(use_ipfs="not-a-cid")
... except ValueError as err:  # InvalidCIDError is a ValueError
...     print(type(err).__name__)
InvalidCIDError
"""
from __future__ import annotations

__all__ = [
    "Eurec4aError",
    "InvalidModeError",
    "InvalidCIDError",
    "PointerFileError",
    "CatalogNotFoundError",
    "ServerUnreachableError",
    "GatewayError",
    "BlockVerificationError",
    "ContentNotFoundError",
    "ParameterError",
    "CatalogError",
    "PublishError",
    "CacheError",
]


class Eurec4aError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidModeError(Eurec4aError, TypeError):
    """``use_ipfs`` is neither a bool nor a CID string."""


class InvalidCIDError(Eurec4aError, ValueError):
    """A string that should be a content identifier (CID) is not one."""


class PointerFileError(Eurec4aError, ValueError):
    """The pointer file (``cids.json``) is not JSON or lacks what it must hold."""


class CatalogNotFoundError(Eurec4aError, LookupError):
    """A catalog, a catalog file or an entry does not exist where it was looked for."""


class ContentNotFoundError(CatalogNotFoundError, FileNotFoundError):
    """A CID or a path below it is held by no gateway that was asked (a definitive 404)."""


class ServerUnreachableError(Eurec4aError, ConnectionError):
    """A server could not be reached or kept failing; the message names URL and setting."""


class GatewayError(ServerUnreachableError):
    """No IPFS gateway could deliver verified content (all failed, timed out or tampered)."""


class BlockVerificationError(Eurec4aError, ValueError):
    """Bytes received for a CID do not hash to that CID; they are never returned."""


class ParameterError(Eurec4aError, ValueError):
    """A catalog entry was called with an unknown parameter or a value it does not accept."""


class CatalogError(Eurec4aError, ValueError):
    """A catalog file or entry cannot be used (bad YAML, unknown driver, cycle...)."""


class PublishError(Eurec4aError, RuntimeError):
    """Building or publishing an IPFS catalog failed."""


class CacheError(Eurec4aError, OSError):
    """The local cache cannot be used (bad location or size setting)."""
