"""``benchmarks/bench_data.py --quick`` runs end to end; its counts and outcomes, never its timings.

The data benchmark runs in a subprocess, as a user runs it (small stores, one run, no
eurec4a 0.0.6), with its own ``TMPDIR`` and ``HOME`` so that the test can check that it
cleaned up after itself and never wrote to the home directory. Asserted:

* the Markdown tables were printed and the JSON written, no client failed;
* every client that loads data (ipfsspec, this package cold / warm / pulled, local disk)
  produced the same checksum of the loaded arrays, that of local disk;
* the warm run made no request; the cold run and the pull did make requests, and sent at
  least the store's bytes (nothing was read from elsewhere); the ``wire`` CAR holds the
  whole store;
* the temp dir is gone afterwards and ``HOME`` is untouched.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_data.py"
CLIENTS = {"wire", "ipfsspec", "cold", "warm", "pull", "local"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench-data")
    tmp, home = base / "tmp", base / "home"
    tmp.mkdir()
    home.mkdir()
    out = base / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EUREC4A_", "IPFS_", "IPFSSPEC_"))}
    env.update({"TMPDIR": str(tmp), "HOME": str(home), "PYTHONWARNINGS": "ignore"})
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out)], capture_output=True,
                          text=True, env=env, timeout=600, cwd=str(base))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"stdout": proc.stdout, "report": json.loads(out.read_text()), "tmp": tmp, "home": home}


@pytest.mark.slow
def test_tables_printed_and_no_client_failed(quick_run):
    stdout, report = quick_run["stdout"], quick_run["report"]
    assert "# Data benchmark (--quick)" in stdout
    assert "| store | profile | delay | client | runs | median s |" in stdout
    assert "| store | profile | delay | cold / ipfsspec" in stdout  # the ratio table
    assert "PASS" in stdout and "Targets: " in stdout
    assert report["quick"] is True and report["stores"]
    for store in report["stores"]:
        clients = {row["client"] for row in report["rows"] if row["store"] == store}
        assert clients == CLIENTS, (store, clients)
    failed = [(r["store"], r["client"], r["error"]) for r in report["rows"] if r["error"] or not r["n_runs"]]
    assert not failed


@pytest.mark.slow
def test_every_client_loaded_the_same_data(quick_run):
    report = quick_run["report"]
    for store in report["stores"]:
        rows = [r for r in report["rows"] if r["store"] == store and r["client"] != "wire"]
        sums = {tuple(r["checksums"]) for r in rows}
        assert len(sums) == 1 and len(next(iter(sums))) == 1, (store, {r["client"]: r["checksums"] for r in rows})
        assert all(r["checksum_matches_local"] for r in rows)


@pytest.mark.slow
def test_request_and_byte_counts(quick_run):
    report = quick_run["report"]
    for store, info in report["stores"].items():
        assert info["chunks"] > 0 and info["data_bytes"] > 0
        rows = {r["client"]: r for r in report["rows"] if r["store"] == store}
        assert rows["warm"]["requests"] == 0, "the warm run must be served by the cache alone"
        assert rows["warm"]["bytes_sent"] == 0
        for client in ("cold", "pull", "ipfsspec"):
            assert rows[client]["requests"] > 0, client
            # every chunk crossed the wire (data_bytes also counts metadata files that
            # readers of consolidated metadata never fetch)
            assert rows[client]["bytes_sent"] >= info["data_bytes"] * 0.95, client
        assert rows["wire"]["requests"] == 1
        assert rows["wire"]["bytes_sent"] >= info["data_bytes"]  # one CAR with the whole store


@pytest.mark.slow
def test_cleans_up_and_leaves_home_alone(quick_run):
    assert list(quick_run["tmp"].iterdir()) == [], "the benchmark's temp dir was not removed"
    assert list(quick_run["home"].iterdir()) == [], "the benchmark wrote to HOME"
