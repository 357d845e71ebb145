"""Benchmark the catalog: open, full walk, requests, one dataset load; this package vs eurec4a 0.0.6 vs local disk.

Starts the local stack (:class:`eurec4a.testing.DemoStack`: static HTTP server for the
classic catalog and the pointer file, OPeNDAP, trustless IPFS gateway) for the demo
catalog and/or a generated catalog the size of the real one
(:func:`eurec4a.testing.large_catalog.generate_large_catalog`: 150 files, 1,600 entries,
5 levels; built with ``convert_datasets=False``, as only catalog walks are timed there),
sets every server's latency with :meth:`~eurec4a.testing.DemoStack.set_latency`, and
measures for each mode (``classic``, ``latest``, ``pinned``), side by side:

* ``0.0.6``: the published ``eurec4a==0.0.6`` (intake 0.7, intake-xarray 0.7,
  ipfsspec) in its own virtual environment ``benchmarks/.venv-legacy`` (built on
  first use from PyPI), its hard-coded GitHub URLs redirected to the stack
  (``benchmarks/catalog_child.py``);
* ``cold``: this package with an empty cache directory;
* ``warm``: this package again with the cache the previous cold run filled;
* ``floor``: plain ``intake.open_catalog`` (intake 2) on the same catalog tree on
  local disk (the materialized classic tree for ``classic``, the built IPFS tree for
  ``latest``/``pinned``), and ``eurec4a local``, this package's reader on that tree.

Every measurement runs in a fresh child process (no import or cache state leaks
between runs); the table shows medians over ``--runs``. Request counts come from
the stack servers' counters, read by this process between the child's phases.

Usage::

    python benchmarks/bench_catalog.py                       # both catalogs, 0 and 50 ms, 5 runs
    python benchmarks/bench_catalog.py --runs 3 --catalog large --latency 0.05
    python benchmarks/bench_catalog.py --skip-legacy

Writes ``benchmarks/results/catalog.md`` and ``catalog.json`` (``--out``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHILD = HERE / "catalog_child.py"
LEGACY_VENV = HERE / ".venv-legacy"
#: What the 0.0.6 environment needs. xarray < 2024.10 and zarr < 3: newer xarray no
#: longer opens zarr 2 stores through zarr-python 2, which intake-xarray 0.7 uses.
LEGACY_REQUIREMENTS = ["eurec4a==0.0.6", "intake<2", "intake-xarray<2", "ipfsspec", "xarray<2024.10", "zarr<3",
                       "netCDF4", "aiohttp", "requests", "dask", "pydap"]
#: Seconds one child may take (a cold 0.0.6 walk of the large catalog at 50 ms takes ~20 s).
CHILD_TIMEOUT = 600
#: Seconds building the legacy environment may take.
VENV_TIMEOUT = 900
#: The small dataset loaded after the walk (demo catalog only).
LOAD_ENTRY = "barbados.bco.surface_met"
MODES = ("classic", "latest", "pinned")
#: Issue targets: (what, threshold).
TARGET_WARM_VS_FLOOR = 1.5
TARGET_IPFS_SPEEDUP = 20.0
TARGET_CLASSIC_SPEEDUP = 5.0
TARGET_IPFS_REQUESTS = 3


class RunStats:
    """Median and maximum of one measured key over a result's ``runs`` (shared by the benchmarks)."""

    runs: list[dict]

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return statistics.median(values) if values else None

    def most(self, key: str) -> int | None:
        values = [r[key] for r in self.runs if r.get(key) is not None]
        return max(values) if values else None


@dataclass
class Result(RunStats):
    catalog: str
    latency: float
    mode: str
    variant: str
    runs: list[dict] = field(default_factory=list)
    error: str | None = None


