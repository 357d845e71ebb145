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
    "InvalidCIDPathError",
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
    "ConfigurationError",
    "CatalogCycleError",
    "EntryNotFoundError",
    "NotADirectoryInDAGError",
    "InvalidDAGError",
    "CarFormatError",
    "ProfileError",
    "SourceError",
    "Eurec4aWarning",
    "CatalogCycleWarning",
    "CatalogLoadWarning",
    "FlightSegmentsError",
]


class Eurec4aError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidModeError(Eurec4aError, TypeError):
    """``use_ipfs`` is neither a bool nor a CID string."""


class ConfigurationError(Eurec4aError, ValueError):
    """A setting (argument, environment variable or configuration file) has an invalid value."""


class InvalidCIDError(Eurec4aError, ValueError):
    """A string that should be a content identifier (CID) is not one."""


class InvalidCIDPathError(InvalidCIDError, FileNotFoundError):
    """An ``ipfs://`` path does not start with a valid CID.

    A :class:`FileNotFoundError` too, as in ipfsspec: ``exists``, ``isdir`` and
    ``isfile`` return False for it and ``except OSError`` catches it.
    """


class PointerFileError(Eurec4aError, ValueError):
    """The pointer file (``cids.json``) is not JSON or lacks what it must hold."""


class CatalogNotFoundError(Eurec4aError, LookupError):
    """A catalog, a catalog file or an entry does not exist where it was looked for."""


class ContentNotFoundError(CatalogNotFoundError, FileNotFoundError):
    """A CID or a path below it is held by no gateway that was asked (a definitive 404)."""


class NotADirectoryInDAGError(ContentNotFoundError, NotADirectoryError):
    """A path below a CID goes through something that is not a directory."""


class EntryNotFoundError(CatalogNotFoundError, KeyError):
    """No catalog entry of that name; a ``KeyError`` too, so ``except KeyError`` and ``in`` keep working."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


class ServerUnreachableError(Eurec4aError, ConnectionError):
    """A server could not be reached or kept failing; the message names URL and setting."""


class GatewayError(ServerUnreachableError):
    """No IPFS gateway could deliver verified content (all failed, timed out or tampered)."""


class BlockVerificationError(Eurec4aError, ValueError):
    """Bytes received for a CID do not hash to that CID; they are never returned."""


class CarFormatError(BlockVerificationError):
    """The bytes are not a well-formed CARv1 archive."""


class InvalidDAGError(Eurec4aError, ValueError):
    """A block matches its CID but is not a valid dag-pb / UnixFS node."""


class ParameterError(Eurec4aError, ValueError):
    """A catalog entry was called with an unknown parameter or a value it does not accept."""


class CatalogError(Eurec4aError, ValueError):
    """A catalog file or entry cannot be used (bad YAML, unknown driver, cycle...)."""


class CatalogCycleError(CatalogError):
    """A catalog entry points at a catalog file that is already open above it."""

    def __init__(self, message: str, chain: tuple[str, ...] = ()):
        super().__init__(message)
        self.chain = chain


class PublishError(Eurec4aError, RuntimeError):
    """Building or publishing an IPFS catalog failed."""


class ProfileError(PublishError, ValueError):
    """An unknown importer profile name or a profile field with a value that cannot work."""


class SourceError(PublishError, FileNotFoundError):
    """The path to import does not exist, is of the wrong kind, or cannot be represented."""


class FlightSegmentsError(Eurec4aError, ValueError):
    """The flight-segments file (``all_flights.yaml``) is not the expected YAML structure."""


class CacheError(Eurec4aError, OSError):
    """The local cache cannot be used (bad location or size setting)."""


class Eurec4aWarning(UserWarning):
    """Base class of every warning this package issues (``warnings.simplefilter("error", Eurec4aWarning)``)."""


class CatalogCycleWarning(Eurec4aWarning):
    """A walk met a catalog file that includes itself or an ancestor; it was not followed."""


class CatalogLoadWarning(Eurec4aWarning):
    """A walk met a sub-catalog that could not be opened; it was skipped."""
