"""eurec4a: the EUREC4A field campaign's data catalog, classic or on IPFS, verified and cached.

>>> import eurec4a
>>> cat = eurec4a.get_intake_catalog()                      # doctest: +SKIP
>>> cat = eurec4a.get_intake_catalog(use_ipfs=True)         # doctest: +SKIP
>>> cat = eurec4a.get_intake_catalog(use_ipfs="QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")  # doctest: +SKIP

Importing the package registers its ``ipfs://`` filesystem with fsspec
(:class:`eurec4a.ipfs.filesystem.IPFSFileSystem`): every read under a CID is verified
against the CID and cached.
"""
from __future__ import annotations

import fsspec as _fsspec

from eurec4a.api import get_intake_catalog, open_catalog, reset_state
from eurec4a.settings import USER_AGENT, __version__
from eurec4a.errors import (
    BlockVerificationError,
    CacheError,
    CarFormatError,
    CatalogCycleError,
    CatalogCycleWarning,
    CatalogError,
    CatalogLoadWarning,
    CatalogNotFoundError,
    ConfigurationError,
    ContentNotFoundError,
    EntryNotFoundError,
    Eurec4aError,
    FlightSegmentsError,
    Eurec4aWarning,
    GatewayError,
    InvalidCIDError,
    InvalidCIDPathError,
    InvalidDAGError,
    InvalidModeError,
    NotADirectoryInDAGError,
    ParameterError,
    PointerFileError,
    ProfileError,
    PublishError,
    ServerUnreachableError,
    SourceError,
)
from eurec4a.ipfs.filesystem import IPFSFileSystem
from eurec4a.offline import pull
from eurec4a.segments import flatten_segments, get_flight_segments, segments_by_id
from eurec4a.versions import CatalogVersion, get_catalog_versions, get_latest_intake_cid

# clobber: ipfsspec registers "ipfs" too (unverified); inside eurec4a, reads are verified.
_fsspec.register_implementation("ipfs", IPFSFileSystem, clobber=True)

__all__ = [
    "__version__",
    "USER_AGENT",
    "get_intake_catalog",
    "reset_state",
    "open_catalog",
    "get_latest_intake_cid",
    "get_catalog_versions",
    "get_flight_segments",
    "flatten_segments",
    "segments_by_id",
    "CatalogVersion",
    "IPFSFileSystem",
    "pull",
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
    "FlightSegmentsError",
    "Eurec4aWarning",
    "CatalogCycleWarning",
    "CatalogLoadWarning",
]
