"""Benchmark the UnixFS importer on one large file: peak memory, wall time, throughput.

Creates a file of ``--size-mb`` MiB of deterministic pseudo-random bytes (written in
chunks, never held whole) in a temp dir under /tmp, then runs, each in its own child
process so that its peak RSS is its own:

* ``sha256sum`` on the file: the baseline (one sha2-256 pass, the least any importer
  must do, since every block is hashed once);
* for each profile, :func:`eurec4a.publish.importer.import_file` into a sink that drops the blocks
  (chunking + hashing + encoding) and :func:`eurec4a.publish.importer.import_to_car` (the same
  plus writing the CAR next to the file).

Peak RSS is ``VmHWM`` (``/proc/<pid>/status``): reported by the Python children
themselves at the end, sampled from outside for ``sha256sum``. The file is read from
the page cache in every run (the baseline runs first and warms it), so the numbers
compare CPU work, not disk speed. Prints a table and writes
``benchmarks/results/import.json``; the temp dir is deleted afterwards.

Usage::

    python benchmarks/bench_import.py --size-mb 1024 --profile all
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "import.json"
MIB = 1024 * 1024
WRITE_CHUNK = 4 * MIB
#: No single measured run may take longer than this (a 1 GiB import takes seconds).
RUN_TIMEOUT = 1800

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
from eurec4a.publish.importer import import_file, import_to_car

class Discard:
    def put(self, cid, block):
        pass

mode, path, profile = sys.argv[1:4]
t0 = time.perf_counter()
if mode == "null":
    cid, info = import_file(path, Discard(), profile)
else:
    cid = import_to_car(path, path + ".car", profile)
wall = time.perf_counter() - t0
hwm = None
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
car_size = os.path.getsize(path + ".car") if mode == "car" else None
print(json.dumps({{"cid": str(cid), "wall_s": wall, "vmhwm_bytes": hwm, "car_bytes": car_size}}))
"""


def make_file(path: Path, size: int, seed: int = 20200202) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(WRITE_CHUNK, left)
            f.write(rng.randbytes(n))
            left -= n


def _vmhwm(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # the process is gone
        pass
    return None


def run_measured(cmd: list[str]) -> tuple[float, int | None, str]:
    """Run ``cmd``; return (wall seconds, peak RSS bytes of that program, stdout).

    The peak is the child's ``VmHWM``, sampled from ``/proc`` until it exits: the
    kernel resets it at ``exec``, unlike ``ru_maxrss``, which keeps the high-water
    mark of the forking parent's image and so would report this script's own size.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        deadline = t0 + RUN_TIMEOUT
        peak = None
        while True:
            sample = _vmhwm(proc.pid)
            pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if sample is not None:
                peak = sample
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise SystemExit(f"{cmd[0]} did not finish within {RUN_TIMEOUT} s")
            time.sleep(0.005)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-2000:]}")
        return wall, peak, out.read()


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE.parent))
    from eurec4a.publish.importer import PROFILES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--profile", default="all", choices=[*PROFILES, "all"],
                        help="profile to import with (default: all)")
    parser.add_argument("--modes", default="null,car", help="comma list of null (drop blocks) and car")
    args = parser.parse_args(argv)
    if args.size_mb <= 0:
        parser.error("--size-mb must be positive")
    profiles = list(PROFILES) if args.profile == "all" else [args.profile]
    modes = [m for m in args.modes.split(",") if m]
    if set(modes) - {"null", "car"}:
        parser.error("--modes takes null and/or car")
    size = args.size_mb * MIB
    sha256sum = shutil.which("sha256sum")

    tmp = tempfile.mkdtemp(prefix="eurec4a-bench-import-", dir="/tmp")
    rows = []
    try:
        path = Path(tmp) / "data.bin"
        t0 = time.perf_counter()
        make_file(path, size)
        print(f"wrote {args.size_mb} MiB test file in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        baseline = None
        if sha256sum:
            run_measured([sha256sum, str(path)])  # warm the page cache
            wall, rss, _ = run_measured([sha256sum, str(path)])
            baseline = size / MIB / wall
            rows.append({"what": "sha256sum", "profile": "-", "mode": "-", "wall_s": wall,
                         "mb_per_s": baseline, "peak_rss_bytes": rss, "vmhwm_bytes": None,
                         "cid": None, "car_bytes": None})
        child = CHILD.format(root=str(HERE.parent))
        for profile in profiles:
            for mode in modes:
                wall, rss, out = run_measured([sys.executable, "-c", child, mode, str(path), profile])
                info = json.loads(out)
                if mode == "car":
                    os.unlink(f"{path}.car")
                rows.append({"what": "eurec4a.publish.importer", "profile": profile, "mode": mode,
                             "wall_s": info["wall_s"], "process_wall_s": wall,
                             "mb_per_s": size / MIB / info["wall_s"],
                             "peak_rss_bytes": info["vmhwm_bytes"] or rss,
                             "vmhwm_bytes": info["vmhwm_bytes"], "cid": info["cid"],
                             "car_bytes": info["car_bytes"]})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nimport of a {args.size_mb} MiB file (page cache warm), {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'what':<16} {'profile':<16} {'mode':<5} {'wall s':>8} {'MiB/s':>8} {'x sha256sum':>11} {'peak RSS MiB':>12}  root")
    for row in rows:
        ratio = f"{row['mb_per_s'] / baseline:.2f}" if baseline else "-"
        print(f"{row['what']:<16} {row['profile']:<16} {row['mode']:<5} {row['wall_s']:>8.2f} "
              f"{row['mb_per_s']:>8.1f} {ratio:>11} {(row['peak_rss_bytes'] or 0) / MIB:>12.1f}  {row['cid'] or ''}")
    result = {
        "size_mib": args.size_mb,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sha256sum_mb_per_s": baseline,
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_json = RESULTS.with_suffix(f".json.tmp-{os.getpid()}")
    tmp_json.write_text(json.dumps(result, indent=2))
    os.replace(tmp_json, RESULTS)
    print(f"\nwrote {RESULTS}")
    worst = max((r["peak_rss_bytes"] or 0 for r in rows if r["what"] != "sha256sum"), default=0)
    return 0 if worst < 200 * MIB else 1


if __name__ == "__main__":
    sys.exit(main())
