"""Device-code login against the fake issuer under faults (RFC 8628 slow_down, transient 5xx/429),
and a ChatGPT login over a corrupt auth.json (moved aside, never deleted)."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path

import pytest
from account_support import account_session, read_auth_json

from codex_lsp.fakes.issuer import FakeIssuer

COMPLETED = "account/login/completed"


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


async def _device_login(s, issuer: FakeIssuer, *, polls_before_approval: int) -> dict:
    mark = s.mark()
    result = await s.call("account/login/start", {"type": "chatgptDeviceCode"})
    for _ in range(400):  # wait (bounded) until the server has polled enough, then approve
        if len(issuer.device_poll_times) >= polls_before_approval:
            break
        await asyncio.sleep(0.05)
    issuer.approve_device(result["userCode"])
    return await s.wait_for(COMPLETED, since=mark, timeout=30)


async def test_slow_down_adds_five_seconds_to_the_poll_interval(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    issuer.device_poll_interval = 0.2
    issuer.device_token_script = [(400, {"error": "slow_down"})]
    async with account_session(codex_home, issuer) as s:
        completed = await _device_login(s, issuer, polls_before_approval=2)
        assert completed["success"] is True, completed
        gaps = _gaps(issuer.device_poll_times)
        assert gaps[0] >= 5.0, gaps  # 0.2 s + 5 s after slow_down
        assert all(g >= 5.0 for g in gaps), gaps  # and it stays slower
        assert read_auth_json(codex_home)["auth_mode"] == "chatgpt"


async def test_transient_5xx_and_429_are_retried_with_backoff(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    issuer.device_poll_interval = 0.2
    issuer.device_usercode_script = [(503, {"error": "unavailable"})]
    issuer.device_token_script = [(503, {}), (429, {}), (500, {})]
    async with account_session(codex_home, issuer) as s:
        completed = await _device_login(s, issuer, polls_before_approval=4)
        assert completed["success"] is True, completed
        assert issuer.calls["device_usercode"] == 2
        gaps = _gaps(issuer.device_poll_times)
        assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8, gaps  # exponential backoff
        assert gaps[1] > gaps[0] and gaps[2] > gaps[1]
        assert read_auth_json(codex_home)["tokens"]["account_id"] == "acct-1"


async def test_a_non_transient_poll_error_still_fails_the_login(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    issuer.device_poll_interval = 0.2
    issuer.device_token_script = [(400, {"error": "access_denied"})]
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        await s.call("account/login/start", {"type": "chatgptDeviceCode"})
        completed = await s.wait_for(COMPLETED, since=mark, timeout=15)
        assert completed["success"] is False and "access_denied" in completed["error"]


async def test_chatgpt_login_over_a_corrupt_auth_json_moves_it_aside(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    path = codex_home / "auth.json"
    path.write_text('{"auth_mode": "chatgpt", "tokens": {"id_token": "trunc')
    issuer.device_poll_interval = 0.2
    async with account_session(codex_home, issuer) as s:
        assert "not valid JSON" in (await s.call("account/read", {}))["credentialsProblem"]
        completed = await _device_login(s, issuer, polls_before_approval=1)
        assert completed["success"] is True, completed
        read = await s.call("account/read", {})
        assert (
            read["account"]["type"] == "chatgpt"
            and "auth.json.corrupt-" in read["credentialsProblem"]
        )
    [aside] = codex_home.glob("auth.json.corrupt-*")
    assert aside.read_text().endswith('"trunc') and stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert read_auth_json(codex_home)["auth_mode"] == "chatgpt"


def _write_managed(codex_home: Path, issuer: FakeIssuer) -> str:
    refresh_token = issuer.issue_refresh_token("acct-1")
    record = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "last_refresh": "2030-01-01T00:00:00Z",
        "tokens": {
            "id_token": issuer.make_jwt(),
            "access_token": issuer.make_jwt(),
            "refresh_token": refresh_token,
            "account_id": "acct-1",
        },
    }
    (codex_home / "auth.json").write_text(json.dumps(record))
    return refresh_token


async def test_logout_revokes_managed_tokens_at_the_issuer(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    refresh_token = _write_managed(codex_home, issuer)
    async with account_session(codex_home, issuer) as s:
        assert (await s.call("account/read", {}))["account"]["type"] == "chatgpt"
        assert await s.call("account/logout", None) == {}
        assert [r["token"] for r in issuer.revoke_requests] == [refresh_token]
        assert issuer.revoke_requests[0]["token_type_hint"] == "refresh_token"
        assert not (codex_home / "auth.json").exists()
    assert (
        issuer.handle_token(
            "application/json",
            json.dumps(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "client_id": issuer.client_id,
                }
            ).encode(),
        )[0]
        == 401
    )  # revoked for real


@pytest.mark.parametrize("fault", ["stall", "500"])
async def test_logout_is_bounded_when_revocation_fails(
    codex_home: Path, issuer: FakeIssuer, fault: str
) -> None:
    _write_managed(codex_home, issuer)
    if fault == "stall":
        issuer.revoke_stall_seconds = 20.0
    else:
        issuer.revoke_fail_status = 500
    async with account_session(codex_home, issuer) as s:
        await s.call("account/read", {})
        started = time.monotonic()
        assert await s.call("account/logout", None) == {}
        assert time.monotonic() - started < 3.0 + 2.0  # REVOKE_TIMEOUT_S plus slack
        assert (await s.call("account/read", {}))["account"] is None
        assert len(issuer.revoke_requests) == 1
    assert not (codex_home / "auth.json").exists()


async def test_logout_of_editor_owned_tokens_revokes_nothing(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        await s.call(
            "account/login/start",
            {
                "type": "chatgptAuthTokens",
                "accessToken": issuer.make_jwt(),
                "chatgptAccountId": "acct-1",
            },
        )
        await s.call("account/logout", None)
        assert issuer.revoke_requests == []
