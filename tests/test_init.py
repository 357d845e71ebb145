"""The public API: every name in ``eurec4a.__all__`` resolves and is documented."""
import doctest
import inspect
import tomllib
from pathlib import Path

import fsspec

import eurec4a


def test_every_name_in_all_resolves_and_has_a_docstring():
    assert len(eurec4a.__all__) == len(set(eurec4a.__all__))
    for name in eurec4a.__all__:
        obj = getattr(eurec4a, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_public_functions_have_an_example():
    for name in eurec4a.__all__:
        obj = getattr(eurec4a, name)
        if inspect.isfunction(obj):
            assert doctest.DocTestParser().get_examples(obj.__doc__), f"{name}'s docstring has no example"


def test_the_test_command_runs_every_example():
    """`python -m pytest` (the README's command) collects the package's docstrings as doctests."""
    root = Path(__file__).resolve().parents[1]
    options = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "eurec4a" in options["testpaths"] and "--doctest-modules" in options["addopts"].split()


def test_examples_run_in_a_temp_home_that_is_removed(tmp_path):
    """The repo-root conftest.py gives each doctest its own TMPDIR, HOME, cache and config, then removes them."""
    import json
    import os
    import subprocess
    import sys

    example = tmp_path / "example.txt"
    report = tmp_path / "seen.json"
    example.write_text(
        ">>> import json, os, tempfile\n"
        ">>> made = tempfile.mkdtemp()\n"
        ">>> names = ('TMPDIR', 'HOME', 'EUREC4A_CACHE_DIR', 'EUREC4A_CONFIG')\n"
        ">>> seen = {'made': made, **{n: os.environ[n] for n in names}}\n"
        ">>> open(os.environ['REPORT'], 'w').write(json.dumps(seen)) > 0\n"
        "True\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "REPORT": str(report),
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q", "-s",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(example)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
    seen = json.loads(report.read_text())
    for name in ("TMPDIR", "HOME", "EUREC4A_CACHE_DIR", "EUREC4A_CONFIG"):
        assert seen[name] != os.environ.get(name)
    assert seen["made"].startswith(seen["TMPDIR"]) and seen["EUREC4A_CACHE_DIR"].startswith(seen["HOME"])
    home_parent = Path(seen["HOME"]).parent
    assert not home_parent.exists(), "the doctest's folder (temp dir, home) was left behind"


def test_version_and_user_agent():
    assert eurec4a.__version__
    assert eurec4a.__version__ in eurec4a.USER_AGENT


def test_importing_registers_the_verified_ipfs_filesystem():
    assert fsspec.get_filesystem_class("ipfs") is eurec4a.IPFSFileSystem


def test_errors_subclass_the_builtins_users_catch():
    assert issubclass(eurec4a.InvalidCIDError, ValueError)
    assert issubclass(eurec4a.PointerFileError, ValueError)
    assert issubclass(eurec4a.CatalogNotFoundError, LookupError)
    assert issubclass(eurec4a.ServerUnreachableError, ConnectionError)
    for name in eurec4a.__all__:
        obj = getattr(eurec4a, name)
        if inspect.isclass(obj) and issubclass(obj, Warning):
            assert issubclass(obj, eurec4a.Eurec4aWarning), name
        elif inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, eurec4a.Eurec4aError), name
