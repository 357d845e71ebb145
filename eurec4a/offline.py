"""Take data to places without a network: pull a pinned catalog and datasets into the cache.

After :func:`pull`, the same notebook runs with no network at all: the pinned
catalog and every block of the named datasets (all zarr chunks, for every
parameter value) are in the CID cache, verified, and :class:`~eurec4a.ipfs.filesystem.IPFSFileSystem`
serves them from there without asking any gateway.

Examples
--------
>>> import eurec4a.offline
>>> eurec4a.offline.pull("QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N", ["HALO.BACARDI.irradiances.HALO-0205"])  # doctest: +SKIP
{'cid': 'Qm...', 'datasets': {...}, 'bytes': 1234567}
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

from eurec4a.api import get_intake_catalog, ipfs_filesystem
from eurec4a.ipfs.cid import parse_cid
from eurec4a.errors import CatalogError, CatalogNotFoundError

logger = logging.getLogger(__name__)

__all__ = ["pull"]


def _dataset_cid(entry_path: str, entry) -> str:
    args = entry.describe().get("args") or {}
    urlpath = str(args.get("urlpath", ""))
    if not urlpath.startswith("ipfs://"):
        raise CatalogError(
            f"{entry_path} is not stored on IPFS in this catalog version (urlpath {urlpath!r}); "
            "only IPFS datasets can be pulled for offline use"
        )
    return urlpath[len("ipfs://"):].split("/")[0]


def pull(cid: str, entries: Iterable[str] = (), *, gateways: Any = None, cache_dir: str | None = None,
         progress: bool = True) -> dict[str, Any]:
    """Copy a pinned catalog and the named datasets into the local cache, verified.

    Parameters
    ----------
    cid
        The catalog version (root CID) to pull; the catalog tree is always pulled.
    entries
        Dotted entry paths of datasets (``"HALO.BACARDI.irradiances.HALO-0205"``); every
        block of each dataset is pulled, for every parameter value it has.
    gateways, cache_dir
        As for :func:`eurec4a.get_intake_catalog`.
    progress
        Show a progress bar (bytes and ETA) while datasets are fetched.

    Returns
    -------
    dict
        ``cid``, ``datasets`` (entry -> dataset CID) and ``bytes`` (bytes now held for them).

    Examples
    --------
    >>> report = pull("QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N", ["barbados.bco.surface_met"])  # doctest: +SKIP
    >>> cat = get_intake_catalog(use_ipfs=report["cid"])  # later, with no network  # doctest: +SKIP
    """
    root = str(parse_cid(cid))
    options = {k: v for k, v in {"gateways": gateways, "cache_dir": cache_dir}.items() if v is not None}
    cat = get_intake_catalog(use_ipfs=root, **options)  # prefetches and verifies the catalog tree
    fs = ipfs_filesystem(**options)
    datasets: dict[str, str] = {}
    for path in entries:
        try:
            entry = cat[path]
        except KeyError as exc:
            raise CatalogNotFoundError(f"no entry {path!r} in catalog {root}; see `eurec4a tree --cid {root}`") from exc
        datasets[path] = _dataset_cid(path, entry)
    unique = {c: parse_cid(c) for c in dict.fromkeys(datasets.values())}
    bar = None
    if progress and unique:
        from tqdm.auto import tqdm

        # the bar's total costs one request per dataset (its root block): only when shown
        sizes = {c: fs.dag_size(parsed) for c, parsed in unique.items()}
        total = sum(s for s in sizes.values() if s) if all(sizes.values()) else None

        bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="pulling datasets")
    pulled = 0
    try:
        for c, parsed in unique.items():
            pulled += fs.fetch_dag(parsed, progress=bar.update if bar is not None else None)
        if bar is not None:  # the link sizes only estimate the bytes: end at 100% of what was counted
            bar.total = bar.n
            bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    logger.info("pulled catalog %s and %d dataset(s), %d bytes", root, len(unique), pulled)
    return {"cid": root, "datasets": datasets, "bytes": pulled}
