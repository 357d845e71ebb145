"""The ``eurec4a`` command against the local stack."""
import json
import re
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
    assert "!! catalog_url" in text and "eurec4a tree --ipfs" in text and "use_ipfs" not in text


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


# ---------------------------------------------------------------- first contact (issue 14)


def _run_cli(*argv, env=None, timeout=120):
    """The command as a user runs it: a new process, so tracebacks and warnings show as they would."""
    import os

    environ = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "eurec4a", *argv], capture_output=True, text=True,
                          timeout=timeout, env=environ)


def test_tree_of_a_dataset_shows_the_entry(stack, capsys):
    assert main(["tree", "HALO.KT19.cloudmask"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HALO.KT19.cloudmask  [opendap]\n")
    for expected in ("description: KT19 cloud mask", "arguments:", "urlpath:", "parameters:",
                     "flight_id: str = HALO-0122, one of ['HALO-0122', 'HALO-0205']", "metadata:", "doi:"):
        assert expected in out
    assert out.endswith("\n")
    assert main(["tree", "--cid", stack.root_cid, "--json", "HALO.KT19.cloudmask"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["path"] == "HALO.KT19.cloudmask" and record["driver"] == "zarr"
    assert record["parameters"][0]["name"] == "flight_id" and "doi" in record["metadata"]


def test_tree_of_a_missing_or_impossible_path_is_one_line(stack, capsys):
    assert main(["tree", "HALO.nope"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nope'" in err and "BACARDI, KT19" in err
    assert main(["tree", "HALO.KT19.cloudmask.x"]) == 1
    assert "is a dataset, not a catalog" in capsys.readouterr().err


def test_tree_json_paths_are_absolute_and_pull_takes_them_back(stack, capsys):
    assert main(["tree", "--cid", stack.root_cid, "--json", "barbados"]) == 0
    rows = json.loads(capsys.readouterr().out)
    paths = [r["path"] for r in rows]
    assert "barbados.bco.surface_met" in paths and all(p.startswith("barbados.") for p in paths)
    assert main(["pull", "-q", "--cid", stack.root_cid, "barbados.bco.surface_met"]) == 0
    assert "1 dataset(s)" in capsys.readouterr().out


def test_tree_output_ends_with_a_newline(stack, capsys):
    assert main(["tree", "Meteor"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and not out.endswith("\n\n")


OFFLINE = {"EUREC4A_CATALOG_URL": "http://127.0.0.1:9/catalog.yml", "EUREC4A_CID_POINTER_URL": "http://127.0.0.1:9/cids.json"}


@pytest.mark.parametrize("argv, env, words", [
    (["tree"], {"EUREC4A_TIMEOUT": "abc"}, ["EUREC4A_TIMEOUT", "positive number of seconds"]),
    (["tree"], {"EUREC4A_TIMEOUT": "-1"}, ["EUREC4A_TIMEOUT", "positive number of seconds"]),
    (["tree"], {"EUREC4A_CATALOG_URL": "htp://x/catalog.yml"}, ["EUREC4A_CATALOG_URL", "unknown URL scheme 'htp'"]),
    (["cid"], {"EUREC4A_POINTER_TTL": "soon"}, ["EUREC4A_POINTER_TTL", "number of seconds"]),
    (["cache", "info"], {"EUREC4A_CACHE_SIZE": "lots"}, ["EUREC4A_CACHE_SIZE"]),
    (["tree"], {}, ["cannot reach", "127.0.0.1:9", "connection refused", "eurec4a tree --ipfs"]),
])
def test_bad_settings_give_one_line_and_no_traceback(argv, env, words):
    done = _run_cli(*argv, env={**OFFLINE, **env})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stderr.startswith("eurec4a: error: ")
    assert done.stderr.count("\n") == 1, done.stderr
    for word in words:
        assert word in done.stderr


def test_classic_failure_advises_cli_flags_not_python(stack, capsys):
    stack.static.faults.down = True
    assert main(["tree"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("eurec4a: error: ") and err.count("\n") == 1
    assert "eurec4a tree --ipfs" in err and "use_ipfs" not in err and "get_intake_catalog" not in err
    assert "EUREC4A_CATALOG_URL" in err and "--catalog-url" in err and "] The" not in err


def test_cid_mistakes_are_named_with_what_was_expected(stack, capsys):
    assert main(["tree", "--cid", "Qm123"]) == 1
    err = capsys.readouterr().err
    assert "46 characters, this one has 5" in err and "multibase" not in err
    assert not re.search(r"[^.]\.\.(?!\.)", err)  # no doubled full stop (an ellipsis is fine)
    assert main(["tree", "--cid", "true"]) == 1
    assert "use --ipfs instead" in capsys.readouterr().err


def test_warnings_print_as_one_line(stack):
    done = _run_cli("tree", "--gateway", "http://127.0.0.1:9", "barbados", env=stack.env())
    assert done.returncode == 0, done.stderr
    assert done.stderr == ("eurec4a: warning: --gateway does nothing without --ipfs or --cid: the classic "
                           "catalog is read over HTTP, not through IPFS gateways.\n")
    assert done.stdout.startswith("barbados") and done.stdout.endswith("\n")


def test_versions_offline_print_the_snapshot_history_marked_as_such(tmp_path, capsys, monkeypatch):
    from eurec4a import versions

    record = json.loads(versions.SNAPSHOT_PATH.read_text())
    record["url"] = "http://127.0.0.1:9/cids.json"  # nothing listens there: offline
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(record))
    monkeypatch.setenv("EUREC4A_POINTER_SNAPSHOT", str(snapshot))
    assert main(["versions", "--pointer-url", record["url"]]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].startswith("# from the snapshot shipped with eurec4a")
    assert lines[1] == "2022-03-28  QmWcEncowNzUYEgmbHRE9rWmSVjLBsxgY1LznJCNYuXfxi  (latest)"
    assert len(lines) == 6 and lines[-1].startswith("2021-09-11  QmPHL6xu")
    assert out.err.startswith("eurec4a: warning: pointer file") and out.err.count("\n") == 1
    assert main(["versions", "--json", "--pointer-url", record["url"]]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5 and all(r["from"].startswith("snapshot") for r in rows)


def test_shipped_snapshot_is_the_real_pointer_file():
    from eurec4a import versions

    record = json.loads(versions.SNAPSHOT_PATH.read_text())
    pointer = versions.parse_pointer(record["content"])
    assert str(pointer.latest) == "QmWcEncowNzUYEgmbHRE9rWmSVjLBsxgY1LznJCNYuXfxi"
    assert [v.date for v in pointer.versions] == ["2022-03-28", "2022-02-09", "2021-12-01", "2021-11-08",
                                                  "2021-09-11"]


def test_doctor_shows_every_setting_with_its_source(stack, capsys, monkeypatch):
    monkeypatch.setenv("EUREC4A_TIMEOUT", "12")
    assert main(["doctor", "--json"]) == 0
    by_what = {f["what"]: f for f in json.loads(capsys.readouterr().out)}
    for name in ("config_file", "timeout", "deadline", "pointer_ttl", "cache_dir", "cache_size",
                 "flight_segments_url", "fallback_gateways", "gateway", "cache"):
        assert name in by_what, name
    assert by_what["timeout"]["value"] == "12.0" and by_what["timeout"]["source"] == "environment (EUREC4A_TIMEOUT)"
    assert by_what["deadline"]["source"] == "default"
    assert by_what["config_file"]["source"] == "environment (EUREC4A_CONFIG)"
    assert by_what["cache_size"]["value"] == "10.0 GiB"
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert "timeout" in text and "pointer_ttl" in text and "GB" not in text and text.endswith("\n")


def test_sizes_print_in_iec_units(stack, capsys):
    import eurec4a

    eurec4a.get_intake_catalog(use_ipfs=stack.root_cid)
    assert main(["cache", "info"]) == 0
    text = capsys.readouterr().out
    assert "limit:    10.0 GiB" in text and "bytes" not in text
    assert any(unit in text.split("size:", 1)[1].splitlines()[0] for unit in (" B", "KiB", "MiB"))


def test_pull_of_a_sub_catalog_pulls_everything_under_it_to_100_percent(stack, capsys):
    assert main(["pull", "--cid", stack.root_cid, "HALO.BACARDI"]) == 0
    out = capsys.readouterr()
    assert "and 3 dataset(s)" in out.out  # irradiances for two flights, and the BACARDI dataset itself
    last_bar = out.err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in last_bar, out.err


def test_every_subcommand_help_describes_its_actions(capsys):
    with pytest.raises(SystemExit):
        main(["cache", "--help"])
    text = capsys.readouterr().out
    assert "info    where the cache folder is" in text and "clear   delete everything" in text
    with pytest.raises(SystemExit):
        main(["tree", "--help"])
    assert "when PATH is a dataset" in capsys.readouterr().out.replace("\n", " ").replace("  ", " ")
