"""eurec4a.transport against the adversarial modes of the static test server, in process.

Each failure must be the package's own error, naming the URL and the setting that
changes it, within the deadline (+50%) and without buffering what a hostile server
sends. (The same cases through ``get_intake_catalog`` in child processes, with peak
RSS, are in ``test_hostile.py``.)
"""
from __future__ import annotations

import time
import tracemalloc

import pytest

from eurec4a.errors import CatalogNotFoundError, ServerUnreachableError
from eurec4a.testing import Faults, StaticServer
from eurec4a.transport import MAX_DOCUMENT_SIZE, MAX_REDIRECTS, http_get, http_get_many

BODY = b'{"intake": {"latest": "QmSMBGih8SzP8wGHGRQSbumWpQpjjXqGZDyeEmtdG7mSVP"}}\n' * 20


@pytest.fixture()
def root(tmp_path):
    (tmp_path / "cids.json").write_bytes(BODY)
    return tmp_path


@pytest.fixture()
def server(root):
    with StaticServer(root) as srv:
        yield srv


def _get(url, **kwargs):
    kwargs.setdefault("setting", "pointer_url (EUREC4A_CID_POINTER_URL)")
    return http_get(url, **kwargs)


def test_honest_answer_and_many_at_once(server):
    assert _get(server.url + "/cids.json") == BODY
    results = http_get_many([server.url + "/cids.json", server.url + "/nothing", "http://127.0.0.1:9/x"],
                            setting="catalog_url (EUREC4A_CATALOG_URL)")
    assert results[0] == BODY
    assert isinstance(results[1], CatalogNotFoundError) and "/nothing" in str(results[1])
    assert isinstance(results[2], ServerUnreachableError) and "connection refused" in str(results[2])


def test_drip_ends_at_the_deadline_naming_it(server):
    server.faults.update(mode="drip", drip_interval=0.2)
    start = time.monotonic()
    with pytest.raises(ServerUnreachableError) as info:
        _get(server.url + "/cids.json", timeout=1, deadline=1.5)
    assert time.monotonic() - start < 1.5 * 1.5
    message = str(info.value)
    assert "deadline of 1.5 s" in message and "EUREC4A_DEADLINE" in message and server.url in message


def test_stall_ends_at_the_read_timeout_naming_it(server):
    server.faults.update(mode="stall")
    start = time.monotonic()
    with pytest.raises(ServerUnreachableError) as info:
        _get(server.url + "/cids.json", timeout=0.5, deadline=10)
    assert time.monotonic() - start < 0.5 * 1.5 + 0.5
    message = str(info.value)
    assert "no bytes arrived for 0.5 s" in message and "EUREC4A_TIMEOUT" in message
    assert "EUREC4A_CID_POINTER_URL" in message


@pytest.mark.parametrize("mode", ["endless", "gzip_bomb"])
def test_endless_and_bomb_stop_at_the_size_cap_in_bounded_memory(server, mode):
    server.faults.update(mode=mode)
    tracemalloc.start()
    try:
        with pytest.raises(ServerUnreachableError, match="more than 16.0 MiB"):
            _get(server.url + "/cids.json", deadline=20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_DOCUMENT_SIZE  # the cap, not what the server sends (4 GiB / endless)


def test_size_cap_is_a_parameter(server):
    with pytest.raises(ServerUnreachableError, match="more than"):
        _get(server.url + "/cids.json", max_size=100)
    assert _get(server.url + "/cids.json", max_size=len(BODY)) == BODY


@pytest.mark.parametrize("mode, reason", [("truncate", "answer broke off"), ("reset", "connection reset")])
def test_broken_answers_are_one_short_reason(server, mode, reason):
    server.faults.update(mode=mode)
    with pytest.raises(ServerUnreachableError, match=reason):
        _get(server.url + "/cids.json")


def test_statuses(server):
    server.faults.update(failure_rate=1.0, failure_status=503)
    with pytest.raises(ServerUnreachableError, match="503"):
        _get(server.url + "/cids.json")
    server.faults.update(failure_status=429)
    with pytest.raises(ServerUnreachableError, match="429"):
        _get(server.url + "/cids.json")
    server.faults.update(failure_rate=0.0, mode="liar404")
    with pytest.raises(CatalogNotFoundError, match="404"):
        _get(server.url + "/cids.json")


def test_redirects_only_where_allowed(root, server):
    with StaticServer(root) as other:
        server.faults.update(mode="redirect", redirect_url=other.url)
        with pytest.raises(ServerUnreachableError, match="redirect was refused") as info:
            _get(server.url + "/cids.json")
        assert other.url in str(info.value) and other.count() == 0
        # a configured origin may be redirected to
        assert _get(server.url + "/cids.json", allowed_origins=[other.url]) == BODY
        assert other.count() == 1
    # a redirect to itself, for ever: a loop, cut after MAX_REDIRECTS
    server.faults.update(redirect_url=server.url)
    before = server.count()
    with pytest.raises(ServerUnreachableError, match="redirected more than"):
        _get(server.url + "/cids.json")
    assert server.count() - before == MAX_REDIRECTS + 1


def test_short_content_length_is_what_the_server_said(server):
    # HTTP cannot tell a cut file with a matching Content-Length from a short file:
    # the pointer/catalog parser is what rejects it (see test_hostile.py).
    server.faults.update(mode="short")
    assert _get(server.url + "/cids.json") == BODY[: len(BODY) // 2]


def test_faults_are_seeded(root):
    with StaticServer(root, faults=Faults(mode="reset", mode_rate=0.5, seed=7)) as srv:
        def outcomes():
            out = []
            for _ in range(12):
                try:
                    out.append(len(_get(srv.url + "/cids.json")))
                except ServerUnreachableError:
                    out.append(0)
            return out

        first = outcomes()
        srv.faults.seed = 7
        assert outcomes() == first and 0 in first and len(BODY) in first
