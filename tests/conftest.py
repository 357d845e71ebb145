"""Shared fixtures: every test runs with its own cache, no user configuration, no public gateways."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """Keep tests away from the user's cache, config, local IPFS node and the internet.

    Public fallback gateways are replaced by an address nothing listens on (port 9 on
    loopback), so a test that forgets to configure a gateway fails fast and offline.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("EUREC4A_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("EUREC4A_CONFIG", str(home / "no-config.json"))
    monkeypatch.setenv("IPFS_PATH", str(home / "ipfs"))
    monkeypatch.setenv("EUREC4A_IPFS_GATEWAYS", "http://127.0.0.1:9")
    for name in ("IPFS_GATEWAY", "EUREC4A_CATALOG_URL", "EUREC4A_CID_POINTER_URL", "EUREC4A_CACHE_SIZE",
                 "EUREC4A_POINTER_TTL", "EUREC4A_POINTER_SNAPSHOT", "EUREC4A_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    from eurec4a import gateways, pointer
    from eurec4a.ipfs import IPFSFileSystem

    gateways.reset_gateway_state()
    pointer._clear_memo()
    IPFSFileSystem.clear_instance_cache()
    yield
    gateways.reset_gateway_state()
    pointer._clear_memo()
    IPFSFileSystem.clear_instance_cache()
