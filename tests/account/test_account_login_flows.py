"""Login flows end to end: API key, browser OAuth (PKCE + state), device code, cancel, timeout,
replacement, logout, refusal while editor-owned auth is active, and notification order."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest
from account_support import (
    account_session,
    auth_url_query,
    be_the_browser,
    login_editor_tokens,
    order_of,
    read_auth_json,
)
from pygls.exceptions import JsonRpcException

from codex_lsp.fakes.issuer import FakeIssuer, pkce_challenge

COMPLETED, UPDATED = "account/login/completed", "account/updated"


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_api_key_login_answers_then_completed_then_updated(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        assert await s.call(
            "account/login/start", {"type": "apiKey", "apiKey": "sk-test-key-123456"}
        ) == {"type": "apiKey"}
        updated = await s.wait_for(UPDATED, since=mark)
        assert updated == {
            "authMode": "apikey",
            "planType": None,
            "chatgptAccountId": None,
            "email": None,
        }
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed == {"loginId": None, "success": True, "error": None}
        assert order_of(s, COMPLETED, UPDATED, since=mark) == [COMPLETED, UPDATED]
        assert read_auth_json(codex_home)["OPENAI_API_KEY"] == "sk-test-key-123456"
        assert await s.call("account/read", {}) == {
            "account": {"type": "apiKey"},
            "requiresOpenaiAuth": True,
        }


async def test_browser_login_with_pkce_and_state_persists_tokens(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgpt"})
        assert result["type"] == "chatgpt"
        uuid.UUID(result["loginId"])
        query = auth_url_query(result["authUrl"])
        assert result["authUrl"].startswith(issuer.base_url + "/oauth/authorize?")
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["redirect_uri"].startswith("http://localhost:") and query[
            "redirect_uri"
        ].endswith("/auth/callback")
        assert query["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann" and len(query["state"]) >= 32
        assert "offline_access" in query["scope"]

        page = await be_the_browser(result["authUrl"])
        assert page.status_code == 200 and "Signed in" in page.text
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed == {"loginId": result["loginId"], "success": True, "error": None}
        assert await s.wait_for(UPDATED, since=mark) == {
            "authMode": "chatgpt",
            "planType": "pro",
            "chatgptAccountId": "acct-1",
            "email": "user@example.com",
        }
        assert order_of(s, COMPLETED, UPDATED, since=mark) == [COMPLETED, UPDATED]
        assert issuer.calls["authorization_code"] == 1  # the issuer verified the PKCE verifier
        stored = read_auth_json(codex_home)
        assert stored["auth_mode"] == "chatgpt" and stored["tokens"]["account_id"] == "acct-1"
        assert stored["OPENAI_API_KEY"].startswith("sk-fake-")  # best-effort token exchange
        account = (await s.call("account/read", {}))["account"]
        assert account == {"type": "chatgpt", "email": "user@example.com", "planType": "pro"}
        port = int(query["redirect_uri"].split(":")[2].split("/")[0])
        assert _port_is_closed(port)  # one-shot callback server


async def test_wrong_state_fails_the_login_and_keeps_old_credentials(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        await s.call("account/login/start", {"type": "apiKey", "apiKey": "sk-keep-me-123456"})
        await s.wait_for(UPDATED)
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgpt"})
        page = await be_the_browser(result["authUrl"], tamper={"state": "forged-state"})
        assert page.status_code == 400 and "State mismatch" in page.text
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed["loginId"] == result["loginId"] and completed["success"] is False
        assert "state mismatch" in completed["error"]
        assert (
            issuer.calls["authorization_code"] == 0
        )  # a forged callback's code is never exchanged
        assert UPDATED not in order_of(s, UPDATED, since=mark)
        assert read_auth_json(codex_home)["OPENAI_API_KEY"] == "sk-keep-me-123456"
        assert (await s.call("account/read", {}))["account"] == {"type": "apiKey"}


async def test_wrong_pkce_verifier_is_refused_by_the_issuer(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgpt"})
        page = await be_the_browser(
            result["authUrl"], tamper={"code_challenge": pkce_challenge("not-our-verifier")}
        )
        assert page.status_code == 400
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed["success"] is False and "HTTP 400" in completed["error"]
        assert issuer.calls["authorization_code"] == 1
        assert not (codex_home / "auth.json").exists()


async def test_issuer_error_redirect_fails_the_login(codex_home: Path, issuer: FakeIssuer) -> None:
    issuer.authorize_error = "access_denied"
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgpt"})
        await be_the_browser(result["authUrl"])
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed["success"] is False and "access_denied" in completed["error"]


async def test_cancel_then_not_found_and_invalid_id(codex_home: Path, issuer: FakeIssuer) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgpt"})
        port = int(auth_url_query(result["authUrl"])["redirect_uri"].split(":")[2].split("/")[0])
        assert await s.call("account/login/cancel", {"loginId": result["loginId"]}) == {
            "status": "canceled"
        }
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed == {
            "loginId": result["loginId"],
            "success": False,
            "error": "Login cancelled",
        }
        assert await s.call("account/login/cancel", {"loginId": result["loginId"]}) == {
            "status": "notFound"
        }
        assert await s.call("account/login/cancel", {"loginId": str(uuid.uuid4())}) == {
            "status": "notFound"
        }
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/login/cancel", {"loginId": "nope"})
        assert exc.value.code == -32600 and exc.value.message == "invalid login id: nope"
        assert _port_is_closed(port)


async def test_login_times_out(codex_home: Path, issuer: FakeIssuer) -> None:
    async with account_session(codex_home, issuer, env={"CODEX_LOGIN_TIMEOUT_S": "0.5"}) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgpt"})
        completed = await s.wait_for(COMPLETED, since=mark, timeout=10)
        assert completed == {
            "loginId": result["loginId"],
            "success": False,
            "error": "Login timed out",
        }


async def test_newer_login_replaces_pending_one(codex_home: Path, issuer: FakeIssuer) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        first = await s.call("account/login/start", {"type": "chatgpt"})
        second = await s.call("account/login/start", {"type": "chatgpt"})
        replaced = await s.wait_for(
            COMPLETED, since=mark, where=lambda p: p["loginId"] == first["loginId"]
        )
        assert replaced["success"] is False and "replaced" in replaced["error"]
        first_port = int(
            auth_url_query(first["authUrl"])["redirect_uri"].split(":")[2].split("/")[0]
        )
        assert _port_is_closed(first_port)  # the old callback server is gone
        page = await be_the_browser(second["authUrl"])
        assert page.status_code == 200
        done = await s.wait_for(
            COMPLETED, since=mark, where=lambda p: p["loginId"] == second["loginId"]
        )
        assert done["success"] is True
        assert await s.call("account/login/cancel", {"loginId": second["loginId"]}) == {
            "status": "notFound"
        }


async def test_show_document_opens_auth_url_and_errors_do_not_fail_login(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer, show_document=True) as s:
        result = await s.call("account/login/start", {"type": "chatgpt"})
        for _ in range(100):  # bounded: up to 5 s
            if s.client.shown_documents:
                break
            await asyncio.sleep(0.05)
        shown = s.client.shown_documents[0]
        assert shown.uri == result["authUrl"] and shown.external is True

        def refuse(params: object) -> None:
            raise JsonRpcException("no browser here", code=-32603)

        s.client.protocol.fm.features["window/showDocument"] = refuse
        mark = s.mark()
        again = await s.call("account/login/start", {"type": "chatgpt"})
        await asyncio.sleep(0.3)
        assert (await be_the_browser(again["authUrl"])).status_code == 200
        done = await s.wait_for(
            COMPLETED, since=mark, where=lambda p: p["loginId"] == again["loginId"]
        )
        assert done["success"] is True


async def test_no_show_document_without_the_capability(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        await s.call("account/login/start", {"type": "chatgpt"})
        await asyncio.sleep(0.3)
        assert s.client.shown_documents == []


async def test_device_code_login(codex_home: Path, issuer: FakeIssuer) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgptDeviceCode"})
        assert (
            result["type"] == "chatgptDeviceCode"
            and result["verificationUrl"] == issuer.base_url + "/codex/device"
        )
        uuid.UUID(result["loginId"])
        issuer.approve_device(result["userCode"])
        completed = await s.wait_for(COMPLETED, since=mark, timeout=15)
        assert completed == {"loginId": result["loginId"], "success": True, "error": None}
        assert await s.wait_for(UPDATED, since=mark) == {
            "authMode": "chatgpt",
            "planType": "pro",
            "chatgptAccountId": "acct-1",
            "email": "user@example.com",
        }
        assert order_of(s, COMPLETED, UPDATED, since=mark) == [COMPLETED, UPDATED]
        assert read_auth_json(codex_home)["tokens"]["account_id"] == "acct-1"


async def test_device_code_cancel_and_disabled(codex_home: Path, issuer: FakeIssuer) -> None:
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgptDeviceCode"})
        assert await s.call("account/login/cancel", {"loginId": result["loginId"]}) == {
            "status": "canceled"
        }
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed["success"] is False and completed["error"] == "Login cancelled"
        issuer.device_code_enabled = False
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/login/start", {"type": "chatgptDeviceCode"})
        assert exc.value.code == -32600 and "device code login is not enabled" in exc.value.message


async def test_logout_cancels_pending_login_clears_store_and_sends_updated(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        await s.call("account/login/start", {"type": "apiKey", "apiKey": "sk-test-key-123456"})
        await s.wait_for(UPDATED)
        pending = await s.call("account/login/start", {"type": "chatgpt"})
        mark = s.mark()
        assert await s.call("account/logout", {}) == {}
        assert await s.wait_for(UPDATED, since=mark) == {
            "authMode": None,
            "planType": None,
            "chatgptAccountId": None,
            "email": None,
        }
        cancelled = await s.wait_for(COMPLETED, since=mark)
        assert cancelled["loginId"] == pending["loginId"] and cancelled["success"] is False
        assert not (codex_home / "auth.json").exists()
        assert (await s.call("account/read", {}))["account"] is None
        assert order_of(s, UPDATED, since=mark) == [UPDATED]  # exactly once


@pytest.mark.parametrize(
    "login",
    [
        {"type": "apiKey", "apiKey": "sk-test-key-123456"},
        {"type": "chatgpt"},
        {"type": "chatgptDeviceCode"},
    ],
)
async def test_other_logins_refused_while_editor_owned_auth_is_active(
    codex_home: Path, issuer: FakeIssuer, login: dict[str, str]
) -> None:
    async with account_session(codex_home, issuer) as s:
        await login_editor_tokens(s, accessToken=issuer.make_jwt(), chatgptAccountId="acct-1")
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/login/start", login)
        assert exc.value.code == -32600 and "account/logout" in exc.value.message
        assert issuer.calls["device_usercode"] == 0
        assert not (codex_home / "auth.json").exists()
        await s.call("account/logout", {})
        await s.call("account/login/start", login)  # allowed once logged out


async def test_forced_login_method_refuses_the_other_kind(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(
        codex_home, issuer, args=("-c", 'forced_login_method="chatgpt"')
    ) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/login/start", {"type": "apiKey", "apiKey": "sk-test-key-123456"})
        assert exc.value.code == -32600 and "forced_login_method" in exc.value.message
    async with account_session(codex_home, issuer, args=("-c", 'forced_login_method="api"')) as s:
        for login in ({"type": "chatgpt"}, {"type": "chatgptDeviceCode"}):
            with pytest.raises(JsonRpcException) as exc:
                await s.call("account/login/start", login)
            assert exc.value.code == -32600 and "forced_login_method" in exc.value.message


async def test_browser_login_for_another_workspace_fails_naming_both(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    issuer.login_account_id = "acct-other"
    async with account_session(
        codex_home, issuer, args=("-c", 'forced_chatgpt_workspace_id="acct-1"')
    ) as s:
        mark = s.mark()
        result = await s.call("account/login/start", {"type": "chatgpt"})
        assert auth_url_query(result["authUrl"])["allowed_workspace_id"] == "acct-1"
        page = await be_the_browser(result["authUrl"])
        assert page.status_code == 400
        completed = await s.wait_for(COMPLETED, since=mark)
        assert completed["success"] is False
        assert "acct-1" in completed["error"] and "acct-other" in completed["error"]
        assert not (codex_home / "auth.json").exists()
