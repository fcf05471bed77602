"""Helpers shared by the backend and models tests: editor-owned ChatGPT tokens and a stand-in for the
editor's side of account/chatgptAuthTokens/refresh."""

from __future__ import annotations

import secrets
import time

import attrs
import jwt

from codex_lsp.auth.claims import chatgpt_auth_tokens_from_editor
from codex_lsp.auth.manager import AuthManager
from codex_lsp.auth.model import ChatGptAuthTokens

ACCOUNT_ID = "acct-1"


def make_access_token(account_id: str = ACCOUNT_ID) -> str:
    """A JWT access token with the claims Codex reads (unique per call, valid for 1 h)."""
    claims = {
        "exp": int(time.time()) + 3600,
        "jti": secrets.token_hex(8),
        "email": "user@example.com",
        "https://api.openai.com/auth": {
            "chatgpt_account_id": account_id,
            "chatgpt_plan_type": "pro",
        },
    }
    return jwt.encode(claims, "test-signing-key-not-a-secret-0000", algorithm="HS256")


def editor_tokens(access_token: str) -> ChatGptAuthTokens:
    return chatgpt_auth_tokens_from_editor(
        access_token, chatgpt_account_id=ACCOUNT_ID, chatgpt_plan_type="pro"
    )


@attrs.define
class Editor:
    """Plays the editor's side of account/chatgptAuthTokens/refresh: hands out the next token."""

    next_tokens: list[str]
    calls: list[str | None] = attrs.field(factory=list)

    async def refresh(self, previous_account_id: str | None) -> ChatGptAuthTokens:
        self.calls.append(previous_account_id)
        return editor_tokens(self.next_tokens.pop(0))


@attrs.frozen
class EditorAuth:
    manager: AuthManager
    editor: Editor
    initial_token: str
    refreshed_token: str
