"""Model provider resolution: which base URL to call and which headers to send.

Config values arrive as plain arguments (the config loader lives elsewhere). The built-in
``openai`` provider switches base URL by auth mode; custom providers use their ``base_url``
and, when ``env_key`` is set, a bearer from that environment variable instead of the
AuthManager's credentials.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from codex_lsp.errors import InvalidRequest

if TYPE_CHECKING:
    from codex_lsp.config import Config

DEFAULT_PROVIDER_ID = "openai"
DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api"
OPENAI_API_BASE_URL = "https://api.openai.com/v1"
ORIGINATOR = "codex_lsp"
SUPPORTED_WIRE_API = "responses"


class ProviderConfigError(InvalidRequest):
    """The model provider settings in config.toml can't be used as written."""


@attrs.frozen
class Credentials:
    """What one request authenticates with. The bearer never shows up in a repr."""

    bearer: str | None = attrs.field(repr=False, default=None)
    account_id: str | None = None
    is_chatgpt: bool = False


NO_CREDENTIALS = Credentials()


@attrs.frozen
class ModelProvider:
    """A resolved ``[model_providers.<id>]`` entry (or the built-in ``openai``)."""

    id: str
    name: str
    base_url: str | None  # None: the built-in provider, whose URL depends on the auth mode
    env_key: str | None = None
    requires_openai_auth: bool = True
    http_headers: Mapping[str, str] = attrs.field(factory=dict)
    chatgpt_base_url: str = DEFAULT_CHATGPT_BASE_URL
    env_key_value: str | None = attrs.field(default=None, repr=False)

    @property
    def uses_env_key(self) -> bool:
        return self.env_key is not None

    def env_credentials(self) -> Credentials:
        """The bearer from ``env_key``; fails with advice if the variable is unset."""
        if not self.env_key_value:
            raise ProviderConfigError(
                f"model provider '{self.id}' reads its API key from the environment variable "
                f"{self.env_key}, which is not set; set it and restart the server"
            )
        return Credentials(bearer=self.env_key_value)

    def base_url_for(self, credentials: Credentials) -> str:
        if self.base_url is not None:
            return self.base_url
        if credentials.is_chatgpt:
            return f"{self.chatgpt_base_url}/codex"
        return OPENAI_API_BASE_URL

    def headers_for(self, credentials: Credentials, user_agent: str) -> dict[str, str]:
        headers = dict(self.http_headers)
        headers["originator"] = ORIGINATOR
        headers["User-Agent"] = user_agent
        if credentials.bearer:
            headers["Authorization"] = f"Bearer {credentials.bearer}"
        if credentials.is_chatgpt and credentials.account_id:
            headers["ChatGPT-Account-Id"] = credentials.account_id
        return headers


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str, setting: str) -> str:
    """Require https, except plain http on loopback (local test servers and proxies)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderConfigError(
            f"{setting} = {url!r} is not an http(s) URL; use e.g. https://host/path"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ProviderConfigError(
            f"{setting} = {url!r} uses plain http to a non-loopback host; use https "
            "(http is only allowed for 127.0.0.0/8, localhost and ::1)"
        )
    return url.rstrip("/")


def resolve_provider(
    model_provider: str | None = None,
    model_providers: Mapping[str, Mapping[str, Any]] | None = None,
    chatgpt_base_url: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> ModelProvider:
    """Build the active provider from config values (``model_provider``, the
    ``[model_providers.*]`` tables and ``chatgpt_base_url``)."""
    environ = os.environ if env is None else env
    provider_id = model_provider or DEFAULT_PROVIDER_ID
    chatgpt_url = validate_base_url(
        chatgpt_base_url or DEFAULT_CHATGPT_BASE_URL, "chatgpt_base_url"
    )
    if provider_id == DEFAULT_PROVIDER_ID:
        return ModelProvider(
            id=DEFAULT_PROVIDER_ID,
            name="OpenAI",
            base_url=None,
            chatgpt_base_url=chatgpt_url,
        )
    table = (model_providers or {}).get(provider_id)
    if table is None:
        raise ProviderConfigError(
            f"model_provider = '{provider_id}' is not defined; add a "
            f"[model_providers.{provider_id}] table to config.toml or use 'openai'"
        )
    return _custom_provider(provider_id, table, chatgpt_url, environ)


def provider_from_config(
    config: Config, provider_id: str | None = None, *, env: Mapping[str, str] | None = None
) -> ModelProvider:
    """Provider ``provider_id`` (default: the config's ``model_provider``) from the config's tables."""
    tables = {
        pid: attrs.asdict(table)
        for pid, table in config.model_providers.items()
        if pid != DEFAULT_PROVIDER_ID
    }
    return resolve_provider(
        provider_id or config.model_provider_id, tables, config.chatgpt_base_url, env=env
    )


def _custom_provider(
    provider_id: str, table: Mapping[str, Any], chatgpt_url: str, environ: Mapping[str, str]
) -> ModelProvider:
    prefix = f"model_providers.{provider_id}"
    wire_api = table.get("wire_api", SUPPORTED_WIRE_API)
    if wire_api != SUPPORTED_WIRE_API:
        raise ProviderConfigError(
            f'{prefix}.wire_api = {wire_api!r} is not supported; set it to "responses"'
        )
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not base_url:
        raise ProviderConfigError(f"{prefix}.base_url is missing; set it to the provider's API URL")
    env_key = table.get("env_key")
    if env_key is not None and not isinstance(env_key, str):
        raise ProviderConfigError(f"{prefix}.env_key must be a string naming an env variable")
    headers = table.get("http_headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ProviderConfigError(f"{prefix}.http_headers must be a table of string values")
    return ModelProvider(
        id=provider_id,
        name=str(table.get("name") or provider_id),
        base_url=validate_base_url(base_url, f"{prefix}.base_url"),
        env_key=env_key,
        requires_openai_auth=bool(table.get("requires_openai_auth", False)),
        http_headers=dict(headers),
        chatgpt_base_url=chatgpt_url,
        env_key_value=environ.get(env_key) if env_key else None,
    )
