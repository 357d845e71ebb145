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


def test_pull_refuses_an_entry_that_is_not_on_ipfs(stack, tmp_path):
    """A catalog version whose entry still points at an OPeNDAP server: nothing of it can be pulled."""
    from eurec4a.publish.importer import import_to_car

    opendap_url = f"{stack.opendap.url}/barbados/bco/EUREC4A_BCO_WXT_SurfaceMeteorology_20200201_v2.0.0.nc"
    tree = tmp_path / "catalog"
    tree.mkdir()
    (tree / "catalog.yml").write_text(f"""\
sources:
  on_ipfs:
    driver: zarr
    args: {{urlpath: "{stack.build.datasets['barbados.bco.surface_met']}", consolidated: true}}
  classic_only:
    driver: opendap
    args: {{urlpath: "{opendap_url}", engine: netcdf4, chunks: {{}}}}
""")
    root = import_to_car(tree, tmp_path / "catalog.car")
    stack.gateway.blockstore.add_car(tmp_path / "catalog.car")
    opendap_before = stack.opendap.count()
    with pytest.raises(eurec4a.CatalogError, match="classic_only is not stored on IPFS") as info:
        pull(str(root), ["on_ipfs", "classic_only"], progress=False)
    assert opendap_url in str(info.value)
    assert stack.opendap.count() == opendap_before  # refused before any data was read
    # the IPFS entry alone is pulled, and its dataset is the one the catalog names
    report = pull(str(root), ["on_ipfs"], progress=False)
    assert report["datasets"] == {"on_ipfs": stack.build.datasets["barbados.bco.surface_met"][len("ipfs://"):]}
