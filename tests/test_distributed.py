"""Datasets from every mode compute on a dask.distributed cluster of worker processes."""
import pytest
from distributed import get_task_stream

import eurec4a


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import Client, LocalCluster

    # workers inherit the environment at start: keep them off the user's real cache
    mp = pytest.MonkeyPatch()
    mp.setenv("EUREC4A_CACHE_DIR", str(tmp_path_factory.mktemp("worker-default-cache")))
    mp.setenv("EUREC4A_IPFS_GATEWAYS", "http://127.0.0.1:9")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc) as client:
        yield client
    mp.undo()


@pytest.mark.parametrize("mode", ["classic", "latest", "pinned"])
def test_reduction_on_worker_processes_matches_local(stack, cluster, mode):
    use_ipfs = {"classic": False, "latest": True, "pinned": stack.root_cid}[mode]
    # the workers were started before this test configured the environment: settings reach them
    # only through the pickled objects (filesystem arguments, URLs), which is what must work
    ipfs = mode != "classic"
    cache = eurec4a.IPFSFileSystem().cache if ipfs else None  # this test's own cache directory
    cat = eurec4a.get_intake_catalog(use_ipfs=use_ipfs, gateways=stack.gateway_url if ipfs else None,
                                     pointer_url=stack.pointer_url, cache_dir=str(cache.path) if ipfs else None)
    ds = cat.Meteor.LIMRAD94.high_res(chunks={"time": 10}).to_dask()
    var = next(name for name, v in ds.data_vars.items() if v.ndim == 2)
    lazy = ds[var].mean(dim="time")
    assert len(ds[var].chunks[0]) > 1  # really several tasks
    before = cache.info()["entries"] if ipfs else 0
    server = stack.gateway if ipfs else stack.opendap
    requests_before = server.count()
    with get_task_stream(cluster) as tasks:
        remote = cluster.compute(lazy).result(timeout=120)
    # the tasks ran in the worker processes, and those read the data: their requests reached the server
    ran_on = {task["worker"] for task in tasks.data}
    assert ran_on and ran_on <= set(cluster.scheduler_info()["workers"])
    assert server.count() > requests_before
    if ipfs:  # the workers read chunks through the pickled filesystem into the same cache
        assert cache.info()["entries"] > before
    local = lazy.compute(scheduler="sync")
    assert remote.equals(local)