# ------------------------------------------------------------------ legacy environment
def legacy_python(build: bool = True) -> tuple[str | None, str]:
    """The 0.0.6 interpreter, building ``.venv-legacy`` if needed; ``(None, why)`` when impossible."""
    py = LEGACY_VENV / "bin" / "python"
    check = [str(py), "-c", "import eurec4a, intake, ipfsspec, intake_xarray; print(eurec4a.__version__, intake.__version__)"]
    if py.exists():
        # cwd: not the repository root, where ``import eurec4a`` would find this package
        r = subprocess.run(check, capture_output=True, text=True, timeout=120, cwd=str(HERE))
        if r.returncode == 0 and r.stdout.startswith("0.0.6"):
            return str(py), f"eurec4a {r.stdout.split()[0]}, intake {r.stdout.split()[1]}"
    if not build:
        return None, "legacy environment missing (--skip-legacy)"
    print(f"building {LEGACY_VENV} (eurec4a==0.0.6 from PyPI)...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(LEGACY_VENV)], check=True, timeout=VENV_TIMEOUT)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *LEGACY_REQUIREMENTS],
                           capture_output=True, text=True, timeout=VENV_TIMEOUT)
        if r.returncode != 0:
            return None, f"pip install failed: {r.stderr.strip()[-500:]}"
        r = subprocess.run(check, capture_output=True, text=True, timeout=120, cwd=str(HERE))
        if r.returncode != 0 or not r.stdout.startswith("0.0.6"):
            return None, f"eurec4a 0.0.6 does not import: {r.stderr.strip()[-500:]}"
        return str(py), f"eurec4a {r.stdout.split()[0]}, intake {r.stdout.split()[1]}"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot build {LEGACY_VENV}: {exc}"


# ------------------------------------------------------------------ one child run
def child_env(stack, cache_dir: str, scratch: Path, catalog_url: str | None = None) -> dict[str, str]:
    """The environment of one measured child: the stack's endpoints, an empty cache, no user settings.

    Bytecode is written under ``scratch`` (``PYTHONPYCACHEPREFIX``), whatever
    ``PYTHONDONTWRITEBYTECODE`` says: an editable install of this package has no ``.pyc``
    of its own, so every child would compile the modules it imports lazily inside the
    timer (~8 ms for the catalog modules alone) while the baselines, installed by pip,
    load theirs compiled. The discarded first run of each interpreter writes them.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EUREC4A_", "IPFS_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    env.update(stack.env())
    env.update({
        "EUREC4A_CACHE_DIR": cache_dir,
        "EUREC4A_CONFIG": str(scratch / "no-config.json"),
        "IPFS_PATH": str(scratch / "no-ipfs-node"),
        # fallback gateways: a closed port on loopback, so nothing ever leaves the machine
        "EUREC4A_IPFS_GATEWAYS": "http://127.0.0.1:9",
        "PYTHONWARNINGS": "ignore",
    })
    if catalog_url:
        env["EUREC4A_CATALOG_URL"] = catalog_url
    return env


def run_child(stack, python: str, argv: list[str], env: dict[str, str], load: str | None) -> dict:
    """Run one measurement; returns the child's numbers plus request counts per phase."""
    cmd = [python, str(CHILD), *argv] + (["--load", load] if load else [])
    before = stack.request_counts()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=str(HERE))
    out: dict = {}
    deadline = time.monotonic() + CHILD_TIMEOUT
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise TimeoutError(f"child took more than {CHILD_TIMEOUT} s")
            if not line.startswith("@@BENCH "):
                continue
            rec = json.loads(line[len("@@BENCH "):])
            phase = rec.pop("phase")
            if phase == "error":
                out["error"] = rec["error"]
                out["traceback"] = rec.get("traceback")
                break
            now = stack.request_counts()
            if phase == "walked":
                out.update(rec)
                out["requests"] = {k: now[k] - before.get(k, 0) for k in now}
                before = now
                if load:
                    proc.stdin.write("go\n")  # type: ignore[union-attr]
                    proc.stdin.flush()  # type: ignore[union-attr]
            elif phase == "loaded":
                out.update(rec)
                out["load_requests"] = {k: now[k] - before.get(k, 0) for k in now}
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if proc.stdin:
            proc.stdin.close()
    stderr = proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
    if "error" not in out and "walk_s" not in out:
        out["error"] = f"child exited {proc.returncode}: {stderr.strip()[-800:]}"
    if "walk_s" in out:
        out["total_s"] = out["open_s"] + out["walk_s"]
        out["n_requests"] = sum(out["requests"].values())
    if "load_requests" in out:
        out["n_load_requests"] = sum(out["load_requests"].values())
    return out


