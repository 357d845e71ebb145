"""Benchmark reading data from IPFS: this package (cold, warm, pulled) vs ipfsspec 0.6 vs eurec4a 0.0.6 vs local disk.

Issue "Data at the speed of the wire". Builds zarr v2 stores shaped like EUREC4A's
(consolidated, deterministic data from seeded numpy) in one temp dir:

* ``large-chunks``: one float32 variable in 64 uncompressed chunks of 4 MiB (256 MiB);
* ``small-chunks``: one float32 variable in 2,048 uncompressed chunks of 16 KiB (32 MiB);
* ``v3-small-chunks``: the same as a zarr v3 store, whose chunk keys nest one directory
  per dimension (``q/c/17/0``: no directory holds more than one chunk; eurec4a 0.0.6,
  on zarr 2, cannot read it and is not run on it);
* ``soundings``: a 2-D (sounding x altitude) dataset, 7 variables and 3 coordinates in
  94 Blosc-compressed chunks;
* ``sharded-chunks``: one float32 variable in 7,000 uncompressed chunks of 1 KiB (7 MiB),
  enough entries for kubo to shard the variable's directory (a HAMT) in both profiles;

imports each with the package's UnixFS importer in two DAG profiles
(``unixfs-v0-2015``: kubo's defaults, CIDv0, 256 KiB chunks, dag-pb leaves;
``kubo-raw-leaves``: ``ipfs add --raw-leaves``), wraps each import in a one-entry intake
catalog (``catalog.yml``: ``driver: zarr``, ``urlpath: ipfs://<store CID>``, the shape
the published catalog has; the catalog is its own DAG, as in a real build), and serves
every block from the package's trustless gateway
(:class:`eurec4a.testing.TrustlessGateway`) on 127.0.0.1, counting requests and the body
bytes it sends. For every per-request delay (``faults.latency``), store and profile it
measures, each run in a fresh child process (``benchmarks/data_child.py``):

* ``wire``: one ``GET /ipfs/<store CID>?format=car&dag-scope=all``, the whole DAG in one
  response: what the gateway needs to send everything (the reference);
* ``ipfsspec``: ``xr.open_zarr("ipfs://<store CID>")`` with ipfsspec 0.6;
* ``0.0.6``: the published ``eurec4a==0.0.6`` in ``benchmarks/.venv-legacy`` (the
  catalog benchmark's environment, built from PyPI on first use; unavailable if that fails);
* ``cold``: ``eurec4a.get_intake_catalog(use_ipfs=<root>)["data"].to_dask().load()``,
  empty cache (``EUREC4A_CACHE_DIR``);
* ``warm``: the same with the cache the cold run filled;
* ``pull``: ``eurec4a.pull(<root>, ["data"])``, then the same as ``cold`` (the pull's
  time included);
* ``local``: ``xr.open_zarr(<store on disk>)``, measured once per store (no latency, no DAG).

Loads use dask's threaded scheduler with 8 threads. Reported: the median of ``--runs``
wall times (open + load; pull included; a measurement whose first run took more than
``--long-run`` seconds runs once), gateway requests, body bytes the gateway sent, peak
RSS of the child (``VmHWM``: see ``data_child.peak_rss_bytes`` for why not
``ru_maxrss``), the checksum of the loaded arrays, and ratios against the issue's
targets (informational: the exit code is 0 whatever they say; 130 when interrupted,
after printing what was measured). The test gateway's per-request decoding is memoized
(:func:`memoize_gateway_decoding`; ``--plain-gateway`` leaves it alone).

Usage::

    python benchmarks/bench_data.py                  # 5 stores x 2 profiles x (0, 50 ms), 3 runs (~20 min)
    python benchmarks/bench_data.py --quick          # small stores, 1 run, no 0.0.6 (< 1 min)
    python benchmarks/bench_data.py --store soundings --latency 0.05 --json out.json
    python benchmarks/bench_data.py --report out.json   # the tables of a saved run again

Everything stays on 127.0.0.1 and under one temp dir, removed at the end (Ctrl-C too);
the children's HOME, XDG dirs and caches point into it.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_catalog import RunStats, child_env, fmt, legacy_python, machine_note  # noqa: E402

CHILD = HERE / "data_child.py"
MIB = 1024 * 1024
ENTRY = "data"
PROFILES = ("unixfs-v0-2015", "kubo-raw-leaves")
STORES = ("large-chunks", "small-chunks", "soundings", "v3-small-chunks", "sharded-chunks")
QUICK_STORES = ("large-chunks", "soundings")
QUICK_PROFILES = ("kubo-raw-leaves",)
CLIENTS = ("wire", "ipfsspec", "0.0.6", "cold", "warm", "pull", "local")
THREADS = 8
#: Seconds one child may take.
CHILD_TIMEOUT = 600
SEED = 20200202
#: Issue targets.
TARGET_COLD_VS_IPFSSPEC = {0.0: 1.0, 0.05: 0.8}  # by latency; any other latency above 0 gets 0.8
TARGET_BYTES_VS_DATA = 1.1
TARGET_PULL_VS_WIRE = 2.0
TARGET_WARM_VS_LOCAL = 1.2
TARGET_RSS_OVER_IPFSSPEC = 64 * MIB


# ------------------------------------------------------------------ the package, robust to its moves
def import_to_car():
    """The UnixFS importer's ``import_to_car`` (``eurec4a.publish.importer``, formerly ``eurec4a.unixfs``)."""
    try:
        from eurec4a.publish.importer import import_to_car as fn
    except ImportError as first:
        try:
            from eurec4a.unixfs import import_to_car as fn
        except ImportError:
            raise first from None  # the current name's error says more than the old name's
    return fn


