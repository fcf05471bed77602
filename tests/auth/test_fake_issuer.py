"""The fake issuer is shared with the login-flow tests, the demo and benchmarks: check its contract."""

from __future__ import annotations

import asyncio
import secrets
import time
import urllib.parse

import httpx
import jwt

from codex_lsp.fakes.issuer import CLIENT_ID, TOKEN_EXCHANGE_GRANT, FakeIssuer, pkce_challenge


async def test_authorize_redirects_and_code_exchange_verifies_pkce(issuer: FakeIssuer) -> None:
    verifier = secrets.token_urlsafe(48)
    redirect_uri = "http://localhost:1455/auth/callback"
    async with httpx.AsyncClient(base_url=issuer.base_url) as client:
        authorize = await client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": redirect_uri,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
                "state": "st-1",
            },
        )
        assert authorize.status_code == 302
        location = urllib.parse.urlsplit(authorize.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
        query = dict(urllib.parse.parse_qsl(location.query))
        assert query["state"] == "st-1"
        assert issuer.authorize_requests[0]["code_challenge"] == pkce_challenge(verifier)

        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID,
        }
        wrong = await client.post("/oauth/token", data={**form, "code_verifier": "wrong-verifier"})
        assert wrong.status_code == 400
        good = await client.post("/oauth/token", data={**form, "code_verifier": verifier})
        assert good.status_code == 200
        tokens = good.json()
        assert set(tokens) == {"id_token", "access_token", "refresh_token"}
        claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
        assert claims["https://api.openai.com/auth"]["chatgpt_account_id"] == "acct-1"
        reused = await client.post("/oauth/token", data={**form, "code_verifier": verifier})
        assert reused.status_code == 400

        exchange = await client.post(
            "/oauth/token",
            data={
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "client_id": CLIENT_ID,
                "requested_token": "openai-api-key",
                "subject_token": tokens["id_token"],
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            },
        )
        assert exchange.status_code == 200
        assert exchange.json()["access_token"].startswith("sk-fake-")
    assert issuer.calls["authorization_code"] == 3
    assert issuer.calls["token_exchange"] == 1


async def test_authorize_error_switch(issuer: FakeIssuer) -> None:
    issuer.authorize_error = "access_denied"
    async with httpx.AsyncClient(base_url=issuer.base_url) as client:
        response = await client.get(
            "/oauth/authorize", params={"redirect_uri": "http://localhost:1/cb", "state": "s"}
        )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["location"]).query))
    assert query == {"error": "access_denied", "state": "s"}


async def test_device_code_flow(issuer: FakeIssuer) -> None:
    async with httpx.AsyncClient(base_url=issuer.base_url) as client:
        start = await client.post(
            "/api/accounts/deviceauth/usercode", json={"client_id": CLIENT_ID}
        )
        assert start.status_code == 200
        device = start.json()
        assert int(device["interval"]) >= 0
        poll_body = {"device_auth_id": device["device_auth_id"], "user_code": device["user_code"]}
        pending = await client.post("/api/accounts/deviceauth/token", json=poll_body)
        assert pending.status_code == 403
        issuer.approve_device(device["user_code"])
        approved = await client.post("/api/accounts/deviceauth/token", json=poll_body)
        assert approved.status_code == 200
        grant = approved.json()
        assert pkce_challenge(grant["code_verifier"]) == grant["code_challenge"]
        exchange = await client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": grant["authorization_code"],
                "redirect_uri": issuer.base_url + "/deviceauth/callback",
                "client_id": CLIENT_ID,
                "code_verifier": grant["code_verifier"],
            },
        )
        assert exchange.status_code == 200
        issuer.device_code_enabled = False
        disabled = await client.post(
            "/api/accounts/deviceauth/usercode", json={"client_id": CLIENT_ID}
        )
        assert disabled.status_code == 404
    assert issuer.calls["device_token"] == 2


async def test_refresh_rotation_and_fault_switches(issuer: FakeIssuer) -> None:
    refresh_token = issuer.issue_refresh_token("acct-9")
    body = {"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": refresh_token}
    async with httpx.AsyncClient(base_url=issuer.base_url) as client:
        first = await client.post("/oauth/token", json=body)
        assert first.status_code == 200
        assert first.json()["refresh_token"] != refresh_token
        second = await client.post("/oauth/token", json=body)
        assert second.status_code == 401
        assert second.json() == {
            "error": {"code": "refresh_token_reused", "message": "refresh token reused"}
        }
        issuer.token_fail_status = 401
        issuer.token_fail_code = "refresh_token_expired"
        faulted = await client.post("/oauth/token", json=body)
        assert (faulted.status_code, faulted.json()["error"]["code"]) == (
            401,
            "refresh_token_expired",
        )
        issuer.token_fail_status = None
        issuer.token_stall_seconds = 0.3
        started = time.monotonic()
        await client.post("/oauth/token", json=body)
        assert time.monotonic() - started >= 0.3
    assert issuer.calls["refresh"] == 3
    assert issuer.calls["token_fault"] == 1


async def test_whoami_accepts_only_valid_access_tokens(issuer: FakeIssuer) -> None:
    token = issuer.issue_access_token("acct-3")
    async with httpx.AsyncClient(base_url=issuer.base_url) as client:
        ok = await client.get("/backend-api/whoami", headers={"Authorization": f"Bearer {token}"})
        assert ok.json()["account_id"] == "acct-3"
        issuer.revoke_access_tokens()
        rejected = await client.get(
            "/backend-api/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        assert rejected.status_code == 401


async def test_stop_releases_a_stalled_request_quickly() -> None:
    issuer = FakeIssuer().start()
    issuer.token_stall_seconds = 30
    async with httpx.AsyncClient(base_url=issuer.base_url, timeout=10) as client:
        request = asyncio.create_task(client.post("/oauth/token", json={}))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await asyncio.to_thread(issuer.stop)
        assert time.monotonic() - started < 5
        request.cancel()
