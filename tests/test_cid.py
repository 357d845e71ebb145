"""Parsing what users write as a catalog version, before any network access."""
import pytest

from eurec4a.ipfs.cid import parse_cid
from eurec4a.errors import InvalidCIDError

V0 = "QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N"
V1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"


@pytest.mark.parametrize("text", [V0, f"ipfs://{V0}", f"/ipfs/{V0}", f" {V0} ", f"ipfs://{V0}/"])
def test_cidv0_forms(text):
    assert str(parse_cid(text)) == V0


@pytest.mark.parametrize("text", [V1, f"ipfs://{V1}", f"/ipfs/{V1}"])
def test_cidv1_forms(text):
    cid = parse_cid(text)
    assert cid.version == 1 and str(cid) == V1


def test_cidv1_in_another_base_is_normalised_to_base32():
    b58 = parse_cid(V1).encode("base58btc")
    assert str(parse_cid(b58)) == V1


@pytest.mark.parametrize(
    "value, words",
    [
        ("not-a-cid", ["not-a-cid", "not a valid", "Qm"]),
        ("", ["empty"]),
        ("   ", ["empty"]),
        (V0[:-1], ["not a valid"]),                      # truncated copy
        (V0[:10] + "0" + V0[11:], ["not a valid"]),       # '0' is not in base58
        (V0[:10] + "l" + V0[11:], ["not a valid"]),       # 'l' is not in base58 either
        (f"ipfs://{V0}/catalog.yml", ["path"]),
        ("bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq" + "x", ["not a valid"]),
    ],
)
def test_bad_strings_are_refused_with_a_helpful_message(value, words):
    with pytest.raises(InvalidCIDError) as info:
        parse_cid(value)
    message = str(info.value)
    for word in words:
        assert word in message
    assert "accepted" in message.lower() or "path" in message


@pytest.mark.parametrize("value", [1, 1.5, None, b"Qm", ["Qm"]])
def test_non_strings_are_refused(value):
    with pytest.raises(InvalidCIDError, match="must be a string"):
        parse_cid(value)


def test_a_dag_cbor_cid_is_not_a_catalog_root():
    from multiformats import CID, multihash

    cbor = CID("base32", 1, "dag-cbor", multihash.digest(b"x", "sha2-256"))
    with pytest.raises(InvalidCIDError, match="dag-cbor"):
        parse_cid(str(cbor))


# ---------------------------------------------------------------- fast paths agree with multiformats

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402
from multiformats import CID as _MFCID, multihash as _mh, varint as _varint  # noqa: E402

from eurec4a.ipfs.codecs import cid_from_bytes, read_varint  # noqa: E402


@hsettings(max_examples=200, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32),
       shape=st.sampled_from([(0, "dag-pb"), (1, "dag-pb"), (1, "raw"), (1, "dag-cbor")]))
def test_cid_from_bytes_fast_path_equals_multiformats(digest, shape):
    version, codec = shape
    base = "base58btc" if version == 0 else "base32"
    expected = _MFCID(base, version, codec, _mh.wrap(digest, "sha2-256"))
    cid_from_bytes.cache_clear()
    got = cid_from_bytes(bytes(expected))
    assert got == expected and str(got) == str(expected) and got.codec == expected.codec
    assert hash(got) == hash(expected) and bytes(got) == bytes(expected) and got.digest == expected.digest


@pytest.mark.parametrize("hashfun", ["sha2-512", "blake2b-256", "identity"])
def test_cid_from_bytes_other_shapes_take_the_documented_path(hashfun):
    data = b"some block"
    digest = _mh.digest(data, hashfun) if hashfun != "identity" else _mh.wrap(data, "identity")
    expected = _MFCID("base32", 1, "raw", digest)
    assert cid_from_bytes(bytes(expected)) == expected


@hsettings(max_examples=300, deadline=None)
@given(value=st.integers(min_value=0, max_value=2**63 - 1), prefix=st.binary(max_size=3))
def test_read_varint_equals_multiformats(value, prefix):
    encoded = _varint.encode(value)
    assert read_varint(prefix + encoded + b"tail", len(prefix)) == (value, len(prefix) + len(encoded))


@pytest.mark.parametrize("bad", [b"", b"\x80", b"\xff\xff", b"\x80\x00", b"\xff" * 9 + b"\x01"])
def test_read_varint_rejects_truncated_overlong_and_non_minimal(bad):
    with pytest.raises(ValueError):
        read_varint(bad)


_LINK = st.builds(lambda digest, name, tsize: (digest, name, tsize), st.binary(min_size=1, max_size=8),
                  st.one_of(st.none(), st.text(max_size=6)), st.one_of(st.none(), st.integers(0, 2**40)))


@hsettings(max_examples=300, deadline=None)
@given(data=st.one_of(st.none(), st.binary(max_size=40)), links=st.lists(_LINK, max_size=4),
       edits=st.lists(st.tuples(st.sampled_from(["set", "cut", "insert"]), st.integers(0, 10**6),
                                st.integers(0, 255)), max_size=3))
def test_decode_pbnode_common_path_equals_the_general_decoder(data, links, edits):
    """The one-loop decoder of the usual fields gives what the field-by-field one gives, errors included."""
    from eurec4a.ipfs.codecs import PBLink, _decode_pbnode_general, decode_pbnode, encode_pbnode, raw_cid

    block = bytearray(encode_pbnode(data, [PBLink(raw_cid(d), n, t) for d, n, t in links]))
    for op, at, byte in edits:  # damage it: the two must still agree (or fail alike)
        if op == "set" and block:
            block[at % len(block)] = byte
        elif op == "cut" and block:
            del block[at % len(block):]
        elif op == "insert":
            block.insert(at % (len(block) + 1), byte)

    def outcome(decode):
        try:
            return decode(bytes(block))
        except Exception as exc:  # noqa: BLE001 - the kind of failure is what is compared
            return type(exc)

    assert outcome(decode_pbnode) == outcome(_decode_pbnode_general)


