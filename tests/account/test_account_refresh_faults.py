"""Fault cases for the editor-owned refresh (issue 16, items 1-4), each counting the refresh
requests the editor saw and the time the call took, against the real server and fake backend."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from account_support import EditorRefresher, account_session, login_editor_tokens
from pygls.exceptions import JsonRpcException

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer

UPDATED = "account/updated"
TIMEOUT = 1.0  # the editor refresh timeout these sessions run with
ARGS = ("-c", f"lsp.editor_refresh_timeout_s={TIMEOUT}")


def _updates(s, since: int) -> list[dict]:
    return [p for m, p in s.notifications[since:] if m == UPDATED]


@pytest.mark.parametrize("editor_fault", ["never-answers", "errors"])
@pytest.mark.parametrize("exp_in", [-30, 30], ids=["expired", "in-window"])
async def test_one_operation_asks_the_editor_at_most_once(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend, editor_fault: str, exp_in: int
) -> None:
    async with account_session(codex_home, issuer, backend, args=ARGS) as s:
        editor = EditorRefresher(s)
        if editor_fault == "never-answers":
            editor.delay = 30.0
        else:
            editor.error = (-32001, "user is signed out in the editor")
        token = issuer.make_jwt(account_id="acct-1", exp_in=exp_in)
        backend.accepted_tokens = {"nothing-is-accepted"}
        await login_editor_tokens(s, accessToken=token, chatgptAccountId="acct-1")
        started = time.monotonic()
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        elapsed = time.monotonic() - started
        assert len(editor.calls) == 1, editor.calls  # not a second, reactive ask after the 401
        # One wait for the editor at most (two would take >= 2 x TIMEOUT).
        assert elapsed < 1.8 * TIMEOUT, elapsed
        assert exc.value.code == -32600 and token not in exc.value.message
        assert len(backend.requests_to("/wham/usage")) == 1  # the old token was tried once
        # Within the proactive cool-down the next call does not ask first; its 401 asks once.
        fresh = issuer.make_jwt(account_id="acct-1", exp_in=3600)
        backend.accepted_tokens = {fresh}
        editor.delay, editor.error = 0.0, None
        editor.reply = {"accessToken": fresh, "chatgptAccountId": "acct-1"}
        await s.call("account/rateLimits/read", {})
        assert len(editor.calls) == 2
        assert [r.bearer for r in backend.requests_to("/wham/usage")] == [token, token, fresh]


async def test_a_short_lived_refreshed_token_does_not_cause_chatter(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend, args=ARGS) as s:
        editor = EditorRefresher(s)
        expiring = issuer.make_jwt(account_id="acct-1", exp_in=30)  # inside the 60 s window
        still_short = issuer.make_jwt(account_id="acct-1", exp_in=40)  # so is the editor's answer
        backend.accepted_tokens = {expiring, still_short}
        editor.reply = {
            "accessToken": still_short,
            "chatgptAccountId": "acct-1",
            "chatgptPlanType": "pro",
        }
        await login_editor_tokens(
            s, accessToken=expiring, chatgptAccountId="acct-1", chatgptPlanType="pro"
        )
        await s.wait_for(UPDATED)
        mark = s.mark()
        started = time.monotonic()
        for _ in range(10):
            await s.call("account/rateLimits/read", {})
        elapsed = time.monotonic() - started
        assert len(editor.calls) == 1, editor.calls  # one proactive ask, then none
        assert [r.bearer for r in backend.requests_to("/wham/usage")] == [still_short] * 10
        assert (
            _updates(s, mark) == []
        )  # same account, plan and email: nothing a client shows changed
        assert elapsed < 10 * TIMEOUT
        # The reactive path still asks when the backend finally rejects the token.
        fresh = issuer.make_jwt(account_id="acct-1", exp_in=3600)
        backend.accepted_tokens = {fresh}
        editor.reply = {
            "accessToken": fresh,
            "chatgptAccountId": "acct-1",
            "chatgptPlanType": "pro",
        }
        await s.call("account/rateLimits/read", {})
        assert len(editor.calls) == 2


@pytest.mark.parametrize(
    "reply",
    [
        {"accessToken": "JWT", "chatgptAccountId": ""},
        {"accessToken": "JWT"},  # current shape without chatgptAccountId
        {"accessToken": "UNSIGNED", "chatgptAccountId": "acct-1"},
        {"accessToken": "opaque-token", "chatgptAccountId": "acct-1"},
        {"idToken": "ID", "accessToken": "opaque-token"},
        {"idToken": "ID", "accessToken": "JWT", "chatgptAccountId": ""},
    ],
    ids=[
        "empty-account",
        "no-account",
        "unsigned",
        "opaque",
        "early-opaque",
        "early-empty-account",
    ],
)
async def test_invalid_refresh_answers_are_refused_and_the_next_request_asks_again(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend, reply: dict
) -> None:
    async with account_session(codex_home, issuer, backend, args=ARGS) as s:
        editor = EditorRefresher(s)
        old, new = issuer.make_jwt(account_id="acct-1"), issuer.make_jwt(account_id="acct-1")
        unsigned = new.rsplit(".", 1)[0] + "."
        backend.accepted_tokens = {new, unsigned, "opaque-token"}
        substitutes = {"JWT": new, "UNSIGNED": unsigned, "ID": issuer.make_jwt(account_id="acct-1")}
        editor.reply = {k: substitutes.get(v, v) for k, v in reply.items()}
        await login_editor_tokens(s, accessToken=old, chatgptAccountId="acct-1")
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        assert "invalid auth refresh response" in exc.value.message, exc.value.message
        assert new not in exc.value.message
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == old
        editor.reply = {"accessToken": new, "chatgptAccountId": "acct-1"}
        await s.call("account/rateLimits/read", {})  # the next 401 asks again and succeeds
        assert len(editor.calls) == 2
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == new


async def test_early_reply_shape_takes_the_account_from_the_id_token(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend, args=ARGS) as s:
        editor = EditorRefresher(s)
        old, new = issuer.make_jwt(account_id="acct-1"), issuer.make_jwt(account_id="acct-claim")
        backend.accepted_tokens = {new}
        editor.reply = {
            "idToken": issuer.make_jwt(account_id="acct-1", plan_type="edu"),
            "accessToken": new,
        }
        await login_editor_tokens(s, accessToken=old, chatgptAccountId="acct-1")
        await s.call("account/rateLimits/read", {})
        assert backend.requests_to("/wham/usage")[-1].headers.get("chatgpt-account-id") == "acct-1"
        assert len(editor.calls) == 1


async def test_a_refresh_for_another_account_fails_the_call_adopts_it_and_says_so(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend, args=ARGS) as s:
        editor = EditorRefresher(s)
        old = issuer.make_jwt(account_id="acct-1", email="one@example.com")
        other = issuer.make_jwt(account_id="acct-2", email="two@example.com")
        backend.accepted_tokens = {other}
        editor.reply = {
            "accessToken": other,
            "chatgptAccountId": "acct-2",
            "chatgptPlanType": "team",
        }
        await login_editor_tokens(
            s, accessToken=old, chatgptAccountId="acct-1", chatgptPlanType="pro"
        )
        await s.wait_for(UPDATED)
        mark = s.mark()
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        assert "switched accounts" in exc.value.message and "acct-1" in exc.value.message
        assert "acct-2" in exc.value.message
        assert len(backend.requests_to("/wham/usage")) == 1  # not retried under the new account
        await asyncio.sleep(0.1)
        assert _updates(s, mark) == [
            {
                "authMode": "chatgptAuthTokens",
                "planType": "team",
                "chatgptAccountId": "acct-2",
                "email": "two@example.com",
            }
        ]
        assert (await s.call("account/read", {}))["account"]["email"] == "two@example.com"
        await s.call("account/rateLimits/read", {})  # the next call runs as the new account
        assert backend.requests_to("/wham/usage")[-1].headers.get("chatgpt-account-id") == "acct-2"
        assert len(editor.calls) == 1
