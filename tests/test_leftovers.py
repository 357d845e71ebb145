"""Nothing left behind: the test fixtures, the demo and a docs-like run leave HOME and TMPDIR as they found them.

Each check runs in a new process whose ``HOME`` and ``TMPDIR`` are empty folders of its
own, with none of the eurec4a settings that would redirect the cache or the configuration
(so a write to the default cache or config folder would land in that ``HOME``), and then
asserts both folders are still empty: no cache, no ``~/.gunicorn/gunicorn.ctl``, no
``eurec4a-*`` or ``tmp*`` folders.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Seconds one run may take (the demo takes about a minute on two busy cores).
RUN_TIMEOUT = 600


def _clean_env(home: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EUREC4A_", "IPFS", "XDG_")) and k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONUNBUFFERED="1",
               # no public gateway is ever asked (only what each run starts on 127.0.0.1)
               EUREC4A_IPFS_GATEWAYS="http://127.0.0.1:9")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def empty(tmp_path):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    return home, tmp


def _run(cmd: list[str], home: Path, tmp: Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=cwd, env=_clean_env(home, tmp), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_demo_leaves_home_and_tmp_empty(empty):
    home, tmp = empty
    done = _run([sys.executable, "-m", "eurec4a.testing.demo"], home, tmp)
    assert "all modes agree" in done.stdout
    assert "PyDAP was unable" not in done.stderr  # the protocol is named, so pydap never guesses
    assert _leftovers(home) == [] and _leftovers(tmp) == []


def test_suite_fixtures_leave_home_and_tmp_empty(empty, tmp_path):
    """The demo stack fixture, a module-scoped fixture using it, CLI tests, OPeNDAP servers that fail to
    start or whose owner is killed, and dask workers, as pytest runs them."""
    home, tmp = empty
    basetemp = tmp_path / "basetemp"  # pytest's own folder for tmp_path: the runner's, not the package's
    tests = ["tests/test_cli.py::test_cache_info_and_clear", "tests/test_cli.py::test_tree_of_a_dataset_shows_the_entry",
             "tests/test_catalog.py::test_entry_trees_are_equal_in_every_mode",
             "tests/testing/test_opendap.py::test_stop_kills_and_restart_serves_on_the_same_port",
             "tests/testing/test_opendap.py::test_startup_that_cannot_finish_raises_and_leaves_nothing",
             "tests/testing/test_opendap.py::test_server_ends_when_the_process_that_started_it_is_killed",
             "tests/test_distributed.py"]
    done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                 f"--basetemp={basetemp}", *tests], home, tmp)
    assert (_leftovers(home), _leftovers(tmp)) == ([], []), done.stdout[-3000:]


def test_docs_like_run_leaves_home_and_tmp_empty(empty):
    """What a docs page does: the stack started as docs/conf.py starts it, an open, a plot, offline."""
    home, tmp = empty
    page = textwrap.dedent("""
        import tempfile, eurec4a
        tempfile.mkdtemp(prefix="eurec4a-offline-")  # what the offline page does
        cat = eurec4a.get_intake_catalog()
        ds = cat["barbados.bco.surface_met"].to_dask()
        try:
            import matplotlib
        except ImportError:  # the [docs] extra brings it; the [test] extra does not
            pass
        else:
            matplotlib.use("Agg")
            ds["T"].plot()
    """)
    # docs/conf.py starts the stack and sets the environment; each page runs in a kernel of its own
    script = textwrap.dedent(f"""
        import os, runpy, subprocess, sys
        conf = runpy.run_path("docs/conf.py")
        try:
            subprocess.run([sys.executable, "-c", {page!r}], check=True, env=os.environ)
        finally:
            conf["_stop_stack"]()
    """)
    _run([sys.executable, "-c", script], home, tmp)
    assert _leftovers(home) == [] and _leftovers(tmp) == []


def test_demo_serve_keeps_the_stack_until_ctrl_c_and_then_leaves_nothing(empty):
    """``--serve`` prints export lines that point the CLI at the stack; Ctrl-C stops it and cleans up."""
    import shlex
    import signal

    home, tmp = empty
    env = _clean_env(home, tmp)
    proc = subprocess.Popen([sys.executable, "-m", "eurec4a.testing.demo", "--serve"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports = {}
        for line in proc.stdout:  # ends when the process does: a failed start cannot hang this loop
            if line.strip().startswith("export "):
                key, _, value = line.strip()[len("export "):].partition("=")
                exports[key] = shlex.split(value)[0]
            if "Press Ctrl-C" in line:
                break
        assert set(exports) == {"EUREC4A_CATALOG_URL", "EUREC4A_CID_POINTER_URL", "IPFS_GATEWAY",
                                "EUREC4A_FLIGHT_SEGMENTS_URL", "EUREC4A_CACHE_DIR"}, proc.stderr.read() if proc.poll() is not None else exports
        for argv in (["tree", "--ipfs"], ["tree", "barbados.bco.surface_met"], ["versions"]):
            done = subprocess.run([sys.executable, "-m", "eurec4a", *argv], env={**env, **exports}, cwd=REPO,
                                  capture_output=True, text=True, timeout=RUN_TIMEOUT)
            assert done.returncode == 0 and done.stderr == "", (argv, done.stderr)
        assert "surface_met" in done.stdout or "(latest)" in done.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert _leftovers(home) == [] and _leftovers(tmp) == []


def _occookies() -> set[str]:
    # libnetcdf writes its DAP cookie files to /tmp whatever TMPDIR says
    return {p.name for p in Path("/tmp").glob("occookies*")}


@pytest.mark.skipif(sys.platform == "win32", reason="libnetcdf's default cookie folder is /tmp on POSIX")
def test_a_process_that_exits_with_an_opendap_dataset_open_leaves_no_cookie_file(empty, tmp_path):
    """libnetcdf (engine netcdf4) keeps a cookie file per open dataset unless it is given a jar."""
    home, tmp = empty
    cache = tmp_path / "cache"
    script = textwrap.dedent("""
        import os, sys
        os.environ["EUREC4A_CACHE_DIR"] = sys.argv[1]
        import eurec4a
        from eurec4a.testing import DemoStack
        with DemoStack() as stack, stack.configured():
            ds = eurec4a.get_intake_catalog().JOANNE(version="v2.0.0")["level3"].to_dask()
            assert ds.sizes, ds
            print("opened", dict(ds.sizes))
            # the stack stops here; the dataset stays open until the process ends
    """)
    before = _occookies()
    done = _run([sys.executable, "-c", script, str(cache)], home, tmp)
    assert "opened" in done.stdout
    assert _occookies() - before == set()
    assert Path(os.devnull).exists()  # the jar libnetcdf was given is still there (not deleted on close)
    assert _leftovers(home) == [] and _leftovers(tmp) == []
