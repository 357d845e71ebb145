"""The pointer file: parsing, fetching once, caching with a time to live, fallbacks, atomic updates."""
import json

import pytest

import eurec4a
from eurec4a import versions as pointer
from eurec4a.publish import pointer as publisher
from eurec4a.errors import CatalogNotFoundError, InvalidCIDError, PointerFileError, ServerUnreachableError
from eurec4a.testing.http import StaticServer

V0 = "QmahMN2wgPauHYkkiTGoG2TpPBmj3p5FoYJAq9uE9iXT9N"
V1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
DOC = {"intake": {"latest": V1, "versions": [{"date": "2022-01-05", "cid": V0}, {"date": "2023-06-01", "cid": V1}]}}


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "cids.json").write_text(json.dumps(DOC))
    with StaticServer(root) as srv:
        yield srv, root


def test_latest_and_versions_newest_first(served):
    srv, _ = served
    url = f"{srv.url}/cids.json"
    assert eurec4a.get_latest_intake_cid(url) == V1
    versions = eurec4a.get_catalog_versions(url)
    assert [(v.date, v.cid) for v in versions] == [("2023-06-01", V1), ("2022-01-05", V0)]


def test_fetched_at_most_once_per_process_then_from_disk(served, monkeypatch):
    srv, _ = served
    url = f"{srv.url}/cids.json"
    for _ in range(5):
        eurec4a.get_latest_intake_cid(url)
    assert srv.count() == 1
    pointer.clear_memo()  # a new process: the disk copy is fresh, so still no request
    eurec4a.get_latest_intake_cid(url)
    assert srv.count() == 1
    pointer.clear_memo()
    monkeypatch.setenv("EUREC4A_POINTER_TTL", "0")  # expired: asked again
    eurec4a.get_latest_intake_cid(url)
    assert srv.count() == 2


def test_server_down_uses_last_known_value_with_its_age(served, monkeypatch):
    srv, root = served
    url = f"{srv.url}/cids.json"
    eurec4a.get_latest_intake_cid(url)
    pointer.clear_memo()
    monkeypatch.setenv("EUREC4A_POINTER_TTL", "0")
    srv.faults.down = True
    with pytest.warns(UserWarning, match=r"could not be fetched.*fetched \d+ seconds ago"):
        assert eurec4a.get_latest_intake_cid(url) == V1


def test_server_down_cold_cache_uses_shipped_snapshot_for_that_url_only(served, tmp_path, monkeypatch):
    srv, _ = served
    url = f"{srv.url}/cids.json"
    srv.faults.down = True
    snap = tmp_path / "snapshot.json"
    snap.write_text(json.dumps({"url": url, "taken": "2024-02-01", "content": DOC}))
    monkeypatch.setenv("EUREC4A_POINTER_SNAPSHOT", str(snap))
    with pytest.warns(UserWarning, match="snapshot shipped with eurec4a, taken 2024-02-01"):
        assert eurec4a.get_latest_intake_cid(url) == V1
    # a snapshot of another pointer file is never used for this one
    snap.write_text(json.dumps({"url": "http://elsewhere/cids.json", "taken": "2024-02-01", "content": DOC}))
    with pytest.raises(ServerUnreachableError) as info:
        eurec4a.get_latest_intake_cid(url)
    assert url in str(info.value) and "EUREC4A_CID_POINTER_URL" in str(info.value)


def test_shipped_snapshot_is_valid_and_names_the_default_url():
    record = json.loads(pointer.SNAPSHOT_PATH.read_text())
    assert record["url"] == eurec4a.settings.DEFAULT_POINTER_URL
    assert pointer.parse_pointer(record["content"]).latest


@pytest.mark.parametrize(
    "body, match",
    [
        (b"<html>not json</html>", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"intake": {}}', "no 'intake.latest'"),
        (b'{"other": {"latest": "x"}}', "no 'intake.latest'"),
        (b'{"intake": {"latest": "not-a-cid"}}', "not a valid CID"),
        (b'{"intake": {"latest": "' + V0.encode() + b'", "versions": [{"date": "yesterday", "cid": "' + V0.encode() + b'"}]}}', "versions\\[0\\]"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_pointer_files(served, body, match):
    srv, root = served
    (root / "cids.json").write_bytes(body)
    with pytest.raises(PointerFileError, match=match):
        eurec4a.get_latest_intake_cid(f"{srv.url}/cids.json")


def test_missing_pointer_file_and_unreachable_server(served):
    srv, _ = served
    with pytest.raises(CatalogNotFoundError, match="404"):
        eurec4a.get_latest_intake_cid(f"{srv.url}/nope.json")
    srv.faults.down = True
    with pytest.raises(ServerUnreachableError, match="pointer_url"):
        eurec4a.get_latest_intake_cid(f"{srv.url}/other.json")


def test_update_pointer_file_keeps_history_and_is_atomic(tmp_path):
    path = tmp_path / "cids.json"
    publisher.update_pointer_file(path, V0, "2022-01-05")
    doc = publisher.update_pointer_file(path, f"ipfs://{V1}", "2023-06-01")
    assert json.loads(path.read_text()) == doc
    assert doc["intake"]["latest"] == V1
    assert doc["intake"]["versions"] == [{"date": "2022-01-05", "cid": V0}, {"date": "2023-06-01", "cid": V1}]
    assert [p.name for p in tmp_path.iterdir()] == ["cids.json"]  # no temp files left behind


def test_update_refuses_bad_cid_and_unparseable_file(tmp_path):
    path = tmp_path / "cids.json"
    with pytest.raises(InvalidCIDError):
        publisher.update_pointer_file(path, "not-a-cid")
    assert not path.exists()
    path.write_text("{broken")
    with pytest.raises(PointerFileError):
        publisher.update_pointer_file(path, V0)
    assert path.read_text() == "{broken"  # left untouched
    with pytest.raises(PointerFileError, match="YYYY-MM-DD"):
        publisher.add_version(None, V0, "05.01.2022")


def test_cli_pointer_add(tmp_path, capsys):
    from eurec4a.cli import main

    path = tmp_path / "cids.json"
    assert main(["pointer", "add", str(path), V0, "--date", "2022-01-05"]) == 0
    assert main(["pointer", "add", str(path), "not-a-cid"]) == 1
    assert "not a valid" in capsys.readouterr().err
    assert json.loads(path.read_text())["intake"]["latest"] == V0
