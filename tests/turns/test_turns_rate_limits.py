"""Rate limits seen during turns: header snapshots and codex.rate_limits events become
account/rateLimits/updated (merged), and status/read reflect them."""

from __future__ import annotations

from pathlib import Path

from turns_support import login_editor_tokens, methods, of, run_turn, start_thread, turn_session

from codex_lsp.fakes.backend import FakeBackend, text
from codex_lsp.fakes.issuer import FakeIssuer


async def test_headers_and_stream_events_send_merged_rate_limit_updates(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.rate_limit_event = {
            "plan_type": "plus",
            "rate_limits": {
                "primary": {"used_percent": 40.0, "window_minutes": 300, "reset_at": 1764000500}
            },
        }
        backend.script_next([text("hi")])
        _, received = await run_turn(s, thread["id"], "x")
        updates = of(received, "account/rateLimits/updated")
        assert len(updates) == 2
        first, second = (u["rateLimits"] for u in updates)
        assert first["primary"] == {
            "usedPercent": 23,
            "windowDurationMins": 300,
            "resetsAt": 1764000000,
        }
        assert first["secondary"]["usedPercent"] == 61
        assert first["credits"] == {"hasCredits": True, "unlimited": False, "balance": "12.50"}
        # The stream event updates primary and plan; the header's secondary and credits stay.
        assert second["primary"]["usedPercent"] == 40 and second["planType"] == "plus"
        assert second["secondary"]["usedPercent"] == 61 and second["credits"]["balance"] == "12.50"
        order = methods(received)
        assert order.index("account/rateLimits/updated") < order.index("turn/completed")
        status = await s.call("codex/status", {})
        assert status["rateLimits"]["primary"]["usedPercent"] == 40


async def test_no_headers_no_update(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.rate_limit_headers = {}
        _, received = await run_turn(s, thread["id"], "x")
        assert of(received, "account/rateLimits/updated") == []


async def test_rate_limits_read_after_a_chatgpt_turn(
    codex_home: Path, backend: FakeBackend, issuer: FakeIssuer, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace, chatgpt=True) as s:
        await login_editor_tokens(s, issuer)
        thread = (await start_thread(s, model="gpt-test"))["thread"]
        _, received = await run_turn(s, thread["id"], "x")
        assert (
            of(received, "account/rateLimits/updated")[0]["rateLimits"]["primary"]["usedPercent"]
            == 23
        )
        read = await s.call("account/rateLimits/read", {})
        assert read["rateLimits"]["primary"]["usedPercent"] == 23
        assert read["rateLimits"]["secondary"]["windowDurationMins"] == 10080


async def test_limit_id_header_families_update_their_own_limit(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.rate_limit_headers = {
            **backend.rate_limit_headers,
            "x-codex-codex_spark-primary-used-percent": "80",
            "x-codex-codex_spark-primary-window-minutes": "300",
            "x-codex-codex_spark-limit-name": "Spark",
        }
        _, received = await run_turn(s, thread["id"], "x")
        updates = [u["rateLimits"] for u in of(received, "account/rateLimits/updated")]
        assert [u["limitId"] for u in updates] == ["codex", "codex_spark"]
        assert updates[1]["primary"]["usedPercent"] == 80 and updates[1]["limitName"] == "Spark"
        status = await s.call("codex/status", {})
        assert status["rateLimits"]["limitId"] == "codex"
        assert status["rateLimits"]["primary"]["usedPercent"] == 23  # not overwritten by spark