def counting_gateway(cars: list[Path]):
    """A :class:`eurec4a.testing.TrustlessGateway` that also sums the body bytes of its GET answers.

    The gateway counts requests (``count()``) but not bytes; its handler's ``respond``
    (the documented hook of :class:`eurec4a.testing.http.FaultyRequestHandler`) returns
    the reply before it is sent, so a subclass reads its size there.
    """
    from eurec4a.testing import BlockStore, Faults, TrustlessGateway

    class Handler(TrustlessGateway.handler_class):  # type: ignore[name-defined,misc]
        def respond(self, method):
            reply = super().respond(method)
            if method == "GET":
                size = reply.file[2] if getattr(reply, "file", None) else len(reply.body)
                self.server.owner.add_sent(size)
            return reply

    class Gateway(TrustlessGateway):
        handler_class = Handler

        def __init__(self, *args, **kwargs):
            self._sent = 0
            self._sent_lock = threading.Lock()
            super().__init__(*args, **kwargs)

        def add_sent(self, n: int) -> None:
            with self._sent_lock:
                self._sent += n

        @property
        def bytes_sent(self) -> int:
            with self._sent_lock:
                return self._sent

    return Gateway(BlockStore(cars=cars), faults=Faults())


def memoize_gateway_decoding() -> bool:
    """Make the test gateway decode each directory / file-root block once instead of on every request.

    :class:`~eurec4a.testing.TrustlessGateway` builds a new ``UnixFSReader`` per request
    and decodes every block on the requested path again: for a path through a directory
    of 2,048 zarr chunks that is ~13 ms of pure-Python protobuf decoding per request,
    under the parent's GIL, so every per-chunk client would measure the gateway, not
    itself (a real gateway answers such a request in well under a millisecond). Content
    is immutable, so the decoded nodes are kept for the run. Best effort: returns False
    (and changes nothing) when the gateway module no longer has a ``UnixFSReader``.
    """
    try:
        from eurec4a.testing import gateway as module

        base = module.UnixFSReader
    except (ImportError, AttributeError):
        return False
    if getattr(base, "bench_memo", False):
        return True
    memo: dict[bytes, tuple] = {}

    class MemoReader(base):  # type: ignore[misc,valid-type]
        bench_memo = True

        def node(self, cid):
            key = bytes(cid)
            hit = memo.get(key)
            if hit is None:
                hit = super().node(cid)
                if hit[0] is not None and hit[0].links:  # directories, shards, file roots; not leaves
                    memo[key] = hit
            return hit

    module.UnixFSReader = MemoReader
    return True


# ------------------------------------------------------------------ stores
@dataclass
class Store:
    name: str
    path: Path
    chunks: int
    data_bytes: int  # every file of the store (chunks and metadata)
    description: str
    dags: dict[str, dict] = field(default_factory=dict)  # profile -> {store_cid, root_cid}


def _write(ds, path: Path, encoding: dict, zarr_format: int = 2) -> None:
    ds.to_zarr(path, mode="w", zarr_format=zarr_format, consolidated=True, encoding=encoding)


