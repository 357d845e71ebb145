"""eurec4a: the EUREC4A field campaign's data catalog, classic or on IPFS, verified and cached.

>>> import eurec4a
>>> cat = eurec4a.get_intake_catalog()                      # doctest: +SKIP
>>> cat = eurec4a.get_intake_catalog(use_ipfs=True)         # doctest: +SKIP
>>> cat = eurec4a.get_intake_catalog(use_ipfs="QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N")  # doctest: +SKIP

Importing the package registers its ``ipfs://`` filesystem with fsspec
(:class:`eurec4a.ipfs.IPFSFileSystem`): every read under a CID is verified
against the CID and cached.
"""
from __future__ import annotations

import fsspec as _fsspec

from .catalog import get_intake_catalog
from .config import USER_AGENT, __version__
from .errors import (
    BlockVerificationError,
    CacheError,
    CatalogError,
    CatalogNotFoundError,
    ContentNotFoundError,
    Eurec4aError,
    GatewayError,
    InvalidCIDError,
    InvalidModeError,
    ParameterError,
    PointerFileError,
    PublishError,
    ServerUnreachableError,
)
from .ipfs import IPFSFileSystem
from .offline import pull
from .pointer import CatalogVersion, get_catalog_versions, get_latest_intake_cid

# clobber: ipfsspec registers "ipfs" too (unverified); inside eurec4a, reads are verified.
_fsspec.register_implementation("ipfs", IPFSFileSystem, clobber=True)

__all__ = [
    "__version__",
    "USER_AGENT",
    "get_intake_catalog",
    "get_latest_intake_cid",
    "get_catalog_versions",
    "CatalogVersion",
    "IPFSFileSystem",
    "pull",
    "Eurec4aError",
    "InvalidModeError",
    "InvalidCIDError",
    "PointerFileError",
    "CatalogNotFoundError",
    "ContentNotFoundError",
    "ServerUnreachableError",
    "GatewayError",
    "BlockVerificationError",
    "ParameterError",
    "CatalogError",
    "PublishError",
    "CacheError",
]
