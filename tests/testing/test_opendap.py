"""The OPeNDAP server of the test stack (pydap under gunicorn), read by libnetcdf and pydap through xarray."""
from __future__ import annotations

import os
import socket
import time
import warnings

import numpy as np
import pytest
import requests
import xarray as xr

from eurec4a.testing.faults import Faults
from eurec4a.testing.opendap import OpendapServer, OpendapServerError

TIMEOUT = 10

pytestmark = pytest.mark.filterwarnings(
    # pydap's client asks for dap2:// or dap4:// URLs; http:// means DAP2, which is what we test
    "ignore:PyDAP was unable to determine the DAP protocol:UserWarning"
)


def make_dataset() -> xr.Dataset:
    times = np.array(["2020-01-20T00:00", "2020-01-20T06:00", "2020-01-20T12:00"], dtype="datetime64[ns]")
    return xr.Dataset(
        {
            "ta": (("time", "alt"), (np.arange(12, dtype="float32") * 1.5 + 280).reshape(3, 4), {"units": "K"}),
            "q": (("time", "alt"), np.linspace(0, 0.02, 12).reshape(3, 4)),
            "flag": (("time",), np.array([1, -2, 3], dtype="int16")),
            "count": (("time",), np.array([100000, 2, -3], dtype="int32")),
        },
        coords={"time": times, "alt": ("alt", [0.0, 10.0, 20.0, 30.0], {"units": "m"})},
        attrs={"title": "EUREC4A stack test", "campaign": "EUREC4A"},
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("opendap")
    make_dataset().to_netcdf(d / "BCO_test.nc", engine="netcdf4")
    return d


@pytest.fixture(scope="module")
def server(data_dir):
    with OpendapServer(data_dir) as srv:
        yield srv


@pytest.mark.parametrize("engine", ["netcdf4", "pydap"])
def test_xarray_reads_the_dataset(server, engine):
    expected = make_dataset()
    server.reset_counts()
    with xr.open_dataset(server.url + "/BCO_test.nc", engine=engine, cache=False) as ds:
        for name in ("ta", "q", "flag", "count", "alt", "time"):
            np.testing.assert_array_equal(ds[name].values, expected[name].values, err_msg=name)
        assert ds["ta"].attrs["units"] == "K"
        assert ds.attrs["title"] == "EUREC4A stack test"
        # subsets of a 2-D variable (constrained requests; pydap 3.5.9 needs the server-side fix)
        np.testing.assert_array_equal(ds["ta"][1:, 2].values, expected["ta"][1:, 2].values)
        np.testing.assert_array_equal(ds["q"][0, 1:3].values, expected["q"][0, 1:3].values)
    assert server.count(path="/BCO_test.nc.dds", status=200) >= 1
    assert server.count(prefix="/BCO_test.nc.dods", status=200) >= 1
    assert server.count(status=500) == 0


def test_constrained_requests_of_2d_subsets(server):
    # the DAP2 requests libnetcdf and pydap send for slices, answered without error
    for query in ("ta[1:1:2][2:1:2]", "ta%5B0:1:0%5D%5B0:1:3%5D", "q[2:1:2][3:1:3]"):
        r = requests.get(f"{server.url}/BCO_test.nc.dods?{query}", timeout=TIMEOUT)
        assert r.status_code == 200, (query, r.text[-300:])
        assert r.content.startswith(b"Dataset {")


def test_dap_responses_and_not_found(server):
    r = requests.get(server.url + "/BCO_test.nc.dds", timeout=TIMEOUT)
    assert r.status_code == 200 and "Float32 ta" in r.text
    r = requests.get(server.url + "/BCO_test.nc.das", timeout=TIMEOUT)
    assert r.status_code == 200 and "EUREC4A stack test" in r.text
    assert requests.get(server.url + "/missing.nc.dds", timeout=TIMEOUT).status_code == 404
    assert requests.get(server.url + "/missing.nc", timeout=TIMEOUT).status_code == 404
    assert server.count(path="/missing.nc.dds", status=404) == 1
    assert server.count(method="GET", path="/BCO_test.nc.dds", status=200) >= 1
    assert ("GET", "/BCO_test.nc.das", 200) in server.requests


def test_stop_kills_and_restart_serves_on_the_same_port(data_dir):
    with OpendapServer(data_dir) as srv:
        port, pid = srv.port, srv.pid
        srv.stop()
        assert not srv.running and not _group_alive(pid)  # master and worker are gone
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        with pytest.raises(OSError):
            xr.open_dataset(srv.url + "/BCO_test.nc", engine="pydap").load()
        srv.restart()
        assert srv.port == port and srv.pid != pid
        with xr.open_dataset(srv.url + "/BCO_test.nc", engine="netcdf4") as ds:
            assert float(ds["ta"][0, 0]) == 280.0
        pid = srv.pid
    assert not _group_alive(pid)  # leaving the block ended the server


def test_fault_switches_reach_the_server_process(data_dir):
    faults = Faults()
    with OpendapServer(data_dir, faults=faults) as srv:
        clean = requests.get(srv.url + "/BCO_test.nc.dods", timeout=TIMEOUT).content

        faults.update(failure_rate=1.0, retry_after=2)
        answers = [requests.get(srv.url + "/BCO_test.nc.dds", timeout=TIMEOUT) for _ in range(3)]
        assert [a.status_code for a in answers] == [503] * 3
        assert answers[0].headers["Retry-After"] == "2"
        assert srv.count(status=503) == 3
        # libnetcdf reports the 503 as an OSError (errno -70, "NetCDF: DAP server error")
        with pytest.raises(OSError) as failed:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                xr.open_dataset(srv.url + "/BCO_test.nc", engine="netcdf4").load()
        assert "DAP server error" in str(failed.value) and srv.count(status=503) > 3
        faults.failure_rate = 0.0

        faults.tamper = True
        tampered = requests.get(srv.url + "/BCO_test.nc.dods", timeout=TIMEOUT).content
        assert len(tampered) == len(clean) and tampered != clean
        faults.tamper = False
        assert requests.get(srv.url + "/BCO_test.nc.dods", timeout=TIMEOUT).content == clean

        port = srv.port
        faults.down = True
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(srv.url + "/BCO_test.nc.dds", timeout=TIMEOUT)
        faults.down = False
        assert srv.port == port
        assert requests.get(srv.url + "/BCO_test.nc.dds", timeout=TIMEOUT).status_code == 200


def test_seeded_failures_are_reproducible(data_dir):
    faults = Faults(failure_rate=0.5, seed=3)
    with OpendapServer(data_dir, faults=faults) as srv, requests.Session() as s:
        first = [s.get(srv.url + "/BCO_test.nc.dds", timeout=TIMEOUT).status_code for _ in range(12)]
        faults.seed = 3
        second = [s.get(srv.url + "/BCO_test.nc.dds", timeout=TIMEOUT).status_code for _ in range(12)]
    assert first == second and set(first) == {200, 503}


def _live_processes():
    """``(pid, ppid, pgrp)`` of every live (not zombie) process (Linux /proc)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp, ...; zombies are dead already
        if fields[0] != "Z":
            yield int(entry), int(fields[1]), int(fields[2])


def _children() -> set[int]:
    """Live (not zombie) child processes of this process (Linux /proc)."""
    me = os.getpid()
    return {pid for pid, ppid, _ in _live_processes() if ppid == me}


def test_startup_that_cannot_finish_raises_and_leaves_nothing(data_dir, tmp_path, monkeypatch):
    """No server process, no listening port and no temp files survive a start that timed out."""
    import re
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the server's work files land here
    before = _children()
    with pytest.raises(OpendapServerError, match="did not answer within") as info:
        OpendapServer(data_dir, startup_timeout=0.0)
    port = int(re.search(r"127\.0\.0\.1:(\d+)", str(info.value)).group(1))
    time.sleep(1.0)  # a server left running would be listening by now
    assert not _children() - before, "the server process outlived its failed start"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
    assert list(tmp_path.iterdir()) == [], "the server's temp folder was left behind"
    with pytest.raises(NotADirectoryError):
        OpendapServer(data_dir / "missing")
    assert list(tmp_path.iterdir()) == []


def _group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` still runs (Linux /proc)."""
    return any(pgrp == pgid for _, _, pgrp in _live_processes())


def test_server_ends_when_the_process_that_started_it_is_killed(tmp_path):
    """A test process killed before its cleanup (timeout, SIGKILL) leaves no orphan server."""
    import subprocess
    import sys

    script = (
        "import os, sys\n"
        "from eurec4a.testing.opendap import OpendapServer\n"
        f"srv = OpendapServer({str(tmp_path)!r})\n"
        "print(srv.pid, srv.url, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == -9
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, 9)
        raise AssertionError(f"gunicorn master {pid} outlived the process that started it")
