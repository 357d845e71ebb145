"""Isolation for the docstring examples (``--doctest-modules`` over ``eurec4a/``).

The test suite's own fixtures live in ``tests/conftest.py`` and do not reach the
doctests, which pytest collects from the package itself. Every doctest here runs
with a temp folder of its own that is removed afterwards, and which is all of:
``TMPDIR`` / :data:`tempfile.tempdir` (so ``tempfile.mkdtemp()`` in an example
leaves nothing behind), ``HOME``, ``EUREC4A_CACHE_DIR``, ``EUREC4A_CONFIG`` and
``IPFS_PATH``. Public gateways are replaced by an address nothing listens on, so an
example that reaches for the network fails fast instead of going online.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

#: Settings a developer's shell may have set; examples must not see them.
_CLEARED = ("IPFS_GATEWAY", "EUREC4A_CATALOG_URL", "EUREC4A_CID_POINTER_URL", "EUREC4A_CACHE_SIZE",
            "EUREC4A_POINTER_TTL", "EUREC4A_POINTER_SNAPSHOT", "EUREC4A_TIMEOUT")


@pytest.fixture(autouse=True)
def isolated_doctest(request, monkeypatch):
    """Point temp dir, home, cache and config of a doctest at a folder removed afterwards."""
    if not isinstance(request.node, DoctestItem):
        yield
        return
    root = Path(tempfile.mkdtemp(prefix="eurec4a-doctest-"))
    try:
        home = root / "home"
        tmp = root / "tmp"
        home.mkdir()
        tmp.mkdir()
        monkeypatch.setenv("TMPDIR", str(tmp))
        monkeypatch.setattr(tempfile, "tempdir", str(tmp))
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("EUREC4A_CACHE_DIR", str(home / "cache"))
        monkeypatch.setenv("EUREC4A_CONFIG", str(home / "no-config.json"))
        monkeypatch.setenv("IPFS_PATH", str(home / "ipfs"))
        monkeypatch.setenv("EUREC4A_IPFS_GATEWAYS", "http://127.0.0.1:9")
        for name in _CLEARED:
            monkeypatch.delenv(name, raising=False)
        yield
    finally:
        monkeypatch.undo()
        # filesystems cached by fsspec would keep pointing at the folder removed below
        from eurec4a.ipfs.filesystem import IPFSFileSystem

        IPFSFileSystem.clear_instance_cache()
        shutil.rmtree(root, ignore_errors=True)
