"""Unit tests for auth/login.py against the loopback FakeIssuer: PKCE, state, code exchange,
callback port order, timeouts, cancel, and the device-code flow."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from codex_lsp.auth.login import (
    CANCELLED,
    TIMED_OUT,
    BrowserLogin,
    DeviceCodeLogin,
    LoginFailed,
    LoginTokens,
    callback_ports,
    login_issuer,
    login_timeout,
    pkce_pair,
)
from codex_lsp.errors import InternalError, InvalidRequest
from codex_lsp.fakes.issuer import FakeIssuer


class Saved:
    def __init__(self, fail: str | None = None) -> None:
        self.tokens: list[LoginTokens] = []
        self.fail = fail

    async def __call__(self, tokens: LoginTokens) -> None:
        if self.fail:
            raise InvalidRequest(self.fail)
        self.tokens.append(tokens)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _browse(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as browser:
        return await browser.get(url)


def test_pkce_pair_is_s256() -> None:
    verifier, challenge = pkce_pair()
    assert len(verifier) == 86  # 64 bytes, base64url without padding
    expected = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    assert challenge == expected
    assert pkce_pair()[0] != verifier


def test_configuration_from_env() -> None:
    assert callback_ports({}) == (1455, 1457, 0)
    assert callback_ports({"CODEX_LOGIN_CALLBACK_PORTS": "0"}) == (0,)
    assert callback_ports({"CODEX_LOGIN_CALLBACK_PORTS": "2000, 2001"}) == (2000, 2001, 0)
    assert callback_ports({"CODEX_LOGIN_CALLBACK_PORTS": "abc"}) == (1455, 1457, 0)
    assert login_issuer({}) == "https://auth.openai.com"
    assert (
        login_issuer({"CODEX_APP_SERVER_LOGIN_ISSUER": "http://127.0.0.1:9/"})
        == "http://127.0.0.1:9"
    )
    assert (
        login_timeout({}, 600) == 600
        and login_timeout({"CODEX_LOGIN_TIMEOUT_S": "0.5"}, 600) == 0.5
    )
    assert login_timeout({"CODEX_LOGIN_TIMEOUT_S": "-1"}, 600) == 600


async def test_callback_port_fallback_order(http: httpx.AsyncClient) -> None:
    first, second = _free_port(), _free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", first))
        busy.listen()
        login = await BrowserLogin.start(
            http, issuer="http://127.0.0.1:9", persist=Saved(), ports=(first, second, 0)
        )
        assert (
            login.port == second
            and login.redirect_uri == f"http://localhost:{second}/auth/callback"
        )
        login.cancel()
        with socket.socket() as busy2:
            busy2.bind(("127.0.0.1", second))
            busy2.listen()
            fallback = await BrowserLogin.start(
                http, issuer="http://127.0.0.1:9", persist=Saved(), ports=(first, second, 0)
            )
            assert fallback.port not in (first, second, 0)
            fallback.cancel()
            with pytest.raises(InternalError) as exc:
                await BrowserLogin.start(
                    http, issuer="http://127.0.0.1:9", persist=Saved(), ports=(first, second)
                )
            assert (
                "failed to start login server" in exc.value.message
                and str(first) in exc.value.message
            )


async def test_browser_login_exchanges_code_with_verifier(http: httpx.AsyncClient) -> None:
    with FakeIssuer() as issuer:
        saved = Saved()
        login = await BrowserLogin.start(http, issuer=issuer.base_url, persist=saved, ports=(0,))
        page = await _browse(login.auth_url)
        await asyncio.wait_for(login.wait(), 5)
        assert page.status_code == 200
        authorize = issuer.authorize_requests[0]
        issuer_query = authorize["code_challenge_method"], authorize["redirect_uri"]
        assert issuer_query == ("S256", login.redirect_uri)
        assert len(saved.tokens) == 1 and saved.tokens[0].api_key is not None
        assert "refresh" not in repr(saved.tokens[0]) and saved.tokens[0].access_token not in repr(
            saved.tokens[0]
        )
        with pytest.raises(httpx.ConnectError):  # one-shot: the server is gone
            await http.get(f"http://127.0.0.1:{login.port}/auth/callback")


@pytest.mark.parametrize(
    ("query", "message"),
    [("state=wrong&code=abc", "state mismatch"), ("error=access_denied", "access_denied")],
)
async def test_bad_callbacks_fail_without_exchanging(
    http: httpx.AsyncClient, query: str, message: str
) -> None:
    with FakeIssuer() as issuer:
        saved = Saved()
        login = await BrowserLogin.start(http, issuer=issuer.base_url, persist=saved, ports=(0,))
        if "error" in query:
            state = httpx.URL(login.auth_url).params["state"]
            query += f"&state={state}"
        response = await http.get(f"http://127.0.0.1:{login.port}/auth/callback?{query}")
        assert response.status_code == 400
        with pytest.raises(LoginFailed) as exc:
            await asyncio.wait_for(login.wait(), 5)
        assert message in exc.value.message
        assert issuer.calls["authorization_code"] == 0 and saved.tokens == []


async def test_persist_failure_fails_login_and_is_shown_to_the_browser(
    http: httpx.AsyncClient,
) -> None:
    with FakeIssuer() as issuer:
        login = await BrowserLogin.start(
            http, issuer=issuer.base_url, persist=Saved(fail="wrong workspace acct-x"), ports=(0,)
        )
        page = await _browse(login.auth_url)
        assert page.status_code == 400 and "wrong workspace acct-x" in page.text
        with pytest.raises(LoginFailed, match="wrong workspace acct-x"):
            await asyncio.wait_for(login.wait(), 5)


async def test_timeout_cancel_and_cancel_endpoint(http: httpx.AsyncClient) -> None:
    login = await BrowserLogin.start(
        http, issuer="http://127.0.0.1:9", persist=Saved(), ports=(0,), timeout=0.2
    )
    with pytest.raises(LoginFailed, match=TIMED_OUT):
        await asyncio.wait_for(login.wait(), 5)
    assert login.cancel() is False
    login = await BrowserLogin.start(http, issuer="http://127.0.0.1:9", persist=Saved(), ports=(0,))
    assert login.cancel() is True
    with pytest.raises(LoginFailed, match=CANCELLED):
        await login.wait()
    login = await BrowserLogin.start(http, issuer="http://127.0.0.1:9", persist=Saved(), ports=(0,))
    assert (await http.get(f"http://127.0.0.1:{login.port}/cancel")).status_code == 200
    with pytest.raises(LoginFailed, match=CANCELLED):
        await asyncio.wait_for(login.wait(), 5)


async def test_device_code_flow(http: httpx.AsyncClient) -> None:
    with FakeIssuer() as issuer:
        saved = Saved()
        login = await DeviceCodeLogin.start(http, issuer=issuer.base_url, persist=saved)
        assert login.verification_url == issuer.base_url + "/codex/device"
        await asyncio.sleep(0.2)
        assert not login.done  # still pending: not approved yet
        issuer.approve_device(login.user_code)
        await asyncio.wait_for(login.wait(), 10)
        assert len(saved.tokens) == 1 and issuer.calls["authorization_code"] == 1


async def test_device_code_timeout_and_disabled(http: httpx.AsyncClient) -> None:
    with FakeIssuer() as issuer:
        login = await DeviceCodeLogin.start(
            http, issuer=issuer.base_url, persist=Saved(), timeout=0.3
        )
        with pytest.raises(LoginFailed, match=TIMED_OUT):
            await asyncio.wait_for(login.wait(), 5)
        issuer.device_code_enabled = False
        with pytest.raises(InvalidRequest, match="not enabled"):
            await DeviceCodeLogin.start(http, issuer=issuer.base_url, persist=Saved())
    with pytest.raises(InternalError, match="could not reach"):
        await DeviceCodeLogin.start(http, issuer="http://127.0.0.1:9", persist=Saved())
