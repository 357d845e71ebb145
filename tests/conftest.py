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
    from eurec4a import versions as pointer
    from eurec4a.ipfs import gateways
    from eurec4a.ipfs.filesystem import IPFSFileSystem

    gateways.reset_gateway_state()
    pointer._clear_memo()
    IPFSFileSystem.clear_instance_cache()
    yield
    gateways.reset_gateway_state()
    pointer._clear_memo()
    IPFSFileSystem.clear_instance_cache()


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory):
    """The demo stack (HTTP, OPeNDAP, gateway; IPFS catalog built from the classic one), once per session.

    Tests that flip fault switches must restore them (use the ``healthy_stack`` fixture).
    """
    from eurec4a.testing import DemoStack

    with DemoStack(workdir=tmp_path_factory.mktemp("stack")) as stack:
        assert stack.build.ok, stack.build.summary()
        yield stack


@pytest.fixture
def stack(demo_stack, monkeypatch):
    """The session's demo stack, configured through the environment, with healthy servers.

    Fault switches are reset after the test, so one test's faults never leak into the next.
    """
    for key, value in demo_stack.env().items():
        monkeypatch.setenv(key, value)
    yield demo_stack
    for server in demo_stack.servers:
        server.faults.update(latency=0.0, failure_rate=0.0, tamper=False, down=False, retry_after=None,
                             failure_status=503, mode=None, mode_rate=1.0, redirect_url=None,
                             drip_interval=1.0, honest_requests=0)
