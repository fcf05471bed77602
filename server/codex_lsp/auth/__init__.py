"""Auth core: credentials model, claims, storage, the AuthManager and login restrictions.

Plain modules (no JSON-RPC); the account layer maps the CodexError subclasses to JSON-RPC errors.
"""

from codex_lsp.auth.claims import chatgpt_auth_tokens_from_editor, parse_jwt_claims, token_expiry
from codex_lsp.auth.errors import (
    AuthRecoveryFailed,
    KeyringUnavailable,
    MalformedTokenError,
    NotLoggedIn,
    RefreshTokenFailed,
    StorageError,
)
from codex_lsp.auth.manager import AuthManager, EditorRefresher
from codex_lsp.auth.model import (
    ApiKeyAuth,
    AuthMode,
    ChatGptAuth,
    ChatGptAuthTokens,
    CodexAuth,
    IdTokenInfo,
    WireAuthMode,
    account_id,
    auth_mode,
    bearer_token,
    email,
    plan_type,
    wire_auth_mode,
)
from codex_lsp.auth.restrictions import (
    check_login_method,
    check_workspace,
    enforce_login_restrictions,
)

__all__ = [
    "ApiKeyAuth",
    "AuthManager",
    "AuthMode",
    "AuthRecoveryFailed",
    "ChatGptAuth",
    "ChatGptAuthTokens",
    "CodexAuth",
    "EditorRefresher",
    "IdTokenInfo",
    "KeyringUnavailable",
    "MalformedTokenError",
    "NotLoggedIn",
    "RefreshTokenFailed",
    "StorageError",
    "WireAuthMode",
    "account_id",
    "auth_mode",
    "bearer_token",
    "chatgpt_auth_tokens_from_editor",
    "check_login_method",
    "check_workspace",
    "email",
    "enforce_login_restrictions",
    "parse_jwt_claims",
    "plan_type",
    "token_expiry",
    "wire_auth_mode",
]
