"""`codex/status`: upstream's `/status`, answered from this server's memory.

The account comes from the AuthManager's current credentials, never from re-reading auth.json
(another Codex process may have rewritten it for a different account).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from codex_lsp.auth.model import (
    ApiKeyAuth,
    ChatGptAuthTokens,
    CodexAuth,
    email,
    plan_type,
    wire_auth_mode,
)
from codex_lsp.backend.rate_limits import render_status_lines
from codex_lsp.errors import CodexError
from codex_lsp.handlers.account import account_payload
from codex_lsp.protocol.account import Empty
from codex_lsp.protocol.status import CODEX_STATUS, CodexStatusResult
from codex_lsp.sandbox.guarantees import current_guarantees

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services

log = logging.getLogger(__name__)

MODEL_LOOKUP_TIMEOUT_S = 10.0


def account_line(auth: CodexAuth | None) -> str:
    if auth is None:
        return "Account: not signed in"
    if isinstance(auth, ApiKeyAuth):
        return "Account: API key"
    who = email(auth) or "ChatGPT account (no email in the token)"
    owner = ", editor-owned tokens" if isinstance(auth, ChatGptAuthTokens) else ""
    return f"Account: {who} ({plan_type(auth)}{owner})"


async def default_model(services: Services) -> str | None:
    """What a new thread would use; offline the models manager falls back to bundled presets,
    and anything else unexpected gives the configured model (or None) rather than an error."""
    try:
        return await asyncio.wait_for(services.models.resolve_model(None), MODEL_LOOKUP_TIMEOUT_S)
    except (CodexError, TimeoutError) as exc:
        log.warning("codex/status: could not resolve the default model (%s)", exc)
        return services.config.model


def register(server: CodexLanguageServer, services: Services) -> None:
    @server.request_handler(CODEX_STATUS)
    async def codex_status(params: Empty) -> CodexStatusResult:
        auth = services.auth.current()
        model = await default_model(services)
        sandbox = await asyncio.to_thread(current_guarantees)  # may probe once (~20 ms)
        snapshot = services.rate_limits.snapshot
        lines = [
            account_line(auth),
            f"Auth mode: {wire_auth_mode(auth) if auth is not None else 'none'}",
            f"Model: {model or 'unknown'}",
            f"Model provider: {services.provider.id}",
            f"Sandbox: {sandbox.backend}",
            *(f"Sandbox gap: {gap}" for gap in sandbox.gaps),
        ]
        if services.startup_warning:
            lines.append(f"Signed out at start-up: {services.startup_warning}")
        if problem := services.auth.credentials_problem or services.credentials_problem:
            lines.append(f"Credentials: {problem}")
        lines.extend(render_status_lines(snapshot))
        return CodexStatusResult(
            account=account_payload(auth),
            auth_mode=wire_auth_mode(auth) if auth is not None else None,
            model=model,
            model_provider=services.provider.id,
            sandbox_backend=sandbox.backend,
            sandbox_enforced=list(sandbox.enforced),
            sandbox_gaps=list(sandbox.gaps),
            rate_limits=snapshot,  # type: ignore[arg-type]  # the wire dict (upstream's full shape)
            lines=lines,
        )
