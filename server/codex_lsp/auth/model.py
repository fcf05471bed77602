"""The auth data model: a two-valued internal mode and a data-only disjoint union of credentials.

Nothing here does I/O or refreshes anything; AuthManager owns that.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal, assert_never

import attrs


class AuthMode(enum.Enum):
    """What almost all logic reasons about: editor-owned tokens are ChatGPT too."""

    API_KEY = "apikey"
    CHATGPT = "chatgpt"


# The wire value (`account/updated.authMode`, `getAuthStatus.authMethod`); note the lower-case k.
WireAuthMode = Literal["apikey", "chatgpt", "chatgptAuthTokens"]

# PlanType wire strings (codex-rs/protocol/src/account.rs); anything else maps to "unknown".
KNOWN_PLAN_TYPES: frozenset[str] = frozenset(
    {
        "free",
        "go",
        "plus",
        "pro",
        "prolite",
        "team",
        "self_serve_business_usage_based",
        "business",
        "enterprise_cbp_usage_based",
        "enterprise",
        "edu",
        "unknown",
    }
)


def plan_type_from_claim(raw: object) -> str:
    """Map a `chatgpt_plan_type` claim (or editor-supplied plan) to a PlanType wire string."""
    if isinstance(raw, str) and raw in KNOWN_PLAN_TYPES:
        return raw
    return "unknown"


@attrs.frozen
class IdTokenInfo:
    email: str | None
    plan_type: str
    chatgpt_user_id: str | None
    chatgpt_account_id: str | None
    expires_at: datetime | None
    raw_jwt: str = attrs.field(repr=False)


@attrs.frozen
class ApiKeyAuth:
    api_key: str = attrs.field(repr=False)


@attrs.frozen
class ChatGptAuth:
    """Managed ChatGPT login: persisted by the configured store and refreshed over OAuth."""

    id_token: IdTokenInfo
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    account_id: str | None
    last_refresh: datetime


@attrs.frozen
class ChatGptAuthTokens:
    """Editor-owned tokens: memory only, no refresh token; the editor refreshes them."""

    id_token: IdTokenInfo
    access_token: str = attrs.field(repr=False)


CodexAuth = ApiKeyAuth | ChatGptAuth | ChatGptAuthTokens


def auth_mode(auth: CodexAuth) -> AuthMode:
    if isinstance(auth, ApiKeyAuth):
        return AuthMode.API_KEY
    return AuthMode.CHATGPT


def wire_auth_mode(auth: CodexAuth) -> WireAuthMode:
    if isinstance(auth, ApiKeyAuth):
        return "apikey"
    if isinstance(auth, ChatGptAuth):
        return "chatgpt"
    if isinstance(auth, ChatGptAuthTokens):
        return "chatgptAuthTokens"
    assert_never(auth)


def bearer_token(auth: CodexAuth) -> str:
    """The value for `Authorization: Bearer ...`: the API key or the access token."""
    if isinstance(auth, ApiKeyAuth):
        return auth.api_key
    return auth.access_token


def account_id(auth: CodexAuth) -> str | None:
    """The ChatGPT workspace/account id (the `ChatGPT-Account-Id` header); None for API keys."""
    if isinstance(auth, ApiKeyAuth):
        return None
    if isinstance(auth, ChatGptAuth):
        return auth.account_id or auth.id_token.chatgpt_account_id
    return auth.id_token.chatgpt_account_id


def plan_type(auth: CodexAuth) -> str | None:
    if isinstance(auth, ApiKeyAuth):
        return None
    return auth.id_token.plan_type


def email(auth: CodexAuth) -> str | None:
    if isinstance(auth, ApiKeyAuth):
        return None
    return auth.id_token.email
