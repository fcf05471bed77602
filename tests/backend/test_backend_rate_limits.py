"""Rate-limit parsing (headers, SSE event, usage payload), status lines and the usage fetch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from codex_lsp.auth.manager import AuthManager
from codex_lsp.backend.provider import ModelProvider, resolve_provider
from codex_lsp.backend.rate_limits import (
    fetch_usage,
    parse_rate_limit_event,
    parse_rate_limit_header_families,
    parse_rate_limit_headers,
    parse_usage_payload,
    parse_usage_snapshots,
    rate_limits_read_result,
    render_status_lines,
    usage_url,
)
from codex_lsp.errors import INTERNAL_ERROR, INVALID_REQUEST, CodexError
from codex_lsp.fakes.backend import FakeBackend
from editor_auth import EditorAuth

pytestmark = pytest.mark.timeout(30)

SNAPSHOT_KEYS = {
    "limitId",
    "limitName",
    "primary",
    "secondary",
    "credits",
    "individualLimit",
    "planType",
    "rateLimitReachedType",
}


def window(used: int, mins: int | None, resets: int | None = None) -> dict[str, Any]:
    return {"usedPercent": used, "windowDurationMins": mins, "resetsAt": resets}


def test_headers_to_snapshot() -> None:
    headers = httpx.Headers(
        {
            "X-Codex-Primary-Used-Percent": "12.5",
            "x-codex-primary-window-minutes": "300",
            "x-codex-primary-reset-at": "1700000000",
            "x-codex-secondary-used-percent": "80.49",
            "x-codex-secondary-window-minutes": "10080",
            "x-codex-credits-has-credits": "1",
            "x-codex-credits-unlimited": "false",
            "x-codex-credits-balance": "3.20",
        }
    )
    snapshot = parse_rate_limit_headers(headers)
    assert snapshot is not None and set(snapshot) == SNAPSHOT_KEYS
    assert snapshot["primary"] == window(13, 300, 1700000000)  # 12.5 rounds half away from 0
    assert snapshot["secondary"] == window(80, 10080, None)
    assert snapshot["credits"] == {"hasCredits": True, "unlimited": False, "balance": "3.20"}
    assert snapshot["limitId"] == "codex"
    assert snapshot["planType"] is None and snapshot["individualLimit"] is None


def test_headers_absent_or_empty_windows() -> None:
    assert parse_rate_limit_headers(httpx.Headers({"content-type": "text/plain"})) is None
    # used=0, no minutes, no reset: the window is dropped.
    only_zero = httpx.Headers(
        {"x-codex-primary-used-percent": "0", "x-codex-secondary-used-percent": "5"}
    )
    snapshot = parse_rate_limit_headers(only_zero)
    assert snapshot is not None
    assert snapshot["primary"] is None and snapshot["secondary"] == window(5, None)
    garbage = httpx.Headers(
        {
            "x-codex-primary-used-percent": "lots",
            "x-codex-credits-has-credits": "maybe",
            "x-codex-credits-unlimited": "true",
        }
    )
    assert parse_rate_limit_headers(garbage) is None


def test_rate_limit_event_to_snapshot() -> None:
    snapshot = parse_rate_limit_event(
        {
            "type": "codex.rate_limits",
            "plan_type": "team",
            "rate_limits": {
                "primary": {"used_percent": 99.5, "window_minutes": 300, "reset_at": 5},
                "secondary": None,
            },
            "credits": {"has_credits": True, "unlimited": False, "balance": "1.00"},
        }
    )
    assert snapshot["primary"] == window(100, 300, 5)
    assert snapshot["secondary"] is None
    assert snapshot["planType"] == "team"
    assert parse_rate_limit_event({"plan_type": "galactic"})["planType"] == "unknown"


def test_usage_payload_mapping() -> None:
    payload = {
        "plan_type": "pro",
        "rate_limit": {
            "allowed": True,
            "limit_reached": False,
            "primary_window": {
                "used_percent": 23,
                "limit_window_seconds": 18000,
                "reset_after_seconds": 3600,
                "reset_at": 1764000000,
            },
            "secondary_window": {
                "used_percent": 61,
                "limit_window_seconds": 604800,
                "reset_after_seconds": 86400,
                "reset_at": 1764080000,
            },
        },
        "credits": {"has_credits": True, "unlimited": False, "balance": "12.50"},
    }
    snapshot = parse_usage_payload(payload)
    assert snapshot == {
        "limitId": "codex",
        "limitName": None,
        "primary": window(23, 300, 1764000000),
        "secondary": window(61, 10080, 1764080000),
        "credits": {"hasCredits": True, "unlimited": False, "balance": "12.50"},
        "individualLimit": None,
        "planType": "pro",
        "rateLimitReachedType": None,
    }
    sparse = parse_usage_payload({"plan_type": "plus", "rate_limit": {"primary_window": None}})
    assert sparse["primary"] is None and sparse["secondary"] is None and sparse["credits"] is None
    assert rate_limits_read_result(snapshot) == {
        "rateLimits": snapshot,
        "rateLimitsByLimitId": {"codex": snapshot},
    }


def test_usage_url() -> None:
    assert (
        usage_url("https://chatgpt.com/backend-api") == "https://chatgpt.com/backend-api/wham/usage"
    )
    assert usage_url("http://127.0.0.1:8/") == "http://127.0.0.1:8/api/codex/usage"


def test_status_lines() -> None:
    assert render_status_lines(None) == ["Limits: send a message to load usage data"]
    empty = parse_usage_payload({})
    assert render_status_lines(empty) == ["Limits: data not available yet"]
    snapshot = parse_usage_payload(
        {
            "rate_limit": {
                "primary_window": {"used_percent": 23, "limit_window_seconds": 18000},
                "secondary_window": {"used_percent": 61, "limit_window_seconds": 604800},
            },
            "credits": {"has_credits": True, "unlimited": False, "balance": "12.50"},
        }
    )
    assert render_status_lines(snapshot) == [
        "5h limit: 23% used",
        "Weekly limit: 61% used",
        "Credits: 12.50",
    ]


@pytest.mark.parametrize(
    ("minutes", "label"),
    [
        (300, "5h limit"),
        (10080, "Weekly limit"),
        (120, "2h limit"),
        (4320, "3d limit"),
        (45, "45m limit"),
        (None, None),
    ],
)
def test_window_labels_come_from_duration(minutes: int | None, label: str | None) -> None:
    # Weekly window in the primary slot: the label follows the duration, not the position.
    snapshot = {"primary": window(7, minutes), "secondary": None, "credits": None}
    expected = label or "5h limit"  # unknown duration: positional fallback
    assert render_status_lines(snapshot) == [f"{expected}: 7% used"]


# --- fetch_usage through the fake ----------------------------------------------------------


@pytest.fixture
def usage_provider(fake: FakeBackend) -> ModelProvider:
    return resolve_provider(chatgpt_base_url=f"{fake.base_url}/backend-api")


async def test_fetch_usage_maps_the_payload(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    snapshot = await fetch_usage(http_client, usage_provider, editor_auth.manager)
    assert snapshot["primary"] == window(23, 300, 1764000000)
    assert snapshot["secondary"] == window(61, 10080, 1764080000)
    assert snapshot["planType"] == "pro"
    [request] = fake.requests
    assert request.method == "GET" and request.path == "/backend-api/wham/usage"
    assert request.bearer == editor_auth.initial_token
    assert request.headers["chatgpt-account-id"] == "acct-1"


async def test_fetch_usage_without_backend_api_uses_codex_usage_path(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    editor_auth: EditorAuth,
) -> None:
    provider = resolve_provider(chatgpt_base_url=fake.base_url)
    await fetch_usage(http_client, provider, editor_auth.manager)
    assert fake.requests[0].path == "/api/codex/usage"


async def test_fetch_usage_recovers_from_401(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    fake.accepted_tokens = {editor_auth.refreshed_token}
    snapshot = await fetch_usage(http_client, usage_provider, editor_auth.manager)
    assert snapshot["primary"] is not None
    assert editor_auth.editor.calls == ["acct-1"]
    assert [r.bearer for r in fake.requests] == [
        editor_auth.initial_token,
        editor_auth.refreshed_token,
    ]


async def test_fetch_usage_needs_chatgpt_auth(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    api_key_auth: AuthManager,
    no_auth: AuthManager,
) -> None:
    with pytest.raises(CodexError) as info:
        await fetch_usage(http_client, usage_provider, no_auth)
    assert info.value.code == INVALID_REQUEST
    assert info.value.message == "codex account authentication required to read rate limits"
    with pytest.raises(CodexError) as info:
        await fetch_usage(http_client, usage_provider, api_key_auth)
    assert info.value.code == INVALID_REQUEST
    assert info.value.message == "chatgpt authentication required to read rate limits"
    assert fake.requests == []


async def test_fetch_usage_backend_failure_is_internal_error(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    fake.faults.server_errors = 1
    with pytest.raises(CodexError) as info:
        await fetch_usage(http_client, usage_provider, editor_auth.manager)
    assert info.value.code == INTERNAL_ERROR
    assert info.value.message.startswith("failed to fetch codex rate limits: HTTP 500")


async def test_fetch_usage_times_out(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    fake.faults.slow_responses = 1
    fake.faults.slow_response_s = 5
    with pytest.raises(CodexError) as info:
        await fetch_usage(http_client, usage_provider, editor_auth.manager, timeout_s=0.3)
    assert info.value.code == INTERNAL_ERROR
    assert "no answer within 0.3s" in info.value.message


def test_every_limit_of_the_usage_endpoint_is_kept_by_limit_id() -> None:
    payload = {
        "plan_type": "pro",
        "rate_limit": {"primary_window": {"used_percent": 23, "limit_window_seconds": 18000}},
        "additional_rate_limits": [
            {
                "limit_name": "GPT-5 Codex Spark",
                "metered_feature": "codex_spark",
                "rate_limit": {
                    "primary_window": {
                        "used_percent": 7.4,
                        "limit_window_seconds": 18000,
                        "reset_at": 1764000100,
                    },
                    "secondary_window": None,
                },
            },
            {"limit_name": "broken", "metered_feature": None},  # no id: ignored
            "junk",
        ],
    }
    snapshots = parse_usage_snapshots(payload)
    assert list(snapshots) == ["codex", "codex_spark"]
    spark = snapshots["codex_spark"]
    assert spark["limitId"] == "codex_spark" and spark["limitName"] == "GPT-5 Codex Spark"
    assert spark["primary"] == window(7, 300, 1764000100) and spark["secondary"] is None
    assert spark["planType"] == "pro"
    result = rate_limits_read_result(snapshots["codex"], snapshots)
    assert result["rateLimits"] == snapshots["codex"]
    assert result["rateLimitsByLimitId"] == snapshots


def test_header_families_give_one_snapshot_per_limit_id() -> None:
    headers = httpx.Headers(
        {
            "x-codex-primary-used-percent": "23.0",
            "x-codex-primary-window-minutes": "300",
            "x-codex-codex_spark-primary-used-percent": "40",
            "x-codex-codex_spark-primary-window-minutes": "300",
            "x-codex-codex_spark-secondary-used-percent": "5",
            "x-codex-codex_spark-secondary-reset-at": "1764080000",
            "x-codex-codex_spark-limit-name": "Spark",
            "x-codex-gpt-5-mini-primary-used-percent": "1",
            "x-codex-credits-has-credits": "true",
            "x-codex-credits-unlimited": "false",
            "x-codex-promo-message": "hello",
        }
    )
    families = parse_rate_limit_header_families(headers)
    assert list(families) == ["codex", "codex_spark", "gpt-5-mini"]
    assert families["codex"] == parse_rate_limit_headers(headers)
    spark = families["codex_spark"]
    assert spark["limitId"] == "codex_spark" and spark["limitName"] == "Spark"
    assert spark["primary"] == window(40, 300, None) and spark["secondary"] == window(
        5, None, 1764080000
    )
    assert families["gpt-5-mini"]["primary"] == window(1, None, None)
    assert parse_rate_limit_header_families(httpx.Headers({"content-type": "text/plain"})) == {}
