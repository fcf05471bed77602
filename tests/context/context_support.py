"""Helpers for the agent-context end-to-end tests: sessions against the FakeBackend with an API
key through a custom provider, turns run to their end, the request bodies the backend received."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from codex_lsp.fakes.backend import FakeBackend
from harness import Session, start_session

API_KEY = "sk-test-context"


@asynccontextmanager
async def context_session(
    codex_home: Path,
    backend: FakeBackend,
    workspace: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Session]:
    all_args = [
        "-c",
        'model_provider="fake"',
        "-c",
        f'model_providers.fake.base_url="{backend.base_url}/v1"',
        "-c",
        "model_providers.fake.requires_openai_auth=true",
        *args,
    ]
    environ = {"CODEX_API_KEY": API_KEY, "CODEX_LSP_STREAM_IDLE_TIMEOUT_S": "10", **(env or {})}
    async with start_session(
        codex_home, args=all_args, env=environ, workspace=workspace
    ) as session:
        yield session


async def start_thread(session: Session, **params: Any) -> str:
    result = await session.call("thread/start", {"approvalPolicy": "never", **params}, timeout=30)
    return str(result["thread"]["id"])


async def run_turn(
    session: Session,
    thread_id: str,
    inputs: str | list[dict[str, Any]],
    *,
    timeout: float = 30.0,
    **overrides: Any,
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Start a turn, wait for its `turn/completed`; (completed params, everything received for it)."""
    since = session.mark()
    items = [{"type": "text", "text": inputs}] if isinstance(inputs, str) else inputs
    result = await session.call("turn/start", {"threadId": thread_id, "input": items, **overrides})
    turn_id = result["turn"]["id"]
    completed = await session.wait_for(
        "turn/completed", since=since, timeout=timeout, where=lambda p: p["turn"]["id"] == turn_id
    )
    return completed, session.notifications[since:]


def bodies(backend: FakeBackend) -> list[dict[str, Any]]:
    return [r.body for r in backend.requests_to("/responses")]


def texts(items: list[dict[str, Any]]) -> list[str]:
    """The first text of every message item (other items give their type)."""
    out = []
    for item in items:
        content = item.get("content")
        if item.get("type") == "message" and isinstance(content, list) and content:
            out.append(str(content[0].get("text", content[0].get("type"))))
        else:
            out.append(str(item.get("type")))
    return out


def of(received: list[tuple[str, Any]], method: str) -> list[Any]:
    return [p for m, p in received if m == method]
