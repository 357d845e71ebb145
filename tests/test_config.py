"""Settings resolve in the documented order: argument > environment > config file > default."""
import json
import warnings

import pytest

from eurec4a import settings as config
from eurec4a.errors import ConfigurationError
from eurec4a.settings import Settings, Source


def test_default_points_at_the_real_infrastructure(monkeypatch):
    monkeypatch.delenv("EUREC4A_CATALOG_URL", raising=False)
    monkeypatch.delenv("EUREC4A_CID_POINTER_URL", raising=False)
    s = config.resolve("catalog_url")
    assert s.source is Source.DEFAULT and s.origin == ""
    assert s.value == "https://raw.githubusercontent.com/eurec4a/eurec4a-intake/master/catalog.yml"
    assert config.resolve("pointer_url").value == "https://raw.githubusercontent.com/eurec4a/ipfs_tools/main/cids.json"
    assert config.resolve("flight_segments_url").value == "https://github.com/eurec4a/flight-phase-separation/releases"


def test_order_argument_environment_file_default(tmp_path, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"catalog_url": "http://file/catalog.yml", "timeout": 7}))
    monkeypatch.setenv("EUREC4A_CONFIG", str(cfg))
    monkeypatch.delenv("EUREC4A_CATALOG_URL", raising=False)
    monkeypatch.delenv("EUREC4A_TIMEOUT", raising=False)
    s = config.resolve("catalog_url")
    assert (s.value, s.source, s.origin) == ("http://file/catalog.yml", Source.CONFIG_FILE, str(cfg))
    assert config.resolve("timeout").value == 7.0
    monkeypatch.setenv("EUREC4A_CATALOG_URL", "http://env/catalog.yml")
    s = config.resolve("catalog_url")
    assert (s.value, s.source, s.origin) == ("http://env/catalog.yml", Source.ENVIRONMENT, "EUREC4A_CATALOG_URL")
    assert s.describe() == "environment (EUREC4A_CATALOG_URL)"
    assert config.resolve("catalog_url", "http://arg/catalog.yml").source is Source.ARGUMENT


def test_settings_object_resolves_everything_once(tmp_path, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"cache_dir": str(tmp_path / "from-file"), "cache_size": "1 GiB"}))
    env = {"EUREC4A_CONFIG": str(cfg), "EUREC4A_TIMEOUT": "12", "IPFS_PATH": str(tmp_path / "none")}
    s = Settings.resolve(environ=env, deadline=9)
    assert s.cache_dir == tmp_path / "from-file"
    assert s.setting("cache_dir").source is Source.CONFIG_FILE
    assert s.cache_size == 1024**3
    assert s.timeout == 12.0 and s.setting("timeout").source is Source.ENVIRONMENT
    assert s.deadline == 9.0 and s.setting("deadline").source is Source.ARGUMENT
    assert s.config_file == cfg
    names = {x.name for x in s.all()}
    assert {"catalog_url", "pointer_url", "pointer_ttl", "cache_dir", "cache_size", "timeout", "deadline",
            "flight_segments_url", "gateway"} <= names


@pytest.mark.parametrize("name, env, value, match", [
    ("timeout", "EUREC4A_TIMEOUT", "abc", "positive number of seconds"),
    ("timeout", "EUREC4A_TIMEOUT", "-1", "positive number of seconds"),
    ("timeout", "EUREC4A_TIMEOUT", "0", "positive number of seconds"),
    ("deadline", "EUREC4A_DEADLINE", "nan", "positive number of seconds"),
    ("pointer_ttl", "EUREC4A_POINTER_TTL", "-5", "non-negative number of seconds"),
    ("cache_size", "EUREC4A_CACHE_SIZE", "ten gigs", "non-negative number of bytes"),
    ("catalog_url", "EUREC4A_CATALOG_URL", "htp://x/catalog.yml", "unknown URL scheme 'htp'"),
])
def test_invalid_values_are_refused_naming_setting_source_and_form(monkeypatch, name, env, value, match):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigurationError, match=match) as info:
        config.resolve(name)
    message = str(info.value)
    assert env in message and repr(value) in message and message.endswith(".")


def test_zero_pointer_ttl_is_allowed(monkeypatch):
    monkeypatch.setenv("EUREC4A_POINTER_TTL", "0")
    assert config.resolve("pointer_ttl").value == 0.0


def test_broken_config_file_is_a_configuration_error(tmp_path, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text("{not json")
    monkeypatch.setenv("EUREC4A_CONFIG", str(cfg))
    with pytest.raises(ConfigurationError, match="not valid JSON") as info:
        config.resolve("catalog_url")
    assert "EUREC4A_CONFIG" in str(info.value)


def test_unknown_config_key_warns(tmp_path, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"gatways": ["http://127.0.0.1:1"]}))
    monkeypatch.setenv("EUREC4A_CONFIG", str(cfg))
    with pytest.warns(UserWarning, match=r"unknown keys \['gatways'\]"):
        config.resolve("catalog_url")


