"""`forced_login_method` and `forced_chatgpt_workspace_id` checks (reference §3.8)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from codex_lsp.auth.model import ApiKeyAuth, CodexAuth, account_id
from codex_lsp.errors import CodexError, InvalidRequest

if TYPE_CHECKING:
    from codex_lsp.auth.manager import AuthManager

log = logging.getLogger(__name__)

LoginRequest = Literal["apiKey", "chatgpt", "chatgptAuthTokens"]
FORCED_LOGIN_METHODS = ("chatgpt", "api")


def check_login_method(forced_login_method: str | None, requested: LoginRequest) -> None:
    """Raise InvalidRequest when `requested` is disabled by `forced_login_method`."""
    if forced_login_method is None:
        return
    if forced_login_method == "chatgpt" and requested == "apiKey":
        raise InvalidRequest(
            'API key login is disabled by forced_login_method = "chatgpt"; sign in with ChatGPT instead'
        )
    if forced_login_method == "api" and requested == "chatgpt":
        raise InvalidRequest(
            'ChatGPT login is disabled by forced_login_method = "api"; sign in with an API key instead'
        )
    if forced_login_method == "api" and requested == "chatgptAuthTokens":
        raise InvalidRequest(
            'external ChatGPT auth (chatgptAuthTokens) is disabled by forced_login_method = "api"; '
            "sign in with an API key instead"
        )


WorkspaceRule = str | tuple[str, ...] | None


def allowed_workspaces(rule: WorkspaceRule) -> tuple[str, ...]:
    """`forced_chatgpt_workspace_id` as a tuple: a string or a list in config.toml (newer upstream)."""
    if rule is None:
        return ()
    return (rule,) if isinstance(rule, str) else tuple(rule)


def check_workspace(forced_workspace_id: WorkspaceRule, received_account_id: str | None) -> None:
    """Raise InvalidRequest naming the expected and received workspace when they differ."""
    allowed = allowed_workspaces(forced_workspace_id)
    if not allowed:
        return
    expected = allowed[0] if len(allowed) == 1 else "one of " + ", ".join(allowed)
    target = allowed[0] if len(allowed) == 1 else "one of them"
    if not received_account_id:
        raise InvalidRequest(
            f"login is restricted to workspace {expected}, but the credentials carry no "
            f"workspace id (chatgpt_account_id); sign in to workspace {target}"
        )
    if received_account_id not in allowed:
        raise InvalidRequest(
            f"login is restricted to workspace {expected}, but the credentials belong to "
            f"workspace {received_account_id}; sign in to workspace {target}"
        )


async def enforce_login_restrictions(manager: AuthManager) -> str | None:
    """At start-up: log out stored credentials that break the rules; return why, or None."""
    method = manager.forced_login_method
    workspace = manager.forced_workspace_ids or None
    if method is None and workspace is None:
        return None
    try:
        auth = await manager.load()
    except CodexError as exc:
        if workspace is None:
            raise
        return await _logout_because(
            manager,
            f"could not load the stored credentials to check the workspace restriction "
            f"({exc.message}); logging out",
        )
    violation = _violation(auth, method, workspace)
    if violation is None:
        return None
    return await _logout_because(manager, violation)


def _violation(auth: CodexAuth | None, method: str | None, workspace: WorkspaceRule) -> str | None:
    if auth is None:
        return None
    is_api_key = isinstance(auth, ApiKeyAuth)
    if method == "api" and not is_api_key:
        return 'API key login is required (forced_login_method = "api") but ChatGPT credentials are in use; logging out'
    if method == "chatgpt" and is_api_key:
        return 'ChatGPT login is required (forced_login_method = "chatgpt") but an API key is in use; logging out'
    if workspace is not None and not is_api_key:
        try:
            check_workspace(workspace, account_id(auth))
        except InvalidRequest as exc:
            return f"{exc.message.split(';')[0]}; logging out"
    return None


async def _logout_because(manager: AuthManager, reason: str) -> str:
    message = reason
    try:
        await manager.logout()
    except CodexError as exc:
        message += f"; failed to remove the stored credentials: {exc.message}"
    if isinstance(manager.current(), ApiKeyAuth) and manager.api_key_from_env():
        message += "; the API key comes from CODEX_API_KEY, unset it"
    log.warning("%s", message)
    return message
