"""Editor-owned tokens end to end: both login shapes, rotation, refresh through the editor on a
real 401 from the fake backend (answered / error / timeout / malformed / late / wrong workspace),
proactive refresh, single flight, and secrets never leaving memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from account_support import (
    EditorRefresher,
    account_session,
    files_under,
    login_editor_tokens,
    order_of,
)
from pygls.exceptions import JsonRpcException

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer

COMPLETED, UPDATED = "account/login/completed", "account/updated"


async def test_early_shape_reports_chatgpt_and_sends_completed_then_updated(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        id_token = issuer.make_jwt(email="ed@example.com", plan_type="plus", account_id="acct-1")
        result = await login_editor_tokens(s, idToken=id_token, accessToken=issuer.make_jwt())
        assert result == {"type": "chatgptAuthTokens"}
        assert await s.wait_for(UPDATED, since=mark) == {
            "authMode": "chatgptAuthTokens",
            "planType": "plus",
            "chatgptAccountId": "acct-1",
            "email": "ed@example.com",
        }
        assert await s.wait_for(COMPLETED, since=mark) == {
            "loginId": None,
            "success": True,
            "error": None,
        }
        assert order_of(s, COMPLETED, UPDATED, since=mark) == [COMPLETED, UPDATED]
        assert await s.call("account/read", {}) == {
            "account": {"type": "chatgpt", "email": "ed@example.com", "planType": "plus"},
            "requiresOpenaiAuth": True,
        }


async def test_newer_shape_given_account_and_plan_win_over_claims(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(
        codex_home, issuer, args=("-c", 'forced_chatgpt_workspace_id="acct-given"')
    ) as s:
        access = issuer.make_jwt(email="new@example.com", plan_type="free", account_id="acct-claim")
        await login_editor_tokens(
            s, accessToken=access, chatgptAccountId="acct-given", chatgptPlanType="team"
        )
        account = (await s.call("account/read", {}))["account"]
        assert account == {"type": "chatgpt", "email": "new@example.com", "planType": "team"}
        status = await s.call("getAuthStatus", {"includeToken": True})
        assert status == {
            "authMethod": "chatgptAuthTokens",
            "authToken": access,
            "requiresOpenaiAuth": True,
        }


async def test_calling_again_rotates_tokens_and_read_refresh_is_a_no_op(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        editor = EditorRefresher(s)
        await login_editor_tokens(
            s, accessToken=issuer.make_jwt(plan_type="plus"), chatgptAccountId="acct-1"
        )
        await s.wait_for(UPDATED)
        mark = s.mark()
        second = issuer.make_jwt(plan_type="pro")
        await login_editor_tokens(s, accessToken=second, chatgptAccountId="acct-1")
        assert await s.wait_for(UPDATED, since=mark) == {
            "authMode": "chatgptAuthTokens",
            "planType": "pro",
            "chatgptAccountId": "acct-1",
            "email": "user@example.com",
        }
        assert order_of(s, COMPLETED, UPDATED, since=mark) == [COMPLETED, UPDATED]
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == second
        await s.call("account/read", {"refreshToken": True})
        assert editor.calls == []  # no managed refresh, no editor request


async def test_workspace_enforced_on_login_naming_both(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(
        codex_home, issuer, args=("-c", 'forced_chatgpt_workspace_id="acct-1"')
    ) as s:
        with pytest.raises(JsonRpcException) as exc:
            await login_editor_tokens(
                s, accessToken=issuer.make_jwt(account_id="acct-2"), chatgptAccountId="acct-2"
            )
        assert exc.value.code == -32600
        assert "acct-1" in exc.value.message and "acct-2" in exc.value.message
        assert (await s.call("account/read", {}))["account"] is None


async def test_malformed_token_is_invalid_params_naming_the_field(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        with pytest.raises(JsonRpcException) as exc:
            await login_editor_tokens(
                s, accessToken="not-a-jwt-but-secret-ish", chatgptAccountId="acct-1"
            )
        assert exc.value.code == -32602 and "not-a-jwt" not in exc.value.message
    assert exc.value.message.startswith("accessToken is not a JWT")


async def _editor_session_with_backend(
    s, issuer: FakeIssuer, backend: FakeBackend
) -> tuple[EditorRefresher, str, str]:
    old, new = (
        issuer.make_jwt(account_id="acct-1"),
        issuer.make_jwt(account_id="acct-1", plan_type="team"),
    )
    backend.accepted_tokens = {new}
    editor = EditorRefresher(s)
    editor.reply = {"accessToken": new, "chatgptAccountId": "acct-1", "chatgptPlanType": "team"}
    await login_editor_tokens(s, accessToken=old, chatgptAccountId="acct-1", chatgptPlanType="pro")
    await s.wait_for(UPDATED)
    return editor, old, new


async def test_401_asks_the_editor_replaces_tokens_and_retries_once(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend) as s:
        editor, old, new = await _editor_session_with_backend(s, issuer, backend)
        mark = s.mark()
        result = await s.call("account/rateLimits/read", {})
        assert result["rateLimits"]["primary"]["usedPercent"] == 23
        assert editor.calls == [{"reason": "unauthorized", "previousAccountId": "acct-1"}]
        assert [r.bearer for r in backend.requests_to("/wham/usage")] == [old, new]
        assert await s.wait_for(UPDATED, since=mark) == {
            "authMode": "chatgptAuthTokens",
            "planType": "team",
            "chatgptAccountId": "acct-1",
            "email": "user@example.com",
        }
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == new


async def test_early_reply_shape_is_accepted(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend) as s:
        editor, _, new = await _editor_session_with_backend(s, issuer, backend)
        editor.reply = {
            "idToken": issuer.make_jwt(account_id="acct-1", plan_type="edu"),
            "accessToken": new,
        }
        await s.call("account/rateLimits/read", {})
        assert (await s.call("account/read", {}))["account"]["planType"] == "edu"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            {"error": (-32001, "user closed the sign-in dialog")},
            "editor answered with error -32001",
        ),
        ({"delay": 2.0}, "did not answer"),
        ({"reply": {"chatgptAccountId": "acct-1"}}, "malformed"),
        ({"reply": None}, "malformed"),
    ],
    ids=["error", "timeout", "malformed", "null"],
)
async def test_failed_refresh_fails_the_call_keeps_old_tokens_and_asks_again(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend, setup: dict, expected: str
) -> None:
    async with account_session(codex_home, issuer, backend) as s:
        editor, old, new = await _editor_session_with_backend(s, issuer, backend)
        for key, value in setup.items():
            setattr(editor, key, value)
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        assert exc.value.code == -32600 and expected in exc.value.message
        assert old not in exc.value.message and new not in exc.value.message
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == old
        assert (await s.call("account/read", {}))["account"]["type"] == "chatgpt"
        await asyncio.sleep(max(editor.delay - 0.5, 0) + 0.2)  # let a late answer arrive
        editor.error, editor.delay = None, 0.0
        editor.reply = {"accessToken": new, "chatgptAccountId": "acct-1"}
        await s.call("account/rateLimits/read", {})  # the next 401 asks the editor again
        assert len(editor.calls) == 2
        assert not any(m == "window/showMessage" for m, _ in s.notifications)


async def test_late_answer_is_ignored(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend) as s:
        editor, old, _ = await _editor_session_with_backend(s, issuer, backend)
        editor.delay = 1.0  # the timeout is 0.5 s; the good answer comes too late
        with pytest.raises(JsonRpcException):
            await s.call("account/rateLimits/read", {})
        await asyncio.sleep(1.0)
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == old


async def test_refresh_for_another_workspace_is_refused(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(
        codex_home, issuer, backend, args=("-c", 'forced_chatgpt_workspace_id="acct-1"')
    ) as s:
        editor, old, _ = await _editor_session_with_backend(s, issuer, backend)
        other = issuer.make_jwt(account_id="acct-2")
        backend.accepted_tokens.add(other)
        editor.reply = {"accessToken": other, "chatgptAccountId": "acct-2"}
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        assert "wrong workspace" in exc.value.message
        assert "acct-1" in exc.value.message and "acct-2" in exc.value.message
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == old


async def test_proactive_refresh_before_expiry_shared_by_concurrent_calls(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend) as s:
        editor = EditorRefresher(s)
        expiring = issuer.make_jwt(account_id="acct-1", exp_in=30)  # inside the 60 s window
        fresh = issuer.make_jwt(account_id="acct-1", exp_in=3600)
        backend.accepted_tokens = {fresh}
        editor.reply = {"accessToken": fresh, "chatgptAccountId": "acct-1"}
        editor.delay = 0.2  # both calls arrive while the first refresh is still pending
        await login_editor_tokens(s, accessToken=expiring, chatgptAccountId="acct-1")
        results = await asyncio.gather(*(s.call("account/rateLimits/read", {}) for _ in range(3)))
        assert all(r["rateLimits"]["secondary"]["usedPercent"] == 61 for r in results)
        assert len(editor.calls) == 1 and editor.calls[0]["reason"] == "unauthorized"
        assert {r.bearer for r in backend.requests_to("/wham/usage")} == {
            fresh
        }  # no failed request


async def test_no_token_leaves_memory(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend, tmp_path: Path
) -> None:
    stderr = tmp_path / "server-stderr.log"
    async with account_session(codex_home, issuer, backend, stderr_file=stderr) as s:
        editor, old, new = await _editor_session_with_backend(s, issuer, backend)
        id_token = issuer.make_jwt(account_id="acct-1")
        await s.call("account/rateLimits/read", {})  # refresh through the editor
        await login_editor_tokens(s, idToken=id_token, accessToken=new)
        editor.error = (-32001, "no")
        backend.accepted_tokens = {"something-else"}
        errors = []
        for method in ("account/rateLimits/read", "model/list", "codex/status"):
            try:
                await s.call(method, {})
            except JsonRpcException as exc:
                errors.append(exc.message)
        assert errors  # the failing refresh produced at least one error message
        await s.call("getAuthStatus", {})
        await s.call("account/logout", {})
        await s.wait_for(UPDATED, where=lambda p: p["authMode"] is None)
        logs = [str(p) for m, p in s.notifications if m.startswith("window/")]
    secrets = {old, new, id_token}
    for path, text in files_under(codex_home).items():
        assert not any(secret in text for secret in secrets), f"token written to {path}"
    text = stderr.read_text()
    for haystack in [text, *logs, *errors]:
        assert not any(secret in haystack for secret in secrets)
    assert not any(secret.split(".")[1] in text for secret in secrets)  # not even the payload part
