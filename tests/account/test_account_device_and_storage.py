"""Device-code login against the fake issuer under faults (RFC 8628 slow_down, transient 5xx/429),
and a ChatGPT login over a corrupt auth.json (moved aside, never deleted)."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

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


async def test_slow_down_adds_five_seconds_to_the_poll_interval(codex_home: Path, issuer: FakeIssuer) -> None:
    issuer.device_poll_interval = 0.2
    issuer.device_token_script = [(400, {"error": "slow_down"})]
    async with account_session(codex_home, issuer) as s:
        completed = await _device_login(s, issuer, polls_before_approval=2)
        assert completed["success"] is True, completed
        gaps = _gaps(issuer.device_poll_times)
        assert gaps[0] >= 5.0, gaps  # 0.2 s + 5 s after slow_down
        assert all(g >= 5.0 for g in gaps), gaps  # and it stays slower
        assert read_auth_json(codex_home)["auth_mode"] == "chatgpt"


async def test_transient_5xx_and_429_are_retried_with_backoff(codex_home: Path, issuer: FakeIssuer) -> None:
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


async def test_a_non_transient_poll_error_still_fails_the_login(codex_home: Path, issuer: FakeIssuer) -> None:
    issuer.device_poll_interval = 0.2
    issuer.device_token_script = [(400, {"error": "access_denied"})]
    async with account_session(codex_home, issuer) as s:
        mark = s.mark()
        await s.call("account/login/start", {"type": "chatgptDeviceCode"})
        completed = await s.wait_for(COMPLETED, since=mark, timeout=15)
        assert completed["success"] is False and "access_denied" in completed["error"]


async def test_chatgpt_login_over_a_corrupt_auth_json_moves_it_aside(codex_home: Path, issuer: FakeIssuer) -> None:
    path = codex_home / "auth.json"
    path.write_text('{"auth_mode": "chatgpt", "tokens": {"id_token": "trunc')
    issuer.device_poll_interval = 0.2
    async with account_session(codex_home, issuer) as s:
        assert "not valid JSON" in (await s.call("account/read", {}))["credentialsProblem"]
        completed = await _device_login(s, issuer, polls_before_approval=1)
        assert completed["success"] is True, completed
        read = await s.call("account/read", {})
        assert read["account"]["type"] == "chatgpt" and "auth.json.corrupt-" in read["credentialsProblem"]
    [aside] = codex_home.glob("auth.json.corrupt-*")
    assert aside.read_text().endswith('"trunc') and stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert read_auth_json(codex_home)["auth_mode"] == "chatgpt"
