"""401 recovery during turns with editor-owned ChatGPT tokens: one refresh per 401 burst,
retry with the new token, refresh failure → `unauthorized` (still signed in)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcException
from turns_support import (
    REFRESH,
    login_editor_tokens,
    methods,
    of,
    run_turn,
    start_thread,
    turn_session,
)

from codex_lsp.fakes.backend import FakeBackend, text
from codex_lsp.fakes.issuer import FakeIssuer
from harness import Session


class Refresher:
    def __init__(self, session: Session, issuer: FakeIssuer) -> None:
        self.issuer = issuer
        self.calls: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.fail = False
        self.delay = 0.0
        self.backend: FakeBackend | None = None

        async def answer(params: Any) -> Any:
            self.calls.append(params)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail:
                raise JsonRpcException("user is signed out in the editor", code=-32001)
            token = issuer.make_jwt(account_id="acct-1")
            self.tokens.append(token)
            if self.backend is not None:
                self.backend.accepted_tokens = {token}
            return {"accessToken": token, "chatgptAccountId": "acct-1", "chatgptPlanType": "pro"}

        session.on_request(REFRESH, answer)


async def test_401_asks_the_editor_for_tokens_and_retries(
    codex_home: Path, backend: FakeBackend, issuer: FakeIssuer, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace, chatgpt=True) as s:
        refresher = Refresher(s, issuer)
        old = await login_editor_tokens(s, issuer)
        thread = (await start_thread(s, model="gpt-test"))["thread"]
        backend.faults.unauthorized_once = True
        backend.faults.path_suffix = "/responses"
        backend.script_next([text("after refresh")])
        completed, _ = await run_turn(s, thread["id"], "x")
        assert completed["turn"]["status"] == "completed"
        assert len(refresher.calls) == 1 and refresher.calls[0]["reason"] == "unauthorized"
        assert refresher.calls[0]["previousAccountId"] == "acct-1"
        bearers = [r.bearer for r in backend.requests_to("/responses")]
        assert bearers == [old, refresher.tokens[0]]
        request = backend.requests_to("/responses")[-1]
        assert request.path == "/backend-api/codex/responses"
        assert request.headers.get("chatgpt-account-id") == "acct-1"


async def test_refresh_failure_fails_the_turn_unauthorized_and_stays_signed_in(
    codex_home: Path, backend: FakeBackend, issuer: FakeIssuer, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace, chatgpt=True) as s:
        refresher = Refresher(s, issuer)
        refresher.fail = True
        await login_editor_tokens(s, issuer)
        thread = (await start_thread(s, model="gpt-test"))["thread"]
        backend.faults.unauthorized_once = True
        backend.faults.path_suffix = "/responses"
        completed, received = await run_turn(s, thread["id"], "x")
        turn = completed["turn"]
        assert turn["status"] == "failed" and turn["error"]["codexErrorInfo"] == "unauthorized"
        assert "refresh" in turn["error"]["message"]
        # As upstream: an `error` notification (willRetry false) right before the failed turn.
        assert of(received, "error") == [
            {
                "error": turn["error"],
                "willRetry": False,
                "threadId": thread["id"],
                "turnId": turn["id"],
            }
        ]
        assert methods(received)[-2:] == ["error", "turn/completed"]
        account = await s.call("account/read", {})
        assert account["account"] is not None and account["account"]["type"] == "chatgpt"
        # Later turns still work with the current tokens.
        completed, _ = await run_turn(s, thread["id"], "again")
        assert completed["turn"]["status"] == "completed"


async def test_twenty_concurrent_turns_hit_by_401_share_one_refresh(
    codex_home: Path, backend: FakeBackend, issuer: FakeIssuer, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace, chatgpt=True) as s:
        refresher = Refresher(s, issuer)
        refresher.delay = 0.3  # every turn gets its 401 while the refresh is in flight
        old = await login_editor_tokens(s, issuer)
        threads = [(await start_thread(s, model="gpt-test"))["thread"]["id"] for _ in range(20)]
        backend.accepted_tokens = {"not-the-old-token"}  # every request with the old token: 401

        refresher.backend = (
            backend  # the backend accepts the refreshed token before the editor answers
        )
        results = await asyncio.gather(
            *(run_turn(s, t, f"turn {i}", timeout=60) for i, t in enumerate(threads))
        )
        assert len(refresher.calls) == 1
        assert all(completed["turn"]["status"] == "completed" for completed, _ in results)
        bearers = [r.bearer for r in backend.requests_to("/responses")]
        assert bearers.count(old) == 20 and bearers.count(refresher.tokens[0]) == 20


async def test_api_key_401_fails_unauthorized(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.faults.unauthorized_always = True
        backend.faults.path_suffix = "/responses"
        completed, _ = await run_turn(s, thread["id"], "x")
        assert completed["turn"]["error"]["codexErrorInfo"] == "unauthorized"


async def test_not_signed_in_fails_unauthorized(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace, chatgpt=True) as s:
        thread = (await start_thread(s, model="gpt-test"))["thread"]
        completed, _ = await run_turn(s, thread["id"], "x")
        turn = completed["turn"]
        assert turn["status"] == "failed" and turn["error"]["codexErrorInfo"] == "unauthorized"
        assert "sign in" in turn["error"]["message"]
