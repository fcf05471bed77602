"""Helpers for the turn e2e tests: sessions wired to the FakeBackend (API key through a custom
provider, or editor-owned ChatGPT tokens), running a turn to its end, reading what was sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer
from harness import Session, start_session

API_KEY = "sk-test-turns"
REFRESH = "account/chatgptAuthTokens/refresh"
APPROVAL = "item/commandExecution/requestApproval"
RESPONSE_MARK = "$/response"  # our marker for "a response arrived here" in the notification log


def api_key_args(backend: FakeBackend) -> list[str]:
    return [
        "-c",
        'model_provider="fake"',
        "-c",
        f'model_providers.fake.base_url="{backend.base_url}/v1"',
        "-c",
        "model_providers.fake.requires_openai_auth=true",
    ]


def chatgpt_args(backend: FakeBackend) -> list[str]:
    return [
        "-c",
        f'chatgpt_base_url="{backend.base_url}/backend-api"',
        "-c",
        "lsp.editor_refresh_timeout_s=3",
    ]


@asynccontextmanager
async def turn_session(
    codex_home: Path,
    backend: FakeBackend,
    workspace: Path,
    *,
    chatgpt: bool = False,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    idle_timeout_s: float = 5.0,
    stderr_file: Path | None = None,
) -> AsyncIterator[Session]:
    base_env = {"CODEX_LSP_STREAM_IDLE_TIMEOUT_S": str(idle_timeout_s)}
    if not chatgpt:
        base_env["CODEX_API_KEY"] = API_KEY
    base_env.update(env or {})
    all_args = (chatgpt_args(backend) if chatgpt else api_key_args(backend)) + list(args)
    async with start_session(
        codex_home, args=all_args, env=base_env, workspace=workspace, stderr_file=stderr_file
    ) as session:
        record_responses(session)
        yield session


def record_responses(session: Session) -> None:
    """Log each response's arrival among the notifications, to check answer-before-notification order."""
    protocol = session.protocol
    original = protocol._handle_response

    def handle_response(msg_id: Any, result: Any = None, error: Any = None) -> None:
        protocol.received.append((RESPONSE_MARK, msg_id))
        original(msg_id, result, error)

    protocol._handle_response = handle_response  # type: ignore[method-assign]


async def login_editor_tokens(
    session: Session, issuer: FakeIssuer, account_id: str = "acct-1"
) -> str:
    token = issuer.make_jwt(account_id=account_id)
    await session.call(
        "account/login/start",
        {"type": "chatgptAuthTokens", "accessToken": token, "chatgptAccountId": account_id},
    )
    return token


async def start_thread(session: Session, **params: Any) -> dict[str, Any]:
    since = session.mark()
    result = await session.call("thread/start", params, timeout=30)
    thread_id = result["thread"]["id"]
    await session.wait_for(
        "thread/started", since=since, where=lambda p: p["thread"]["id"] == thread_id
    )
    return result


async def run_turn(
    session: Session, thread_id: str, text: str, *, timeout: float = 30.0, **overrides: Any
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Start a turn and wait for its `turn/completed`; return (completed params, everything
    received for this turn in order, response marker included)."""
    since = session.mark()
    result = await session.call(
        "turn/start",
        {"threadId": thread_id, "input": [{"type": "text", "text": text}], **overrides},
    )
    turn_id = result["turn"]["id"]
    completed = await session.wait_for(
        "turn/completed", since=since, timeout=timeout, where=lambda p: p["turn"]["id"] == turn_id
    )
    return completed, session.notifications[since:]


def methods(received: list[tuple[str, Any]], *, include_marks: bool = False) -> list[str]:
    return [
        m
        for m, _ in received
        if not m.startswith(("window/", "$/")) or (include_marks and m == RESPONSE_MARK)
    ]


def of(received: list[tuple[str, Any]], method: str) -> list[Any]:
    return [p for m, p in received if m == method]


def last_responses_body(backend: FakeBackend) -> dict[str, Any]:
    requests = backend.requests_to("/responses")
    assert requests, "the backend got no /responses request"
    body = requests[-1].body
    assert isinstance(body, dict)
    return body


async def wait_until(predicate: Any, *, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
