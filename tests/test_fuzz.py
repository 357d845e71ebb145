"""Fuzzing what a user or a server can hand to eurec4a: only a result or a documented eurec4a error.

* ``use_ipfs``: anything that is not ``False``/``None``/``True``/a CID fails before any
  network access (:class:`InvalidModeError`, :class:`InvalidCIDError`); a well-formed
  CID of content nobody has ends in a package error from the stack's gateway.
* the pointer file: arbitrary bytes and JSON-like documents served by a real HTTP server.
* the catalog YAML: arbitrary bytes and catalog-shaped YAML served by the stack's static
  server, opened in classic mode, then listed, described and walked.

Each example runs under a timeout guard: a hang fails the test instead of stalling it.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eurec4a
from eurec4a import versions as pointer
from eurec4a.ipfs import gateways
from eurec4a.api import parse_mode
from eurec4a.errors import (
    ContentNotFoundError,
    Eurec4aError,
    InvalidCIDError,
    InvalidModeError,
    PointerFileError,
)
from eurec4a.ipfs.codecs import dag_pb_cid, raw_cid
from eurec4a.testing.http import StaticServer
from eurec4a.catalog.tree import walk

#: Seconds one example may take before it counts as a hang.
EXAMPLE_TIMEOUT = 60.0

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NETWORK_FUZZ = settings(FUZZ, max_examples=40)


def bounded(fn, *args, **kwargs):
    """Run ``fn`` in a thread; fail the test if it does not finish within :data:`EXAMPLE_TIMEOUT`.

    Returns ``("ok", value)`` or ``("error", exception)``.
    """
    outcome: list = []

    def run():
        try:
            outcome.append(("ok", fn(*args, **kwargs)))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(("error", exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(EXAMPLE_TIMEOUT)
    if worker.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)}{args!r} did not finish within {EXAMPLE_TIMEOUT:g} s (a hang)")
    return outcome[0]


def assert_documented_error(exc: BaseException, *allowed: type) -> None:
    """A eurec4a error (of one of ``allowed`` when given) with a message; anything else is a bug."""
    if not isinstance(exc, Eurec4aError):
        raise AssertionError(f"not a eurec4a error: {type(exc).__module__}.{type(exc).__name__}: {exc}") from exc
    if allowed:
        assert isinstance(exc, allowed), f"{type(exc).__name__} is none of {[a.__name__ for a in allowed]}: {exc}"
    assert str(exc).strip(), f"{type(exc).__name__} without a message"


# --------------------------------------------------------------------------- use_ipfs
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
not_a_mode = st.one_of(
    st.integers(), st.floats(), st.binary(max_size=40), st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), st.tuples(st.booleans()),
    st.sets(st.integers(), max_size=3), st.complex_numbers(), st.just(object()), st.just(Path("/ipfs/x")),
    st.just(b"QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N"),
)


@FUZZ
@given(value=not_a_mode)
def test_non_string_modes_fail_before_network_access(value):
    kind, result = bounded(eurec4a.get_intake_catalog, use_ipfs=value, gateways=["http://127.0.0.1:9"])
    assert kind == "error", f"use_ipfs={value!r} returned {result!r}"
    assert_documented_error(result, InvalidModeError)
    assert "use_ipfs must be False, True or a CID string" in str(result)


cid_like_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", min_size=40, max_size=60)
    .map(lambda s: "Qm" + s),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=50, max_size=62).map(lambda s: "bafy" + s),
    st.sampled_from(["", " ", "ipfs://", "/ipfs/", "ipfs:///", "/ipns/x", "ipfs://Qm", "bafy", "Qm"]),
    st.tuples(st.sampled_from(["ipfs://", "/ipfs/", " ", ""]), st.text(max_size=60)).map("".join),
)


@FUZZ
@given(value=cid_like_text)
def test_strings_are_a_cid_or_an_invalid_cid_error_before_network_access(value):
    kind, result = bounded(parse_mode, value)
    if kind == "ok":  # a real CID (rare in random text): accepted, and nothing else is allowed
        assert isinstance(result, str) and result
        return
    assert_documented_error(result, InvalidCIDError)
    # and the public entry point says the same, without touching a gateway (none listens on port 9)
    kind, again = bounded(eurec4a.get_intake_catalog, use_ipfs=value, gateways=["http://127.0.0.1:9"])
    assert kind == "error" and type(again) is type(result)


@NETWORK_FUZZ
@given(data=st.binary(max_size=64), form=st.sampled_from(["v0", "v1-raw", "ipfs://", "/ipfs/", "v1-dag-pb"]))
def test_valid_cids_of_missing_content_end_in_content_not_found(stack, data, form):
    if form in ("v0", "ipfs://", "/ipfs/"):
        cid = str(dag_pb_cid(data))
    elif form == "v1-dag-pb":
        cid = str(dag_pb_cid(data, version=1))
    else:
        cid = str(raw_cid(data))
    if cid == stack.root_cid:
        return
    text = {"ipfs://": f"ipfs://{cid}", "/ipfs/": f"/ipfs/{cid}"}.get(form, cid)
    gateways.reset_gateway_state()
    kind, result = bounded(eurec4a.get_intake_catalog, use_ipfs=text, gateways=[stack.gateway.url])
    assert kind == "error", f"{text} opened as a catalog: {result!r}"
    assert_documented_error(result, ContentNotFoundError)
    assert cid in str(result)


# --------------------------------------------------------------------------- pointer file
def _pointer_documents(root_cid: str):
    cid_values = st.one_of(st.just(root_cid), st.just("QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N"),
                           st.text(max_size=30), json_like)
    version = st.one_of(st.fixed_dictionaries({"date": st.one_of(st.dates().map(str), st.text(max_size=12)),
                                               "cid": cid_values}), json_like)
    intake = st.one_of(
        st.fixed_dictionaries({"latest": cid_values}, optional={"versions": st.one_of(st.lists(version, max_size=3),
                                                                                        json_like)}),
        json_like,
    )
    documents = st.one_of(st.fixed_dictionaries({"intake": intake}), json_like)
    return st.one_of(
        st.binary(max_size=200),
        documents.map(lambda d: json.dumps(d).encode("utf-8")),
        documents.map(lambda d: json.dumps(d).encode("utf-16")),
    )


@pytest.fixture
def pointer_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    with StaticServer(root) as srv:
        yield srv, root / "cids.json"


@NETWORK_FUZZ
@given(data=st.data())
def test_any_pointer_file_gives_a_catalog_or_a_pointer_error(stack, pointer_server, monkeypatch, data):
    srv, path = pointer_server
    body = data.draw(_pointer_documents(stack.root_cid), label="pointer file")
    path.write_bytes(body)
    monkeypatch.setenv("EUREC4A_POINTER_TTL", "0")  # every example asks the server
    pointer.clear_memo()
    gateways.reset_gateway_state()
    kind, result = bounded(eurec4a.get_intake_catalog, use_ipfs=True, pointer_url=f"{srv.url}/cids.json",
                           gateways=[stack.gateway.url])
    if kind == "ok":
        assert json.loads(body)["intake"]["latest"] == stack.root_cid
        assert sorted(result) == ["ATR", "HALO", "JOANNE", "Meteor", "barbados", "simulations"]
        return
    # a pointer naming a CID the gateway does not hold is a ContentNotFoundError: still documented
    assert_documented_error(result, PointerFileError, ContentNotFoundError)


# --------------------------------------------------------------------------- catalog YAML
names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
drivers = st.sampled_from(["yaml_file_cat", "opendap", "zarr", "json", "netcdf", "intake.catalog.local.YAMLFileCatalog",
                           "no_such_driver", "os.system", "intake_xarray.OpenDapSource", ""])
arg_values = st.one_of(
    st.sampled_from(["{{CATALOG_DIR}}/catalog.yml", "{{CATALOG_DIR}}/missing.yaml", "{{ undefined }}",
                     "{{ 1/0 }}", "{% for %}", "{{CATALOG_DIR}}/{{ version }}.yaml", "{{ ''.__class__ }}"]),
    json_like,
)
parameter = st.one_of(
    st.fixed_dictionaries({}, optional={
        "description": st.text(max_size=10),
        "type": st.sampled_from(["str", "int", "float", "bool", "datetime", "list", "mlist", "bogus"]),
        "default": json_like, "allowed": json_like, "min": json_like, "max": json_like}),
    json_like,
)
entry = st.one_of(
    st.fixed_dictionaries({"driver": drivers}, optional={
        "args": st.one_of(st.dictionaries(st.sampled_from(["path", "urlpath", "chunks", "engine", "x"]),
                                          arg_values, max_size=3), json_like),
        "description": json_like, "metadata": json_like,
        "parameters": st.one_of(st.dictionaries(st.sampled_from(["version", "date", "x"]), parameter, max_size=2),
                                json_like)}),
    json_like,
)
catalog_docs = st.one_of(
    st.fixed_dictionaries({}, optional={
        "sources": st.one_of(st.dictionaries(names, entry, max_size=4), json_like),
        "metadata": json_like, "description": json_like, "version": json_like, "plugins": json_like}),
    json_like,
)
catalog_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    catalog_docs.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode("utf-8")),
    st.sampled_from([b"a: &a [*a]", b"!!python/object/apply:os.system ['true']", b"- - - -", b"{", b"sources: [1]",
                     b"sources:\n  a: {driver: yaml_file_cat, args: {path: '{{CATALOG_DIR}}/catalog.yml'}}"]),
)


def _list_and_walk(cat):
    listed = sorted(map(str, cat))
    described = [cat[name].describe() for name in list(cat)]
    walked = [path for path, _ in walk(cat, max_depth=3, on_error="ignore")]
    return listed, described, walked


@NETWORK_FUZZ
@given(body=catalog_bytes)
def test_any_catalog_yaml_gives_a_walkable_catalog_or_a_catalog_error(stack, body):
    folder = Path(stack.static.root_dir) / "fuzz"
    folder.mkdir(exist_ok=True)
    (folder / "catalog.yml").write_bytes(body)
    url = f"{stack.static.url}/fuzz/catalog.yml"
    kind, result = bounded(eurec4a.get_intake_catalog, catalog_url=url)
    if kind == "error":
        assert_documented_error(result)
        return
    kind, walked = bounded(_list_and_walk, result)
    if kind == "error":  # listing/describing may refuse a broken entry, with a eurec4a error
        assert_documented_error(walked)
        return
    listed, described, paths = walked
    assert len(described) == len(listed)
    assert all(isinstance(d, dict) for d in described)
    assert all(isinstance(p, str) for p in paths)
