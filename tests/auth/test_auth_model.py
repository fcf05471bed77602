from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from codex_lsp.auth.model import (
    ApiKeyAuth,
    AuthMode,
    ChatGptAuth,
    ChatGptAuthTokens,
    IdTokenInfo,
    account_id,
    auth_mode,
    bearer_token,
    email,
    plan_type,
    plan_type_from_claim,
    wire_auth_mode,
)
from codex_lsp.auth.storage import AuthDotJson, TokenData

RAW_JWT = "header.payload-secret-jwt.signature"


def id_token(account: str | None = "acct-9") -> IdTokenInfo:
    return IdTokenInfo(
        email="a@example.com",
        plan_type="plus",
        chatgpt_user_id="user-9",
        chatgpt_account_id=account,
        expires_at=datetime(2031, 1, 1, tzinfo=UTC),
        raw_jwt=RAW_JWT,
    )


API_KEY = ApiKeyAuth(api_key="sk-test-secret-key")
MANAGED = ChatGptAuth(
    id_token=id_token(),
    access_token="access-secret-token",
    refresh_token="refresh-secret-token",
    account_id="acct-9",
    last_refresh=datetime(2030, 1, 1, tzinfo=UTC),
)
EDITOR = ChatGptAuthTokens(id_token=id_token("acct-ed"), access_token="editor-secret-access")


def test_internal_mode_has_two_values_and_editor_tokens_are_chatgpt() -> None:
    assert [mode.value for mode in AuthMode] == ["apikey", "chatgpt"]
    assert auth_mode(API_KEY) is AuthMode.API_KEY
    assert auth_mode(MANAGED) is AuthMode.CHATGPT
    assert auth_mode(EDITOR) is AuthMode.CHATGPT


def test_wire_mode_is_three_valued_with_lowercase_k() -> None:
    assert wire_auth_mode(API_KEY) == "apikey"
    assert wire_auth_mode(MANAGED) == "chatgpt"
    assert wire_auth_mode(EDITOR) == "chatgptAuthTokens"


def test_accessors_per_variant() -> None:
    assert bearer_token(API_KEY) == "sk-test-secret-key"
    assert bearer_token(MANAGED) == "access-secret-token"
    assert bearer_token(EDITOR) == "editor-secret-access"
    assert account_id(API_KEY) is None
    assert account_id(MANAGED) == "acct-9"
    assert account_id(EDITOR) == "acct-ed"
    assert plan_type(API_KEY) is None
    assert plan_type(MANAGED) == "plus"
    assert email(API_KEY) is None
    assert email(EDITOR) == "a@example.com"


def test_managed_account_id_falls_back_to_the_id_token_claim() -> None:
    without_stored_id = attrs.evolve(MANAGED, account_id=None)
    assert account_id(without_stored_id) == "acct-9"


def test_variants_carry_only_their_own_fields() -> None:
    assert [f.name for f in attrs.fields(ApiKeyAuth)] == ["api_key"]
    assert [f.name for f in attrs.fields(ChatGptAuthTokens)] == ["id_token", "access_token"]
    assert "refresh_token" in [f.name for f in attrs.fields(ChatGptAuth)]


def test_variants_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        API_KEY.api_key = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "value",
    [
        API_KEY,
        MANAGED,
        EDITOR,
        id_token(),
        TokenData("id-secret-jwt", "access-secret-token", "refresh-secret-token", "acct"),
        AuthDotJson(
            auth_mode="apikey",
            openai_api_key="sk-test-secret-key",
            tokens=TokenData("id-secret-jwt", "access-secret-token", "refresh-secret-token", None),
            last_refresh=None,
        ),
    ],
)
def test_reprs_hide_secrets(value: object) -> None:
    text = repr(value)
    for secret in (
        "sk-test-secret",
        "access-secret",
        "refresh-secret",
        "secret-jwt",
        "editor-secret",
    ):
        assert secret not in text


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("pro", "pro"),
        ("plus", "plus"),
        ("prolite", "prolite"),
        ("self_serve_business_usage_based", "self_serve_business_usage_based"),
        ("enterprise_cbp_usage_based", "enterprise_cbp_usage_based"),
        ("edu", "edu"),
        ("PRO", "unknown"),
        ("platinum", "unknown"),
        (None, "unknown"),
        (42, "unknown"),
    ],
)
def test_plan_type_mapping(claim: object, expected: str) -> None:
    assert plan_type_from_claim(claim) == expected
