"""ModelsManager: the available models (bundled presets merged with the backend's ``/models``,
cached with ETag + TTL) and the default model choice.

Fetch failures never fail a caller: offline, 5xx, timeouts and unrecovered 401s fall back to
the (possibly stale) cache, then to the bundled presets, with a logged warning.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from codex_lsp.backend.http import current_credentials, send_authorized
from codex_lsp.backend.provider import Credentials, ModelProvider
from codex_lsp.errors import CodexError, InvalidParams
from codex_lsp.models.cache import CACHE_FILE_NAME, ModelsCache, load_cache, save_cache
from codex_lsp.models.catalog import ModelInfo, load_bundled_models, merge_models, parse_models

if TYPE_CHECKING:
    from codex_lsp.auth.manager import AuthManager

log = logging.getLogger(__name__)

AUTO_BALANCED_MODEL = "codex-auto-balanced"
CHATGPT_FALLBACK_MODEL = "gpt-5.2-codex"
API_KEY_FALLBACK_MODEL = "gpt-5.1-codex-max"
FAILURE_BACKOFF_CAP_S = 30.0  # after a failed fetch, don't retry on every thread start


class _ModelsFetchFailed(Exception):
    """Internal: why a ``/models`` fetch gave nothing usable (logged, then we fall back)."""


@attrs.frozen
class _Fetched:
    etag: str | None
    models: list[dict[str, Any]]


class ModelsManager:
    def __init__(
        self,
        codex_home: Path,
        auth_manager: AuthManager | None,
        provider: ModelProvider,
        http_client: httpx.AsyncClient,
        client_version: str,
        configured_model: str | None,
        ttl_s: float = 300,
        fetch_timeout_s: float = 5,
    ) -> None:
        self._cache_path = Path(codex_home) / CACHE_FILE_NAME
        self._auth_manager = auth_manager
        self._provider = provider
        self._http = http_client
        self._client_version = client_version
        self._configured_model = configured_model or None
        self._ttl_s = ttl_s
        self._fetch_timeout_s = fetch_timeout_s
        self._bundled: list[ModelInfo] | None = None
        # The last list assembled: (the fetched models it came from, for ChatGPT auth, the list).
        self._assembled: tuple[list[dict[str, Any]] | None, bool, list[ModelInfo]] | None = None
        self._cache: ModelsCache | None = None
        self._cache_loaded = False
        self._retry_fetch_at = 0.0
        self._refresh_lock = asyncio.Lock()

    # --- public API ---------------------------------------------------------------------------

    async def resolve_model(self, explicit: str | None) -> str:
        """The model a thread uses: explicit (thread/turn params), then config, then the
        default from the freshly refreshed available list."""
        if explicit:
            return explicit
        if self._configured_model:
            return self._configured_model
        credentials = await self._credentials()
        models = await self._available(credentials)
        return _default_model(models, is_chatgpt=_is_chatgpt(credentials))

    async def list_models(
        self, cursor: str | None = None, limit: int | None = None, include_hidden: bool = False
    ) -> dict[str, Any]:
        """The ``model/list`` result ``{data: Model[], nextCursor}``, exactly one ``isDefault``."""
        credentials = await self._credentials()
        models = await self._available(credentials)
        default_slug = self._configured_model or _default_model(
            models, is_chatgpt=_is_chatgpt(credentials)
        )
        listed = models if include_hidden else [m for m in models if m.show_in_picker]
        slugs = [m.slug for m in listed]
        default_index = slugs.index(default_slug) if default_slug in slugs else 0
        start = _parse_cursor(cursor, len(listed))
        page_size = len(listed) if limit is None else max(limit, 1)
        end = min(start + page_size, len(listed))
        return {
            "data": [listed[i].to_wire(is_default=(i == default_index)) for i in range(start, end)],
            "nextCursor": str(end) if end < len(listed) else None,
        }

    async def available_models(self) -> list[ModelInfo]:
        """Models the current auth can use, highest priority first (refreshed if stale)."""
        return await self._available(await self._credentials())

    async def model_info(self, slug: str) -> ModelInfo | None:
        return next((m for m in await self.available_models() if m.slug == slug), None)

    # --- assembling the list ------------------------------------------------------------------

    async def _credentials(self) -> Credentials | None:
        try:
            return await current_credentials(self._provider, self._auth_manager)
        except CodexError as exc:  # e.g. the provider's env_key is unset
            log.warning("models: no usable credentials (%s)", exc)
            return None

    async def _available(self, credentials: Credentials | None) -> list[ModelInfo]:
        if self._bundled is None:
            self._bundled = await asyncio.to_thread(load_bundled_models)
        remote = await self._remote_models(credentials)
        chatgpt = _is_chatgpt(credentials)
        last = self._assembled
        if last is not None and last[0] is remote and last[1] == chatgpt:
            return list(last[2])  # the same fetched list: parsed and merged once, not per call
        merged = merge_models(self._bundled, parse_models(remote) if remote is not None else None)
        if not chatgpt:
            merged = [m for m in merged if m.supported_in_api]
        models = sorted(merged, key=lambda m: m.priority)
        self._assembled = (remote, chatgpt, models)
        return list(models)

    def _remote_applies(self, credentials: Credentials | None) -> bool:
        if credentials is None:
            # Anonymous calls only make sense to a custom provider that doesn't need auth.
            return self._provider.base_url is not None and not self._provider.requires_openai_auth
        # The built-in provider with an API key would hit api.openai.com/v1/models, whose
        # answer is not a Codex model catalog.
        return credentials.is_chatgpt or self._provider.base_url is not None

    async def _remote_models(self, credentials: Credentials | None) -> list[dict[str, Any]] | None:
        if not self._remote_applies(credentials):
            return None
        base_url = self._provider.base_url_for(credentials or Credentials())
        async with self._refresh_lock:  # concurrent thread starts share one fetch
            cache = await self._matching_cache(base_url)
            now = time.time()
            if cache is not None and cache.is_fresh(now, self._ttl_s):
                return cache.models
            if now < self._retry_fetch_at:
                return cache.models if cache is not None else None
            try:
                fetched = await self._fetch(cache.etag if cache is not None else None)
            except (_ModelsFetchFailed, httpx.HTTPError, CodexError) as exc:
                self._retry_fetch_at = now + min(self._ttl_s, FAILURE_BACKOFF_CAP_S)
                source = "cached" if cache is not None else "bundled"
                log.warning("models refresh failed (%s); using %s models", _describe(exc), source)
                return cache.models if cache is not None else None
            self._retry_fetch_at = 0.0
            if fetched is None and cache is not None:  # 304: the cached list is current
                updated = attrs.evolve(cache, fetched_at=time.time())
            elif fetched is not None:
                updated = ModelsCache(
                    time.time(), fetched.etag, self._client_version, base_url, fetched.models
                )
            else:
                return None
            await self._store(updated)
            return updated.models

    async def _matching_cache(self, base_url: str) -> ModelsCache | None:
        if not self._cache_loaded:
            self._cache = await asyncio.to_thread(load_cache, self._cache_path)
            self._cache_loaded = True
        cache = self._cache
        if cache is None or not cache.matches(self._client_version, base_url):
            return None
        return cache

    async def _store(self, cache: ModelsCache) -> None:
        self._cache = cache
        try:
            await asyncio.to_thread(save_cache, self._cache_path, cache)
        except OSError as exc:
            log.warning(
                "could not write %s (%s); keeping the models in memory", self._cache_path, exc
            )

    async def _fetch(self, etag: str | None) -> _Fetched | None:
        """The answer to ``GET {base}/models``; None on 304 Not Modified."""

        def build(credentials: Credentials) -> httpx.Request:
            headers = self._provider.headers_for(credentials, self._http.headers["User-Agent"])
            if etag:
                headers["If-None-Match"] = etag
            return self._http.build_request(
                "GET",
                f"{self._provider.base_url_for(credentials)}/models",
                params={"client_version": self._client_version},
                headers=headers,
                timeout=self._fetch_timeout_s,
            )

        response = await send_authorized(self._http, self._provider, self._auth_manager, build)
        if response.status_code == 304 and etag:
            return None
        if response.status_code != 200:
            raise _ModelsFetchFailed(f"HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            raise _ModelsFetchFailed("the body is not JSON") from None
        models = payload.get("models") if isinstance(payload, dict) else None
        if not isinstance(models, list):
            raise _ModelsFetchFailed("the body has no models list")
        return _Fetched(response.headers.get("etag"), models)


def _is_chatgpt(credentials: Credentials | None) -> bool:
    return credentials is not None and credentials.is_chatgpt


def _default_model(models: list[ModelInfo], *, is_chatgpt: bool) -> str:
    """``codex-auto-balanced`` (ChatGPT, when offered), else the top picker model, else the
    built-in fallback for the auth mode. ``models`` is sorted by priority."""
    if is_chatgpt and any(m.slug == AUTO_BALANCED_MODEL for m in models):
        return AUTO_BALANCED_MODEL
    picker = next((m for m in models if m.show_in_picker), None)
    if picker is not None:
        return picker.slug
    return CHATGPT_FALLBACK_MODEL if is_chatgpt else API_KEY_FALLBACK_MODEL


def _parse_cursor(cursor: str | None, total: int) -> int:
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > total:
        raise InvalidParams(
            f"invalid cursor {cursor[:40]!r}: pass the nextCursor value from a previous "
            "model/list call, or omit cursor to start from the beginning"
        )
    return int(cursor)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    return str(exc)