# ------------------------------------------------------------------ one catalog
def bench_catalog(name: str, stack, latencies: list[float], runs: int, legacy: str | None,
                  scratch: Path, load: str | None, legacy_runs: int | None = None) -> list[Result]:
    """Every measurement of one catalog; runs are interleaved (run 1 of every variant, then run 2...)
    so that a busy moment of the machine spreads over all variants instead of skewing one."""
    results: list[Result] = []
    mode_arg = {"classic": "classic", "latest": "latest", "pinned": stack.root_cid}
    ours = sys.executable
    legacy_runs = runs if legacy_runs is None else legacy_runs

    def once(res: Result, python: str, argv: list[str], cache_dir: str, catalog_url=None, with_load=True) -> None:
        if res.error:
            return  # failed before: do not repeat
        env = child_env(stack, cache_dir, scratch, catalog_url)
        rec = run_child(stack, python, argv, env, load if with_load else None)
        if "error" in rec:
            res.error = rec["error"]
            print(f"    {res.variant:>13} {res.mode:<8} ERROR {rec['error']}", flush=True)
            if rec.get("traceback"):
                print("      " + rec["traceback"].strip().replace("\n", "\n      ")[-1500:], flush=True)
            return
        res.runs.append(rec)

    def report(res: Result) -> None:
        if res.runs:
            print(f"    {res.variant:>13} {res.mode:<8} open+walk {res.median('total_s'):7.3f} s  "
                  f"entries {res.most('entries')}  requests {res.most('n_requests')}"
                  + (f"  load {res.median('load_s'):.3f} s" if res.median('load_s') is not None else ""), flush=True)

    # the floor does not depend on latency: measured once, shown with every latency
    trees = {"classic": stack.workdir / "www" / "catalog" / "catalog.yml",
             "ipfs": Path(stack.build.catalog_dir) / "catalog.yml"}
    floor = {(t, v): Result(name, 0.0, t, v) for t in trees for v in ("floor", "eurec4a local")}
    print(f"  [{name}] floor (local disk)", flush=True)
    unused = str(scratch / "unused-cache")
    for _ in range(runs):
        for tree_name, path in trees.items():
            once(floor[tree_name, "floor"], ours, ["--kind", "floor", "--path", str(path)], unused, with_load=False)
            once(floor[tree_name, "eurec4a local"], ours, ["--kind", "ours", "--mode", "classic"], unused,
                 catalog_url=str(path), with_load=False)
    for res in floor.values():
        report(res)

    for latency in latencies:
        stack.set_latency(latency)
        print(f"  [{name}] latency {latency * 1000:.0f} ms", flush=True)
        here = {(m, v): Result(name, latency, m, v) for m in MODES for v in ("0.0.6", "cold", "warm")}
        try:
            for i in range(max(runs, legacy_runs if legacy else 0)):
                for mode in MODES:
                    argv = ["--mode", mode_arg[mode]]
                    if legacy and i < legacy_runs:
                        once(here[mode, "0.0.6"], legacy, ["--kind", "legacy", *argv, "--catalog-url",
                                                           stack.catalog_url, "--pointer-url", stack.pointer_url],
                             unused)
                    if i < runs:
                        cache = tempfile.mkdtemp(prefix="cold-", dir=scratch)
                        once(here[mode, "cold"], ours, ["--kind", "ours", *argv], cache)
                        once(here[mode, "warm"], ours, ["--kind", "ours", *argv], cache)
                print(f"    run {i + 1} done", flush=True)
        finally:
            stack.set_latency(0.0)
        for mode in MODES:
            for variant in ("0.0.6", "cold", "warm"):
                if variant == "0.0.6" and not legacy:
                    continue
                report(here[mode, variant])
                results.append(here[mode, variant])
        for res in floor.values():  # shown with every latency
            results.append(Result(name, latency, res.mode, res.variant, res.runs, res.error))
    return results


# ------------------------------------------------------------------ report
def fmt(x: float | None, unit: str = "", digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}{unit}"


