"""Parse what users write for a catalog version into a real CID, before any network access.

Accepted forms: a bare CIDv0 (``Qm...``) or CIDv1 (``bafy...``, any multibase the
``multiformats`` package knows), ``ipfs://CID`` and ``/ipfs/CID`` (a trailing
``/catalog.yml`` or other path is refused: a catalog version is a root CID).
Validation uses ``multiformats``' parser, so a typo in any character of a CID is
caught by its checks (base58/base32 alphabet, multihash length), never by a regex.

Examples
--------
>>> str(parse_cid("ipfs://QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N"))
'QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N'
>>> parse_cid("not-a-cid")
Traceback (most recent call last):
...
eurec4a.errors.InvalidCIDError: 'not-a-cid' is not a valid IPFS content identifier (CID): ...
"""
from __future__ import annotations

from multiformats import CID

from eurec4a.errors import InvalidCIDError
from eurec4a.ipfs.codecs import MAX_IDENTITY_DIGEST, cid_from_text

__all__ = ["parse_cid", "ACCEPTED_FORMS"]

ACCEPTED_FORMS = "a CIDv0 ('Qm...', 46 characters), a CIDv1 ('bafy...'), 'ipfs://<CID>' or '/ipfs/<CID>'"

#: Codecs a UnixFS catalog root can have: dag-pb directories; raw for a single-file root.
_UNIXFS_CODECS = {"dag-pb", "raw"}


_BASE58 = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
_BASE32 = set("abcdefghijklmnopqrstuvwxyz234567")


def _chars(bad: list[str]) -> str:
    listed = ", ".join(map(repr, bad))
    return f"{listed}, a character that never occurs" if len(bad) == 1 else f"{listed}, characters that never occur"


def _why_not(text: str) -> str:
    """What is wrong with a string multiformats refused, in the words of the accepted forms.

    multiformats' own messages name its internals ("pad bits", "multibase code").
    """
    if text.startswith("Qm"):
        bad = sorted(set(text) - _BASE58)
        if bad:
            return f"it has {_chars(bad)} in a CIDv0 (base58 leaves out 0, O, I and l)"
        return f"a CIDv0 ('Qm...') has 46 characters, this one has {len(text)}"
    if text.startswith("b"):
        bad = sorted(set(text[1:]) - _BASE32)
        if bad:
            return f"it has {_chars(bad)} in a CIDv1 written 'b...' (lowercase base32: a-z and 2-7)"
        return "it is a CIDv1 ('b...') of the wrong length or with a changed character"
    return "it starts neither with 'Qm' (CIDv0) nor with 'b' (CIDv1)"


def parse_cid(value: object) -> CID:
    """Parse a CID given as a string in one of :data:`ACCEPTED_FORMS`.

    Raises
    ------
    InvalidCIDError
        For anything that is not a CID string, naming the value and the accepted forms.

    Examples
    --------
    >>> parse_cid("/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi").version
    1
    """
    if not isinstance(value, str):
        raise InvalidCIDError(f"a CID must be a string, got {type(value).__name__} {value!r}; accepted: {ACCEPTED_FORMS}")
    text = value.strip()
    if not text:
        raise InvalidCIDError(f"an empty string is not a CID; accepted: {ACCEPTED_FORMS}")
    for prefix in ("ipfs://", "/ipfs/"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if "/" in text.rstrip("/"):
        raise InvalidCIDError(
            f"{value!r} contains a path; give the catalog's root CID only ({ACCEPTED_FORMS})"
        )
    text = text.rstrip("/")
    try:
        cid = cid_from_text(text) or CID.decode(text)  # the usual shapes without multiformats' checks
    except Exception:  # multiformats raises several types (ValueError, KeyError, its own)
        raise InvalidCIDError(
            f"{value!r} is not a valid IPFS content identifier (CID): {_why_not(text)}. "
            f"Accepted: {ACCEPTED_FORMS}. Check for a typo or a truncated copy."
        ) from None
    if cid.hashfun.name == "identity" and len(cid.raw_digest) > MAX_IDENTITY_DIGEST:
        raise InvalidCIDError(
            f"{value!r} is an identity CID inlining {len(cid.raw_digest)} bytes; at most "
            f"{MAX_IDENTITY_DIGEST} are allowed, so this is not a CID any IPFS implementation accepts"
        )
    if cid.codec.name not in _UNIXFS_CODECS:
        raise InvalidCIDError(
            f"{value!r} is a {cid.codec.name} CID; a catalog root must be a UnixFS (dag-pb) CID"
        )
    if cid.version == 1 and cid.base.name != "base32":
        cid = cid.set(base="base32")
    return cid
