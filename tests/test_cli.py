"""The ``eurec4a`` command against the local stack."""
import json
import subprocess
import sys

import pytest

from eurec4a.cli import build_parser, main

SUBCOMMANDS = ["tree", "cid", "versions", "doctor", "pull", "cache", "ipfs", "pointer"]


def test_help_everywhere(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for sub in SUBCOMMANDS:
        assert sub in text
        with pytest.raises(SystemExit) as info:
            main([sub, "--help"])
        assert info.value.code == 0
        assert "usage: eurec4a " + sub in capsys.readouterr().out


def test_console_script_runs_as_a_program():
    out = subprocess.run([sys.executable, "-m", "eurec4a", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("eurec4a ")
    bad = subprocess.run([sys.executable, "-m", "eurec4a", "frobnicate"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


@pytest.mark.parametrize("mode", [[], ["--ipfs"], ["--cid", "CID"]])
def test_tree(stack, capsys, mode):
    mode = [m.replace("CID", stack.root_cid) for m in mode]
    assert main(["tree", *mode]) == 0
    out = capsys.readouterr().out
    assert "HALO/" in out and "irradiances/" in out and "HALO-0205" in out
    assert ("[opendap]" in out) == (not mode)  # the IPFS catalog serves zarr copies
    assert main(["tree", *mode, "Meteor.LIMRAD94"]) == 0
    out = capsys.readouterr().out
    assert "high_res" in out and "HALO" not in out and "one of ['1.0', '1.1']" in out


def test_tree_json(stack, capsys):
    assert main(["tree", "--cid", stack.root_cid, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_path = {r["path"]: r for r in rows}
    assert by_path["barbados.bco.surface_met"]["container"] == "xarray"
    assert by_path["HALO.BACARDI"]["container"] == "catalog"


def test_cid_and_versions(stack, capsys):
    assert main(["cid"]) == 0
    assert capsys.readouterr().out.strip() == stack.root_cid
    assert main(["versions", "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert versions[0]["cid"] == stack.root_cid and len(versions[0]["date"]) == 10
    assert main(["versions"]) == 0
    assert stack.root_cid in capsys.readouterr().out


def test_doctor_reports_settings_sources_and_reachability(stack, capsys):
    assert main(["doctor", "--json"]) == 0
    findings = json.loads(capsys.readouterr().out)
    by_what = {}
    for f in findings:
        by_what.setdefault(f["what"], []).append(f)
    assert by_what["catalog_url"][0]["value"] == stack.catalog_url
    assert by_what["catalog_url"][0]["source"] == "environment (EUREC4A_CATALOG_URL)"
    assert by_what["catalog_url"][0]["ok"] is True
    gateway = by_what["gateway"][0]
    assert gateway["value"] == stack.gateway_url and gateway["ok"] is True
    assert gateway["source"] == "environment (IPFS_GATEWAY)"
    # the unreachable fallback gateway of the test environment is reported, with advice
    assert any(not g["ok"] and g["advice"] for g in by_what["gateway"][1:])
    assert "cache" in by_what
    stack.static.faults.down = True
    assert main(["doctor"]) == 0  # a gateway still answers: findings, not failure
    text = capsys.readouterr().out
    assert "!! catalog_url" in text and "use_ipfs=True" in text


def test_cache_info_and_clear(stack, capsys):
    import eurec4a

    eurec4a.get_intake_catalog(use_ipfs=stack.root_cid)
    assert main(["cache", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["entries"] > 0
    assert main(["cache", "clear"]) == 0
    capsys.readouterr()
    assert main(["cache", "info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 0


def test_errors_exit_non_zero_with_a_message(stack, capsys):
    assert main(["tree", "--cid", "not-a-cid"]) == 1
    assert "eurec4a: error:" in capsys.readouterr().err
    assert main(["cid", "--pointer-url", stack.catalog_url]) == 1  # YAML is not a pointer file
    assert "not valid JSON" in capsys.readouterr().err


def test_parser_is_documented():
    parser = build_parser()
    assert parser.prog == "eurec4a" and parser.description
