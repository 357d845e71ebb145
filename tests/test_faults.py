"""Never fail, never lie: the catalog as a user sees it while servers fail, lie or rate-limit.

Everything runs against the real demo stack (static HTTP server, pydap's OPeNDAP
server, trustless gateways) with its fault switches; assertions are about outcomes
and request counts, never about timings. Filesystem-level fault tests live in
``test_ipfs.py`` and ``test_pointer.py``; these go through
:func:`eurec4a.get_intake_catalog` and load data the way the community's book does.
"""
from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

import numpy as np
import pytest

import eurec4a
from eurec4a import versions as pointer
from eurec4a.ipfs import gateways
from eurec4a.cache import BlockCache
from eurec4a.errors import GatewayError, ServerUnreachableError
from eurec4a.testing import BlockStore, TrustlessGateway

#: A dataset that is OPeNDAP (netCDF) in the classic catalog and zarr on IPFS in the IPFS one.
ENTRY = ("barbados", "bco", "surface_met")
#: How often each "all of them succeed" test opens the catalog and loads the dataset,
#: each time in a cold cache (so that every round makes requests).
ROUNDS = 10

pytestmark = pytest.mark.filterwarnings("ignore:PyDAP was unable to determine the DAP protocol")


# --------------------------------------------------------------------------- helpers
def _entry(cat):
    for name in ENTRY:
        cat = cat[name]
    return cat


@pytest.fixture
def reference(stack):
    """The dataset as the classic catalog serves it (OPeNDAP), loaded into memory."""
    return _entry(eurec4a.get_intake_catalog()).to_dask().load()


@pytest.fixture
def classic_names(stack):
    return sorted(eurec4a.get_intake_catalog())


@contextlib.contextmanager
def extra_gateway(stack, **faults):
    """A second trustless gateway serving the stack's IPFS catalog, with these fault switches."""
    gw = TrustlessGateway(BlockStore(cars=[stack.build.car_path]))
    try:
        gw.faults.update(**faults)
        yield gw
    finally:
        gw.close()


def _open_and_load(stack, gateway_urls, cache_dir=None):
    """One user session: open the pinned IPFS catalog, list it, load the dataset."""
    kwargs = {"cache_dir": str(cache_dir)} if cache_dir is not None else {}
    cat = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=gateway_urls, **kwargs)
    names = sorted(cat)
    return names, _entry(cat).to_dask().load()


def _assert_same_data(ds, reference):
    assert sorted(ds.data_vars) == sorted(reference.data_vars)
    for name in reference.variables:
        np.testing.assert_array_equal(ds[name].values, reference[name].values, err_msg=name)


def _cached_blocks(cache_dir=None):
    return list(BlockCache(cache_dir).stored_blocks())  # alone or in packs, as on disk


def _genuine(stack):
    store = BlockStore(cars=[stack.build.car_path])
    return {store[cid] for cid in store}


# --------------------------------------------------------------------------- failover
def test_first_gateway_down_every_open_and_load_succeeds(stack, reference, classic_names, tmp_path):
    with extra_gateway(stack, down=True) as down:
        urls = [down.url, stack.gateway.url]
        for i in range(ROUNDS):
            # A new process with a cold cache: every round really fetches over the network.
            gateways.reset_gateway_state()
            before = stack.gateway.count()
            names, ds = _open_and_load(stack, urls, tmp_path / f"cache{i}")
            assert names == classic_names
            _assert_same_data(ds, reference)
            # the second gateway served this round: the catalog tree and the dataset at least
            assert stack.gateway.count() - before >= 2, f"round {i}"
        # The first gateway was really first in line: once it is back, a new session uses it.
        down.faults.down = False
        gateways.reset_gateway_state()
        names, ds = _open_and_load(stack, urls, tmp_path / "cache-back")
        assert names == classic_names
        _assert_same_data(ds, reference)
        assert down.count() > 0


def test_gateway_dying_mid_session_is_replaced_without_error(stack, reference, tmp_path):
    with extra_gateway(stack) as first:
        urls = [first.url, stack.gateway.url]
        for i in range(10):
            if i == 5:
                first.faults.down = True  # listening socket closed, open keep-alive connections reset
            _, ds = _open_and_load(stack, urls, tmp_path / f"cache{i}")
            _assert_same_data(ds, reference)
        served_by_first = first.count()
        assert served_by_first >= 5 * 2  # it served the first five cold sessions
        assert stack.gateway.count() > 0  # the second took over


def test_flaky_gateway_failing_30_percent_every_open_and_load_succeeds(stack, reference, classic_names, tmp_path):
    stack.gateway.faults.update(seed=20240131, failure_rate=0.3)
    before_failed = stack.gateway.count(status=503)
    for i in range(10):  # each a cold session: about 15 gateway requests, so ~150 draws
        names, ds = _open_and_load(stack, [stack.gateway.url], tmp_path / f"cache{i}")
        assert names == classic_names
        _assert_same_data(ds, reference)
    assert stack.gateway.count(status=503) - before_failed > 10  # failures happened and were retried


