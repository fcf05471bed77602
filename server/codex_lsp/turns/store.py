"""Threads held in memory: settings resolved once at `thread/start`, the conversation so far
(:class:`~codex_lsp.context.history.ConversationHistory`, with the token totals), the commands
approved for the session and the active turn."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, Protocol

import attrs

from codex_lsp.backend.responses import ResponseEvent, ResponsesRequest
from codex_lsp.context.history import ConversationHistory
from codex_lsp.context.turn_context import ContextSettings
from codex_lsp.errors import InvalidRequest
from codex_lsp.models.catalog import ModelInfo
from codex_lsp.protocol.inputs import UserInput
from codex_lsp.sandbox.policy import SandboxPolicy


class ModelClient(Protocol):
    """Streams one model response (the real one is :class:`~codex_lsp.backend.responses.ResponsesClient`)."""

    def stream(self, request: ResponsesRequest) -> AsyncGenerator[ResponseEvent, None]: ...


@attrs.define
class ActiveTurn:
    """The one running turn of a thread."""

    turn_id: str
    task: asyncio.Task[Any] = attrs.field(repr=False)
    kind: str = "regular"  # "compact" for `thread/compact/start` (not steerable)


@attrs.frozen
class SteeredInput:
    """Input from `turn/steer` waiting for the turn's next model request."""

    input: list[UserInput]
    message: dict[str, Any]  # the Responses-API user message built from it


@attrs.define
class ThreadState:
    """A conversation. Settings may be overridden by later `turn/start` calls."""

    id: str
    cwd: Path
    model: str
    model_provider: str
    approval_policy: str
    sandbox_policy: SandboxPolicy
    client: ModelClient = attrs.field(repr=False)
    base_instructions: str | None = None
    developer_instructions: str | None = None
    effort: str | None = None
    summary: str | None = "auto"
    context_window: int | None = None
    model_info: ModelInfo | None = (
        None  # the catalog entry of `model` (tool specs may depend on it)
    )
    created_at: int = attrs.Factory(lambda: int(time.time()))
    updated_at: int = attrs.Factory(lambda: int(time.time()))
    preview: str = ""
    history: ConversationHistory = attrs.Factory(ConversationHistory)
    approved_commands: set[tuple[str, ...]] = attrs.Factory(set)
    # Agent context: where AGENTS.md comes from (None: no AGENTS.md/environment messages), when
    # to compact, the context size the backend last reported (tokens) and the history length then.
    context_settings: ContextSettings | None = None
    agents_md_checked: str | None = None  # the cwd AGENTS.md was last looked up for
    auto_compact_limit: int | None = None
    context_tokens: int | None = None
    context_mark: int = 0
    steered: list[SteeredInput] = attrs.Factory(list)
    # Real paths a patch may write without asking again (`acceptForSession` on a file change).
    approved_patch_paths: set[Path] = attrs.Factory(set)
    active: ActiveTurn | None = None
    # history (issue 13): how the thread is stored and where it came from
    ephemeral: bool = False  # no rollout is written
    session_id: str | None = None
    forked_from_id: str | None = None
    name: str | None = None
    git: dict[str, Any] | None = None
    stored_cli_version: str | None = None  # of a resumed thread: the program that created it
    stored_source: Any = None  # of a resumed thread: its recorded source

    def touch(self) -> None:
        self.updated_at = int(time.time())


class ThreadStore:
    """All threads of this server process, by id."""

    def __init__(self) -> None:
        self._threads: dict[str, ThreadState] = {}

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def add(self, thread: ThreadState) -> ThreadState:
        self._threads[thread.id] = thread
        return thread

    def get(self, thread_id: str) -> ThreadState:
        thread = self._threads.get(thread_id)
        if thread is None:
            raise InvalidRequest(
                f"thread not found: {thread_id}; it is not loaded: continue a stored thread with "
                "thread/resume, or start one with thread/start"
            )
        return thread

    def find(self, thread_id: str) -> ThreadState | None:
        return self._threads.get(thread_id)

    def remove(self, thread_id: str) -> None:
        self._threads.pop(thread_id, None)

    def active_tasks(self) -> list[asyncio.Task[Any]]:
        return [t.active.task for t in self._threads.values() if t.active is not None]
