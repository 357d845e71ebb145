"""Sphinx configuration of the eurec4a book.

Every page is a MyST markdown notebook, executed at build time (``nb_execution_mode =
"force"``; a cell that raises fails the build). The code runs against the local demo
stack (:class:`eurec4a.testing.DemoStack`: static HTTP server, pydap's OPeNDAP server,
a trustless IPFS gateway serving the IPFS catalog built from the classic demo catalog),
started once here for the whole build. Its settings go into ``os.environ``, which every
notebook kernel inherits, together with a fresh cache directory and a configuration
that can reach no other server: the examples call ``eurec4a.get_intake_catalog()``
exactly as users do, and never leave 127.0.0.1.

Build it (about two minutes on two cores; ``tests/test_docs.py`` does the same)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html
"""
from __future__ import annotations

import atexit
import datetime
import os
import shutil
import sys
import tempfile
import warnings

import eurec4a

project = "eurec4a"
author = "EUREC4A community"
copyright = f"{datetime.date.today().year}, {author}"
release = eurec4a.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "jupyter_execute"]

html_theme = "furo"
html_title = f"eurec4a {release}"

# --- MyST / MyST-NB: execute every page, fail on any error.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 120
nb_execution_show_tb = True
# stderr in a cell output is a Sphinx warning (an error with -W): pages that expect a
# warning catch it and print it, so an unexpected warning cannot slip into the book.
nb_output_stderr = "warn"

# --- API reference: numpydoc docstrings.
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# ----------------------------------------------------------------- the demo stack
_home = tempfile.mkdtemp(prefix="eurec4a-docs-")
_tmp = os.path.join(_home, "tmp")
os.makedirs(_tmp, exist_ok=True)
_stack = None


def _start_stack():
    """Start the stack once per build process and point the environment at it."""
    global _stack
    if _stack is not None:
        return _stack
    from eurec4a.testing import DemoStack

    with warnings.catch_warnings():
        # pydap and xarray chatter while the IPFS catalog is built; not the reader's concern.
        warnings.simplefilter("ignore")
        _stack = DemoStack(workdir=os.path.join(_home, "stack"))
    if not _stack.build.ok:  # pragma: no cover - a broken build must not produce a book
        raise RuntimeError(f"the demo IPFS catalog did not build:\n{_stack.build.summary()}")
    os.environ.update(_stack.env())
    os.environ.update({
        # a fresh block cache, no user configuration, no local node of the build machine
        "EUREC4A_CACHE_DIR": os.path.join(_home, "cache"),
        "EUREC4A_CONFIG": os.path.join(_home, "no-config.json"),
        "IPFS_PATH": os.path.join(_home, "no-ipfs-node"),
        # the fallbacks are the stack's gateway too: nothing public is ever contacted
        "EUREC4A_IPFS_GATEWAYS": _stack.gateway_url,
        # where the publishing page finds "a checkout" of the classic catalog
        "EUREC4A_DOCS_CLASSIC_CATALOG": str(_stack.workdir / "www" / "catalog"),
        # A warning every notebook would otherwise show, not about eurec4a: tqdm's notebook
        # progress bar wants ipywidgets. (pydap's protocol warning never appears: eurec4a names
        # the protocol when it opens OPeNDAP data.)
        "PYTHONWARNINGS": "ignore:IProgress not found",
        # Nothing left behind: the pages' temporary folders (tempfile.mkdtemp) and matplotlib's
        # font cache go into the book's own temporary folder, removed when the build ends.
        "TMPDIR": _tmp,
        "MPLCONFIGDIR": os.path.join(_home, "matplotlib"),
        # the kernels' connection files and IPython's profile (history database) likewise
        "JUPYTER_RUNTIME_DIR": os.path.join(_home, "jupyter-runtime"),
        "IPYTHONDIR": os.path.join(_home, "ipython"),
        # Pages show paths relative to this folder ("<build>/cache"), not the machine's.
        "EUREC4A_DOCS_HOME": _home,
        # the `eurec4a` command of this interpreter, for the command line page
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    })
    for name in ("EUREC4A_CACHE_SIZE", "EUREC4A_POINTER_TTL", "EUREC4A_POINTER_SNAPSHOT", "EUREC4A_TIMEOUT"):
        os.environ.pop(name, None)
    return _stack


def _stop_stack(*_args) -> None:
    global _stack
    if _stack is not None:
        _stack.close()
        _stack = None
    shutil.rmtree(_home, ignore_errors=True)


_start_stack()
atexit.register(_stop_stack)


def setup(app):
    app.connect("build-finished", _stop_stack)