@hsettings(max_examples=200, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32),
       shape=st.sampled_from([(0, "dag-pb", "base58btc"), (1, "dag-pb", "base32"), (1, "raw", "base32"),
                              (1, "dag-cbor", "base32"), (1, "raw", "base58btc"), (1, "dag-pb", "base36")]),
       hashfun=st.sampled_from(["sha2-256", "sha2-512"]))
def test_cid_text_equals_str(digest, shape, hashfun):
    """The request path's CID text is exactly multiformats' (other bases go to ``str`` itself)."""
    from eurec4a.ipfs.codecs import cid_text

    version, codec, base = shape
    if version == 0:
        hashfun = "sha2-256"  # a CIDv0 is a bare sha2-256 multihash
    raw = digest * 2 if hashfun == "sha2-512" else digest
    cid = _MFCID(base, version, codec, _mh.wrap(raw, hashfun))
    assert cid_text(cid) == str(cid)


def test_cid_text_keeps_leading_zero_bytes():
    """base58btc writes each leading zero byte as a '1' (a CIDv1 in base58btc starts with ``z1``... only then)."""
    from eurec4a.ipfs.codecs import cid_text

    for digest in (bytes(32), b"\0\0" + bytes(range(1, 31)), b"\xff" * 32):
        for cid in (_MFCID("base58btc", 0, "dag-pb", _mh.wrap(digest, "sha2-256")),
                    _MFCID("base58btc", 1, "raw", _mh.wrap(digest, "sha2-256"))):
            assert cid_text(cid) == str(cid)


# ---------------------------------------------------------------- CAR headers

import dag_cbor  # noqa: E402


@hsettings(max_examples=200, deadline=None)
@given(digests=st.lists(st.binary(min_size=32, max_size=32), max_size=5),
       versions=st.lists(st.sampled_from([(0, "dag-pb"), (1, "dag-pb"), (1, "raw"), (1, "dag-cbor")]),
                         min_size=5, max_size=5))
def test_car_header_fast_path_equals_dag_cbor(digests, versions):
    from eurec4a.ipfs.car import header_roots

    roots = [_MFCID("base58btc" if v == 0 else "base32", v, codec, _mh.wrap(d, "sha2-256"))
             for d, (v, codec) in zip(digests, versions)]
    raw = dag_cbor.encode({"roots": roots, "version": 1})
    assert header_roots(raw) == dag_cbor.decode(raw)["roots"] == roots


@pytest.mark.parametrize("header, roots", [
    ({"roots": [], "version": 1, "x": 1}, []),  # another key: left to dag_cbor, accepted as before
    ({"version": 1}, []),  # no roots: likewise
    ({"roots": [], "version": 2}, None),  # another version: refused
    ({"roots": [b"not a CID"], "version": 1}, None),
])
def test_car_headers_of_other_shapes_are_left_to_dag_cbor(header, roots):
    from eurec4a.errors import CarFormatError
    from eurec4a.ipfs.car import CarStreamParser, header_roots

    raw = dag_cbor.encode(header)
    assert header_roots(raw) is None
    parser = CarStreamParser()
    if roots is None:
        with pytest.raises(CarFormatError, match="CARv1"):
            parser.feed(_varint.encode(len(raw)) + raw)
    else:
        parser.feed(_varint.encode(len(raw)) + raw)
        assert parser.roots == roots


@hsettings(max_examples=300, deadline=None)
@given(cut=st.integers(min_value=0, max_value=120), flip=st.integers(min_value=0, max_value=120),
       byte=st.integers(0, 255))
def test_damaged_car_headers_never_pass_as_other_roots(cut, flip, byte):
    """A damaged canonical header gives the original roots, ``None`` (for dag_cbor to judge), never other CIDs."""
    from eurec4a.ipfs.car import header_roots
    from eurec4a.ipfs.codecs import raw_cid

    roots = [raw_cid(b"a"), raw_cid(b"b")]
    raw = bytearray(dag_cbor.encode({"roots": roots, "version": 1}))
    raw[flip % len(raw)] = byte
    damaged = bytes(raw[:len(raw) - cut % len(raw)])
    got = header_roots(damaged)
    if got is not None:
        assert got == dag_cbor.decode(damaged)["roots"]


@hsettings(max_examples=200, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32),
       shape=st.sampled_from([(0, "dag-pb", "base58btc"), (1, "dag-pb", "base32"), (1, "raw", "base32"),
                              (1, "dag-cbor", "base32"), (1, "raw", "base58btc"), (1, "dag-pb", "base36")]),
       edit=st.one_of(st.none(), st.tuples(st.integers(0, 60), st.characters(codec="ascii"))))
def test_cid_from_text_equals_multiformats_or_defers(digest, shape, edit):
    """The fast text decoder gives multiformats' CID, or ``None`` (never another CID), on valid and damaged text."""
    from eurec4a.ipfs.codecs import cid_from_text

    version, codec, base = shape
    text = str(_MFCID(base, version, codec, _mh.wrap(digest, "sha2-256")))
    if edit is not None:
        at, char = edit
        text = text[:at % len(text)] + char + text[at % len(text) + 1:]
    got = cid_from_text(text)
    if got is not None:
        expected = _MFCID.decode(text)
        assert got == expected and str(got) == text and got.codec == expected.codec
    elif edit is None:  # the canonical forms of the usual shapes always take the fast path
        assert (version, base) not in {(0, "base58btc"), (1, "base32")}
