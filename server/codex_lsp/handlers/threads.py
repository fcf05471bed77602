"""`thread/start`, `turn/start`, `turn/interrupt`, and the LSP side of a running turn
(notifications, approval requests, rate-limit updates)."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import __version__
from ..backend.provider import ModelProvider, provider_from_config
from ..backend.responses import DEFAULT_IDLE_TIMEOUT_S, ResponsesClient
from ..errors import InvalidParams, InvalidRequest
from ..protocol.account import ACCOUNT_RATE_LIMITS_UPDATED
from ..protocol.methods import Method
from ..protocol.threads import (
    ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL,
    SERVER_REQUEST_RESOLVED,
    THREAD_START,
    THREAD_STARTED,
    TURN_INTERRUPT,
    TURN_START,
    CommandExecutionRequestApprovalParams,
    EmptyResult,
    SandboxPolicyWire,
    ServerRequestResolved,
    Thread,
    ThreadStarted,
    ThreadStartParams,
    ThreadStartResult,
    ThreadStatus,
    Turn,
    TurnInterruptParams,
    TurnStartParams,
    TurnStartResult,
)
from ..protocol.wire import from_wire, to_wire
from ..sandbox.policy import SandboxPolicy, policy_from_config, policy_from_wire, policy_to_wire
from ..server import ClientRequestFailed
from ..turns.approvals import Decision, parse_decision
from ..turns.engine import TurnRunner, schedule_turn
from ..turns.store import ActiveTurn, ThreadState, ThreadStore

if TYPE_CHECKING:
    from ..server import CodexLanguageServer
    from ..services import Services

log = logging.getLogger(__name__)

# A stalled model stream fails the turn after this long; overridable for tests and slow links.
IDLE_TIMEOUT_ENV = "CODEX_LSP_STREAM_IDLE_TIMEOUT_S"
APPROVAL_TIMEOUT_S = 600.0  # an unanswered approval is a decline; the command never runs
INTERRUPT_WAIT_S = 10.0


def _idle_timeout_s() -> float:
    raw = os.environ.get(IDLE_TIMEOUT_ENV)
    try:
        value = float(raw) if raw else DEFAULT_IDLE_TIMEOUT_S
    except ValueError:
        log.warning(
            "%s=%r is not a number; using %gs", IDLE_TIMEOUT_ENV, raw, DEFAULT_IDLE_TIMEOUT_S
        )
        return DEFAULT_IDLE_TIMEOUT_S
    return value if value > 0 else DEFAULT_IDLE_TIMEOUT_S


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
        """Ask, wait for the answer (or the turn's end), then send `serverRequest/resolved`."""
        request_id = f"approval-{uuid.uuid4()}"
        request = asyncio.ensure_future(
            self._server.request_client(
                ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL,
                params,
                APPROVAL_TIMEOUT_S,
                msg_id=request_id,
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
                SERVER_REQUEST_RESOLVED, ServerRequestResolved(params.thread_id, request_id)
            )
        return parse_decision(answer)


class ThreadService:
    """Creates threads and starts/interrupts their turns."""

    def __init__(self, server: CodexLanguageServer, services: Services) -> None:
        self._server = server
        self._services = services
        self.store = ThreadStore()
        self.sink = LspTurnSink(server, services)

    async def start_thread(self, params: ThreadStartParams) -> ThreadState:
        services = self._services
        cwd = self._cwd(params.cwd, "params.cwd") if params.cwd else self._default_cwd()
        provider = self._provider(params.model_provider)
        model = await services.models.resolve_model(params.model)  # once per thread
        info = await services.models.model_info(model)
        sandbox = policy_from_config(services.config, params.sandbox)
        client = ResponsesClient(
            services.http, provider, services.auth, idle_timeout_s=_idle_timeout_s()
        )
        thread = ThreadState(
            id=self.store.new_id(),
            cwd=cwd,
            model=model,
            model_provider=provider.id,
            approval_policy=params.approval_policy or services.config.approval_policy,
            sandbox_policy=sandbox,
            client=client,
            base_instructions=params.base_instructions,
            developer_instructions=params.developer_instructions,
            effort=info.default_reasoning_level if info is not None else None,
            context_window=info.context_window if info is not None else None,
        )
        return self.store.add(thread)

    def start_turn(
        self, params: TurnStartParams, answered: asyncio.Future[Any] | None
    ) -> TurnRunner:
        thread = self.store.get(params.thread_id)
        if thread.active is not None:
            raise InvalidRequest(
                f"thread {thread.id} already has an active turn ({thread.active.turn_id}); wait for "
                "turn/completed or call turn/interrupt first"
            )
        if not params.input:
            raise InvalidParams("params.input: must contain at least one item")
        self._apply_overrides(thread, params)
        runner = TurnRunner(thread, self.store.new_id(), list(params.input), self.sink)
        thread.active = ActiveTurn(runner.turn_id, schedule_turn(runner, answered))
        return runner

    async def interrupt(self, params: TurnInterruptParams) -> None:
        thread = self.store.get(params.thread_id)
        active = thread.active
        if active is None or active.turn_id != params.turn_id:
            raise InvalidRequest(
                f"turn {params.turn_id} is not running on thread {thread.id}; nothing to interrupt"
            )
        active.task.cancel()
        # Answer once the turn has stopped: no command of it is running any more.
        await asyncio.wait({active.task}, timeout=INTERRUPT_WAIT_S)

    async def interrupt_all(self) -> None:
        """At shutdown: stop every running turn (and its commands) before the server exits."""
        tasks = self.store.active_tasks()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=INTERRUPT_WAIT_S)

    def _apply_overrides(self, thread: ThreadState, params: TurnStartParams) -> None:
        # Validate everything first so a bad override changes nothing.
        cwd = self._cwd(params.cwd, "params.cwd") if params.cwd else thread.cwd
        sandbox = (
            policy_from_wire(to_wire(params.sandbox_policy), field="params.sandboxPolicy")
            if params.sandbox_policy is not None
            else thread.sandbox_policy
        )
        thread.cwd = cwd
        thread.sandbox_policy = sandbox
        if params.model:
            thread.model = params.model
        if params.effort:
            thread.effort = params.effort
        if params.summary:
            thread.summary = params.summary
        if params.approval_policy:
            thread.approval_policy = params.approval_policy

    def _cwd(self, raw: str, field: str) -> Path:
        path = Path(raw)
        if not path.is_absolute():
            raise InvalidParams(f"{field}: must be an absolute path")
        try:
            is_dir = path.is_dir()
        except (OSError, ValueError):  # e.g. an embedded NUL byte
            is_dir = False
        if not is_dir:
            raise InvalidParams(f"{field}: {raw!r} is not an existing directory")
        return path

    def _default_cwd(self) -> Path:
        root = self._server.workspace_root()
        return root if root is not None and root.is_dir() else Path.cwd()

    def _provider(self, provider_id: str | None) -> ModelProvider:
        services = self._services
        if provider_id is None or provider_id == services.provider.id:
            return services.provider
        config = services.config
        if provider_id not in config.model_providers:
            known = ", ".join(sorted(config.model_providers))
            raise InvalidParams(
                f"params.modelProvider: unknown provider {provider_id!r}; use one of {known}"
            )
        return provider_from_config(config, provider_id)


def thread_payload(thread: ThreadState) -> Thread:
    return Thread(
        id=thread.id,
        session_id=thread.id,
        project_id=None,
        preview=thread.preview,
        ephemeral=True,
        model=thread.model,
        model_provider=thread.model_provider,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
        status=ThreadStatus(type="active" if thread.active else "idle"),
        cwd=str(thread.cwd),
        cli_version=__version__,
        source="appServer",
        turns=[],
    )


def _sandbox_wire(policy: SandboxPolicy) -> SandboxPolicyWire:
    return cast(SandboxPolicyWire, from_wire(cast(Any, SandboxPolicyWire), policy_to_wire(policy)))


def register(server: CodexLanguageServer, services: Services) -> None:
    threads = ThreadService(server, services)
    services.on_close.append(threads.interrupt_all)

    @server.request_handler(THREAD_START)
    async def thread_start(params: ThreadStartParams) -> ThreadStartResult:
        thread = await threads.start_thread(params)
        payload = thread_payload(thread)
        _after_answer(lambda: server.send_notification(THREAD_STARTED, ThreadStarted(payload)))
        return ThreadStartResult(
            thread=payload,
            model=thread.model,
            model_provider=thread.model_provider,
            cwd=str(thread.cwd),
            approval_policy=cast(Any, thread.approval_policy),
            approvals_reviewer="user",
            sandbox=_sandbox_wire(thread.sandbox_policy),
            reasoning_effort=cast(Any, thread.effort),
        )

    @server.request_handler(TURN_START)
    async def turn_start(params: TurnStartParams) -> TurnStartResult:
        runner = threads.start_turn(params, asyncio.current_task())
        return TurnStartResult(
            turn=Turn(id=runner.turn_id, status="inProgress", items=[], error=None)
        )

    @server.request_handler(TURN_INTERRUPT)
    async def turn_interrupt(params: TurnInterruptParams) -> EmptyResult:
        await threads.interrupt(params)
        return EmptyResult()


def _after_answer(send: Any) -> None:
    """Run ``send`` right after the current request's answer is written.

    pygls writes the answer from a done-callback of the handler task, registered before the
    handler ran; callbacks run in registration order, so ours comes after it.
    """
    task = asyncio.current_task()
    if task is None:
        send()
        return
    task.add_done_callback(lambda done: None if done.cancelled() or done.exception() else send())