def test_rate_limited_first_gateway_is_rested_for_retry_after(stack, reference, tmp_path):
    with extra_gateway(stack, failure_status=429, retry_after=30, failure_rate=1.0) as limited:
        for i in range(5):
            _, ds = _open_and_load(stack, [limited.url, stack.gateway.url], tmp_path / f"cache{i}")
            _assert_same_data(ds, reference)
        assert limited.count(status=429) == 1  # asked once, then left alone for its Retry-After


# --------------------------------------------------------------------------- tampering
def test_tampering_first_gateway_no_altered_byte_is_accepted(stack, reference, classic_names, tmp_path):
    cache_dir = tmp_path / "cache"
    with extra_gateway(stack, tamper=True) as bad:
        urls = [bad.url, stack.gateway.url]
        cat = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=urls, cache_dir=str(cache_dir))
        assert sorted(cat) == classic_names  # catalog files: the tampered CAR was refused
        assert bad.count() == 1
        # a new process (gateway health forgotten): the dataset's blocks meet the liar first too
        gateways.reset_gateway_state()
        ds = _entry(cat).to_dask().load()
        assert bad.count() > 1  # it was asked again (zarr's first reads run in parallel, so maybe more)
        _assert_same_data(ds, reference)
    genuine = _genuine(stack)
    stored = _cached_blocks(cache_dir)
    assert stored and all(block in genuine for block in stored)


def test_only_gateway_tampering_is_an_error_naming_gateway_and_content(stack, tmp_path):
    cache_dir = tmp_path / "cache"
    with extra_gateway(stack, tamper=True) as bad:
        with pytest.raises(GatewayError) as info:
            eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[bad.url], cache_dir=str(cache_dir))
        message = str(info.value)
        assert bad.url in message and stack.root_cid in message and "do not match" in message
        # catalog already cached (from an honest gateway): the dataset load must fail, not return data
        honest = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[stack.gateway.url],
                                            cache_dir=str(cache_dir))
        dataset_cid = _entry(honest).describe()["args"]["urlpath"].removeprefix("ipfs://")
        gateways.reset_gateway_state()
        cat = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[bad.url], cache_dir=str(cache_dir))
        with pytest.raises(GatewayError) as info:
            _entry(cat).to_dask().load()
        message = str(info.value)
        assert bad.url in message and dataset_cid in message and "do not match" in message
    genuine = _genuine(stack)
    assert all(block in genuine for block in _cached_blocks(cache_dir))


def test_gateway_without_the_chunks_never_yields_fill_values(stack, reference, tmp_path):
    """A gateway that answers 404 for blocks a verified directory links to must not turn into NaNs."""
    honest = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[stack.gateway.url],
                                        cache_dir=str(tmp_path / "probe"))
    store_url = _entry(honest).describe()["args"]["urlpath"]
    fs = eurec4a.ipfs.filesystem.IPFSFileSystem(gateways=[stack.gateway.url], cache_dir=str(tmp_path / "probe"))
    partial = BlockStore(cars=[stack.build.car_path])
    for var in reference.data_vars:
        del partial[fs.info(f"{store_url}/{var}/0")["CID"]]
    with TrustlessGateway(partial) as lacking:
        # alone: an error, never a dataset of fill values
        cat = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[lacking.url],
                                         cache_dir=str(tmp_path / "alone"))
        with pytest.raises(ServerUnreachableError):
            _entry(cat).to_dask().load()
        # first of two: the second delivers the chunks
        gateways.reset_gateway_state()
        _, ds = _open_and_load(stack, [lacking.url, stack.gateway.url], tmp_path / "two")
        _assert_same_data(ds, reference)


# --------------------------------------------------------------------------- outage
def test_all_gateways_failing_ends_in_an_error_with_capped_attempts(stack, tmp_path):
    with extra_gateway(stack, failure_rate=1.0) as a, extra_gateway(stack, failure_rate=1.0) as b:
        with pytest.raises(GatewayError) as info:
            eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[a.url, b.url],
                                       cache_dir=str(tmp_path / "cache"))
        message = str(info.value)
        assert a.url in message and b.url in message and "503" in message
        # one request, capped: max(2 x gateways + 2, MIN_ATTEMPTS), spread over both gateways
        assert a.count() + b.count() == max(2 * 2 + 2, gateways.MIN_ATTEMPTS)
        assert abs(a.count() - b.count()) <= 1


def test_all_gateways_down_is_a_quick_error_naming_each(stack, tmp_path):
    with extra_gateway(stack, down=True) as a, extra_gateway(stack, down=True) as b:
        with pytest.raises(GatewayError) as info:
            eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[a.url, b.url],
                                       cache_dir=str(tmp_path / "cache"))
        message = str(info.value)
        assert a.url in message and b.url in message and "connection refused" in message
        assert f"after {2 * gateways.UNREACHABLE_ATTEMPTS} attempts" in message


