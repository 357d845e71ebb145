"""eurec4a.get_flight_segments: release-download URLs, disk cache, freshness, errors (issue 11, point 1)."""
from __future__ import annotations

import datetime
import shutil

import pytest
import yaml

import eurec4a
from eurec4a import segments
from eurec4a.testing import FLIGHT_SEGMENTS_FILE, StaticServer, write_releases


@pytest.fixture
def releases(tmp_path, monkeypatch):
    """A static server standing in for GitHub's release downloads, configured by the environment."""
    www = tmp_path / "www"
    write_releases(www)
    segments.clear_memo()
    with StaticServer(www) as server:
        monkeypatch.setenv("EUREC4A_FLIGHT_SEGMENTS_URL", f"{server.url}/releases")
        yield server, www
    segments.clear_memo()


def test_latest_is_the_release_file_parsed_with_dates(releases):
    server, _ = releases
    meta = eurec4a.get_flight_segments()
    assert meta == yaml.safe_load(FLIGHT_SEGMENTS_FILE.read_bytes())
    assert sorted(meta) == ["HALO", "P3"]
    flight = meta["HALO"]["HALO-0205"]
    assert flight["date"] == datetime.date(2020, 2, 5)
    assert isinstance(flight["segments"][0]["start"], datetime.datetime)
    assert server.count(path="/releases/latest/download/all_flights.yaml") == 1
    # no GitHub API: nothing but the download URL was asked
    assert server.count() == 1


def test_named_version_uses_the_download_url_and_is_cached_for_good(releases):
    server, _ = releases
    first = eurec4a.get_flight_segments("v1.2")
    assert server.count(path="/releases/download/v1.2/all_flights.yaml") == 1
    server.faults.down = True  # offline: the named version still works, from disk
    segments.clear_memo()
    again = eurec4a.get_flight_segments("v1.2")
    assert again == first
    assert server.count() == 1


def test_each_call_returns_a_new_object(releases):
    meta = eurec4a.get_flight_segments("v1.2")
    meta["HALO"].clear()
    assert eurec4a.get_flight_segments("v1.2")["HALO"]


def test_latest_is_fetched_again_after_the_ttl_and_not_before(releases, monkeypatch):
    server, _ = releases
    eurec4a.get_flight_segments()
    eurec4a.get_flight_segments()
    assert server.count() == 1
    monkeypatch.setenv("EUREC4A_POINTER_TTL", "0")
    eurec4a.get_flight_segments()
    assert server.count() == 2


def test_latest_falls_back_to_the_stale_copy_with_a_warning_naming_its_age(releases, monkeypatch):
    server, _ = releases
    eurec4a.get_flight_segments()
    segments.clear_memo()
    monkeypatch.setenv("EUREC4A_POINTER_TTL", "0")
    server.faults.down = True
    with pytest.warns(UserWarning, match=r"using the copy fetched \d+ seconds ago"):
        meta = eurec4a.get_flight_segments()
    assert "HALO-0205" in meta["HALO"]


def test_unreachable_without_copy_is_server_unreachable_naming_url_and_setting(releases):
    server, _ = releases
    server.faults.down = True
    with pytest.raises(eurec4a.ServerUnreachableError, match="EUREC4A_FLIGHT_SEGMENTS_URL") as err:
        eurec4a.get_flight_segments("v1.2")
    assert "/releases/download/v1.2/all_flights.yaml" in str(err.value)


def test_unknown_version_is_catalog_not_found(releases):
    with pytest.raises(eurec4a.CatalogNotFoundError, match=r"version 'v9\.9' does not exist.*'v1\.2'"):
        eurec4a.get_flight_segments("v9.9")


@pytest.mark.parametrize("version", ["", "../v1.2", None])
def test_bad_version_names_are_parameter_errors(releases, version):
    with pytest.raises(eurec4a.ParameterError, match="release tag"):
        eurec4a.get_flight_segments(version)


@pytest.mark.parametrize("body, why", [
    (b"HALO: [1, 2", "not valid YAML"),
    (b"- just\n- a list\n", "top level"),
    (b"HALO: {HALO-0205: {segments: [{segment_id: x, start: soon, end: later}]}}", "'start' is not a date"),
    (b"HALO: {HALO-0205: {segments: {}}}", "'segments' is not a list"),
])
def test_malformed_file_is_flight_segments_error_and_never_cached(releases, body, why):
    server, www = releases
    (www / "releases" / "download" / "v1.2" / "all_flights.yaml").write_bytes(body)
    with pytest.raises(eurec4a.FlightSegmentsError, match=why):
        eurec4a.get_flight_segments("v1.2")
    shutil.copyfile(FLIGHT_SEGMENTS_FILE, www / "releases" / "download" / "v1.2" / "all_flights.yaml")
    assert "HALO" in eurec4a.get_flight_segments("v1.2")


def test_cache_lives_in_the_configured_cache_dir(releases, tmp_path, monkeypatch):
    monkeypatch.setenv("EUREC4A_CACHE_DIR", str(tmp_path / "elsewhere"))
    eurec4a.get_flight_segments("v1.1")
    stored = list((tmp_path / "elsewhere" / "documents" / segments.CACHE_NAMESPACE).iterdir())
    assert len(stored) == 1
    assert stored[0].read_bytes().endswith(FLIGHT_SEGMENTS_FILE.read_bytes())  # after the cache's key header


def test_base_url_argument_beats_the_environment(releases, monkeypatch):
    server, _ = releases
    monkeypatch.setenv("EUREC4A_FLIGHT_SEGMENTS_URL", "http://127.0.0.1:9/nothing")
    meta = eurec4a.get_flight_segments("v1.2", base_url=f"{server.url}/releases/")
    assert "P3" in meta


def test_book_idioms_and_lookup_helpers(releases):
    meta = eurec4a.get_flight_segments()
    assert list(meta.keys()) == ["HALO", "P3"]
    # the book's comprehension, verbatim
    book = [{**s, "platform_id": platform_id, "flight_id": flight_id}
            for platform_id, flights in meta.items()
            for flight_id, flight in flights.items()
            for s in flight["segments"]]
    flat = eurec4a.flatten_segments(meta)
    assert sorted(book, key=lambda s: s["start"]) == flat
    by_id = eurec4a.segments_by_id(meta)
    assert by_id == {s["segment_id"]: s for s in book}
    seg = by_id["HALO-0205_c2"]
    assert seg["flight_id"] == "HALO-0205" and seg["start"] < seg["end"]
    circles_feb05 = [s["segment_id"] for s in flat
                     if "circle" in s["kinds"] and s["start"].date() == datetime.date(2020, 2, 5)
                     and s["platform_id"] == "HALO"]
    assert circles_feb05 == [s["segment_id"] for s in
                             eurec4a.flatten_segments(meta, kind="circle", platform="HALO",
                                                      date=datetime.date(2020, 2, 5))]
    assert len(circles_feb05) >= 2
    assert by_id[circles_feb05[0]]["dropsondes"]["GOOD"]
    circling = sum([s["end"] - s["start"] for s in book if "circling" in s["kinds"]], datetime.timedelta())
    assert circling > datetime.timedelta(0)
    p3_dates = sorted({f["takeoff"].date() for f in meta["P3"].values()})
    assert p3_dates == [datetime.date(2020, 1, 19), datetime.date(2020, 2, 5)]
