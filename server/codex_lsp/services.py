"""Domain services shared by the handlers: credentials, provider, HTTP client, models, rate limits."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import httpx

from codex_lsp import __version__
from codex_lsp.auth.manager import AuthManager
from codex_lsp.auth.restrictions import enforce_login_restrictions
from codex_lsp.backend.http import create_http_client
from codex_lsp.backend.provider import ModelProvider, provider_from_config
from codex_lsp.config import Config
from codex_lsp.errors import CodexError
from codex_lsp.models.manager import ModelsManager
from codex_lsp.sandbox.runner import RunnerSettings, configure_runner

log = logging.getLogger(__name__)


@attrs.define
class RateLimitState:
    """The latest rate-limit snapshot seen this session (sparse updates merged in)."""

    snapshot: dict[str, Any] | None = None  # the main (`codex`) limit
    by_limit_id: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # every other limit

    def merge(self, update: dict[str, Any]) -> dict[str, Any]:
        """Merge a sparse update into the snapshot of its `limitId`: null fields don't clear
        known values, and another limit's update never touches the main one."""
        limit_id = update.get("limitId") or "codex"
        known = self.snapshot if limit_id == "codex" else self.by_limit_id.get(limit_id)
        merged = dict(known or {})
        for key, value in update.items():
            if value is not None or key not in merged:
                merged[key] = value
        if limit_id == "codex":
            self.snapshot = merged
        else:
            self.by_limit_id[limit_id] = merged
        return merged


@attrs.define
class Services:
    """Domain objects shared by the handlers; one set per server process."""

    config: Config
    auth: AuthManager
    provider: ModelProvider
    http: httpx.AsyncClient
    models: ModelsManager
    rate_limits: RateLimitState = attrs.Factory(RateLimitState)
    startup_warning: str | None = None
    credentials_problem: str | None = None
    # Run at shutdown before the HTTP client closes (e.g. interrupt running turns).
    on_close: list[Callable[[], Awaitable[None]]] = attrs.Factory(list)
    _closing: asyncio.Future[None] | None = attrs.field(default=None, init=False)

    @classmethod
    def from_config(cls, config: Config, env: dict[str, str] | None = None) -> Services:
        environ = dict(os.environ if env is None else env)
        auth = AuthManager(
            config.codex_home,
            config.cli_auth_credentials_store,
            forced_login_method=config.forced_login_method,
            forced_workspace_id=config.forced_chatgpt_workspace_id,
            editor_refresh_timeout=config.lsp.editor_refresh_timeout_s,
            editor_proactive_window=config.lsp.editor_proactive_refresh_window_s,
            env=environ,
        )
        provider = provider_from_config(config, env=environ)
        http = create_http_client()
        models = ModelsManager(config.codex_home, auth, provider, http, __version__, config.model)
        configure_runner(
            RunnerSettings(
                env_excludes=config.shell_environment_policy.exclude,
                ignore_default_excludes=config.shell_environment_policy.ignore_default_excludes,
                max_memory_bytes=config.sandbox_limits.max_memory_mb * 1024 * 1024,
                max_file_size_bytes=config.sandbox_limits.max_file_size_mb * 1024 * 1024,
            )
        )
        return cls(config=config, auth=auth, provider=provider, http=http, models=models)

    async def start(self) -> None:
        """Load credentials and apply the login restrictions (upstream logs out violators).

        Unreadable credentials (corrupt auth.json, a locked keyring) don't stop the server: it
        starts signed out, says why in the log and in `codex/status`, and never overwrites them.
        """
        try:
            await self.auth.load()
        except CodexError as exc:
            self.credentials_problem = exc.message
            log.warning("starting signed out: %s", exc.message)
            return
        self.startup_warning = await enforce_login_restrictions(self.auth)
        auth = self.auth.current()
        log.info(
            "credentials: %s (store: %s)",
            type(auth).__name__ if auth else "none",
            self.config.cli_auth_credentials_store,
        )
        if self.startup_warning:
            log.warning("%s", self.startup_warning)

    async def close(self) -> None:
        """Run the closers once (`shutdown`, and the editor going away, may both ask); a second
        caller waits for the first."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        for closer in self.on_close:
            try:
                await closer()
            except Exception:  # noqa: BLE001 - shutdown goes on
                log.exception("a shutdown step failed")
        await self.http.aclose()
