"""Settings: endpoints, gateways, timeouts, and where each value came from.

Every setting is resolved in one documented order, the first that is set wins:

1. the keyword argument of the call (``get_intake_catalog(catalog_url=...)``),
2. the environment variable (``EUREC4A_CATALOG_URL`` ...),
3. the configuration file (``$EUREC4A_CONFIG`` or ``<user config dir>/eurec4a/config.json``),
4. the default, which points at the real EUREC4A infrastructure.

The IPFS gateway follows the IPFS community's convention (IPIP-280), as ipfsspec
does: ``IPFS_GATEWAY``, else the ``gateway`` file of a local node
(``$IPFS_PATH/gateway`` or ``~/.ipfs/gateway``); then the public fallbacks
(``EUREC4A_IPFS_GATEWAYS``, comma separated).

:func:`resolve` returns the value together with its source, which ``eurec4a doctor``
prints.

Examples
--------
>>> import os
>>> os.environ["EUREC4A_CATALOG_URL"] = "http://127.0.0.1:8000/catalog.yml"
>>> resolve("catalog_url")
Setting(name='catalog_url', value='http://127.0.0.1:8000/catalog.yml', source='environment (EUREC4A_CATALOG_URL)')
>>> resolve("catalog_url", "http://example.org/catalog.yml").source
'argument'
>>> del os.environ["EUREC4A_CATALOG_URL"]
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

from .errors import Eurec4aError

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - running from a tree without setuptools_scm output
    __version__ = "0.0.0+unknown"

logger = logging.getLogger(__name__)

__all__ = [
    "USER_AGENT",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "DEFAULT_CATALOG_URL",
    "DEFAULT_POINTER_URL",
    "DEFAULT_PUBLIC_GATEWAYS",
    "Setting",
    "resolve",
    "resolve_gateways",
    "config_file_path",
]

#: Sent with every request, so server operators can see who asks (and which version).
USER_AGENT = f"eurec4a/{__version__} (+https://github.com/eurec4a/eurec4a-intake)"
#: Seconds to wait for a TCP connection; a server that does not answer by then is down for us.
CONNECT_TIMEOUT = 5.0
#: Seconds to wait between bytes of an answer; bounds every read, so nothing hangs forever.
READ_TIMEOUT = 30.0

DEFAULT_CATALOG_URL = "https://raw.githubusercontent.com/eurec4a/eurec4a-intake/master/catalog.yml"
DEFAULT_POINTER_URL = "https://raw.githubusercontent.com/eurec4a/ipfs_tools/main/cids.json"
#: Used only when no gateway is configured and no local node is found, with a one-time warning.
DEFAULT_PUBLIC_GATEWAYS = ("https://ipfs.io", "https://dweb.link", "https://trustless-gateway.link")
#: Seconds a fetched pointer file stays fresh on disk before it is asked for again.
DEFAULT_POINTER_TTL = 600.0

_ENV = {
    "catalog_url": "EUREC4A_CATALOG_URL",
    "pointer_url": "EUREC4A_CID_POINTER_URL",
    "pointer_ttl": "EUREC4A_POINTER_TTL",
    "pointer_snapshot": "EUREC4A_POINTER_SNAPSHOT",
    "cache_dir": "EUREC4A_CACHE_DIR",
    "cache_size": "EUREC4A_CACHE_SIZE",
    "fallback_gateways": "EUREC4A_IPFS_GATEWAYS",
    "timeout": "EUREC4A_TIMEOUT",
}

_DEFAULTS: dict[str, Any] = {
    "catalog_url": DEFAULT_CATALOG_URL,
    "pointer_url": DEFAULT_POINTER_URL,
    "pointer_ttl": DEFAULT_POINTER_TTL,
    "pointer_snapshot": None,
    "cache_dir": None,
    "cache_size": None,
    "fallback_gateways": ",".join(DEFAULT_PUBLIC_GATEWAYS),
    "timeout": READ_TIMEOUT,
}


class Setting(NamedTuple):
    """A resolved setting: its value and where that value came from."""

    name: str
    value: Any
    source: str


def config_file_path() -> Path:
    """Where the configuration file is looked for (``$EUREC4A_CONFIG`` overrides)."""
    env = os.environ.get("EUREC4A_CONFIG")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("eurec4a")) / "config.json"


def _config_file() -> dict[str, Any]:
    path = config_file_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        logger.warning("cannot read configuration file %s: %s", path, exc)
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Eurec4aError(
            f"configuration file {path} is not valid JSON ({exc}); fix it or remove it "
            "(it holds an object such as {\"catalog_url\": \"...\"})"
        ) from exc
    if not isinstance(data, dict):
        raise Eurec4aError(f"configuration file {path} must hold a JSON object, not {type(data).__name__}")
    return data


def resolve(name: str, argument: Any = None) -> Setting:
    """Resolve setting ``name``: argument > environment > configuration file > default.

    Parameters
    ----------
    name
        One of ``catalog_url``, ``pointer_url``, ``pointer_ttl``, ``pointer_snapshot``,
        ``cache_dir``, ``cache_size``, ``fallback_gateways``, ``timeout``.
    argument
        The value passed by the caller, ``None`` when not given.

    Examples
    --------
    >>> resolve("pointer_url").source
    'default'
    """
    if name not in _DEFAULTS:
        raise KeyError(f"unknown setting {name!r}; known: {', '.join(sorted(_DEFAULTS))}")
    if argument is not None:
        return Setting(name, argument, "argument")
    env = _ENV[name]
    if os.environ.get(env):
        return Setting(name, os.environ[env], f"environment ({env})")
    file_values = _config_file()
    if file_values.get(name) is not None:
        return Setting(name, file_values[name], f"configuration file ({config_file_path()})")
    return Setting(name, _DEFAULTS[name], "default")


def _ipfs_path_gateway_file() -> Path:
    ipfs_path = os.environ.get("IPFS_PATH")
    base = Path(ipfs_path) if ipfs_path else Path.home() / ".ipfs"
    return base / "gateway"


def resolve_gateways(argument: Any = None) -> list[Setting]:
    """The ordered gateway list, each with its source.

    ``argument`` (a URL or a list of URLs) replaces the discovery entirely. Otherwise:
    ``IPFS_GATEWAY``; the local node's gateway file (IPIP-280); then the fallbacks
    (``EUREC4A_IPFS_GATEWAYS``, configuration file, public defaults).

    Examples
    --------
    >>> [g.value for g in resolve_gateways(["http://127.0.0.1:8080"])]
    ['http://127.0.0.1:8080']
    """
    if argument is not None:
        urls = [argument] if isinstance(argument, str) else list(argument)
        if not urls or not all(isinstance(u, str) and u for u in urls):
            from .errors import InvalidModeError

            raise InvalidModeError(
                f"gateways must be a URL or a non-empty list of URLs (e.g. 'http://127.0.0.1:8080'), got {argument!r}"
            )
        return [Setting("gateway", _normalise(u), "argument") for u in urls]
    found: list[Setting] = []
    env = os.environ.get("IPFS_GATEWAY", "").strip()
    if env:
        # IPIP-280 names one URL; a comma-separated list is accepted for convenience.
        found += [Setting("gateway", _normalise(u), "environment (IPFS_GATEWAY)") for u in env.split(",") if u.strip()]
    gateway_file = _ipfs_path_gateway_file()
    try:
        line = gateway_file.read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, IndexError):
        line = ""
    if line:
        found.append(Setting("gateway", _normalise(line), f"local node ({gateway_file})"))
    fallback = resolve("fallback_gateways")
    values = fallback.value if isinstance(fallback.value, (list, tuple)) else str(fallback.value).split(",")
    source = "public fallback" if fallback.source == "default" else fallback.source
    for url in values:
        if url and url.strip():
            found.append(Setting("gateway", _normalise(url), source))
    seen: set[str] = set()
    unique = []
    for setting in found:
        if setting.value not in seen:
            seen.add(setting.value)
            unique.append(setting)
    return unique


def _normalise(url: str) -> str:
    url = url.strip().rstrip("/")
    if url.endswith("/ipfs"):
        url = url[: -len("/ipfs")]
    return url
