"""Approval → sandbox → attempt → retry/escalate, the same for every tool (upstream's
`ToolOrchestrator`), over the pure rules of :mod:`codex_lsp.turns.approvals`.

A tool describes one sandboxed action as a :class:`SandboxedAction` (why to ask first, what to
remember on `acceptForSession`, how to attempt it under a sandbox policy, how to ask the editor)
and calls :meth:`Orchestrator.run`. Declines and sandbox failures come back as
:class:`~codex_lsp.turns.tools.base.RespondToModel` errors; `cancel` ends the turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import attrs

from codex_lsp.sandbox.detect import SandboxUnavailable
from codex_lsp.sandbox.policy import DangerFullAccess, SandboxPolicy
from codex_lsp.turns.approvals import (
    Decision,
    ask_after_failure,
    ask_when_sandbox_unavailable,
)
from codex_lsp.turns.errors import TurnCancelled
from codex_lsp.turns.store import ThreadState
from codex_lsp.turns.tools.base import RespondToModel, ToolDeclined


class AttemptResult(Protocol):
    """What the orchestrator reads from an attempt to decide on a retry."""

    @property
    def exit_code(self) -> int: ...

    @property
    def timed_out(self) -> bool: ...


R = TypeVar("R", bound=AttemptResult)


@attrs.frozen
class SandboxedAction(Generic[R]):
    """One action of a tool, as the orchestrator runs it."""

    ask_first: str | None  # the reason to ask before the first attempt, or None
    escalate: bool  # the model asked to run it without the sandbox
    session_key: tuple[str, ...]  # remembered for the thread on `acceptForSession`
    attempt: Callable[[SandboxPolicy], Awaitable[R]]
    ask: Callable[[str], Awaitable[Decision]]  # ask the editor, with this reason


@attrs.frozen
class Attempted(Generic[R]):
    result: R
    note: str = ""  # for the model, e.g. that the user declined an unsandboxed re-run


class Orchestrator:
    """Runs the sandboxed actions of one thread's tools under its approval and sandbox policy."""

    def __init__(self, thread: ThreadState) -> None:
        self.thread = thread

    async def run(self, action: SandboxedAction[R]) -> Attempted[R]:
        policy, sandbox = self.thread.approval_policy, self.thread.sandbox_policy
        if action.ask_first is not None:
            if not await self.approve(action, action.ask_first):
                raise ToolDeclined()
            if action.escalate:
                sandbox = DangerFullAccess()
        try:
            result = await action.attempt(sandbox)
        except SandboxUnavailable as exc:
            if not ask_when_sandbox_unavailable(policy):
                raise RespondToModel(exc.message) from None
            if not await self.approve(action, f"{exc.message} Run it without the sandbox?"):
                raise RespondToModel(
                    exc.message + " The user declined to run it unsandboxed."
                ) from None
            sandbox = DangerFullAccess()
            result = await action.attempt(sandbox)
        note = ""
        retry = ask_after_failure(policy, sandbox, result.exit_code, timed_out=result.timed_out)
        if retry is not None:
            if await self.approve(action, retry):
                result = await action.attempt(DangerFullAccess())
            else:
                note = "the user declined to run the command again without the sandbox"
        return Attempted(result, note)

    async def approve(self, action: SandboxedAction[R], reason: str) -> bool:
        """Ask the editor; True to go on. `cancel` ends the turn; acceptForSession is remembered."""
        decision = await action.ask(reason)
        if decision == "cancel":
            raise TurnCancelled()
        if decision == "acceptForSession":
            self.thread.approved_commands.add(action.session_key)
        return decision in ("accept", "acceptForSession")