def test_outage_respects_the_request_deadline(stack, tmp_path, monkeypatch):
    # A deadline shorter than the rest the gateway asks for: the request gives up instead of sleeping.
    monkeypatch.setenv("EUREC4A_DEADLINE", "2")
    with extra_gateway(stack, failure_status=429, retry_after=20, failure_rate=1.0) as limited:
        with pytest.raises(GatewayError, match="rate limited"):
            eurec4a.get_intake_catalog(use_ipfs=stack.root_cid, gateways=[limited.url],
                                       cache_dir=str(tmp_path / "cache"))
        assert limited.count() == 1


# --------------------------------------------------------------------------- pointer file
def test_pointer_server_down_warm_cache_uses_last_known_value(stack, classic_names, monkeypatch):
    assert sorted(eurec4a.get_intake_catalog(use_ipfs=True)) == classic_names  # fetches the pointer
    pointer.clear_memo()  # a new process...
    monkeypatch.setenv("EUREC4A_POINTER_TTL", "0")  # ...whose copy has expired
    stack.static.faults.down = True
    with pytest.warns(UserWarning, match=r"could not be fetched.*fetched \d+ seconds ago"):
        cat = eurec4a.get_intake_catalog(use_ipfs=True)
    assert sorted(cat) == classic_names


def test_pointer_server_down_cold_cache_uses_snapshot_else_clear_error(stack, classic_names, tmp_path, monkeypatch):
    doc = json.loads((Path(stack.static.root_dir) / "cids.json").read_text())
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps({"url": stack.pointer_url, "taken": "2024-01-31", "content": doc}))
    stack.static.faults.down = True
    with pytest.raises(ServerUnreachableError) as info:
        eurec4a.get_intake_catalog(use_ipfs=True)
    assert stack.pointer_url in str(info.value) and "EUREC4A_CID_POINTER_URL" in str(info.value)
    monkeypatch.setenv("EUREC4A_POINTER_SNAPSHOT", str(snapshot))
    with pytest.warns(UserWarning, match="taken 2024-01-31"):
        cat = eurec4a.get_intake_catalog(use_ipfs=True)
    assert sorted(cat) == classic_names


# --------------------------------------------------------------------------- classic servers
def test_classic_server_down_names_url_and_suggests_ipfs(stack):
    stack.static.faults.down = True
    with pytest.raises(ServerUnreachableError) as info:
        eurec4a.get_intake_catalog()
    assert stack.catalog_url in str(info.value) and "use_ipfs=True" in str(info.value)
    stack.static.faults.update(down=False, failure_rate=1.0)  # up, but answering 503
    with pytest.raises(ServerUnreachableError) as info:
        eurec4a.get_intake_catalog()
    assert stack.catalog_url in str(info.value) and "503" in str(info.value)


def test_classic_down_but_ipfs_fallback_works_as_advised(stack, classic_names):
    eurec4a.get_latest_intake_cid()  # the pointer was fetched once, earlier
    pointer.clear_memo()
    stack.static.faults.down = True
    with pytest.raises(ServerUnreachableError, match="use_ipfs=True"):
        eurec4a.get_intake_catalog()
    assert sorted(eurec4a.get_intake_catalog(use_ipfs=True)) == classic_names


def _opendap_url(entry) -> str:
    return entry.urlpath  # the rendered URL of the data source


@pytest.mark.parametrize("path", [("Meteor", "LIMRAD94", "low_res"), ("JOANNE", "level3")],
                         ids=["pydap", "netcdf4"])
def test_opendap_server_down_at_open_is_a_package_error_naming_the_url(stack, path):
    entry = eurec4a.get_intake_catalog()
    for name in path:
        entry = entry[name]
    url = _opendap_url(entry)
    stack.opendap.faults.down = True
    with pytest.raises(ServerUnreachableError) as info:
        entry.to_dask()
    assert url in str(info.value)


def test_opendap_server_killed_while_loading_is_a_package_error_naming_the_url(stack):
    entry = eurec4a.get_intake_catalog().Meteor.LIMRAD94.low_res
    url = _opendap_url(entry)
    ds = entry.to_dask()  # metadata read; the data come with load()
    stack.opendap.faults.latency = 2.0  # every data request is still in flight when the server dies
    outcome: dict = {}

    def load():
        try:
            outcome["data"] = ds.load()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    loader = threading.Thread(target=load)
    loader.start()
    try:
        stack.opendap.stop()  # from this thread, while the loader waits for its answer
        loader.join(timeout=120)
        assert not loader.is_alive(), "load() hung after the server was killed"
    finally:
        stack.opendap.faults.latency = 0.0
        stack.opendap.start()
    assert "data" not in outcome
    error = outcome["error"]
    assert isinstance(error, ServerUnreachableError), repr(error)
    assert url in str(error)
