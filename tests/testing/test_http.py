"""The static HTTP server of the test stack, exercised with real clients (requests, libnetcdf, fsspec)."""
from __future__ import annotations

import http.client
import socket
import threading

import fsspec
import numpy as np
import pytest
import requests
import xarray as xr

from eurec4a.testing.faults import Faults
from eurec4a.testing.http import StaticServer, parse_range, RangeNotSatisfiable

TIMEOUT = 10

PAYLOAD = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    (root / "data.bin").write_bytes(PAYLOAD)
    (root / "sub").mkdir()
    (root / "sub" / "cat alog.yml").write_text("sources: {}\n")
    (root / "empty.txt").write_bytes(b"")
    ds = xr.Dataset(
        {"ta": (("time", "alt"), np.arange(12, dtype="float32").reshape(3, 4))},
        coords={"alt": [0.0, 10.0, 20.0, 30.0]},
    )
    ds.to_netcdf(root / "x.nc", engine="netcdf4")
    return root


@pytest.fixture()
def server(root):
    with StaticServer(root) as srv:
        yield srv


def test_get_whole_file_and_head(server):
    r = requests.get(server.url + "/data.bin", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.content == PAYLOAD
    assert r.headers["Content-Length"] == str(len(PAYLOAD))
    assert r.headers["Accept-Ranges"] == "bytes"
    h = requests.head(server.url + "/data.bin", timeout=TIMEOUT)
    assert h.status_code == 200
    assert h.headers["Content-Length"] == str(len(PAYLOAD))
    assert h.content == b""
    assert server.requests == [("GET", "/data.bin", 200), ("HEAD", "/data.bin", 200)]


def test_quoted_names_in_subdirectories(server):
    r = requests.get(server.url + "/sub/cat%20alog.yml", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.text == "sources: {}\n"


@pytest.mark.parametrize(
    "header, start, stop",
    [("bytes=10-19", 10, 20), ("bytes=10000-", 10000, 10240), ("bytes=-5", 10235, 10240),
     ("bytes=10200-99999", 10200, 10240)],
)
def test_range_requests(server, header, start, stop):
    r = requests.get(server.url + "/data.bin", headers={"Range": header}, timeout=TIMEOUT)
    assert r.status_code == 206
    assert r.content == PAYLOAD[start:stop]
    assert r.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(PAYLOAD)}"
    assert int(r.headers["Content-Length"]) == stop - start


def test_unsatisfiable_and_ignored_ranges(server):
    r = requests.get(server.url + "/data.bin", headers={"Range": "bytes=20000-"}, timeout=TIMEOUT)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(PAYLOAD)}"
    r = requests.get(server.url + "/empty.txt", headers={"Range": "bytes=-1"}, timeout=TIMEOUT)
    assert r.status_code == 416
    # several ranges, or another unit: the whole file (RFC 9110 allows ignoring Range)
    for header in ("bytes=0-1,5-6", "items=0-1", "bytes=9-3"):
        r = requests.get(server.url + "/data.bin", headers={"Range": header}, timeout=TIMEOUT)
        assert r.status_code == 200 and r.content == PAYLOAD


def test_parse_range_edge_cases():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 1)
    assert parse_range("bytes=-20", 10) == (0, 10)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 10)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)


def test_not_found_directories_and_escapes(server, root):
    assert requests.get(server.url + "/missing.nc", timeout=TIMEOUT).status_code == 404
    assert requests.head(server.url + "/missing.nc", timeout=TIMEOUT).status_code == 404
    assert requests.get(server.url + "/sub", timeout=TIMEOUT).status_code == 404
    assert requests.get(server.url + "/", timeout=TIMEOUT).status_code == 404
    # requests would normalise "..": send the raw request target
    secret = root.parent / "secret.txt"
    secret.write_text("outside")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    for target in ("/../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt"):
        conn.request("GET", target)
        resp = conn.getresponse()
        assert resp.status == 404, target
        resp.read()
    conn.close()
    assert server.count(status=404) == 7


def test_keep_alive_reuses_one_connection(server):
    with requests.Session() as session:
        for _ in range(5):
            assert session.get(server.url + "/data.bin", timeout=TIMEOUT).content == PAYLOAD
        # a 404 does not close the connection either
        assert session.get(server.url + "/nope", timeout=TIMEOUT).status_code == 404
        assert session.get(server.url + "/data.bin", headers={"Range": "bytes=0-0"}, timeout=TIMEOUT).content == b"\x00"
    assert server.connections_accepted == 1
    assert server.count() == 7
    assert server.count(method="GET", path="/data.bin") == 6


def test_tcp_nodelay_on_accepted_sockets(server):
    # Look at the server's own end of a live connection.
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as client:
        client.sendall(b"GET /empty.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        (sock,) = list(server._connections)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_parallel_requests_are_all_answered_and_counted(server):
    results = []

    def fetch(i):
        r = requests.get(server.url + "/data.bin", headers={"Range": f"bytes={i}-{i + 9}"}, timeout=TIMEOUT)
        results.append((i, r.status_code, r.content))

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(i, 206, PAYLOAD[i:i + 10]) for i in range(16)]
    assert server.count(status=206) == 16
    server.reset_counts()
    assert server.count() == 0 and server.requests == []


