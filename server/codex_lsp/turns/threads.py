"""Creating threads and starting/interrupting their turns (no JSON-RPC: the handlers in
`handlers/threads.py` parse the params and pass them here, with the LSP :class:`TurnSink`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from codex_lsp.backend.provider import ModelProvider, provider_from_config
from codex_lsp.backend.responses import ResponsesClient
from codex_lsp.context.compaction import auto_compact_limit
from codex_lsp.context.turn_context import ContextSettings
from codex_lsp.context.user_input import to_model_message
from codex_lsp.errors import InvalidParams, InvalidRequest
from codex_lsp.models.catalog import ModelInfo
from codex_lsp.paths import existing_directory
from codex_lsp.protocol.context import ThreadCompactStartParams, TurnSteerParams
from codex_lsp.protocol.threads import ThreadStartParams, TurnInterruptParams, TurnStartParams
from codex_lsp.protocol.wire import to_wire
from codex_lsp.sandbox.policy import policy_from_config, policy_from_wire
from codex_lsp.turns.engine import TurnRunner, schedule_turn
from codex_lsp.turns.items import TurnSink
from codex_lsp.turns.store import ActiveTurn, SteeredInput, ThreadState, ThreadStore

if TYPE_CHECKING:
    from codex_lsp.services import Services

INTERRUPT_WAIT_S = 10.0


class ThreadService:
    """Creates threads and starts/interrupts their turns."""

    def __init__(
        self, services: Services, sink: TurnSink, workspace_root: Callable[[], Path | None]
    ) -> None:
        self._services = services
        self._workspace_root = workspace_root
        self.store = ThreadStore()
        self.sink = sink

    async def start_thread(self, params: ThreadStartParams) -> ThreadState:
        services = self._services
        cwd = existing_directory(params.cwd, "params.cwd") if params.cwd else self._default_cwd()
        provider = self._provider(params.model_provider)
        model = await services.models.resolve_model(params.model)  # once per thread
        info = await services.models.model_info(model)
        sandbox = policy_from_config(services.config, params.sandbox)
        client = ResponsesClient(
            services.http,
            provider,
            services.auth,
            idle_timeout_s=services.config.lsp.stream_idle_timeout_s,
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
            model_info=info,
            context_settings=ContextSettings(
                codex_home=services.config.codex_home,
                fallback_filenames=services.config.project_doc_fallback_filenames,
                max_bytes=services.config.project_doc_max_bytes,
            ),
        )
        self._set_model_limits(thread, info)
        # A rollout recorder attaches here: thread.history.add_listener(recorder).
        return self.store.add(thread)

    async def start_turn(
        self, params: TurnStartParams, answered: asyncio.Event | None
    ) -> TurnRunner:
        """Start a turn; it waits for ``answered`` (the `turn/start` answer is out) to begin."""
        thread = self._idle_thread(params.thread_id)
        if not params.input:
            raise InvalidParams("params.input: must contain at least one item")
        cwd = existing_directory(params.cwd, "params.cwd") if params.cwd else thread.cwd
        # Reading local images is file IO: off the loop, and before anything changes.
        message = await asyncio.to_thread(to_model_message, params.input, cwd)
        info = None
        if params.model and params.model != thread.model:
            info = await self._services.models.model_info(params.model)
        thread = self._idle_thread(params.thread_id)  # still idle after the awaits?
        self._apply_overrides(thread, params)
        if params.model and thread.model_info is None:
            thread.model_info = info
            self._set_model_limits(thread, info)
        runner = TurnRunner(
            thread, self.store.new_id(), list(params.input), self.sink, message=message
        )
        thread.active = ActiveTurn(runner.turn_id, schedule_turn(runner, answered))
        return runner

    async def steer(self, params: TurnSteerParams) -> str:
        """Queue input for the running turn's next model request; returns the turn id."""
        thread = self.store.get(params.thread_id)
        self._steerable(thread, params.expected_turn_id)
        if not params.input:
            raise InvalidParams("params.input: must contain at least one item")
        message = await asyncio.to_thread(to_model_message, params.input, thread.cwd)
        active = self._steerable(thread, params.expected_turn_id)
        thread.steered.append(SteeredInput(list(params.input), message))
        return active.turn_id

    def compact(self, params: ThreadCompactStartParams, answered: asyncio.Event | None) -> str:
        """Start a compaction turn on an idle thread; returns its turn id."""
        thread = self._idle_thread(params.thread_id)
        runner = TurnRunner(thread, self.store.new_id(), [], self.sink, compact_only=True)
        thread.active = ActiveTurn(runner.turn_id, schedule_turn(runner, answered), kind="compact")
        return runner.turn_id

    def _idle_thread(self, thread_id: str) -> ThreadState:
        thread = self.store.get(thread_id)
        if thread.active is not None:
            raise InvalidRequest(
                f"thread {thread.id} already has an active turn ({thread.active.turn_id}); wait for "
                "turn/completed or call turn/interrupt first"
            )
        return thread

    @staticmethod
    def _steerable(thread: ThreadState, expected_turn_id: str) -> ActiveTurn:
        active = thread.active
        if active is None:
            raise InvalidRequest(
                f"no active turn to steer on thread {thread.id}; start one with turn/start"
            )
        if active.turn_id != expected_turn_id:
            raise InvalidRequest(
                f"expectedTurnId {expected_turn_id!r} is not the active turn of thread "
                f"{thread.id} ({active.turn_id})"
            )
        if active.kind != "regular":
            raise InvalidRequest(
                f"the active turn {active.turn_id} is a compaction and can't be steered; wait "
                "for its turn/completed"
            )
        return active

    def _set_model_limits(self, thread: ThreadState, info: ModelInfo | None) -> None:
        """The context window and the auto-compaction threshold of the thread's model."""
        config = self._services.config
        window = config.model_context_window or (info.context_window if info else None)
        model_limit = info.raw.get("auto_compact_token_limit") if info is not None else None
        thread.context_window = window
        thread.auto_compact_limit = auto_compact_limit(
            window,
            config.model_auto_compact_token_limit,
            model_limit if isinstance(model_limit, int) and model_limit > 0 else None,
        )

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
        cwd = existing_directory(params.cwd, "params.cwd") if params.cwd else thread.cwd
        sandbox = (
            policy_from_wire(to_wire(params.sandbox_policy), field="params.sandboxPolicy")
            if params.sandbox_policy is not None
            else thread.sandbox_policy
        )
        thread.cwd = cwd
        thread.sandbox_policy = sandbox
        if params.model and params.model != thread.model:
            thread.model = params.model
            thread.model_info = None  # not looked up here; tool specs fall back to defaults
        if params.effort:
            thread.effort = params.effort
        if params.summary:
            thread.summary = params.summary
        if params.approval_policy:
            thread.approval_policy = params.approval_policy

    def _default_cwd(self) -> Path:
        root = self._workspace_root()
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
