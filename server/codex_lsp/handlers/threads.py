"""`thread/start`, `turn/start`, `turn/steer`, `turn/interrupt`, `thread/compact/start` (onto :class:`~codex_lsp.turns.threads.ThreadService`),
and the LSP side of a running turn (notifications, approval requests, rate-limit updates)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any, cast

from lsprotocol import types as lsp

from codex_lsp import open_documents
from codex_lsp.edits.session import EditorAnswer, EditorConnection
from codex_lsp.handlers import history as history_handlers
from codex_lsp.protocol.account import ACCOUNT_RATE_LIMITS_UPDATED
from codex_lsp.protocol.context import (
    THREAD_COMPACT_START,
    TURN_STEER,
    ThreadCompactStartParams,
    TurnSteerParams,
    TurnSteerResult,
)
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.threads import (
    ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL,
    SERVER_REQUEST_RESOLVED,
    THREAD_START,
    THREAD_STARTED,
    TURN_COMPLETED,
    TURN_INTERRUPT,
    TURN_START,
    CommandExecutionRequestApprovalParams,
    EmptyResult,
    SandboxPolicyWire,
    ServerRequestResolved,
    ThreadStarted,
    ThreadStartParams,
    ThreadStartResult,
    Turn,
    TurnInterruptParams,
    TurnNotification,
    TurnStartParams,
    TurnStartResult,
)
from codex_lsp.protocol.wire import from_wire
from codex_lsp.sandbox.policy import (
    SandboxPolicy,
    policy_to_wire,
)
from codex_lsp.server import ClientRequestFailed
from codex_lsp.turns.approvals import Decision, parse_decision
from codex_lsp.turns.threads import ThreadService

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services

log = logging.getLogger(__name__)


class LspTurnSink:
    """Sends a turn's notifications and approval requests to the editor."""

    def __init__(self, server: CodexLanguageServer, services: Services) -> None:
        self._server = server
        self._services = services

    def notify(self, method: Method, payload: Any) -> None:
        self._server.send_notification(method, payload)

    def rate_limits_updated(self, snapshot: dict[str, Any]) -> None:
        merged = self._services.rate_limits.merge(snapshot)
        self._server.send_notification(ACCOUNT_RATE_LIMITS_UPDATED, {"rateLimits": merged})

    async def request_approval(self, params: CommandExecutionRequestApprovalParams) -> Decision:
        return await self.ask_editor(
            ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL, params, params.thread_id
        )

    async def ask_editor(self, method: Method, params: Any, thread_id: str) -> Decision:
        """Ask, wait for the answer (or the turn's end), then send `serverRequest/resolved`."""
        request_id = f"approval-{uuid.uuid4()}"
        request = asyncio.ensure_future(
            self._server.request_client(
                method, params, self._services.config.lsp.approval_timeout_s, msg_id=request_id
            )
        )
        try:
            answer = await request
        except ClientRequestFailed as exc:
            log.warning("approval request failed; treating it as declined: %s", exc.message)
            return "decline"
        finally:
            if not request.done():
                request.cancel()  # cancelled turn: request_client withdraws the request
            self._server.send_notification(
                SERVER_REQUEST_RESOLVED, ServerRequestResolved(thread_id, request_id)
            )
        return parse_decision(answer)

    async def apply_workspace_edit(self, label: str, edit: lsp.WorkspaceEdit) -> EditorAnswer:
        """`workspace/applyEdit`; an error answer or a timeout is `applied: false`."""
        params = lsp.ApplyWorkspaceEditParams(edit=edit, label=label)
        try:
            answer = await self._server.request_client(
                open_documents.WORKSPACE_APPLY_EDIT, params, open_documents.APPLY_EDIT_TIMEOUT_S
            )
        except ClientRequestFailed as exc:
            log.warning("workspace/applyEdit failed: %s", exc.message)
            return EditorAnswer(False, exc.message)
        applied = getattr(answer, "applied", None)
        reason = getattr(answer, "failure_reason", None)
        if isinstance(answer, dict):
            applied, reason = answer.get("applied"), answer.get("failureReason")
        if applied is True:
            return EditorAnswer(True)
        return EditorAnswer(False, reason if isinstance(reason, str) and reason else None)

    def file_edits(self) -> EditorConnection:
        return open_documents.connection(self._server)

    async def complete_turn(self, payload: TurnNotification) -> None:
        self.notify(TURN_COMPLETED, payload)  # nothing to write first (RecordingSink does that)


def _sandbox_wire(policy: SandboxPolicy) -> SandboxPolicyWire:
    return cast(SandboxPolicyWire, from_wire(cast(Any, SandboxPolicyWire), policy_to_wire(policy)))


def register(server: CodexLanguageServer, services: Services) -> None:
    threads = ThreadService(services, LspTurnSink(server, services), server.workspace_root)
    services.on_close.append(threads.close)  # turns stopped, then every rollout flushed
    history_handlers.register(server, threads)

    @server.request_handler(THREAD_START)
    async def thread_start(params: ThreadStartParams) -> ThreadStartResult:
        thread = await threads.start_thread(params)
        result = threads.start_result(thread)
        server.after_response(
            lambda: server.send_notification(THREAD_STARTED, ThreadStarted(result.thread))
        )
        return result

    @server.request_handler(TURN_START)
    async def turn_start(params: TurnStartParams) -> TurnStartResult:
        answered = asyncio.Event()
        server.after_response(answered.set)
        runner = await threads.start_turn(params, answered)
        return TurnStartResult(
            turn=Turn(id=runner.turn_id, status="inProgress", items=[], error=None)
        )

    @server.request_handler(TURN_STEER)
    async def turn_steer(params: TurnSteerParams) -> TurnSteerResult:
        return TurnSteerResult(turn_id=await threads.steer(params))

    @server.request_handler(THREAD_COMPACT_START)
    async def thread_compact_start(params: ThreadCompactStartParams) -> EmptyResult:
        answered = asyncio.Event()
        server.after_response(answered.set)
        threads.compact(params, answered)
        return EmptyResult()

    @server.request_handler(TURN_INTERRUPT)
    async def turn_interrupt(params: TurnInterruptParams) -> EmptyResult:
        await threads.interrupt(params)
        return EmptyResult()