def test_real_clients_libnetcdf_byte_ranges_and_fsspec(server):
    with xr.open_dataset(server.url + "/x.nc#mode=bytes", engine="netcdf4") as ds:
        np.testing.assert_array_equal(ds["ta"].values, np.arange(12, dtype="float32").reshape(3, 4))
    assert server.count(status=206) > 0  # libnetcdf read the file by ranges
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    with fs.open(server.url + "/data.bin", "rb", block_size=1024) as f:
        f.seek(5000)
        assert f.read(100) == PAYLOAD[5000:5100]
    assert fs.info(server.url + "/data.bin")["size"] == len(PAYLOAD)


def test_failure_rate_one_fails_every_request_with_retry_after(root):
    faults = Faults(failure_rate=1.0, retry_after=7, failure_status=503)
    with StaticServer(root, faults=faults) as srv:
        statuses = [requests.get(srv.url + "/data.bin", timeout=TIMEOUT) for _ in range(5)]
        assert [r.status_code for r in statuses] == [503] * 5
        assert all(r.headers["Retry-After"] == "7" for r in statuses)
        faults.failure_status = 429
        assert requests.get(srv.url + "/data.bin", timeout=TIMEOUT).status_code == 429
        faults.failure_rate = 0.0  # flipped back at runtime
        assert requests.get(srv.url + "/data.bin", timeout=TIMEOUT).content == PAYLOAD
        assert srv.count(status=503) == 5 and srv.count(status=429) == 1 and srv.count(status=200) == 1


def test_seeded_failures_are_reproducible(root):
    faults = Faults(failure_rate=0.5, seed=42)
    with StaticServer(root, faults=faults) as srv, requests.Session() as s:
        first = [s.get(srv.url + "/empty.txt", timeout=TIMEOUT).status_code for _ in range(20)]
        faults.seed = 42
        second = [s.get(srv.url + "/empty.txt", timeout=TIMEOUT).status_code for _ in range(20)]
    assert first == second
    assert set(first) == {200, 503}


def test_tamper_alters_the_body_not_its_length(root):
    faults = Faults()
    with StaticServer(root, faults=faults) as srv:
        faults.tamper = True
        r = requests.get(srv.url + "/data.bin", timeout=TIMEOUT)
        assert r.status_code == 200 and len(r.content) == len(PAYLOAD) and r.content != PAYLOAD
        r = requests.get(srv.url + "/data.bin", headers={"Range": "bytes=0-9"}, timeout=TIMEOUT)
        assert r.status_code == 206 and len(r.content) == 10 and r.content != PAYLOAD[:10]
        r = requests.get(srv.url + "/empty.txt", timeout=TIMEOUT)
        assert r.content != b"" and r.headers["Content-Length"] == str(len(r.content))
        faults.tamper = False
        assert requests.get(srv.url + "/data.bin", timeout=TIMEOUT).content == PAYLOAD


def test_latency_makes_an_impatient_client_time_out(root):
    faults = Faults(latency=1.0)
    with StaticServer(root, faults=faults) as srv:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(srv.url + "/data.bin", timeout=(TIMEOUT, 0.1))
        faults.latency = 0.0
        assert requests.get(srv.url + "/data.bin", timeout=TIMEOUT).content == PAYLOAD


def test_down_refuses_connections_and_comes_back_on_the_same_port(root):
    faults = Faults()
    with StaticServer(root, faults=faults) as srv:
        port = srv.port
        session = requests.Session()
        assert session.get(srv.url + "/data.bin", timeout=TIMEOUT).status_code == 200
        faults.down = True
        assert not srv.running
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(srv.url + "/data.bin", timeout=TIMEOUT)
        # the open keep-alive connection was reset too, and reconnecting is refused
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(srv.url + "/data.bin", timeout=TIMEOUT)
        faults.down = False
        assert srv.port == port and srv.running
        assert session.get(srv.url + "/data.bin", timeout=TIMEOUT).content == PAYLOAD
        session.close()


def test_stop_and_restart_keep_the_port(root):
    with StaticServer(root) as srv:
        port = srv.port
        srv.stop()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        srv.restart()
        assert srv.port == port
        assert requests.get(srv.url + "/data.bin", timeout=TIMEOUT).status_code == 200
        srv.restart()  # restarting a running server works as well
        assert requests.get(srv.url + "/data.bin", timeout=TIMEOUT).status_code == 200
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def test_server_created_down_listens_only_when_brought_up(root):
    faults = Faults(down=True)
    with StaticServer(root, faults=faults) as srv:
        assert not srv.running
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(srv.url + "/data.bin", timeout=TIMEOUT)
        faults.down = False
        assert requests.get(srv.url + "/data.bin", timeout=TIMEOUT).status_code == 200


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(NotADirectoryError):
        StaticServer(tmp_path / "missing")
    with pytest.raises(ValueError, match="failure_rate"):
        Faults(failure_rate=2)
    faults = Faults()
    with pytest.raises(AttributeError, match="no switch"):
        faults.latencyy = 1
    with pytest.raises(ValueError, match="latency"):
        faults.latency = -1
    assert faults.latency == 0.0


