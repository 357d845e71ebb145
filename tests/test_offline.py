"""Pull a pinned catalog and datasets, stop every server, and still open and compute."""
import xarray as xr

import eurec4a
from eurec4a.offline import pull

import pytest


def test_pull_then_work_with_every_server_stopped(stack, capsys):
    report = pull(stack.root_cid, ["barbados.bco.surface_met", "Meteor.LIMRAD94.high_res"], progress=True)
    assert report["cid"] == stack.root_cid
    assert set(report["datasets"]) == {"barbados.bco.surface_met", "Meteor.LIMRAD94.high_res"}
    assert report["bytes"] > 10_000
    assert "pulling datasets" in capsys.readouterr().err  # the progress bar
    expected = eurec4a.get_intake_catalog().barbados.bco.surface_met.read()  # classic, while servers run
    for server in stack.servers:
        server.faults.down = True
    eurec4a.IPFSFileSystem.clear_instance_cache()  # as a new process: nothing in memory
    cat = eurec4a.get_intake_catalog(use_ipfs=stack.root_cid)
    ds = cat.barbados.bco.surface_met.to_dask()
    xr.testing.assert_identical(ds.load(), expected)
    assert float(ds["T"].mean()) == pytest.approx(float(expected["T"].mean()))
    for version in ("1.0", "1.1"):  # every parameter value was pulled
        assert cat.Meteor.LIMRAD94.high_res(version=version).to_dask().load().sizes["time"] > 0
    with pytest.raises(eurec4a.GatewayError):  # not pulled: needs the network, which is gone
        cat.HALO.BACARDI.irradiances["HALO-0205"].to_dask().load()


def test_pull_refuses_unknown_entries_and_non_ipfs_ones(stack):
    with pytest.raises(eurec4a.CatalogNotFoundError, match="no entry"):
        pull(stack.root_cid, ["HALO.nothing"], progress=False)


def test_cli_pull(stack, capsys):
    from eurec4a.cli import main

    assert main(["pull", "--cid", stack.root_cid, "barbados.bco.surface_met", "-q"]) == 0
    assert "pulled catalog" in capsys.readouterr().out
    assert main(["pull", "--cid", "not-a-cid", "-q"]) == 1
    assert "not a valid" in capsys.readouterr().err
