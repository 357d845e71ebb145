"""Request counts of the catalog benchmark's scenarios, asserted (timings live in benchmarks/bench_catalog.py).

On the demo stack (real static server, trustless gateway, pointer file), in this process:

* a cold IPFS walk (``use_ipfs=True`` or a CID) makes at most 3 requests: the pointer
  file (latest only) and the catalog tree as one CAR;
* a warm pinned (and latest, within the pointer's TTL) open + walk makes none, from the
  disk cache alone (a new filesystem instance, nothing kept in memory);
* a classic walk fetches every catalog file it opens exactly once, breadth first: no
  file of nesting level k+1 is requested before every file of level k was.
"""
from __future__ import annotations

import warnings
from urllib.parse import urlparse

import pytest

import eurec4a
from eurec4a import versions as pointer
from eurec4a.ipfs.filesystem import IPFSFileSystem
from eurec4a.catalog.tree import iter_nodes, walk


def _full_walk(cat) -> int:
    n = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, entry in walk(cat, on_error="raise"):
            entry.describe()
            n += 1
    return n


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


@pytest.mark.parametrize("mode", ["latest", "pinned"])
def test_cold_ipfs_walk_makes_at_most_three_requests(stack, mode):
    use = True if mode == "latest" else stack.root_cid
    before = stack.request_counts()
    entries = _full_walk(eurec4a.get_intake_catalog(use_ipfs=use))
    made = _delta(before, stack.request_counts())
    assert entries == 37, made  # the whole demo catalog was walked
    # the catalog tree in one CAR, and the community catalog it names by its own CID
    # (a catalog elsewhere, like the real catalog's Meteor LICHT_LIDAR): one more
    assert made["gateway"] == 2, made
    assert made["static"] == (1 if mode == "latest" else 0), made  # the pointer file
    assert sum(made.values()) <= 3, made


@pytest.mark.parametrize("mode", ["latest", "pinned"])
def test_warm_walk_makes_no_request(stack, mode):
    use = True if mode == "latest" else stack.root_cid
    cold = _full_walk(eurec4a.get_intake_catalog(use_ipfs=use))
    # what a new Python process has: the disk cache, nothing in memory
    IPFSFileSystem.clear_instance_cache()
    pointer.clear_memo()
    before = stack.request_counts()
    warm = _full_walk(eurec4a.get_intake_catalog(use_ipfs=use))
    assert warm == cold == 37
    assert _delta(before, stack.request_counts()) == {k: 0 for k in before}


def test_classic_walk_fetches_each_file_once_breadth_first(stack):
    seen = len(stack.static.requests)
    cat = eurec4a.get_intake_catalog()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes = list(iter_nodes(cat))
    depth = {urlparse(cat.path).path: 0}
    for node in nodes:
        if node.catalog is not None and node.catalog.path.startswith(stack.static.url):
            depth.setdefault(urlparse(node.catalog.path).path, node.depth)
    assert len(depth) == 16  # every catalog file of the demo tree that opens with defaults
    gets = [r.path for r in stack.static.requests[seen:] if r.method == "GET"]
    assert sorted(gets) == sorted(depth), "each catalog file exactly once, nothing else"
    levels = [depth[p] for p in gets]
    assert levels == sorted(levels), f"not breadth first: {list(zip(gets, levels))}"
