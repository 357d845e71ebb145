"""Settings resolve in the documented order: argument > environment > config file > default."""
import json

import pytest

from eurec4a import config
from eurec4a.errors import Eurec4aError, InvalidModeError


def test_default_points_at_the_real_infrastructure():
    s = config.resolve("catalog_url")
    assert s.source == "default"
    assert s.value == "https://raw.githubusercontent.com/eurec4a/eurec4a-intake/master/catalog.yml"
    assert config.resolve("pointer_url").value == "https://raw.githubusercontent.com/eurec4a/ipfs_tools/main/cids.json"


def test_order_argument_environment_file_default(tmp_path, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"catalog_url": "http://file/catalog.yml"}))
    monkeypatch.setenv("EUREC4A_CONFIG", str(cfg))
    assert config.resolve("catalog_url") == ("catalog_url", "http://file/catalog.yml", f"configuration file ({cfg})")
    monkeypatch.setenv("EUREC4A_CATALOG_URL", "http://env/catalog.yml")
    assert config.resolve("catalog_url").value == "http://env/catalog.yml"
    assert config.resolve("catalog_url").source == "environment (EUREC4A_CATALOG_URL)"
    assert config.resolve("catalog_url", "http://arg/catalog.yml").source == "argument"


def test_broken_config_file_is_a_clear_error(tmp_path, monkeypatch):
    cfg = tmp_path / "config.json"
    cfg.write_text("{not json")
    monkeypatch.setenv("EUREC4A_CONFIG", str(cfg))
    with pytest.raises(Eurec4aError, match="not valid JSON"):
        config.resolve("catalog_url")


def test_unknown_setting():
    with pytest.raises(KeyError, match="known"):
        config.resolve("catalog")


def test_gateway_discovery_follows_ipip_280(tmp_path, monkeypatch):
    monkeypatch.setenv("IPFS_PATH", str(tmp_path))
    (tmp_path / "gateway").write_text("http://127.0.0.1:48080\n")
    monkeypatch.setenv("IPFS_GATEWAY", "http://127.0.0.1:5555/")
    monkeypatch.setenv("EUREC4A_IPFS_GATEWAYS", "http://127.0.0.1:6666,http://127.0.0.1:5555")
    found = config.resolve_gateways()
    assert [g.value for g in found] == ["http://127.0.0.1:5555", "http://127.0.0.1:48080", "http://127.0.0.1:6666"]
    assert found[0].source == "environment (IPFS_GATEWAY)"
    assert found[1].source.startswith("local node")
    assert found[2].source.startswith("environment (EUREC4A_IPFS_GATEWAYS)")


def test_public_fallbacks_when_nothing_is_configured(monkeypatch):
    monkeypatch.delenv("EUREC4A_IPFS_GATEWAYS")
    found = config.resolve_gateways()
    assert [g.value for g in found] == list(config.DEFAULT_PUBLIC_GATEWAYS)
    assert {g.source for g in found} == {"public fallback"}


def test_gateway_argument_replaces_discovery(monkeypatch):
    monkeypatch.setenv("IPFS_GATEWAY", "http://127.0.0.1:5555")
    assert [g.value for g in config.resolve_gateways("http://127.0.0.1:7777/ipfs/")] == ["http://127.0.0.1:7777"]
    with pytest.raises(InvalidModeError, match="gateways must be"):
        config.resolve_gateways([])