def make_store(name: str, base: Path, quick: bool) -> Store:
    """Write one of the stores (see the module docstring); ``quick`` shrinks it."""
    import numcodecs
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(SEED + STORES.index(name))
    path = base / name / "store.zarr"
    path.parent.mkdir(parents=True)
    if name == "large-chunks":
        n, side = (8, 256) if quick else (64, 1024)
        data = rng.standard_normal((n, side, side), dtype=np.float32)
        ds = xr.Dataset({"ta": (("time", "y", "x"), data)}, attrs={"title": "4 MiB chunks"})
        _write(ds, path, {"ta": {"chunks": (1, side, side), "compressors": None}})
        desc = f"{n} chunks of {side * side * 4 // 1024} KiB, float32, uncompressed"
    elif name in ("small-chunks", "v3-small-chunks"):
        n = 64 if quick else 2048
        data = rng.standard_normal((n, 4096), dtype=np.float32)
        ds = xr.Dataset({"q": (("profile", "level"), data)}, attrs={"title": "16 KiB chunks"})
        version = 3 if name.startswith("v3") else 2
        _write(ds, path, {"q": {"chunks": (1, 4096), "compressors": None}}, version)
        desc = f"{n} chunks of 16 KiB, float32, uncompressed" + (", zarr v3 (c/i/0)" if version == 3 else "")
    elif name == "sharded-chunks":
        # kubo shards a directory whose links pass 256 KiB (~6,300 entries of this shape)
        n = 700 if quick else 7000
        data = rng.standard_normal((n, 256), dtype=np.float32)
        ds = xr.Dataset({"q": (("profile", "level"), data)}, attrs={"title": "1 KiB chunks"})
        _write(ds, path, {"q": {"chunks": (1, 256), "compressors": None}})
        desc = f"{n} chunks of 1 KiB, float32, uncompressed" + ("" if quick else ", a HAMT-sharded directory")
    elif name == "soundings":
        per_chunk = 10 if quick else 100
        n_snd, n_alt = 13 * per_chunk, 1001
        alt = np.arange(n_alt, dtype=np.float32) * 10.0
        top = rng.uniform(6000, 10000, n_snd)  # sondes stop at different heights: NaN above
        above = alt[None, :] > top[:, None]
        noise = rng.standard_normal((n_snd, n_alt)).astype(np.float32)

        def field_(surface, lapse, scale):
            v = (surface + rng.normal(0, 1, (n_snd, 1)) + lapse * alt[None, :] + scale * noise).astype(np.float32)
            v = np.round(v, 2)
            v[above] = np.nan
            return v

        variables = {
            "ta": field_(300.0, -0.0065, 0.2), "p": field_(101000.0, -10.5, 5.0), "rh": field_(0.8, -0.00006, 0.02),
            "u": field_(-8.0, 0.0004, 0.5), "v": field_(-1.0, 0.0002, 0.5), "q": field_(0.017, -0.0000016, 0.0003),
            "theta": field_(300.0, 0.004, 0.2),
        }
        launch = np.datetime64("2020-01-20T00:00:00", "ns") + np.arange(n_snd) * np.timedelta64(1, "h")
        ds = xr.Dataset({k: (("sounding", "alt"), v) for k, v in variables.items()},
                        coords={"sounding": np.arange(n_snd, dtype=np.int32), "alt": alt,
                                "launch_time": ("sounding", launch)},
                        attrs={"title": "soundings (JOANNE-like)"})
        blosc = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        enc = {k: {"chunks": (per_chunk, n_alt), "compressors": (blosc,)} for k in variables}
        enc.update({k: {"compressors": (blosc,)} for k in ("sounding", "alt", "launch_time")})
        _write(ds, path, enc)
        desc = f"{len(variables)} variables ({n_snd} soundings x {n_alt} levels) and 3 coordinates, Blosc lz4"
    else:
        raise ValueError(name)
    files = [p for p in path.rglob("*") if p.is_file()]
    chunks = sum(1 for p in files if not p.name.startswith(".") and p.name != "zarr.json")
    return Store(name, path, chunks, sum(p.stat().st_size for p in files), desc)


def publish(store: Store, profile: str, base: Path) -> tuple[str, str, list[Path]]:
    """Import ``store`` and its one-entry catalog with ``profile``: ``(store CID, root CID, CARs)``."""
    to_car = import_to_car()
    out = base / store.name / profile
    out.mkdir(parents=True)
    store_cid = str(to_car(store.path, out / "store.car", profile))
    cat = out / "catalog"
    cat.mkdir()
    (cat / "catalog.yml").write_text(
        "metadata:\n  version: 1\nsources:\n"
        f"  {ENTRY}:\n    description: {store.description}\n    driver: zarr\n"
        f"    args:\n      urlpath: ipfs://{store_cid}\n      consolidated: true\n", encoding="utf-8")
    root_cid = str(to_car(cat, out / "catalog.car", profile))
    return store_cid, root_cid, [out / "store.car", out / "catalog.car"]