def table(results: list[Result]) -> tuple[str, list[dict]]:
    """Markdown table plus the rows as dicts (for JSON), with ratios."""
    index = {(r.catalog, r.latency, r.mode, r.variant): r for r in results}
    lines = ["| catalog | latency | mode | variant | import s | open s | walk s | open+walk s | entries | "
             "requests (open+walk) | load s | requests (load) | speedup vs 0.0.6 | vs floor |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|"]
    rows = []
    for r in results:
        if r.variant in ("floor", "eurec4a local"):
            continue
        legacy = index.get((r.catalog, r.latency, r.mode, "0.0.6"))
        floor = index.get((r.catalog, r.latency, "classic" if r.mode == "classic" else "ipfs", "floor"))
        total = r.median("total_s")
        speedup = (legacy.median("total_s") / total) if (legacy and legacy.runs and total and r.variant != "0.0.6") else None
        vs_floor = (total / floor.median("total_s")) if (floor and floor.runs and total) else None
        rows.append(_row(r, speedup, vs_floor))
    for r in results:
        if r.variant in ("floor", "eurec4a local"):
            floor = index.get((r.catalog, r.latency, r.mode, "floor"))
            total = r.median("total_s")
            vs_floor = (total / floor.median("total_s")) if (floor and floor.runs and total) else None
            rows.append(_row(r, None, vs_floor))
    for row in rows:
        lines.append("| " + " | ".join(row["cells"]) + " |")
    return "\n".join(lines), [{k: v for k, v in row.items() if k != "cells"} for row in rows]


def _requests(r: Result, key: str) -> str:
    if not r.runs or key not in r.runs[0]:
        return "-"
    worst = max(r.runs, key=lambda run: sum(run[key].values()))[key]
    total = sum(worst.values())
    parts = [f"{k[0]}{v}" for k, v in worst.items() if v]
    return f"{total}" + (f" ({' '.join(parts)})" if parts else "")


def _row(r: Result, speedup: float | None, vs_floor: float | None) -> dict:
    mode = {"ipfs": "ipfs tree", "classic": "classic"}.get(r.mode, r.mode) if r.variant in ("floor", "eurec4a local") else r.mode
    cells = [r.catalog, f"{r.latency * 1000:.0f} ms", mode, r.variant,
             fmt(r.median("import_s")), fmt(r.median("open_s")), fmt(r.median("walk_s")), fmt(r.median("total_s")),
             str(r.most("entries") if r.runs else "-"), _requests(r, "requests"), fmt(r.median("load_s")),
             _requests(r, "load_requests"),
             "-" if speedup is None else f"{speedup:.1f}x", "-" if vs_floor is None else f"{vs_floor:.2f}x"]
    if r.error and not r.runs:
        cells[5:] = [f"ERROR: {r.error[:120]}"] + [""] * (len(cells) - 6)
    return {"catalog": r.catalog, "latency_s": r.latency, "mode": mode, "variant": r.variant,
            "import_s": r.median("import_s"), "open_s": r.median("open_s"), "walk_s": r.median("walk_s"),
            "open_walk_s": r.median("total_s"), "entries": r.most("entries"), "requests": r.most("n_requests"),
            "load_s": r.median("load_s"), "load_requests": r.most("n_load_requests"),
            "speedup_vs_0.0.6": speedup, "vs_floor": vs_floor, "error": r.error,
            "runs": r.runs, "cells": cells}


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, checked against this run's numbers."""
    out = []

    def get(cat, lat, mode, variant):
        for row in rows:
            if (row["catalog"], row["latency_s"], row["mode"], row["variant"]) == (cat, lat, mode, variant):
                return row
        return None

    for cat in sorted({r["catalog"] for r in rows}):
        for lat in sorted({r["latency_s"] for r in rows if r["catalog"] == cat}):
            warm = get(cat, lat, "pinned", "warm")
            if warm and warm["vs_floor"] is not None:
                ok = warm["vs_floor"] <= TARGET_WARM_VS_FLOOR and warm["requests"] == 0
                out.append(f"{'PASS' if ok else 'FAIL'} [{cat}, {lat * 1000:.0f} ms] pinned warm open+walk "
                           f"{warm['vs_floor']:.2f}x the floor (<= {TARGET_WARM_VS_FLOOR}x), {warm['requests']} requests (0)")
            for mode in ("latest", "pinned"):
                cold = get(cat, lat, mode, "cold")
                if cold and cold["requests"] is not None:
                    ok = cold["requests"] <= TARGET_IPFS_REQUESTS
                    out.append(f"{'PASS' if ok else 'FAIL'} [{cat}, {lat * 1000:.0f} ms] {mode} cold walk: "
                               f"{cold['requests']} requests (<= {TARGET_IPFS_REQUESTS})")
            if lat < 0.05 or cat != "large":
                continue  # the speedups are for the real-size catalog at 50 ms
            for mode, goal in (("latest", TARGET_IPFS_SPEEDUP), ("pinned", TARGET_IPFS_SPEEDUP),
                               ("classic", TARGET_CLASSIC_SPEEDUP)):
                cold = get(cat, lat, mode, "cold")
                if cold and cold["speedup_vs_0.0.6"] is not None:
                    ok = cold["speedup_vs_0.0.6"] >= goal
                    out.append(f"{'PASS' if ok else 'FAIL'} [{cat}, {lat * 1000:.0f} ms] {mode} cold open+walk "
                               f"{cold['speedup_vs_0.0.6']:.1f}x faster than 0.0.6 (>= {goal:.0f}x)")
    return out


