"""Generate a realistic-size synthetic EUREC4A-like intake catalog tree for benchmarks.

The real EUREC4A catalog has about 150 YAML files, about 1600 entries and nests five
levels deep. :func:`generate_large_catalog` writes a tree of that shape: a root
``catalog.yml``, sub-catalogs linked with ``driver: yaml_file_cat`` and
``{{CATALOG_DIR}}``-relative paths (each child file in its own directory below its
parent's), and data entries that are mostly ``opendap`` sources pointing at the demo
datasets (``@OPENDAP@/...``, see ``eurec4a/testing/demo_data.py``), with some ``zarr``,
``netcdf`` (``simplecache::@HTTP@/...``) and ``json`` entries, every one of which
opens against the test stack's servers (engines chosen per file accordingly), descriptions,
metadata (maintainer, doi, tags) and some user parameters with ``allowed`` values.

Counting rules (what ``n_files``, ``n_entries`` and ``depth`` mean, exactly):

* ``n_files``: YAML files written, the root included;
* ``n_entries``: entries under ``sources:`` summed over all files, the
  ``yaml_file_cat`` entries included (so ``n_files - 1`` of them are links);
* ``depth``: the longest chain of ``yaml_file_cat`` links from the root file.

Output is deterministic for a given set of arguments (``numpy.random.RandomState``
with ``seed``; YAML written with a fixed key order).

Examples
--------
>>> import tempfile
>>> from eurec4a.testing.large_catalog import generate_large_catalog
>>> root = generate_large_catalog(tempfile.mkdtemp(), n_files=10, n_entries=40, depth=3)
>>> root.name
'catalog.yml'
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from eurec4a.testing.demo_data import DEMO_FILES, KT19_FLIGHTS, LIMRAD94_VERSIONS

__all__ = ["generate_large_catalog", "main"]

logger = logging.getLogger(__name__)

_PLATFORMS = ["HALO", "P3", "ATR", "TwinOtter", "Meteor", "RonBrown", "Atalante", "MS-Merian",
              "BCO", "NTAS", "Saildrones", "SWIFTs", "radiosondes", "products", "simulations",
              "JOANNE", "Boreal", "CU-RAAVEN", "Caravela", "Humpback", "IFM", "Kracken", "Omura",
              "QuadCopter", "Melonhead", "MPCK", "C3ONTEXT", "SkyWalker", "Seaglider", "Wave-glider"]
_GROUPS = ["BAHAMAS", "specMACS", "WALES", "VELOX", "SMART", "KT19", "unified", "isotopes",
           "turbulence", "cloudradar", "lidar", "ceilometer", "microphysics", "radiometer",
           "flux", "wave", "CTD", "UAV", "level2", "level3"]
_LEAVES = ["cloudmask", "irradiances", "track", "moments", "spectra", "profiles", "retrieval",
           "flags", "fluxes", "timeseries", "cloudtop", "water_vapour", "backscatter",
           "reflectivity", "brightness", "position", "attitude", "quicklook"]
_PEOPLE = ["A. Ahlgrimm", "B. Bony", "C. Crewell", "D. Delanoe", "E. Ewald", "F. Fischer",
           "G. George", "H. Hirsch", "K. Konow", "L. Lothon", "M. Mayer", "N. Nuijens"]

_ZARR = DEMO_FILES["bco/meteorology_zarr"]
_JSON = DEMO_FILES["flight_segments"]
_TRACK = DEMO_FILES["meteor/track"]
# The track is read over plain HTTP only (its _Encoding char arrays make pydap's server fail).
_OPENDAP_FILES = sorted(rel for rel in DEMO_FILES.values() if rel.endswith(".nc") and rel != _TRACK)
# pydap's server cannot answer the pydap engine's first request on JOANNE (see catalogs/README.md).
_NOT_PYDAP = tuple(rel for key, rel in DEMO_FILES.items() if key.startswith("joanne/"))


@dataclass
class _Node:
    index: int
    level: int
    name: str
    rel_dir: str  # directory of this file, relative to out_dir ("" for the root)
    children: list[int] = field(default_factory=list)
    n_data: int = 0

    @property
    def rel_file(self) -> str:
        return f"{self.rel_dir}/main.yaml" if self.rel_dir else "catalog.yml"


def _check_args(n_files: int, n_entries: int, depth: int) -> None:
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    if not isinstance(n_files, int) or n_files < depth + 1:
        raise ValueError(f"n_files must be an int >= depth + 1 ({depth + 1}), got {n_files!r}")
    if not isinstance(n_entries, int) or n_entries < n_files - 1:
        raise ValueError(f"n_entries must be an int >= n_files - 1 ({n_files - 1}) because every "
                         f"file but the root is linked by an entry, got {n_entries!r}")


def _build_tree(rng: np.random.RandomState, n_files: int, depth: int) -> list[_Node]:
    nodes = [_Node(0, 0, "root", "")]

    def add(parent: _Node) -> _Node:
        pool = _PLATFORMS if parent.level == 0 else _GROUPS
        taken = {nodes[c].name for c in parent.children}
        base = pool[int(rng.randint(len(pool)))]
        name, k = base, 2
        while name in taken:  # sibling names must be unique
            name, k = f"{base}{k}", k + 1
        rel_dir = f"{parent.rel_dir}/{name}" if parent.rel_dir else name
        node = _Node(len(nodes), parent.level + 1, name, rel_dir)
        nodes.append(node)
        parent.children.append(node.index)
        return node

    # One chain reaches the full depth, then the rest attach below random shallower files
    # (real catalogs are wide near the top).
    tip = nodes[0]
    for _ in range(depth):
        tip = add(tip)
    while len(nodes) < n_files:
        candidates = [n for n in nodes if n.level < depth]
        # The root is a catalog of ~30 platforms; below, shallower files are favoured a little.
        weights = np.array([12.0 if n.level == 0 else 1.0 / (1 + n.level) for n in candidates])
        parent = candidates[int(rng.choice(len(candidates), p=weights / weights.sum()))]
        add(parent)
    return nodes


def _data_entry(rng: np.random.RandomState, i: int, node: _Node) -> tuple[str, dict]:
    leaf = _LEAVES[int(rng.randint(len(_LEAVES)))]
    name = f"{leaf}_{i:04d}"
    person = _PEOPLE[int(rng.randint(len(_PEOPLE)))]
    meta = {
        "maintainer": f"{person} <{person.split()[-1].lower()}@eurec4a.invalid>",
        "doi": f"10.5072/eurec4a-synthetic.{i:04d}",
        "tags": sorted({leaf, node.name.lower(), "synthetic"}),
    }
    desc = f"{leaf.replace('_', ' ')} from {node.rel_dir.replace('/', ' / ') or 'the root'} (synthetic #{i})"
    kind = rng.random_sample()
    entry: dict
    if kind < 0.08:  # parameterised by flight id
        entry = {"description": desc + ", per HALO flight", "driver": "opendap",
                 "args": {"urlpath": "@OPENDAP@/" + DEMO_FILES[f"kt19/{KT19_FLIGHTS[0]}"]
                          .replace(KT19_FLIGHTS[0], "{{ flight_id }}"),
                          "engine": "pydap", "auth": None, "chunks": None},
                 "parameters": {"flight_id": {"description": "HALO research flight", "type": "str",
                                              "default": KT19_FLIGHTS[0],
                                              "allowed": list(KT19_FLIGHTS)}}}
    elif kind < 0.12:  # parameterised by version
        rel = DEMO_FILES[f"limrad94/high_res/{LIMRAD94_VERSIONS[-1]}"]
        entry = {"description": desc + ", versioned", "driver": "opendap",
                 "args": {"urlpath": "@OPENDAP@/" + rel.replace(
                     f"_v{LIMRAD94_VERSIONS[-1]}.nc", "_v{{ version }}.nc"),
                          "engine": "netcdf4", "auth": None, "chunks": None},
                 "parameters": {"version": {"description": "version of data", "type": "str",
                                            "default": LIMRAD94_VERSIONS[-1],
                                            "allowed": list(LIMRAD94_VERSIONS)}}}
    elif kind < 0.17:
        entry = {"description": desc + " (zarr)", "driver": "zarr",
                 "args": {"urlpath": f"@HTTP@/{_ZARR}", "consolidated": True}}
    elif kind < 0.20:
        entry = {"description": desc + " (netCDF over HTTP)", "driver": "netcdf",
                 "args": {"urlpath": f"simplecache::@HTTP@/{_TRACK}", "chunks": None}}
    elif kind < 0.22:
        entry = {"description": desc + " (JSON)", "driver": "json",
                 "args": {"urlpath": f"@HTTP@/{_JSON}"}}
    else:
        rel = _OPENDAP_FILES[int(rng.randint(len(_OPENDAP_FILES)))]
        engine = "netcdf4" if rng.random_sample() < 0.7 or rel in _NOT_PYDAP else "pydap"
        entry = {"description": desc, "driver": "opendap",
                 "args": {"urlpath": f"@OPENDAP@/{rel}", "engine": engine, "auth": None,
                          "chunks": {} if rng.random_sample() < 0.5 else None}}
    entry["metadata"] = meta
    return name, entry


def _write_yaml(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def generate_large_catalog(out_dir: str | os.PathLike[str], n_files: int = 150,
                           n_entries: int = 1600, depth: int = 5, seed: int = 0) -> Path:
    """Write a synthetic catalog tree of the real catalog's size; return the root file.

    Parameters
    ----------
    out_dir : str or path-like
        Directory to write into (created if missing). Files already there with the
        same names are replaced; others are left alone, so use an empty directory.
    n_files : int
        YAML files to write, the root ``catalog.yml`` included (>= ``depth + 1``).
    n_entries : int
        Entries summed over all files, ``yaml_file_cat`` links included
        (>= ``n_files - 1``).
    depth : int
        Longest chain of ``yaml_file_cat`` links from the root (>= 1).
    seed : int
        Seed of ``numpy.random.RandomState``; same arguments give the same files.

    Returns
    -------
    pathlib.Path
        ``out_dir / "catalog.yml"``.

    Raises
    ------
    ValueError
        If the counts cannot be met (see the bounds above).

    Examples
    --------
    >>> import tempfile
    >>> root = generate_large_catalog(tempfile.mkdtemp(), n_files=6, n_entries=20, depth=2)
    >>> import yaml; sorted(yaml.safe_load(root.read_text()))
    ['description', 'metadata', 'plugins', 'sources']
    """
    _check_args(n_files, n_entries, depth)
    rng = np.random.RandomState(seed)
    out = Path(out_dir)
    nodes = _build_tree(rng, n_files, depth)

    # Spread the data entries over the files; every file gets at least one if possible.
    n_data = n_entries - (n_files - 1)
    base = 1 if n_data >= n_files else 0
    extra = rng.multinomial(n_data - base * n_files, np.full(n_files, 1.0 / n_files))
    for node, k in zip(nodes, extra):
        node.n_data = base + int(k)

    counter = 0
    for node in nodes:
        sources: dict[str, dict] = {}
        for c in node.children:
            child = nodes[c]
            sources[child.name] = {
                "description": f"{child.name} data ({'platform' if node.level == 0 else 'instrument group'})",
                "driver": "yaml_file_cat",
                "args": {"path": "{{CATALOG_DIR}}/" + f"{child.name}/main.yaml"},
                "metadata": {},
            }
        for _ in range(node.n_data):
            name, entry = _data_entry(rng, counter, node)
            counter += 1
            sources[name] = entry
        doc: dict = {"description": ("Synthetic EUREC4A-size catalog (benchmarks)" if node.level == 0
                                     else f"{node.rel_dir} (synthetic)")}
        if node.level == 0:
            doc["metadata"] = {"version": 1, "seed": seed, "n_files": n_files,
                               "n_entries": n_entries, "depth": depth}
        doc["plugins"] = {"source": [{"module": "intake_xarray"}]}
        doc["sources"] = sources
        _write_yaml(out / node.rel_file, doc)
    logger.info("wrote %d files, %d entries, depth %d below %s", n_files, n_entries, depth, out)
    return out / "catalog.yml"


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python eurec4a/testing/large_catalog.py OUT_DIR [N_FILES N_ENTRIES DEPTH SEED]``."""
    argv = sys.argv[1:] if argv is None else argv
    if not 1 <= len(argv) <= 5 or argv[0].startswith("-"):
        print("usage: python eurec4a/testing/large_catalog.py OUT_DIR [N_FILES N_ENTRIES DEPTH SEED]",
              file=sys.stderr)
        return 2
    nums = [int(a) for a in argv[1:]]
    keys = ["n_files", "n_entries", "depth", "seed"]
    print(generate_large_catalog(argv[0], **dict(zip(keys, nums))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
