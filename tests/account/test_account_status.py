"""`codex/status`, `account/read`, legacy `getAuthStatus`, `account/rateLimits/read` errors,
and start-up login restrictions reaching the editor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from account_support import account_session, be_the_browser, login_editor_tokens
from pygls.exceptions import JsonRpcException

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer


def _write_chatgpt_auth_json(
    codex_home: Path, issuer: FakeIssuer, account_id: str, email: str
) -> None:
    tokens = issuer.issue_tokens(account_id, email=email)
    record = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {**tokens, "account_id": account_id},
        "last_refresh": "2030-01-01T00:00:00Z",
    }
    (codex_home / "auth.json").write_text(json.dumps(record))
    (codex_home / "auth.json").chmod(0o600)


async def test_signed_out_read_and_legacy_status(codex_home: Path, issuer: FakeIssuer) -> None:
    async with account_session(codex_home, issuer) as s:
        assert await s.call("account/read", {}) == {"account": None, "requiresOpenaiAuth": True}
        assert await s.call("getAuthStatus", {"includeToken": True}) == {
            "authMethod": None,
            "authToken": None,
            "requiresOpenaiAuth": True,
        }
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        assert exc.value.code == -32600
        assert exc.value.message == "codex account authentication required to read rate limits"


async def test_legacy_status_gives_the_token_only_when_asked(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        await s.call("account/login/start", {"type": "apiKey", "apiKey": "sk-legacy-key-123456"})
        assert await s.call("getAuthStatus", {}) == {
            "authMethod": "apikey",
            "authToken": None,
            "requiresOpenaiAuth": True,
        }
        assert (await s.call("getAuthStatus", {"includeToken": True}))[
            "authToken"
        ] == "sk-legacy-key-123456"
        with pytest.raises(JsonRpcException) as exc:
            await s.call("account/rateLimits/read", {})
        assert exc.value.message == "chatgpt authentication required to read rate limits"


async def test_provider_without_openai_auth(codex_home: Path, issuer: FakeIssuer) -> None:
    args = (
        "-c",
        'model_providers.local={name="Local", base_url="http://127.0.0.1:9/v1"}',
        "-c",
        'model_provider="local"',
    )
    async with account_session(codex_home, issuer, args=args) as s:
        assert await s.call("account/read", {}) == {"account": None, "requiresOpenaiAuth": False}
        assert await s.call("getAuthStatus", {}) == {
            "authMethod": None,
            "authToken": None,
            "requiresOpenaiAuth": False,
        }


async def test_read_refresh_token_forces_a_managed_refresh(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    _write_chatgpt_auth_json(codex_home, issuer, "acct-1", "me@example.com")
    async with account_session(codex_home, issuer) as s:
        before = json.loads((codex_home / "auth.json").read_text())["tokens"]["refresh_token"]
        result = await s.call("account/read", {"refreshToken": True})
        assert result["account"] == {
            "type": "chatgpt",
            "email": "me@example.com",
            "planType": "pro",
        }
        assert issuer.calls["refresh"] == 1
        assert (
            json.loads((codex_home / "auth.json").read_text())["tokens"]["refresh_token"] != before
        )


async def test_status_lines_before_and_after_usage(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    async with account_session(codex_home, issuer, backend) as s:
        await login_editor_tokens(
            s, accessToken=issuer.make_jwt(email="ed@example.com"), chatgptAccountId="acct-1"
        )
        status = await s.call("codex/status", {})
        assert status["account"] == {
            "type": "chatgpt",
            "email": "ed@example.com",
            "planType": "pro",
        }
        assert status["authMode"] == "chatgptAuthTokens" and status["modelProvider"] == "openai"
        assert status["model"] and f"Model: {status['model']}" in status["lines"]
        assert status["sandboxBackend"] in ("bwrap", "landlock", "none")
        assert status["rateLimits"] is None
        assert "Limits: send a message to load usage data" in status["lines"]
        assert "Account: ed@example.com (pro, editor-owned tokens)" in status["lines"]

        await s.call("account/rateLimits/read", {})
        status = await s.call("codex/status", {})
        assert (
            "5h limit: 23% used" in status["lines"] and "Weekly limit: 61% used" in status["lines"]
        )
        assert status["rateLimits"]["primary"]["usedPercent"] == 23

        backend.usage = {
            "plan_type": "pro",
            "rate_limit": {"primary_window": None, "secondary_window": None},
        }
        await s.call("account/rateLimits/read", {})
        assert "Limits: data not available yet" in (await s.call("codex/status", {}))["lines"]


async def test_status_keeps_this_instances_account_after_another_process_rewrites_auth_json(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    async with account_session(codex_home, issuer) as s:
        result = await s.call("account/login/start", {"type": "chatgpt"})
        await be_the_browser(result["authUrl"])
        await s.wait_for("account/updated")
        _write_chatgpt_auth_json(codex_home, issuer, "acct-9", "someone-else@example.com")
        status = await s.call("codex/status", {})
        assert status["account"]["email"] == "user@example.com"
        assert any("user@example.com" in line for line in status["lines"])
        assert (await s.call("account/read", {}))["account"]["email"] == "user@example.com"


async def test_startup_restriction_logs_out_and_tells_the_editor(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    _write_chatgpt_auth_json(codex_home, issuer, "acct-other", "me@example.com")
    async with account_session(
        codex_home, issuer, args=("-c", 'forced_chatgpt_workspace_id="acct-1"')
    ) as s:
        assert (await s.call("account/read", {}))["account"] is None
        warning = await s.wait_for(
            "window/logMessage", where=lambda p: "signed you out" in p.message
        )
        assert warning.type.value == 2  # Warning
        assert "acct-1" in warning.message and "acct-other" in warning.message
        lines = (await s.call("codex/status", {}))["lines"]
        assert any("Signed out at start-up" in line and "acct-other" in line for line in lines)
        assert not (codex_home / "auth.json").exists()
        assert "account/updated" not in [m for m, _ in s.notifications]  # start-up is not news


async def test_managed_refresh_that_changes_plan_sends_updated_once(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    refresh_token = issuer.issue_refresh_token(
        "acct-1", plan_type="team"
    )  # the issuer now says team
    record = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "last_refresh": "2030-01-01T00:00:00Z",
        "tokens": {
            "id_token": issuer.make_jwt(plan_type="plus"),
            "access_token": issuer.make_jwt(),
            "refresh_token": refresh_token,
            "account_id": "acct-1",
        },
    }
    (codex_home / "auth.json").write_text(json.dumps(record))
    async with account_session(codex_home, issuer) as s:
        assert (await s.call("account/read", {}))["account"]["planType"] == "plus"
        mark = s.mark()
        assert (await s.call("account/read", {"refreshToken": True}))["account"][
            "planType"
        ] == "team"
        assert await s.wait_for("account/updated", since=mark) == {
            "authMode": "chatgpt",
            "planType": "team",
            "chatgptAccountId": "acct-1",
            "email": "user@example.com",
        }
        await s.call("account/read", {"refreshToken": True})  # same plan again: not news
        await s.call("codex/status", {})
        assert [m for m, _ in s.notifications[mark:] if m == "account/updated"] == [
            "account/updated"
        ]
        assert issuer.calls["refresh"] == 2


async def test_get_auth_status_withholds_the_token_after_a_permanent_refresh_failure(
    codex_home: Path, issuer: FakeIssuer
) -> None:
    refresh_token = issuer.issue_refresh_token("acct-1")
    access = issuer.make_jwt()
    record = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "last_refresh": "2030-01-01T00:00:00Z",
        "tokens": {
            "id_token": issuer.make_jwt(),
            "access_token": access,
            "refresh_token": refresh_token,
            "account_id": "acct-1",
        },
    }
    (codex_home / "auth.json").write_text(json.dumps(record))
    issuer.expire_refresh_token(refresh_token)
    async with account_session(codex_home, issuer) as s:
        assert (await s.call("getAuthStatus", {"includeToken": True}))["authToken"] == access
        await s.call(
            "account/read", {"refreshToken": True}
        )  # fails permanently (logged, as upstream)
        assert issuer.calls["refresh"] == 1
        status = await s.call("getAuthStatus", {"includeToken": True, "refreshToken": True})
        assert status == {"authMethod": "chatgpt", "authToken": None, "requiresOpenaiAuth": True}
        assert issuer.calls["refresh"] == 1  # the cached failure answers without the network


async def test_rate_limits_read_reports_every_limit_by_id(
    codex_home: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    backend.usage["additional_rate_limits"] = [
        {
            "limit_name": "Spark",
            "metered_feature": "codex_spark",
            "rate_limit": {"primary_window": {"used_percent": 12, "limit_window_seconds": 18000}},
        },
    ]
    async with account_session(codex_home, issuer, backend) as s:
        await s.call(
            "account/login/start",
            {
                "type": "chatgptAuthTokens",
                "accessToken": issuer.make_jwt(),
                "chatgptAccountId": "acct-1",
            },
        )
        result = await s.call("account/rateLimits/read", {})
        assert set(result["rateLimitsByLimitId"]) == {"codex", "codex_spark"}
        assert result["rateLimitsByLimitId"]["codex"] == result["rateLimits"]
        spark = result["rateLimitsByLimitId"]["codex_spark"]
        assert spark["limitName"] == "Spark" and spark["primary"]["usedPercent"] == 12
