"""Backend failures during a turn: 429/500 retries, exhausted retries, usage limits, stalls,
disconnects and response.failed, each ending with the matching codexErrorInfo."""

from __future__ import annotations

from pathlib import Path

import pytest
from turns_support import run_turn, start_thread, turn_session

from codex_lsp.fakes.backend import FakeBackend, failure, text


@pytest.mark.parametrize("fault", ["rate_limited", "server_errors"])
async def test_transient_429_and_500_are_retried(
    codex_home: Path, backend: FakeBackend, workspace: Path, fault: str
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        setattr(backend.faults, fault, 2)
        backend.faults.retry_after_s = 0
        backend.script_next([text("made it")])
        completed, received = await run_turn(s, thread["id"], "x")
        assert completed["turn"]["status"] == "completed"
        assert completed["turn"]["items"][-1]["text"] == "made it"
        assert len(backend.requests_to("/responses")) == 3


async def test_exhausted_retries_fail_the_turn(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.faults.server_errors = 10
        completed, _ = await run_turn(s, thread["id"], "x")
        turn = completed["turn"]
        assert turn["status"] == "failed"
        assert turn["error"]["codexErrorInfo"] == {
            "responseTooManyFailedAttempts": {"httpStatusCode": 500}
        }
        assert "try again" in turn["error"]["message"]
        assert len(backend.requests_to("/responses")) == 4


async def test_usage_limit_is_not_retried(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.faults.rate_limited = 1
        backend.faults.usage_limit = True
        completed, _ = await run_turn(s, thread["id"], "x")
        assert completed["turn"]["error"]["codexErrorInfo"] == "usageLimitExceeded"
        assert len(backend.requests_to("/responses")) == 1


async def test_stall_fails_the_turn_after_the_idle_timeout(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace, idle_timeout_s=1.0) as s:
        thread = (await start_thread(s))["thread"]
        backend.faults.stall_after_events = 3
        backend.script_next([text("this never finishes streaming because the backend stalls")])
        completed, received = await run_turn(s, thread["id"], "x", timeout=20)
        turn = completed["turn"]
        assert turn["status"] == "failed"
        assert turn["error"]["codexErrorInfo"] == {
            "responseStreamDisconnected": {"httpStatusCode": 200}
        }
        # The half-streamed message is still completed for the editor.
        started = [
            p["item"]["id"]
            for m, p in received
            if m == "item/started" and p["item"]["type"] == "agentMessage"
        ]
        finished = [
            p["item"]["id"]
            for m, p in received
            if m == "item/completed" and p["item"]["type"] == "agentMessage"
        ]
        assert started == finished and started


async def test_disconnect_fails_the_turn(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.faults.disconnect_after_events = 4
        backend.script_next([text("one two three four five six")])
        completed, _ = await run_turn(s, thread["id"], "x")
        assert completed["turn"]["status"] == "failed"
        assert "responseStreamDisconnected" in completed["turn"]["error"]["codexErrorInfo"]
        # The next turn works.
        completed, _ = await run_turn(s, thread["id"], "again")
        assert completed["turn"]["status"] == "completed"


@pytest.mark.parametrize(
    ("code", "info"),
    [
        ("context_length_exceeded", "contextWindowExceeded"),
        ("server_error", "internalServerError"),
        ("weird", "other"),
    ],
)
async def test_response_failed_maps_to_codex_error_info(
    codex_home: Path, backend: FakeBackend, workspace: Path, code: str, info: str
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.script_next([failure(code, "it broke")])
        completed, _ = await run_turn(s, thread["id"], "x")
        error = completed["turn"]["error"]
        assert error["codexErrorInfo"] == info and "it broke" in error["message"]


async def test_unreachable_backend_fails_with_http_connection_failed(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, model="m"))["thread"]
        backend.stop()
        completed, _ = await run_turn(s, thread["id"], "x", timeout=60)
        assert completed["turn"]["error"]["codexErrorInfo"] == {
            "httpConnectionFailed": {"httpStatusCode": None}
        }
