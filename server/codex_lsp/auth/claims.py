"""JWT claim parsing (signature not verified: the issuer is trusted over TLS, we only read claims)."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import UTC, datetime
from typing import Any

import attrs

from codex_lsp.auth.errors import MalformedTokenError
from codex_lsp.auth.model import ChatGptAuthTokens, IdTokenInfo, plan_type_from_claim
from codex_lsp.errors import InvalidParams

AUTH_CLAIMS_NAMESPACE = "https://api.openai.com/auth"


def parse_jwt_claims(token: str) -> IdTokenInfo:
    """Parse email, plan, user/account ids and `exp`; raise MalformedTokenError saying what is wrong."""
    claims = _decode_claims(token)
    namespace = claims.get(AUTH_CLAIMS_NAMESPACE)
    auth_claims: dict[str, Any] = namespace if isinstance(namespace, dict) else {}
    return IdTokenInfo(
        email=_string_or_none(claims.get("email")),
        plan_type=plan_type_from_claim(auth_claims.get("chatgpt_plan_type")),
        chatgpt_user_id=_string_or_none(auth_claims.get("chatgpt_user_id"))
        or _string_or_none(auth_claims.get("user_id")),
        chatgpt_account_id=_string_or_none(auth_claims.get("chatgpt_account_id")),
        expires_at=_expiry(claims.get("exp")),
        raw_jwt=token,
    )


@functools.lru_cache(maxsize=4)
def token_expiry(token: str) -> datetime | None:
    """`exp` of a JWT, or None when the token is opaque or has no usable `exp`. Remembered for
    the last few tokens: every backend request asks (is a proactive refresh due?), and decoding
    a JWT three ways each time was a visible part of a request's cost (memory only, like the
    token itself)."""
    try:
        return _expiry(_decode_claims(token).get("exp"))
    except MalformedTokenError:
        return None


def chatgpt_auth_tokens_from_editor(
    access_token: str,
    *,
    id_token: str | None = None,
    chatgpt_account_id: str | None = None,
    chatgpt_plan_type: str | None = None,
) -> ChatGptAuthTokens:
    """Build editor-owned tokens from either wire shape of `chatgptAuthTokens`.

    Early shape: {idToken, accessToken} - claims come from the id token. Current shape:
    {accessToken, chatgptAccountId, chatgptPlanType?} - claims come from the access token and the
    supplied account id / plan override them (plan: supplied, else claim, else "unknown").
    Validated like upstream's schema: raises InvalidParams naming the wire field.
    """
    _check_editor_token_shape(access_token, id_token, chatgpt_account_id)
    try:
        info = parse_jwt_claims(id_token if id_token is not None else access_token)
    except MalformedTokenError as exc:
        field = "idToken" if id_token is not None else "accessToken"
        raise InvalidParams(f"{field} is not a valid JWT: {exc.reason}") from None
    if chatgpt_account_id is not None:
        info = _evolve(info, chatgpt_account_id=chatgpt_account_id)
    if chatgpt_plan_type is not None:
        info = _evolve(info, plan_type=plan_type_from_claim(chatgpt_plan_type))
    return ChatGptAuthTokens(id_token=info, access_token=access_token)


def _check_editor_token_shape(
    access_token: str, id_token: str | None, chatgpt_account_id: str | None
) -> None:
    """The current shape needs a non-empty `chatgptAccountId`; either shape refuses an empty one
    and an access token that is not a three-part JWT with a non-empty signature."""
    if id_token is None and chatgpt_account_id is None:
        raise InvalidParams("chatgptAccountId: required when idToken is not given")
    if chatgpt_account_id is not None and not chatgpt_account_id.strip():
        raise InvalidParams("chatgptAccountId: must not be empty")
    parts = access_token.split(".") if isinstance(access_token, str) else []
    if len(parts) != 3 or not all(parts):
        raise InvalidParams(
            "accessToken is not a JWT (expected header.payload.signature, each part non-empty)"
        )


def _evolve(info: IdTokenInfo, **changes: Any) -> IdTokenInfo:
    return attrs.evolve(info, **changes)


def _decode_claims(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or not token:
        raise MalformedTokenError("the token is empty")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise MalformedTokenError(
            f"expected three dot-separated parts, got {len(parts)} (a JWT is header.payload.signature)"
        )
    _json_object(_base64url(parts[0], "header"), "header")
    _json_object(_base64url(parts[1], "payload"), "payload")
    import jwt  # deferred: pyjwt pulls in cryptography (~50 ms, several MB) at import

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise MalformedTokenError(f"the JWT decoder rejected it ({type(exc).__name__})") from None
    if not isinstance(claims, dict):
        raise MalformedTokenError("the payload is not a JSON object")
    return claims


def _base64url(segment: str, part: str) -> bytes:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedTokenError(f"the {part} is not valid base64url") from None


def _json_object(raw: bytes, part: str) -> None:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedTokenError(f"the {part} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the {part} is not a JSON object")


def _string_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _expiry(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
