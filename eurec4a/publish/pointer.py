"""Write the pointer file (``cids.json``): publish a catalog version as the latest.

The reading side (fetching, parsing, caching the pointer file) is
:mod:`eurec4a.versions`; this module only writes, for maintainers.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from eurec4a.errors import PointerFileError
from eurec4a.ipfs.cid import parse_cid
from eurec4a.versions import parse_pointer

__all__ = ["add_version", "update_pointer_file"]


def add_version(doc: Any, cid: str, date: str | None = None) -> dict:
    """Return a new pointer document with ``cid`` added as ``latest`` (history kept).

    Parameters
    ----------
    doc
        The current pointer document (``{}`` or ``None`` to start a new one).
    cid
        The new catalog root CID (validated).
    date
        ``YYYY-MM-DD``; today (UTC) by default.

    Examples
    --------
    >>> new = add_version(None, "QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N", "2024-01-31")
    >>> new["intake"]["latest"], len(new["intake"]["versions"])
    ('QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N', 1)
    """
    new_cid = str(parse_cid(cid))
    day = date or _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    try:
        _dt.date.fromisoformat(day)
    except ValueError:
        raise PointerFileError(f"date {day!r} is not in YYYY-MM-DD form") from None
    if doc in (None, {}):
        doc = {"intake": {"latest": new_cid, "versions": []}}
    else:
        parse_pointer(doc)  # refuse to extend what cannot be parsed
        doc = json.loads(json.dumps(doc))
    versions = doc["intake"].setdefault("versions", [])
    if not any(v.get("cid") == new_cid and v.get("date") == day for v in versions):
        versions.append({"date": day, "cid": new_cid})
    doc["intake"]["latest"] = new_cid
    return doc


def update_pointer_file(path: str | os.PathLike, cid: str, date: str | None = None) -> dict:
    """Add ``cid`` to the pointer file at ``path`` as the latest version, atomically.

    A missing file is created; a file that cannot be parsed is refused and left untouched.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "cids.json")
    >>> _ = update_pointer_file(p, "QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N", "2024-01-31")
    >>> json.load(open(p))["intake"]["latest"]
    'QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N'
    """
    from eurec4a.cache import atomic_write_bytes

    target = Path(path)
    try:
        current = target.read_bytes()
    except FileNotFoundError:
        doc = None
    else:
        doc = parse_pointer(current, source=f"pointer file {target}").raw
    new = add_version(doc, cid, date)
    atomic_write_bytes(target, (json.dumps(new, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return new
