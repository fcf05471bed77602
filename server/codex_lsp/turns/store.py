"""Threads held in memory: settings resolved once at `thread/start`, the conversation so far,
the commands approved for the session, token totals and the active turn."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

from codex_lsp.backend.responses import ResponsesClient, TokenUsage
from codex_lsp.errors import InvalidRequest
from codex_lsp.sandbox.policy import SandboxPolicy

BASE_INSTRUCTIONS = """\
You are a coding agent running inside the user's editor. You help with the project in the \
working directory: read code, run commands, explain and change things.

- Use the `shell` tool to run commands (argv form, e.g. ["bash", "-lc", "ls"]). Commands run in \
a sandbox that may forbid writes outside the workspace and network access; if a command fails \
because of the sandbox, say so instead of retrying blindly.
- Prefer small, safe, read-only commands to learn about the project before changing it.
- When you are done, answer concisely: what you found or changed, and anything left to do.
"""


@attrs.define
class ActiveTurn:
    """The one running turn of a thread."""

    turn_id: str
    task: asyncio.Task[Any] = attrs.field(repr=False)


@attrs.define
class ThreadState:
    """A conversation. Settings may be overridden by later `turn/start` calls."""

    id: str
    cwd: Path
    model: str
    model_provider: str
    approval_policy: str
    sandbox_policy: SandboxPolicy
    client: ResponsesClient = attrs.field(repr=False)
    base_instructions: str | None = None
    developer_instructions: str | None = None
    effort: str | None = None
    summary: str | None = "auto"
    context_window: int | None = None
    created_at: int = attrs.Factory(lambda: int(time.time()))
    updated_at: int = attrs.Factory(lambda: int(time.time()))
    preview: str = ""
    history: list[dict[str, Any]] = attrs.Factory(list)  # Responses-API input items
    approved_commands: set[tuple[str, ...]] = attrs.Factory(set)
    usage_total: TokenUsage = attrs.Factory(TokenUsage)
    active: ActiveTurn | None = None

    @property
    def instructions(self) -> str:
        return self.base_instructions or BASE_INSTRUCTIONS

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
                f"thread not found: {thread_id}; start one with thread/start (threads live in "
                "memory and end with the server)"
            )
        return thread

    def active_tasks(self) -> list[asyncio.Task[Any]]:
        return [t.active.task for t in self._threads.values() if t.active is not None]
