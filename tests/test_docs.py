"""The documentation book builds with every page executed against the local demo stack.

``sphinx-build -W --keep-going`` runs every code cell of every page (MyST-NB, execution
forced, errors raised, stderr in an output is a warning and so an error), so a failing
example fails this test. The test then checks that each page was written and that its
executed output is there: for each notebook page, a string that only a code cell's *output*
can contain (it is looked for inside the output blocks, not in the page's source code).
"""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: Seconds the whole build may take (it takes about two minutes on two cores).
BUILD_TIMEOUT = 900

#: page -> strings that executed cells print (each must appear in the page's cell outputs).
EXECUTED_OUTPUT = {
    "getting-started": ["mean downward solar irradiance:", "ParameterError: entry 'HALO.KT19.cloudmask'",
                        "v1.0.0 {'sounding': 8"],
    "modes": ["identical in all three modes", "identical values: True", "InvalidModeError: use_ipfs must be"],
    "reproducibility": ["verified", "BlockVerificationError: block received from", "ContentNotFoundError:"],
    "offline": ["no network", "same values as online", "GatewayError:", "using the copy fetched"],
    "configuration": ["timeout = 20.0  [environment (EUREC4A_TIMEOUT)]", "[local IPFS node (", "ok gateway",
                      "timeout = 12"],
    "data-types": ["int8 _Unsigned", "DIFFERENT values", "OPeNDAP, pydap", "pydap protocol warnings: 0"],
    "cli": ["usage: eurec4a", "$ eurec4a doctor", "eurec4a: error: 'not-a-cid'", "HALO.KT19.cloudmask  [opendap]",
            "eurec4a: error: there is no entry 'nope'", "EUREC4A_TIMEOUT", "info    where the cache folder is"],
    "publishing": ["root CID changed:       True", "dataset CIDs unchanged: True", "quality-controlled"],
}
#: page -> strings its HTML must contain (pages without code cells).
STATIC_CONTENT = {
    "index": ["The promise", "127.0.0.1"],
    "api": ["Open the EUREC4A intake catalog", "BlockVerificationError", "build_ipfs_catalog"],
    "changelog": ["Changelog"],
    "architecture": ["The folders of the package are its layers", "filesystem.py", "How a call flows"],
}

_OUTPUT_BLOCK = re.compile(r'<div class="cell_output[^"]*">(.*?)</div>\s*</div>\s*</div>', re.S)


def _cell_outputs(page: str) -> str:
    text = "\n".join(_OUTPUT_BLOCK.findall(page))
    return html.unescape(re.sub(r"<[^>]+>", "", text))


@pytest.fixture(scope="module")
def build_folders(tmp_path_factory) -> dict[str, Path]:
    """Empty folders the build gets as HOME and TMPDIR: it must leave both empty."""
    base = tmp_path_factory.mktemp("build-env")
    folders = {"HOME": base / "home", "TMPDIR": base / "tmp"}
    for folder in folders.values():
        folder.mkdir()
    return folders


@pytest.fixture(scope="module")
def built_book(tmp_path_factory, build_folders) -> Path:
    out = tmp_path_factory.mktemp("book")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
           "-d", str(out / ".doctrees"), str(DOCS), str(out / "html")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update({name: str(path) for name, path in build_folders.items()}, PYTHONUNBUFFERED="1")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env)
    assert done.returncode == 0, f"sphinx-build failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    return out / "html"


@pytest.mark.docs
def test_build_leaves_home_and_tmp_empty(built_book, build_folders):
    for name, folder in build_folders.items():
        left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
        assert left == [], f"the docs build left files in {name}: {left[:20]}"


@pytest.mark.docs
def test_pages_show_no_build_paths(built_book, build_folders):
    for page in sorted(EXECUTED_OUTPUT):
        outputs = _cell_outputs((built_book / f"{page}.html").read_text(encoding="utf-8"))
        for marker in ("eurec4a-docs-", "eurec4a-stack-", str(build_folders["TMPDIR"]), str(build_folders["HOME"])):
            assert marker not in outputs, f"{page}: a build path ({marker}...) in the executed output"


@pytest.mark.docs
def test_getting_started_has_a_plot(built_book):
    text = (built_book / "getting-started.html").read_text(encoding="utf-8")
    outputs = re.findall(r'<div class="cell_output[^"]*">(.*?)</div>\s*</div>\s*</div>', text, re.S)
    assert any("<img" in block and ".png" in block for block in outputs), "no plot in the executed output"


@pytest.mark.docs
def test_every_page_is_built(built_book):
    sources = sorted(p.stem for p in DOCS.glob("*.md"))
    assert set(EXECUTED_OUTPUT) | set(STATIC_CONTENT) <= set(sources)
    missing = [name for name in sources if not (built_book / f"{name}.html").is_file()]
    assert not missing, f"pages not written: {missing}"


@pytest.mark.docs
@pytest.mark.parametrize("page", sorted(EXECUTED_OUTPUT))
def test_page_shows_executed_output(built_book, page):
    text = (built_book / f"{page}.html").read_text(encoding="utf-8")
    outputs = _cell_outputs(text)
    assert outputs, f"{page}: no cell output at all (was the page executed?)"
    for expected in EXECUTED_OUTPUT[page]:
        assert expected in outputs, f"{page}: {expected!r} not in the executed output"
    assert 'class="output traceback' not in text and 'class="output error' not in text


@pytest.mark.docs
@pytest.mark.parametrize("page", sorted(STATIC_CONTENT))
def test_static_page_content(built_book, page):
    text = html.unescape(re.sub(r"<[^>]+>", "", (built_book / f"{page}.html").read_text(encoding="utf-8")))
    for expected in STATIC_CONTENT[page]:
        assert expected in text, f"{page}: {expected!r} missing"