def machine_note() -> str:
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    except OSError:
        cpu = platform.processor() or "?"
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency", type=float, action="append",
                   help="seconds every server adds to every request (repeatable; default 0 and 0.05)")
    p.add_argument("--runs", type=int, default=5, help="runs per measurement (medians are reported)")
    p.add_argument("--catalog", choices=["demo", "large", "both"], default="both")
    p.add_argument("--skip-legacy", action="store_true", help="do not run (or build) eurec4a 0.0.6")
    p.add_argument("--legacy-runs", type=int, help="runs of 0.0.6 per measurement (default: --runs, at most 3; "
                   "its cold walks take 10-20 s each and vary little)")
    p.add_argument("--out", default=str(HERE / "results" / "catalog.md"),
                   help="markdown output; the JSON goes next to it with .json")
    args = p.parse_args(argv)
    latencies = args.latency or [0.0, 0.05]
    if args.runs < 1:
        p.error("--runs must be at least 1")
    legacy_runs = args.legacy_runs or min(args.runs, 3)
    sys.path.insert(0, str(ROOT))
    import logging
    import warnings

    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    from eurec4a.testing import DemoStack

    start = time.perf_counter()
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    if args.skip_legacy:
        legacy, legacy_note = None, "skipped (--skip-legacy)"
    else:
        legacy, legacy_note = legacy_python()
    print(f"eurec4a 0.0.6: {legacy_note}", flush=True)
    results: list[Result] = []
    catalogs = ["demo", "large"] if args.catalog == "both" else [args.catalog]
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        scratch = Path(tmp)
        # one discarded run per interpreter: byte-compiles and warms the page cache
        for name in catalogs:
            t0 = time.perf_counter()
            if name == "demo":
                stack = DemoStack(workdir=scratch / "stack-demo")
            else:
                from eurec4a.testing.large_catalog import generate_large_catalog

                root = generate_large_catalog(scratch / "large-src")
                stack = DemoStack(catalog=root.parent, workdir=scratch / "stack-large", convert_datasets=False)
            with stack:
                print(f"[{name}] stack ready in {time.perf_counter() - t0:.1f} s (root CID {stack.root_cid})", flush=True)
                warm_env = child_env(stack, str(scratch / "warmup-cache"), scratch)
                run_child(stack, sys.executable, ["--kind", "ours", "--mode", "classic"], warm_env, None)
                if legacy:
                    run_child(stack, legacy, ["--kind", "legacy", "--mode", "classic", "--catalog-url",
                                              stack.catalog_url, "--pointer-url", stack.pointer_url], warm_env, None)
                results += bench_catalog(name, stack, latencies, args.runs, legacy, scratch,
                                         LOAD_ENTRY if name == "demo" else None, legacy_runs)
    md, rows = table(results)
    checks = targets(rows)
    elapsed = time.perf_counter() - start
    header = (f"# Catalog benchmark\n\n{time.strftime('%Y-%m-%d %H:%M')}; {machine_note()}; "
              f"medians of {args.runs} runs ({legacy_runs} for 0.0.6); eurec4a 0.0.6: {legacy_note}; "
              f"load average before the run {load_before}; total {elapsed:.0f} s.\n\n")
    text = header + md + "\n\n## Targets\n\n" + "\n".join(f"- {c}" for c in checks) + "\n"
    print("\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({
        "machine": machine_note(), "runs": args.runs, "legacy_runs": legacy_runs, "latencies": latencies,
        "legacy": legacy_note, "load_average_before": load_before,
        "elapsed_s": elapsed, "rows": rows, "targets": checks}, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