def test_unknown_setting():
    with pytest.raises(KeyError, match="known"):
        config.resolve("catalog")
    with pytest.raises(ConfigurationError, match="unknown setting"):
        Settings.resolve(catalog="x")


def test_gateway_discovery_order(tmp_path, monkeypatch):
    monkeypatch.setenv("IPFS_PATH", str(tmp_path))
    (tmp_path / "gateway").write_text("http://127.0.0.1:48080\n")
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"gateways": ["http://127.0.0.1:7070"]}))
    monkeypatch.setenv("EUREC4A_CONFIG", str(cfg))
    monkeypatch.setenv("IPFS_GATEWAY", "http://127.0.0.1:5555/")
    monkeypatch.setenv("IPFSSPEC_GATEWAYS", "http://127.0.0.1:4444 http://127.0.0.1:4445/ipfs")
    monkeypatch.setenv("EUREC4A_IPFS_GATEWAYS", "http://127.0.0.1:6666,http://127.0.0.1:5555")
    found = config.resolve_gateways()
    assert [g.value for g in found] == ["http://127.0.0.1:5555", "http://127.0.0.1:4444", "http://127.0.0.1:4445",
                                        "http://127.0.0.1:7070", "http://127.0.0.1:48080", "http://127.0.0.1:6666"]
    assert [g.source for g in found] == [Source.ENVIRONMENT] * 3 + [Source.CONFIG_FILE, Source.LOCAL_NODE,
                                                                    Source.ENVIRONMENT]
    assert [g.origin for g in found][:3] == ["IPFS_GATEWAY", "IPFSSPEC_GATEWAYS", "IPFSSPEC_GATEWAYS"]
    assert found[-1].origin == "EUREC4A_IPFS_GATEWAYS"


def test_public_fallbacks_when_nothing_is_configured(monkeypatch, tmp_path):
    for var in ("EUREC4A_IPFS_GATEWAYS", "IPFS_GATEWAY", "IPFSSPEC_GATEWAYS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("IPFS_PATH", str(tmp_path))
    s = Settings.resolve()
    assert s.gateways == list(config.DEFAULT_PUBLIC_GATEWAYS)
    assert {g.source for g in s.gateway_settings} == {Source.DEFAULT}
    assert s.public_gateways == frozenset(config.DEFAULT_PUBLIC_GATEWAYS)


def test_gateway_argument_replaces_discovery(monkeypatch):
    monkeypatch.setenv("IPFS_GATEWAY", "http://127.0.0.1:5555")
    assert [g.value for g in config.resolve_gateways("http://127.0.0.1:7777/ipfs/")] == ["http://127.0.0.1:7777"]
    with pytest.raises(ConfigurationError, match="non-empty list"):
        config.resolve_gateways([])
    with pytest.raises(ConfigurationError, match="not an http"):
        config.resolve_gateways(["ftp://127.0.0.1:1"])


def test_sizes_print_in_iec_units():
    assert config.format_size(9876) == "9.6 KiB"
    assert config.format_size(config.DEFAULT_CACHE_SIZE) == "10.0 GiB"
    assert config.parse_size("10GiB") == config.DEFAULT_CACHE_SIZE


def test_no_warning_for_a_clean_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EUREC4A_CONFIG", str(tmp_path / "absent.json"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Settings.resolve()


def test_cache_dir_from_the_configuration_file_is_where_everything_lands(stack, tmp_path, monkeypatch):
    """Issue 10: a cache_dir given only in the configuration file is honoured by every writer."""
    import eurec4a
    from eurec4a.cache import Cache

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"cache_dir": str(tmp_path / "from-file")}))
    monkeypatch.setenv("EUREC4A_CONFIG", str(cfg))
    monkeypatch.delenv("EUREC4A_CACHE_DIR")
    eurec4a.reset_state()
    cat = eurec4a.get_intake_catalog(use_ipfs=True)  # pointer file, then the catalog's blocks
    assert "barbados" in list(cat)
    landed = tmp_path / "from-file"
    assert any((landed / "blocks").rglob("*")), "blocks went elsewhere"
    assert any((landed / "documents" / "pointers").iterdir()), "the pointer copy went elsewhere"
    assert Cache(landed).info()["entries"] > 0
    eurec4a.reset_state()
    before = stack.gateway.count()
    eurec4a.get_intake_catalog(use_ipfs=stack.root_cid)  # a new session on the same cache
    assert stack.gateway.count() == before
