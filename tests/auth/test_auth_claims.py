from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from codex_lsp.auth.claims import chatgpt_auth_tokens_from_editor, parse_jwt_claims, token_expiry
from codex_lsp.auth.errors import MalformedTokenError
from codex_lsp.errors import CodexError, InvalidParams
from codex_lsp.fakes.issuer import FakeIssuer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(payload: object, header: object | None = None) -> str:
    head = header if header is not None else {"alg": "none", "typ": "JWT"}
    return f"{b64(json.dumps(head).encode())}.{b64(json.dumps(payload).encode())}.sig"


def test_parses_issuer_token_claims() -> None:
    token = FakeIssuer().make_jwt(
        email="dev@example.com", plan_type="team", account_id="acct-7", user_id="u-7", exp_in=600
    )
    info = parse_jwt_claims(token)
    assert info.email == "dev@example.com"
    assert info.plan_type == "team"
    assert info.chatgpt_account_id == "acct-7"
    assert info.chatgpt_user_id == "u-7"
    assert info.raw_jwt == token
    assert info.expires_at is not None
    remaining = (info.expires_at - datetime.now(UTC)).total_seconds()
    assert 500 < remaining <= 601


def test_user_id_falls_back_and_unknown_plan_maps_to_unknown() -> None:
    token = unsigned(
        {
            "https://api.openai.com/auth": {
                "user_id": "legacy-user",
                "chatgpt_plan_type": "diamond",
            },
            "exp": 2000000000,
        }
    )
    info = parse_jwt_claims(token)
    assert info.chatgpt_user_id == "legacy-user"
    assert info.plan_type == "unknown"
    assert info.email is None
    assert info.chatgpt_account_id is None
    assert info.expires_at == datetime.fromtimestamp(2000000000, tz=UTC)


def test_missing_namespace_and_exp_give_nones() -> None:
    info = parse_jwt_claims(unsigned({"email": "x@example.com"}))
    assert (info.plan_type, info.chatgpt_user_id, info.chatgpt_account_id, info.expires_at) == (
        "unknown",
        None,
        None,
        None,
    )


def test_signature_is_not_verified() -> None:
    token = jwt.encode(
        {"email": "e@example.com"}, "some-other-key-that-we-never-see-123456", algorithm="HS256"
    )
    assert parse_jwt_claims(token).email == "e@example.com"


SECRET_PAYLOAD = b64(b'{"email": "secret-person@example.com"}')


@pytest.mark.parametrize(
    ("token", "reason_fragment"),
    [
        ("", "empty"),
        (f"onlyone{SECRET_PAYLOAD}", "three dot-separated parts, got 1"),
        (f"{b64(b'{}')}.{SECRET_PAYLOAD}", "three dot-separated parts, got 2"),
        (f"{b64(b'{}')}.{SECRET_PAYLOAD}.sig.extra", "three dot-separated parts, got 4"),
        (f"{b64(b'{}')}..sig", "three dot-separated parts"),
        (f"{b64(b'{}')}.{SECRET_PAYLOAD}!*.sig", "payload is not valid base64url"),
        (f"%%%.{SECRET_PAYLOAD}.sig", "header is not valid base64url"),
        (f"{b64(b'{}')}.{b64(b'not json at all')}.sig", "payload is not JSON"),
        (f"{b64(b'{}')}.{b64(bytes([0xFF, 0xFE]))}.sig", "payload is not JSON"),
        (f"{b64(b'{}')}.{b64(b'[1, 2]')}.sig", "payload is not a JSON object"),
        (f"{b64(b'[]')}.{SECRET_PAYLOAD}.sig", "header is not a JSON object"),
    ],
)
def test_malformed_tokens_raise_typed_errors_that_say_which(
    token: str, reason_fragment: str
) -> None:
    with pytest.raises(MalformedTokenError) as caught:
        parse_jwt_claims(token)
    error = caught.value
    assert isinstance(error, CodexError)
    assert error.code == -32600
    assert reason_fragment in error.message
    assert "sign in again" in error.message
    assert SECRET_PAYLOAD not in error.message
    assert "secret-person" not in error.message
    if token:
        assert token not in error.message


