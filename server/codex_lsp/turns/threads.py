"""Creating, resuming and forking threads and starting/interrupting their turns (no JSON-RPC: the
handlers in `handlers/threads.py` and `handlers/history.py` parse the params and pass them here,
with the LSP :class:`TurnSink`).

Every non-ephemeral thread has a rollout (:mod:`codex_lsp.history`): its conversation listener
and a recording sink around the turn's sink write it; `thread/resume` and `thread/fork` rebuild a
thread from one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from codex_lsp import __version__
from codex_lsp.backend.provider import ORIGINATOR, ModelProvider, provider_from_config
from codex_lsp.backend.responses import ResponsesClient, TokenUsage
from codex_lsp.context.compaction import auto_compact_limit
from codex_lsp.context.history import ConversationHistory
from codex_lsp.context.turn_context import ContextSettings
from codex_lsp.context.user_input import reads_files, to_model_message
from codex_lsp.errors import InvalidParams, InvalidRequest
from codex_lsp.history.git import collect_git_info
from codex_lsp.history.hooks import RecordingSink, RolloutListener
from codex_lsp.history.payloads import git_info
from codex_lsp.history.policy import turn_context_line
from codex_lsp.history.recorder import RolloutRecorder
from codex_lsp.history.rollout import new_thread_id
from codex_lsp.history.service import THREAD_SOURCE, StoredThread, ThreadHistory, session_meta
from codex_lsp.models.catalog import ModelInfo
from codex_lsp.paths import existing_directory
from codex_lsp.protocol.context import ThreadCompactStartParams, TurnSteerParams
from codex_lsp.protocol.history import ThreadForkParams, ThreadResumeParams
from codex_lsp.protocol.inputs import UserInput
from codex_lsp.protocol.threads import (
    SandboxPolicyWire,
    Thread,
    ThreadStartParams,
    ThreadStartResult,
    ThreadStatus,
    TurnInterruptParams,
    TurnStartParams,
)
from codex_lsp.protocol.wire import from_wire, to_wire
from codex_lsp.sandbox.policy import policy_from_config, policy_from_wire, policy_to_wire
from codex_lsp.turns.engine import TurnRunner, schedule_turn
from codex_lsp.turns.items import TurnSink
from codex_lsp.turns.store import ActiveTurn, SteeredInput, ThreadState, ThreadStore

if TYPE_CHECKING:
    from codex_lsp.services import Services

log = logging.getLogger(__name__)

INTERRUPT_WAIT_S = 10.0


def _usage(info: dict[str, Any] | None) -> TokenUsage:
    total = (info or {}).get("total_token_usage")
    if not isinstance(total, dict):
        return TokenUsage()
    fields = (
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
        "total_tokens",
    )
    return TokenUsage(**{name: int(total.get(name) or 0) for name in fields})


class ThreadService:
    """Creates, resumes and forks threads and starts/interrupts their turns."""

    def __init__(
        self, services: Services, sink: TurnSink, workspace_root: Callable[[], Path | None]
    ) -> None:
        self._services = services
        self._workspace_root = workspace_root
        self.store = ThreadStore()
        self.sink = sink
        self.history = ThreadHistory(services.config.codex_home)

    # ---- new threads ---------------------------------------------------------------------------

    async def start_thread(self, params: ThreadStartParams) -> ThreadState:
        services = self._services
        cwd = existing_directory(params.cwd, "params.cwd") if params.cwd else self._default_cwd()
        provider = self._provider(params.model_provider)
        model = await services.models.resolve_model(params.model)  # once per thread
        info = await services.models.model_info(model)
        sandbox = policy_from_config(services.config, params.sandbox)
        thread_id = new_thread_id()
        thread = ThreadState(
            id=thread_id,
            cwd=cwd,
            model=model,
            model_provider=provider.id,
            approval_policy=params.approval_policy or services.config.approval_policy,
            sandbox_policy=sandbox,
            client=self._client(provider),
            base_instructions=params.base_instructions,
            developer_instructions=params.developer_instructions,
            effort=info.default_reasoning_level if info is not None else None,
            model_info=info,
            context_settings=self._context_settings(),
            ephemeral=bool(params.ephemeral),
            session_id=thread_id,
        )
        self._set_model_limits(thread, info)
        if not thread.ephemeral:  # an ephemeral thread writes nothing
            thread.git = await collect_git_info(cwd)
            meta = session_meta(
                thread.id,
                cwd=str(cwd),
                model_provider=provider.id,
                base_instructions=params.base_instructions,
                git=thread.git,
            )
            self._attach(thread, self.history.start(thread.id, meta))
        return self.store.add(thread)

    # ---- stored threads ------------------------------------------------------------------------

    async def resume_thread(self, params: ThreadResumeParams) -> tuple[ThreadState, list[Any]]:
        """Load a stored thread (a loaded one is returned as is) and its rebuilt turns (unless
        ``excludeTurns``)."""
        loaded = self.store.find(params.thread_id)
        if loaded is not None:
            return loaded, [] if params.exclude_turns else await self.turns_of(loaded)
        stored, recorder = await self.history.resume(params.thread_id)
        try:
            thread = await self._from_stored(stored, params, stored.summary.id)
        except BaseException:
            await self.history.release(stored.summary.id)
            raise
        self._attach(thread, recorder)
        self.store.add(thread)
        return thread, [] if params.exclude_turns else stored.turns()

    async def fork_thread(self, params: ThreadForkParams) -> tuple[ThreadState, list[Any]]:
        """A new thread (new id, `forkedFromId`) with the source's history; the source is unchanged."""
        loaded = self.store.find(params.thread_id)
        if loaded is not None:
            await self.history.flush(loaded.id)
        new_id = new_thread_id()
        if loaded is not None and self.history.path_of(loaded.id) is None:
            # Nothing on disk (ephemeral, or no turn yet): fork from memory.
            thread = await self._from_loaded(loaded, params, new_id)
            items: list[dict[str, Any]] = thread.history.items
            stored: StoredThread | None = None
            turns: list[Any] = []
        else:
            stored = await self.history.open(params.thread_id)
            thread = await self._from_stored(stored, params, new_id)
            items = []
            turns = [] if params.exclude_turns else stored.turns()
        thread.forked_from_id = params.thread_id
        thread.session_id = (
            stored.summary.session_id
            if stored is not None
            else (loaded.session_id if loaded else new_id)
        )
        thread.ephemeral = bool(params.ephemeral)
        thread.name = None
        thread.stored_cli_version = None
        thread.stored_source = None
        if not thread.ephemeral:
            meta = session_meta(
                new_id,
                cwd=str(thread.cwd),
                model_provider=thread.model_provider,
                base_instructions=thread.base_instructions,
                session_id=thread.session_id,
                forked_from_id=params.thread_id,
                git=thread.git,
            )
            if stored is not None:
                recorder = self.history.fork(stored, new_id, meta)
            else:
                recorder = self.history.start(new_id, meta)
                recorder.record_items(items)
            self._attach(thread, recorder)
        self.store.add(thread)
        return thread, turns

    async def archive_thread(self, thread_id: str) -> None:
        """Move the rollout to archived_sessions/ (a loaded thread is flushed and unloaded first)."""
        loaded = self.store.find(thread_id)
        if loaded is not None and loaded.active is not None:
            raise InvalidRequest(
                f"thread {thread_id} has a running turn ({loaded.active.turn_id}); interrupt it "
                "(turn/interrupt) or wait for turn/completed before archiving"
            )
        if loaded is not None and self.history.path_of(thread_id) is None:
            raise InvalidRequest(
                f"thread {thread_id} has nothing stored to archive (it is ephemeral, or no turn has run yet)"
            )
        await self.history.archive(thread_id)  # -32600 if there is no rollout
        self.store.remove(thread_id)

    def set_name(self, thread_id: str, name: str | None) -> None:
        loaded = self.store.find(thread_id)
        if loaded is not None:
            loaded.name = name

    def loaded_payload(self, thread_id: str) -> Thread | None:
        loaded = self.store.find(thread_id)
        return self.payload(loaded) if loaded is not None else None

    def payload(self, thread: ThreadState, turns: list[Any] | None = None) -> Thread:
        """The wire `Thread` of a loaded thread."""
        return Thread(
            id=thread.id,
            session_id=thread.session_id or thread.id,
            project_id=None,
            preview=thread.preview,
            ephemeral=thread.ephemeral,
            model=thread.model,
            model_provider=thread.model_provider,
            created_at=thread.created_at,
            updated_at=thread.updated_at,
            status=ThreadStatus(type="active" if thread.active else "idle"),
            cwd=str(thread.cwd),
            cli_version=thread.stored_cli_version or __version__,
            source=thread.stored_source if thread.stored_source is not None else THREAD_SOURCE,
            turns=list(turns or []),
            path=str(path) if (path := self.history.path_of(thread.id)) is not None else None,
            name=thread.name,
            forked_from_id=thread.forked_from_id,
            git_info=git_info(thread.git),
        )

    def start_result(
        self, thread: ThreadState, turns: list[Any] | None = None
    ) -> ThreadStartResult:
        """The answer of `thread/start`, `thread/resume` and `thread/fork`."""
        sandbox = from_wire(cast(Any, SandboxPolicyWire), policy_to_wire(thread.sandbox_policy))
        return ThreadStartResult(
            thread=self.payload(thread, turns),
            model=thread.model,
            model_provider=thread.model_provider,
            cwd=str(thread.cwd),
            approval_policy=cast(Any, thread.approval_policy),
            approvals_reviewer="user",
            sandbox=cast(SandboxPolicyWire, sandbox),
            reasoning_effort=cast(Any, thread.effort),
        )

    async def turns_of(self, thread: ThreadState) -> list[Any]:
        """A loaded thread's turns, rebuilt from its rollout (none before the file exists)."""
        if self.history.path_of(thread.id) is None:
            return []
        await self.history.flush(thread.id)
        turns = (await self.history.open(thread.id)).turns()
        if thread.active is not None and turns and turns[-1]["id"] == thread.active.turn_id:
            turns[-1]["status"] = "inProgress"  # still running, not cut off
        return turns

    async def _from_stored(
        self, stored: StoredThread, params: ThreadResumeParams | ThreadForkParams, thread_id: str
    ) -> ThreadState:
        services = self._services
        config = services.config
        state, summary = stored.state, stored.summary
        cwd = self._resume_cwd(params.cwd, state.cwd or summary.cwd)
        # The configured provider (not the recorded one): credentials and endpoints are this server's.
        provider = self._provider(params.model_provider)
        model = params.model or state.model or await services.models.resolve_model(None)
        info = await services.models.model_info(model)
        ours = stored.rollout.meta.get("originator") == ORIGINATOR
        base = stored.rollout.meta.get("base_instructions")
        recorded_base = (
            base.get("text") if isinstance(base, dict) else base if isinstance(base, str) else None
        )
        history = ConversationHistory(state.history)
        history.usage_total = _usage(state.token_usage)
        thread = ThreadState(
            id=thread_id,
            cwd=cwd,
            model=model,
            model_provider=provider.id,
            approval_policy=params.approval_policy
            or state.approval_policy
            or config.approval_policy,
            sandbox_policy=policy_from_config(
                config, params.sandbox or state.sandbox_mode(config.sandbox_mode)
            ),
            client=self._client(provider),
            # A Codex CLI thread keeps our instructions (its prompt describes the CLI's tools).
            base_instructions=params.base_instructions or (recorded_base if ours else None),
            developer_instructions=params.developer_instructions,
            effort=state.effort or (info.default_reasoning_level if info is not None else None),
            summary=state.summary or "auto",
            model_info=info,
            context_settings=self._context_settings(),
            created_at=summary.created_at,
            preview=summary.preview,
            history=history,
            session_id=summary.session_id,
            forked_from_id=summary.forked_from_id,
            name=summary.name,
            git=summary.git,
            stored_cli_version=summary.cli_version or None,
            stored_source=summary.source,
        )
        self._set_model_limits(thread, info)
        return thread

    async def _from_loaded(
        self, source: ThreadState, params: ThreadForkParams, thread_id: str
    ) -> ThreadState:
        services = self._services
        provider = self._provider(params.model_provider or source.model_provider)
        model = params.model or source.model
        info = (
            await services.models.model_info(model) if model != source.model else source.model_info
        )
        history = ConversationHistory(source.history.items)
        history.usage_total = source.history.usage_total
        thread = ThreadState(
            id=thread_id,
            cwd=existing_directory(params.cwd, "params.cwd") if params.cwd else source.cwd,
            model=model,
            model_provider=provider.id,
            approval_policy=params.approval_policy or source.approval_policy,
            sandbox_policy=policy_from_config(services.config, params.sandbox)
            if params.sandbox
            else source.sandbox_policy,
            client=self._client(provider),
            base_instructions=params.base_instructions or source.base_instructions,
            developer_instructions=params.developer_instructions or source.developer_instructions,
            effort=source.effort,
            summary=source.summary,
            model_info=info,
            context_settings=self._context_settings(),
            preview=source.preview,
            history=history,
            git=source.git,
        )
        self._set_model_limits(thread, info)
        return thread

    def _attach(self, thread: ThreadState, recorder: RolloutRecorder) -> None:
        thread.history.add_listener(RolloutListener(recorder))

    def _turn_context(self, thread: ThreadState, turn_id: str) -> dict[str, Any]:
        return turn_context_line(
            turn_id=turn_id,
            cwd=str(thread.cwd),
            model=thread.model,
            effort=thread.effort,
            summary=thread.summary,
            approval_policy=thread.approval_policy,
            sandbox_policy_wire=policy_to_wire(thread.sandbox_policy),
        )

    # ---- turns ---------------------------------------------------------------------------------

    async def start_turn(
        self, params: TurnStartParams, answered: asyncio.Event | None
    ) -> TurnRunner:
        """Start a turn; it waits for ``answered`` (the `turn/start` answer is out) to begin."""
        thread = self._idle_thread(params.thread_id)
        if not params.input:
            raise InvalidParams("params.input: must contain at least one item")
        cwd = existing_directory(params.cwd, "params.cwd") if params.cwd else thread.cwd
        # Before anything changes; reading local images or skills is file IO, off the loop.
        message = await _model_message(params.input, cwd)
        info = None
        if params.model and params.model != thread.model:
            info = await self._services.models.model_info(params.model)
        thread = self._idle_thread(params.thread_id)  # still idle after the awaits?
        self._apply_overrides(thread, params)
        if params.model and thread.model_info is None:
            thread.model_info = info
            self._set_model_limits(thread, info)
        runner = TurnRunner(
            thread,
            self.store.new_id(),
            list(params.input),
            self._turn_sink(thread),
            message=message,
        )
        thread.active = ActiveTurn(runner.turn_id, schedule_turn(runner, answered))
        return runner

    async def steer(self, params: TurnSteerParams) -> str:
        """Queue input for the running turn's next model request; returns the turn id."""
        thread = self.store.get(params.thread_id)
        self._steerable(thread, params.expected_turn_id)
        if not params.input:
            raise InvalidParams("params.input: must contain at least one item")
        message = await _model_message(params.input, thread.cwd)
        active = self._steerable(thread, params.expected_turn_id)
        thread.steered.append(SteeredInput(list(params.input), message))
        return active.turn_id

    def compact(self, params: ThreadCompactStartParams, answered: asyncio.Event | None) -> str:
        """Start a compaction turn on an idle thread; returns its turn id."""
        thread = self._idle_thread(params.thread_id)
        runner = TurnRunner(
            thread, self.store.new_id(), [], self._turn_sink(thread), compact_only=True
        )
        thread.active = ActiveTurn(runner.turn_id, schedule_turn(runner, answered), kind="compact")
        return runner.turn_id

    def _turn_sink(self, thread: ThreadState) -> TurnSink:
        """The editor's sink, recording into the thread's rollout when it has one."""
        recorder = self.history.recorder(thread.id)
        if recorder is None:
            return self.sink
        return RecordingSink(
            self.sink, recorder, lambda turn_id: self._turn_context(thread, turn_id)
        )

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

    def _context_settings(self) -> ContextSettings:
        config = self._services.config
        return ContextSettings(
            codex_home=config.codex_home,
            fallback_filenames=config.project_doc_fallback_filenames,
            max_bytes=config.project_doc_max_bytes,
        )

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

    async def close(self) -> None:
        """At shutdown: stop running turns (their last events are recorded), then flush and
        unlock every rollout. Runs before the HTTP client closes."""
        await self.interrupt_all()
        await self.history.aclose()

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

    def _client(self, provider: ModelProvider) -> ResponsesClient:
        services = self._services
        return ResponsesClient(
            services.http,
            provider,
            services.auth,
            idle_timeout_s=services.config.lsp.stream_idle_timeout_s,
        )

    def _resume_cwd(self, override: str | None, recorded: str) -> Path:
        if override:
            return existing_directory(override, "params.cwd")
        if recorded:
            path = Path(recorded)
            try:
                if path.is_absolute() and path.is_dir():
                    return path
            except (OSError, ValueError):
                pass
            log.info("the recorded cwd of the thread no longer exists; using the workspace folder")
        return self._default_cwd()

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


async def _model_message(inputs: list[UserInput], cwd: Path) -> dict[str, Any]:
    if reads_files(inputs):
        return await asyncio.to_thread(to_model_message, inputs, cwd)
    return to_model_message(inputs, cwd)