def test_logging_goes_to_the_logger_not_stderr(server, capfd):
    requests.get(server.url + "/data.bin", timeout=TIMEOUT)
    requests.get(server.url + "/nope", timeout=TIMEOUT)
    out, err = capfd.readouterr()
    assert err == "" and out == ""


# ---------------------------------------------------------------- adversarial modes

def _raw_get(srv, path, timeout=TIMEOUT):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    conn.request("GET", path)
    return conn, conn.getresponse()


def test_drip_mode_sends_the_true_length_then_one_byte_at_a_time(root):
    (root / "small.txt").write_bytes(b"01234")
    with StaticServer(root, faults=Faults(mode="drip", drip_interval=0.2)) as srv:
        conn, resp = _raw_get(srv, "/small.txt", timeout=0.05)
        assert resp.getheader("Content-Length") == "5"
        assert resp.read(1) == b"0"
        with pytest.raises(TimeoutError):  # the next byte is 0.2 s away
            resp.read(1)
        conn.close()
        conn, resp = _raw_get(srv, "/small.txt", timeout=1.0)
        assert resp.read() == b"01234"  # every byte arrives, one at a time
        conn.close()


@pytest.mark.parametrize("name, filler", [("small.txt", b" "), ("data.bin", None)])
def test_endless_mode_sends_the_file_then_filler_without_end(root, name, filler):
    (root / "small.txt").write_bytes(b"0123456789")
    content = (root / name).read_bytes()
    with StaticServer(root, faults=Faults(mode="endless", seed=5)) as srv:
        conn, resp = _raw_get(srv, f"/{name}")
        assert resp.getheader("Content-Length") is None and resp.getheader("Transfer-Encoding") == "chunked"
        data = resp.read(len(content) + 4 * 1024 * 1024)
        conn.close()
    assert data.startswith(content) and len(data) == len(content) + 4 * 1024 * 1024
    tail = data[len(content):]
    if filler is not None:
        assert tail == filler * len(tail)
    else:
        assert len(set(tail[:4096])) > 200  # seeded random bytes


def test_gzip_bomb_mode_decompresses_to_the_file_then_zeros(server, root):
    import zlib

    server.faults.update(mode="gzip_bomb")
    conn, resp = _raw_get(server, "/data.bin")
    assert resp.getheader("Content-Encoding") == "gzip"
    compressed = resp.read(200_000)
    conn.close()
    out, d, data = b"", zlib.decompressobj(31), compressed
    while data and len(out) < 20 * 1024 * 1024:  # bounded, the way a careful client reads it
        out += d.decompress(data, 1024 * 1024)
        data = d.unconsumed_tail
        if d.eof:
            data, d = d.unused_data, zlib.decompressobj(31)
    assert out.startswith(PAYLOAD) and len(out) >= 20 * 1024 * 1024 - 1024 * 1024
    assert out[len(PAYLOAD):].count(0) == len(out) - len(PAYLOAD)


def test_truncate_short_reset_and_stall_modes(server):
    half = len(PAYLOAD) // 2
    server.faults.update(mode="short")
    conn, resp = _raw_get(server, "/data.bin")
    assert resp.getheader("Content-Length") == str(half) and resp.read() == PAYLOAD[:half]
    conn.close()

    server.faults.update(mode="truncate")
    conn, resp = _raw_get(server, "/data.bin")
    assert resp.getheader("Content-Length") == str(len(PAYLOAD))
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert info.value.partial == PAYLOAD[:half]
    conn.close()

    server.faults.update(mode="reset")
    conn, resp = _raw_get(server, "/data.bin")
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
        resp.read()
    conn.close()

    server.faults.update(mode="stall")
    conn, resp = _raw_get(server, "/data.bin", timeout=0.5)
    assert resp.read(half) == PAYLOAD[:half]
    with pytest.raises(TimeoutError):
        resp.read(1)
    conn.close()


def test_liar404_and_redirect_modes(server):
    server.faults.update(mode="liar404")
    assert requests.get(server.url + "/data.bin", timeout=TIMEOUT).status_code == 404
    server.faults.update(mode="redirect", redirect_url="http://127.0.0.1:9/")
    r = requests.get(server.url + "/data.bin?x=1", timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "http://127.0.0.1:9/data.bin?x=1"
    with pytest.raises(ValueError, match="redirect_url"):
        Faults(mode="redirect")


def test_modes_are_drawn_reproducibly_from_the_seed(server):
    def statuses():
        return [requests.get(server.url + "/data.bin", timeout=TIMEOUT).status_code for _ in range(20)]

    server.faults.update(mode="liar404", mode_rate=0.5, seed=42)
    first = statuses()
    server.faults.seed = 42
    assert statuses() == first and set(first) == {200, 404}
    server.faults.update(mode_rate=1.0, honest_requests=2)
    assert statuses()[:3] == [200, 200, 404]