@given(st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_another_exception(text: str) -> None:
    try:
        parse_jwt_claims(text)
    except MalformedTokenError as exc:
        assert exc.message.startswith("invalid token: ")
        if len(text) >= 16:  # shorter strings can occur in the fixed wording by chance
            assert text not in exc.message


def test_token_expiry_is_lenient_for_opaque_tokens() -> None:
    assert token_expiry("opaque-access-token") is None
    assert token_expiry(unsigned({"exp": 1900000000})) == datetime.fromtimestamp(1900000000, tz=UTC)
    assert token_expiry(unsigned({"exp": "soon"})) is None


def test_editor_tokens_current_shape_overrides_account_and_plan() -> None:
    access = FakeIssuer().make_jwt(
        email="ed@example.com", plan_type="plus", account_id="acct-claim"
    )
    tokens = chatgpt_auth_tokens_from_editor(
        access, chatgpt_account_id="acct-given", chatgpt_plan_type="enterprise"
    )
    assert tokens.access_token == access
    assert tokens.id_token.email == "ed@example.com"
    assert tokens.id_token.chatgpt_account_id == "acct-given"
    assert tokens.id_token.plan_type == "enterprise"


def test_editor_tokens_plan_falls_back_to_claim_and_early_shape_uses_id_token() -> None:
    issuer = FakeIssuer()
    access = issuer.make_jwt(plan_type="go", account_id="acct-a")
    assert (
        chatgpt_auth_tokens_from_editor(access, chatgpt_account_id="acct-a").id_token.plan_type
        == "go"
    )
    id_tok = issuer.make_jwt(email="early@example.com", plan_type="pro", account_id="acct-early")
    early_access = issuer.make_jwt(account_id="acct-other")
    early = chatgpt_auth_tokens_from_editor(early_access, id_token=id_tok)
    assert early.id_token.chatgpt_account_id == "acct-early"  # the id token's claims win
    assert early.access_token == early_access
    with pytest.raises(InvalidParams, match="chatgptAccountId"):
        chatgpt_auth_tokens_from_editor(access)


@pytest.mark.parametrize(
    ("access", "id_token", "account", "field"),
    [
        ("JWT", None, None, "chatgptAccountId: required"),
        ("JWT", None, "", "chatgptAccountId: must not be empty"),
        ("JWT", None, "  ", "chatgptAccountId: must not be empty"),
        ("JWT", "ID", "", "chatgptAccountId: must not be empty"),
        ("opaque-access", None, "acct-a", "accessToken is not a JWT"),
        ("opaque-access", "ID", None, "accessToken is not a JWT"),
        ("UNSIGNED", None, "acct-a", "accessToken is not a JWT"),
        ("UNSIGNED", "ID", None, "accessToken is not a JWT"),
        ("a.b.c.d", None, "acct-a", "accessToken is not a JWT"),
        ("JWT", "not-a-jwt", None, "idToken is not a valid JWT"),
    ],
)
def test_editor_tokens_are_validated_like_upstreams_schema(
    access, id_token, account, field
) -> None:
    issuer = FakeIssuer()
    jwt_token = issuer.make_jwt(account_id="acct-a")
    access = {"JWT": jwt_token, "UNSIGNED": jwt_token.rsplit(".", 1)[0] + "."}.get(access, access)
    id_token = {"ID": issuer.make_jwt(account_id="acct-a")}.get(id_token, id_token)
    with pytest.raises(InvalidParams, match=field) as exc:
        chatgpt_auth_tokens_from_editor(access, id_token=id_token, chatgpt_account_id=account)
    assert exc.value.code == -32602 and jwt_token not in exc.value.message