# ------------------------------------------------------------------ one child run
def run_child(gateway, python: str, argv: list[str], env: dict[str, str]) -> dict:
    """Run one measurement; returns the child's numbers with the gateway's requests and bytes per phase."""
    cmd = [python, str(CHILD), *argv]
    out: dict = {}

    def counts() -> tuple[int, int]:
        return gateway.count(), gateway.bytes_sent

    before = counts()
    # stderr goes to an (already unlinked) temp file: a pipe nobody reads while stdout is
    # read could fill up and block a chatty child
    errfile = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errfile,
                            text=True, env=env, cwd=str(HERE))
    timer = threading.Timer(CHILD_TIMEOUT, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if not line.startswith("@@BENCH "):
                continue
            rec = json.loads(line[len("@@BENCH "):])
            phase = rec.pop("phase")
            if phase == "error":
                out["error"] = rec["error"]
                out["traceback"] = rec.get("traceback")
                break
            now = counts()
            if phase == "opened":
                out.update(rec)
                out["open_requests"], out["open_bytes"] = now[0] - before[0], now[1] - before[1]
                proc.stdin.write("go\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            elif phase == "loaded":
                out.update(rec)
                out["requests"], out["bytes"] = now[0] - before[0], now[1] - before[1]
                out["load_requests"] = out["requests"] - out.get("open_requests", 0)
        proc.wait(timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        errfile.close()
        raise
    finally:
        timer.cancel()
        if proc.stdin:
            try:
                proc.stdin.close()
            except OSError:
                pass
    errfile.seek(0)
    stderr = errfile.read()
    errfile.close()
    if "error" not in out and "total_s" not in out:
        out["error"] = f"child exited {proc.returncode}: {stderr.strip()[-800:]}"
    return out


# ------------------------------------------------------------------ results
@dataclass
class Result(RunStats):
    store: str
    profile: str
    latency: float | None
    client: str
    runs: list[dict] = field(default_factory=list)
    error: str | None = None

    def checksums(self) -> set[str]:
        return {r["checksum"] for r in self.runs if r.get("checksum")}


def _mib(x: float | None) -> str:
    return "-" if x is None else f"{x / MIB:.1f}"


def _median(r: Result | None, key: str = "total_s") -> float | None:
    return r.median(key) if r is not None and r.runs else None


def ratios(results: dict, stores: dict[str, Store], profiles, latencies) -> list[dict]:
    """The issue's ratios for every store, profile and latency, with their targets."""
    rows = []
    for name, store in stores.items():
        local = results.get((name, "-", None, "local"))
        for prof in profiles:
            for lat in latencies:
                def add(what, value, target, ok, unit="x"):
                    rows.append({"store": name, "profile": prof, "latency_s": lat, "ratio": what, "value": value,
                                 "unit": unit, "target": target, "pass": ok})

                cold, warm, pull, spec, wire = (results.get((name, prof, lat, c))
                                                for c in ("cold", "warm", "pull", "ipfsspec", "wire"))
                goal = TARGET_COLD_VS_IPFSSPEC.get(lat, 1.0 if lat == 0 else 0.8)
                if _median(cold) and _median(spec):
                    v = _median(cold) / _median(spec)
                    add("cold / ipfsspec", v, f"<= {goal}x", v <= goal)
                for label, r in (("cold", cold), ("pull", pull)):
                    if r is not None and r.runs:
                        v = r.most("bytes") / store.data_bytes
                        add(f"{label} bytes / data", v, f"<= {TARGET_BYTES_VS_DATA}x", v <= TARGET_BYTES_VS_DATA)
                if _median(pull, "pull_s") and _median(wire):
                    # the prefetch itself (catalog open, one CAR stream, verified and stored) against
                    # the gateway sending that CAR: the part of a full load the network decides
                    v = _median(pull, "pull_s") / _median(wire)
                    add("pull / wire CAR", v, f"<= {TARGET_PULL_VS_WIRE}x", v <= TARGET_PULL_VS_WIRE)
                if _median(pull) and _median(wire) and _median(local):
                    # the whole path against its floor: the CAR at wire speed plus a load from local
                    # disk (pull + load / wire alone cannot reach 2x when the decode of 2,048 chunks
                    # from local disk takes 14 times the CAR)
                    v = _median(pull) / (_median(wire) + _median(local))
                    add("pull + load / (wire CAR + local load)", v, "-", None)
                if _median(cold) and _median(wire):
                    add("cold / wire CAR", _median(cold) / _median(wire), "-", None)
                if warm is not None and warm.runs:
                    reqs = warm.most("requests")
                    add("warm requests", reqs, "0", reqs == 0, unit="")
                    if _median(local):
                        v = _median(warm) / _median(local)
                        add("warm / local disk", v, f"<= {TARGET_WARM_VS_LOCAL}x", v <= TARGET_WARM_VS_LOCAL)
                for label, r in (("cold", cold), ("warm", warm), ("pull", pull)):
                    if _median(r, "peak_rss") is not None and _median(spec, "peak_rss") is not None:
                        v = _median(r, "peak_rss") - _median(spec, "peak_rss")
                        add(f"{label} RSS - ipfsspec RSS", v / MIB, f"<= {TARGET_RSS_OVER_IPFSSPEC // MIB} MiB",
                            v <= TARGET_RSS_OVER_IPFSSPEC, unit=" MiB")
    return rows


#: Columns of the ratio table: (header with the target, ratios shown in the cell).
RATIO_COLUMNS = [
    (f"cold / ipfsspec (<= {TARGET_COLD_VS_IPFSSPEC[0.0]}x at 0 ms, <= {TARGET_COLD_VS_IPFSSPEC[0.05]}x at 50 ms)",
     ["cold / ipfsspec"]),
    (f"cold bytes / data (<= {TARGET_BYTES_VS_DATA}x)", ["cold bytes / data"]),
    (f"pull bytes / data (<= {TARGET_BYTES_VS_DATA}x)", ["pull bytes / data"]),
    (f"pull / wire CAR (<= {TARGET_PULL_VS_WIRE:g}x)", ["pull / wire CAR"]),
    ("pull + load / (wire CAR + local load)", ["pull + load / (wire CAR + local load)"]),
    ("cold / wire CAR", ["cold / wire CAR"]),
    ("warm requests (0)", ["warm requests"]),
    (f"warm / local disk (<= {TARGET_WARM_VS_LOCAL}x)", ["warm / local disk"]),
    (f"RSS - ipfsspec RSS, cold / warm / pull (<= {TARGET_RSS_OVER_IPFSSPEC // MIB} MiB)",
     ["cold RSS - ipfsspec RSS", "warm RSS - ipfsspec RSS", "pull RSS - ipfsspec RSS"]),
]


def _ratio_cell(r: dict) -> str:
    if r["unit"] == "":
        value = f"{r['value']:.0f}"
    elif r["unit"] == " MiB":
        value = f"{round(r['value']):+d} MiB"
    else:
        value = f"{r['value']:.2f}x"
    return value + {True: " PASS", False: " FAIL", None: ""}[r["pass"]]


def ratio_table(ratio_rows: list[dict]) -> str:
    """One row per store, profile and delay; every cell is a ratio with PASS / FAIL against its target."""
    lines = ["| store | profile | delay | " + " | ".join(h for h, _ in RATIO_COLUMNS) + " |",
             "|---|---|---:|" + "---:|" * len(RATIO_COLUMNS)]
    groups: dict[tuple, dict[str, dict]] = {}
    for r in ratio_rows:
        groups.setdefault((r["store"], r["profile"], r["latency_s"]), {})[r["ratio"]] = r
    for (store, prof, lat), by_name in groups.items():
        cells = [" / ".join(_ratio_cell(by_name[n]) for n in names if n in by_name) or "-"
                 for _, names in RATIO_COLUMNS]
        lines.append(f"| {store} | {prof} | {lat * 1000:.0f} ms | " + " | ".join(cells) + " |")
    verdicts = [r["pass"] for r in ratio_rows if r["pass"] is not None]
    lines += ["", f"Targets: {verdicts.count(True)} PASS, {verdicts.count(False)} FAIL (informational)."]
    return "\n".join(lines)


def tables(results: dict, stores: dict[str, Store], profiles, latencies,
           legacy: bool) -> tuple[str, list[dict], list[dict]]:
    lines = ["| store | profile | delay | client | runs | median s | pull s | open s | load s | requests | "
             "MiB sent | sent / data | peak RSS MiB | checksum |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    rows = []
    reference = {s: (results.get((s, "-", None, "local")) or Result(s, "-", None, "local")).checksums()
                 for s in stores}
    for s, store in stores.items():
        for prof in profiles:
            for lat in latencies:
                for client in CLIENTS:
                    if client == "0.0.6" and not legacy:
                        continue
                    local = client == "local"
                    r = results.get((s, "-", None, "local") if local else (s, prof, lat, client))
                    if r is None or not (r.runs or r.error):
                        continue
                    sums = r.checksums()
                    if not sums:
                        check = "-"
                    elif sums == reference[s]:
                        check = f"{next(iter(sums))[:8]} same"
                    else:
                        check = f"{'/'.join(x[:8] for x in sorted(sums))} DIFFERS from local"
                    sent = r.median("body_bytes") if client == "wire" else r.most("bytes")
                    cells = [s, "-" if local else prof, "-" if local else f"{lat * 1000:.0f} ms", client,
                             str(len(r.runs)), fmt(r.median("total_s")),
                             fmt(r.median("pull_s")) if client == "pull" else "-",
                             fmt(r.median("open_s")), fmt(r.median("load_s")),
                             "-" if local else str(r.most("requests")), "-" if local else _mib(sent),
                             "-" if local or sent is None else f"{sent / store.data_bytes:.3f}",
                             _mib(r.median("peak_rss")), "-" if client == "wire" else check]
                    if r.error and not r.runs:
                        cells = cells[:4] + [f"ERROR: {r.error[:150]}"] + [""] * 9
                    lines.append("| " + " | ".join(cells) + " |")
                    rows.append({"store": s, "profile": prof, "latency_s": lat, "client": client,
                                 "n_runs": len(r.runs), "total_s": r.median("total_s"), "open_s": r.median("open_s"),
                                 "load_s": r.median("load_s"), "pull_s": r.median("pull_s"),
                                 "requests": r.most("requests"), "bytes_sent": sent,
                                 "data_bytes": store.data_bytes, "peak_rss": r.median("peak_rss"),
                                 "checksums": sorted(sums),
                                 "checksum_matches_local": bool(sums) and sums == reference[s],
                                 "error": r.error, "runs": r.runs})
    ratio_rows = ratios(results, stores, profiles, latencies)
    lines += ["", ratio_table(ratio_rows)]
    return "\n".join(lines), rows, ratio_rows


def report_from_json(path: Path) -> str:
    """The Markdown of a run saved with ``--json`` (tables recomputed from every run's numbers)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    stores = {name: Store(name, Path(), info["chunks"], info["data_bytes"], info["description"], info.get("dags", {}))
              for name, info in data["stores"].items()}
    results: dict[tuple, Result] = {}
    for row in data["rows"]:
        key = ((row["store"], "-", None, "local") if row["client"] == "local"
               else (row["store"], row["profile"], row["latency_s"], row["client"]))
        results.setdefault(key, Result(*key, runs=row["runs"], error=row["error"]))
    legacy = any(row["client"] == "0.0.6" for row in data["rows"])
    md, _, _ = tables(results, stores, data["profiles"], data["latencies"], legacy)
    header = data.get("header") or (
        f"# Data benchmark\n\n{data['machine']}; medians of {data['runs']} runs ({data['legacy_runs']} for 0.0.6); "
        f"test gateway {data.get('gateway', '?')}; eurec4a 0.0.6: {data['legacy']}; load average before the run "
        f"{data['load_average_before']}; total {data['elapsed_s']:.0f} s.\n\n")
    return header + md + "\n"


# ------------------------------------------------------------------ main
def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="small stores (large-chunks and soundings), kubo-raw-leaves, 0 ms, 1 run, no 0.0.6")
    p.add_argument("--runs", type=int, help="runs per measurement, medians reported (default 3; 1 with --quick)")
    p.add_argument("--legacy-runs", type=int, help="runs of eurec4a 0.0.6 (default 1: informational, no target "
                   "uses it, and its per-chunk loads of the small-chunks store take 5-20 s)")
    p.add_argument("--long-run", type=float, default=5.0, metavar="S",
                   help="a measurement whose first run took more than S seconds is not repeated (default 5; "
                        "long runs vary little relative to their length; 'inf' repeats everything)")
    p.add_argument("--latency", type=float, action="append",
                   help="seconds the gateway adds to every request (repeatable; default 0 and 0.05; 0 with --quick)")
    p.add_argument("--store", action="append", choices=STORES, help="repeatable; default all (--quick: two)")
    p.add_argument("--profile", action="append", choices=PROFILES, help="repeatable; default both (--quick: one)")
    p.add_argument("--skip-legacy", action="store_true", help="do not run (or build) eurec4a 0.0.6")
    p.add_argument("--plain-gateway", action="store_true",
                   help="leave the test gateway as it is (it decodes every directory on every request: "
                        "per-chunk clients then measure the gateway's CPU)")
    p.add_argument("--json", help="also write every number (every run) to this JSON file")
    p.add_argument("--report", metavar="JSON", help="measure nothing: print the tables of a JSON written by --json")
    args = p.parse_args(argv)
    if args.report:
        print(report_from_json(Path(args.report)))
        return 0
    runs = args.runs or (1 if args.quick else 3)
    if runs < 1:
        p.error("--runs must be at least 1")
    legacy_runs = min(args.legacy_runs or 1, runs)
    latencies = args.latency or ([0.0] if args.quick else [0.0, 0.05])
    store_names = args.store or list(QUICK_STORES if args.quick else STORES)
    profiles = args.profile or list(QUICK_PROFILES if args.quick else PROFILES)
    skip_legacy = args.skip_legacy or args.quick

    # Ctrl-C and `timeout`'s SIGTERM both end in the finally below, which removes the temp dir.
    signal.signal(signal.SIGTERM, _interrupt)
    scratch = Path(tempfile.mkdtemp(prefix="bench-data-"))
    saved_environ = dict(os.environ)
    try:
        # Nothing below writes to the user's home: this process and every child get their
        # own HOME, XDG directories, pip and eurec4a caches inside the temp dir.
        for var, sub in (("HOME", "home"), ("XDG_CACHE_HOME", "xdg-cache"), ("XDG_CONFIG_HOME", "xdg-config"),
                         ("XDG_DATA_HOME", "xdg-data"), ("PIP_CACHE_DIR", "pip-cache"), ("TMPDIR", "tmp"),
                         ("EUREC4A_CACHE_DIR", "parent-cache")):
            (scratch / sub).mkdir()
            os.environ[var] = str(scratch / sub)
        if importlib.util.find_spec("eurec4a") is None:  # not installed: the checkout's package
            sys.path.insert(0, str(ROOT))
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        import logging
        import warnings

        logging.basicConfig(level=logging.ERROR)
        warnings.simplefilter("ignore")
        return _run(args, scratch, runs, legacy_runs, latencies, store_names, profiles, skip_legacy)
    except KeyboardInterrupt:
        print("\ninterrupted: removing the temp dir", file=sys.stderr, flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(saved_environ)
        shutil.rmtree(scratch, ignore_errors=True)


def _run(args, scratch: Path, runs: int, legacy_runs: int, latencies: list[float], store_names: list[str],
         profiles: list[str], skip_legacy: bool) -> int:
    start = time.perf_counter()
    long_run = args.long_run
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    if skip_legacy:
        legacy, legacy_note = None, "skipped" + (" (--quick)" if args.quick else " (--skip-legacy)")
    else:
        pythonpath = os.environ.pop("PYTHONPATH", None)  # would put this package before 0.0.6
        try:
            legacy, legacy_note = legacy_python()
        except Exception as exc:  # whatever goes wrong, the rest of the benchmark still runs
            legacy, legacy_note = None, f"{type(exc).__name__}: {exc}"
        finally:
            if pythonpath is not None:
                os.environ["PYTHONPATH"] = pythonpath
        if legacy is None:
            legacy_note = f"unavailable: {legacy_note}"
    print(f"eurec4a 0.0.6: {legacy_note}", flush=True)

    t0 = time.perf_counter()
    stores: dict[str, Store] = {}
    cars: list[Path] = []
    for name in store_names:
        store = make_store(name, scratch / "stores", args.quick)
        for prof in profiles:
            store_cid, root_cid, new = publish(store, prof, scratch / "dags")
            store.dags[prof] = {"store_cid": store_cid, "root_cid": root_cid}
            cars += new
        stores[name] = store
        print(f"[{name}] {store.chunks} chunks, {store.data_bytes / MIB:.1f} MiB ({store.description}); "
              + "; ".join(f"{p}: store {d['store_cid']}, catalog {d['root_cid']}" for p, d in store.dags.items()),
              flush=True)
    memo = False if args.plain_gateway else memoize_gateway_decoding()
    gateway_note = "directory decoding memoized" if memo else "as it is (--plain-gateway)" if args.plain_gateway \
        else "as it is (could not memoize its decoding)"
    gateway = counting_gateway(cars)
    print(f"stores built and imported in {time.perf_counter() - t0:.1f} s; gateway {gateway.url}, {gateway_note}",
          flush=True)

    class Endpoints:  # what bench_catalog.child_env needs from a stack
        @staticmethod
        def env():
            return {"IPFS_GATEWAY": gateway.url}

    ours = sys.executable

    def env_for(cache: str, python: str = ours) -> dict[str, str]:
        env = child_env(Endpoints, cache, scratch)
        env.pop("IPFSSPEC_GATEWAYS", None)  # ipfsspec 0.6 reads IPFS_GATEWAY first anyway
        if python != ours:
            env.pop("PYTHONPATH", None)  # 0.0.6's environment must not see this package
        return env

    results: dict[tuple, Result] = {}

    def wanted(key: tuple, limit: int) -> bool:
        """Whether ``key`` needs another run: not failed, fewer than ``limit`` runs, first run not long."""
        res = results.get(key)
        if res is None:
            return True
        if res.error or len(res.runs) >= limit:
            return False
        return not (res.runs and res.runs[0]["total_s"] > long_run)

    def once(key: tuple, python: str, argv: list[str], cache: str, limit: int = runs) -> None:
        if not wanted(key, limit):
            return
        res = results.setdefault(key, Result(*key))
        rec = run_child(gateway, python, argv + ["--threads", str(THREADS)], env_for(cache, python))
        if "error" in rec:
            res.error = rec["error"]
            print(f"    {key[3]:>9} ERROR {rec['error']}", flush=True)
            if rec.get("traceback"):
                print("      " + rec["traceback"].strip().replace("\n", "\n      ")[-1500:], flush=True)
            return
        res.runs.append(rec)
        print(f"    {key[3]:>9} {rec['total_s']:8.3f} s  requests {rec.get('requests', 0):5d}  "
              f"sent {rec.get('bytes', 0) / MIB:8.1f} MiB  RSS {rec['peak_rss'] / MIB:7.1f} MiB", flush=True)

    def fresh(prefix: str) -> str:
        return tempfile.mkdtemp(prefix=prefix, dir=scratch)

    unused = str(scratch / "unused-cache")
    cold_caches: dict[tuple, str] = {}  # (store, profile, latency) -> the cache the last cold run filled
    interrupted = False
    try:
        # discarded runs of each interpreter and client: they byte-compile (see child_env) and
        # warm the page cache
        first = stores[store_names[0]]
        dag = first.dags[profiles[0]]
        run_child(gateway, ours, ["--kind", "local", "--path", str(first.path)], env_for(unused))
        warmup = fresh("warmup-")
        run_child(gateway, ours, ["--kind", "ours", "--root", dag["root_cid"]], env_for(warmup))
        shutil.rmtree(warmup, ignore_errors=True)
        run_child(gateway, ours, ["--kind", "ipfsspec", "--store-cid", dag["store_cid"]], env_for(unused))
        if legacy:
            run_child(gateway, legacy, ["--kind", "legacy", "--root", dag["root_cid"]],
                      env_for(fresh("warmup-"), legacy))
        # Runs are interleaved (run 1 of everything, then run 2, ...) so that a busy moment
        # of the machine spreads over every client instead of skewing one.
        for i in range(runs):
            for lat in latencies:
                gateway.faults.latency = lat
                for name, store in stores.items():
                    if lat == latencies[0] and wanted((name, "-", None, "local"), runs):
                        print(f"  run {i + 1}  [{name}] local disk", flush=True)
                        once((name, "-", None, "local"), ours, ["--kind", "local", "--path", str(store.path)], unused)
                    for prof in profiles:
                        dag, group = store.dags[prof], (name, prof, lat)
                        print(f"  run {i + 1}  [{name}, {prof}, {lat * 1000:.0f} ms]", flush=True)
                        root = ["--root", dag["root_cid"]]
                        if legacy and not name.startswith("v3"):  # zarr 2 reads no v3 store
                            cache = fresh("legacy-")
                            once(group + ("0.0.6",), legacy, ["--kind", "legacy", *root], cache, legacy_runs)
                            shutil.rmtree(cache, ignore_errors=True)
                        url = f"{gateway.url}/ipfs/{dag['store_cid']}?format=car&dag-scope=all"
                        once(group + ("wire",), ours, ["--kind", "wire", "--url", url], unused)
                        once(group + ("ipfsspec",), ours, ["--kind", "ipfsspec", "--store-cid", dag["store_cid"]],
                             unused)
                        if wanted(group + ("cold",), runs):
                            cache = fresh("cold-")
                            once(group + ("cold",), ours, ["--kind", "ours", *root], cache)
                            if group in cold_caches:
                                shutil.rmtree(cold_caches[group], ignore_errors=True)
                            cold_caches[group] = cache
                        if group in cold_caches:  # warm: the cache the (last) cold run filled
                            once(group + ("warm",), ours, ["--kind", "ours", *root], cold_caches[group])
                        cache = fresh("pull-")
                        once(group + ("pull",), ours, ["--kind", "pull", *root], cache)
                        shutil.rmtree(cache, ignore_errors=True)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: report what was measured, then clean up
        interrupted = True
        print("\ninterrupted: the tables below hold the runs made so far", file=sys.stderr, flush=True)
    finally:
        gateway.close()

    md, rows, ratio_rows = tables(results, stores, profiles, latencies, legacy is not None)
    elapsed = time.perf_counter() - start
    store_lines = "\n".join(f"- `{s.name}`: {s.chunks} chunks, {s.data_bytes / MIB:.1f} MiB on disk; {s.description}"
                            for s in stores.values())
    title = "Data benchmark" + (" (--quick)" if args.quick else "") + (" (INTERRUPTED: partial)" if interrupted else "")
    header = (f"# {title}\n\n{time.strftime('%Y-%m-%d %H:%M')}; {machine_note()}; medians of {runs} runs "
              f"({legacy_runs if legacy else 0} for 0.0.6; a measurement whose first run took more than "
              f"{long_run:g} s ran once); dask threads {THREADS}; test gateway {gateway_note}; eurec4a 0.0.6: "
              f"{legacy_note}; load average before the run {load_before}; total {elapsed:.0f} s.\n\n"
              f"{store_lines}\n\n")
    print("\n" + header + md + "\n", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine_note(), "quick": args.quick, "runs": runs, "legacy_runs": legacy_runs if legacy else 0,
            "latencies": latencies, "profiles": profiles, "threads": THREADS, "legacy": legacy_note,
            "gateway": gateway_note,
            "load_average_before": load_before, "elapsed_s": elapsed, "long_run_s": long_run,
            "stores": {s.name: {"chunks": s.chunks, "data_bytes": s.data_bytes, "description": s.description,
                                "dags": s.dags} for s in stores.values()},
            "interrupted": interrupted, "header": header, "rows": rows, "ratios": ratio_rows},
            indent=1, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", flush=True)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
