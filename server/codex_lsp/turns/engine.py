"""The state machine of one turn: model round → tool calls → next round … → exactly one
`turn/completed`.

A :class:`TurnRunner` runs as its own asyncio task. It streams every backend event to the editor
as soon as it is parsed (no buffering), runs the model's tool calls through the thread's
:class:`~codex_lsp.turns.tools.ToolRegistry`, and always ends with exactly one `turn/completed`:
``completed``, ``interrupted`` (the task was cancelled by `turn/interrupt`, or an approval answered
``cancel``) or ``failed`` (with ``codexErrorInfo``). Every `item/started` gets its `item/completed`.

What the model is told comes from :mod:`codex_lsp.context` (instructions, prompt items, the
conversation); what a tool does lives in :mod:`codex_lsp.turns.tools`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

from codex_lsp.backend.responses import (
    CustomToolCallInputDelta,
    FunctionCallDone,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    RateLimitsUpdated,
    ReasoningSummaryPartAdded,
    ReasoningSummaryTextDelta,
    ResponseCompleted,
    ResponseEvent,
    ResponsesRequest,
    TokenUsage,
)
from codex_lsp.context.compaction import build_replacement, estimate_tokens, should_compact
from codex_lsp.context.history import (
    custom_tool_call,
    custom_tool_call_output,
    function_call,
    function_call_output,
)
from codex_lsp.context.instructions import base_instructions, prompt_prefix
from codex_lsp.context.summarize import summarize
from codex_lsp.context.turn_context import context_items, initial_context, reads_files
from codex_lsp.context.user_input import preview_text, to_model_message
from codex_lsp.errors import CodexError
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.threads import (
    THREAD_TOKEN_USAGE_UPDATED,
    TURN_STARTED,
    ContextCompactionItem,
    ThreadTokenUsage,
    ThreadTokenUsageUpdated,
    TokenUsageBreakdown,
    Turn,
    TurnError,
    TurnNotification,
    UserInput,
    UserMessageItem,
)
from codex_lsp.protocol.turn_errors import ERROR, ErrorNotification
from codex_lsp.turns.errors import TooManyToolRounds, TurnCancelled, turn_error
from codex_lsp.turns.items import TurnItems, TurnSink, new_item_id
from codex_lsp.turns.orchestrator import Orchestrator
from codex_lsp.turns.response_items import ResponseItems
from codex_lsp.turns.store import ThreadState
from codex_lsp.turns.tools import (
    SpecContext,
    ToolCall,
    ToolInvocation,
    ToolRegistry,
    default_registry,
)
from codex_lsp.turns.tools.apply_patch import PatchStream

__all__ = ["TurnRunner", "TurnSink", "schedule_turn"]

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 50
PREVIEW_CHARS = 120
# Up to this many history items, the per-turn context check runs on the loop (about 0.3 ms).
INLINE_CONTEXT_ITEMS = 200
ENCRYPTED_REASONING = "reasoning.encrypted_content"


def _breakdown(usage: TokenUsage) -> TokenUsageBreakdown:
    return TokenUsageBreakdown(
        total_tokens=usage.total_tokens,
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_output_tokens=usage.reasoning_output_tokens,
    )


class TurnRunner:
    """Runs one turn of a thread; create it, then run :meth:`run` as a task."""

    def __init__(
        self,
        thread: ThreadState,
        turn_id: str,
        user_input: list[UserInput],
        sink: TurnSink,
        *,
        message: dict[str, Any] | None = None,
        compact_only: bool = False,
        tools: ToolRegistry | None = None,
        max_tool_rounds: int = MAX_TOOL_ROUNDS,
    ) -> None:
        self.thread = thread
        self.turn_id = turn_id
        self._input = user_input
        # The Responses-API user message (built, with local images read, by the caller).
        self._message = message
        self._compact_only = compact_only
        self._compacted_since_request = False
        self._sink = sink
        self._tools = tools if tools is not None else default_registry()
        self._max_tool_rounds = max_tool_rounds
        self._items = TurnItems(sink, thread.id, turn_id)
        self._responses = ResponseItems(self._items, thread.history)
        self._patch_stream = PatchStream(self._items, thread.cwd)
        self._invocation = ToolInvocation(thread, turn_id, self._items, Orchestrator(thread))

    # ---- the turn ------------------------------------------------------------------------------

    async def run(self, answered: asyncio.Event | None = None) -> None:
        """Run to the end; never raises. ``answered`` is set once `turn/start` was answered."""
        status, error = "completed", None
        try:
            if answered is not None:
                await answered.wait()  # the turn/start response goes out first
            self._notify(TURN_STARTED, TurnNotification(self.thread.id, self._turn("inProgress")))
            if self._compact_only:
                await self._compact()
            else:
                await self._record_context()
                self._user_message()
                await self._agent_loop()
        except (asyncio.CancelledError, TurnCancelled):
            status = "interrupted"
        except Exception as exc:  # noqa: BLE001 - any failure ends the turn as `failed`
            status, error = "failed", turn_error(exc)
            if not isinstance(exc, CodexError):
                log.error("turn failed unexpectedly: %s", type(exc).__name__, exc_info=exc)
        self.thread.history.answer_open_calls()  # a call stopped mid-way still gets an output
        self._items.close_open()
        self.thread.steered.clear()  # input steered into a turn that stopped goes nowhere
        self.thread.active = None
        self.thread.touch()
        if error is not None:  # upstream sends `error` (willRetry false) before the failed turn
            self._notify(ERROR, ErrorNotification(error, False, self.thread.id, self.turn_id))
        completed = TurnNotification(self.thread.id, self._turn(status, error))
        # Interrupted again (shutdown) while it waits: the sink still announces the turn.
        with contextlib.suppress(asyncio.CancelledError):
            await self._sink.complete_turn(completed)

    def _turn(self, status: Any, error: TurnError | None = None) -> Turn:
        items = list(self._items.completed) if status != "inProgress" else []
        return Turn(id=self.turn_id, status=status, items=items, error=error)

    async def _record_context(self) -> None:
        """AGENTS.md and the environment context, when the history doesn't say them yet."""
        thread = self.thread
        if thread.context_settings is None:
            return
        history = thread.history.items
        build = functools.partial(
            context_items,
            history,
            cwd=thread.cwd,
            approval_policy=thread.approval_policy,
            sandbox=thread.sandbox_policy,
            settings=thread.context_settings,
            agents_md_checked=thread.agents_md_checked,
        )
        # An AGENTS.md lookup reads files, and a long history takes a while to scan: those go
        # to a worker. Otherwise the hop costs more than the work, and in a burst of turns the
        # hops queue behind each other (20 concurrent turns started ~30 ms later).
        if len(history) > INLINE_CONTEXT_ITEMS or reads_files(
            history, thread.cwd, thread.agents_md_checked
        ):
            items = await asyncio.to_thread(build)
        else:
            items = build()
        thread.agents_md_checked = str(thread.cwd)
        thread.history.record(*items)

    def _user_message(self) -> None:
        message = self._message or to_model_message(self._input, self.thread.cwd)
        self._record_user_input(self._input, message)
        if not self.thread.preview:
            self.thread.preview = preview_text(self._input)[:PREVIEW_CHARS]

    def _record_user_input(self, inputs: list[UserInput], message: dict[str, Any]) -> None:
        item = UserMessageItem(type="userMessage", id=new_item_id(), content=list(inputs))
        self._items.start(item)
        self._items.complete(item)
        self.thread.history.record(message)

    def _take_steered(self) -> None:
        """Input from `turn/steer` joins the conversation before the next model request."""
        steered = self.thread.steered
        while steered:
            entry = steered.pop(0)
            self._record_user_input(entry.input, entry.message)

    async def _agent_loop(self) -> None:
        for round_number in range(self._max_tool_rounds + 1):
            self._take_steered()
            await self._compact_if_needed()
            calls = await self._model_round()
            if not calls:
                if self.thread.steered:
                    continue  # steered while the model was answering: one more request
                return
            if round_number == self._max_tool_rounds:
                raise TooManyToolRounds(
                    f"The model kept calling tools for {self._max_tool_rounds} rounds without "
                    "answering; the turn was stopped. Send a more specific message to continue."
                )
            for call in calls:
                await self._run_call(call)

    # ---- compaction --------------------------------------------------------------------------

    def _context_in_use(self) -> int:
        """Tokens the next request will carry: the backend's last count plus what came since."""
        thread = self.thread
        items = thread.history.items
        if thread.context_tokens is None or thread.context_mark > len(items):
            return estimate_tokens(prompt_prefix(thread) + thread.history.for_prompt())
        return thread.context_tokens + estimate_tokens(items[thread.context_mark :])

    async def _compact_if_needed(self) -> None:
        # Once per model request at most: a summary that still doesn't fit is sent as it is
        # (the backend then says whether it fits) rather than summarised again and again.
        if self._compacted_since_request:
            return
        if should_compact(self._context_in_use(), self.thread.auto_compact_limit):
            await self._compact()

    async def _compact(self) -> None:
        """Summarise the conversation and replace it by context + recent user messages + summary."""
        thread = self.thread
        item = ContextCompactionItem(type="contextCompaction", id=new_item_id())
        self._items.start(item)
        history = thread.history.for_prompt()
        summary = await summarize(thread.client, self._request(), prompt_prefix(thread), history)
        if summary.usage is not None:
            self._usage(summary.usage)
        initial: list[dict[str, Any]] = []
        if thread.context_settings is not None:
            initial = await asyncio.to_thread(
                initial_context,
                cwd=thread.cwd,
                approval_policy=thread.approval_policy,
                sandbox=thread.sandbox_policy,
                settings=thread.context_settings,
            )
        thread.history.replace(
            build_replacement(thread.history.items, summary.text, initial_context=initial)
        )
        thread.context_tokens = None  # unknown until the next response
        self._compacted_since_request = True
        self._items.complete(item)

    async def _run_call(self, done: FunctionCallDone) -> None:
        history = self.thread.history
        custom = done.kind == "custom"
        if custom:
            history.record(custom_tool_call(done.name, done.arguments, done.call_id))
        else:
            history.record(function_call(done.name, done.arguments, done.call_id))
        call = ToolCall(
            name=done.name, call_id=done.call_id, arguments=done.arguments, kind=done.kind
        )
        output = await self._tools.dispatch(call, self._invocation)
        if custom:
            history.record(custom_tool_call_output(done.call_id, output))
        else:
            history.record(function_call_output(done.call_id, output))

    # ---- model calls -------------------------------------------------------------------------

    def _request(self) -> ResponsesRequest:
        thread = self.thread
        spec_context = SpecContext(thread.model, thread.model_info, thread.approval_policy)
        summary = None if thread.summary == "none" else thread.summary
        reasons = thread.effort is not None or summary is not None
        return ResponsesRequest(
            model=thread.model,
            instructions=base_instructions(thread),
            input=prompt_prefix(thread) + thread.history.for_prompt(),
            tools=self._tools.specs(spec_context),
            reasoning_effort=thread.effort,
            reasoning_summary=summary,
            prompt_cache_key=thread.id,
            session_id=thread.id,
            # store=false: reasoning reaches the next request only as its encrypted content.
            include=(ENCRYPTED_REASONING,) if reasons else (),
        )

    async def _model_round(self) -> list[FunctionCallDone]:
        self._compacted_since_request = False
        calls: list[FunctionCallDone] = []
        async with contextlib.aclosing(self.thread.client.stream(self._request())) as events:
            async for event in events:
                self._on_event(event, calls)
        return calls

    def _on_event(self, event: ResponseEvent, calls: list[FunctionCallDone]) -> None:
        responses = self._responses
        if isinstance(event, OutputTextDelta):
            responses.text_delta(event)
        elif isinstance(event, ReasoningSummaryTextDelta):
            responses.summary_delta(event)
        elif isinstance(event, OutputItemAdded):
            responses.item_added(event)
            self._patch_stream.added(event.item)
        elif isinstance(event, CustomToolCallInputDelta):
            self._patch_stream.delta(event.item_id, event.delta)
        elif isinstance(event, ReasoningSummaryPartAdded):
            responses.summary_part(event)
        elif isinstance(event, OutputItemDone):
            responses.item_done(event)
        elif isinstance(event, FunctionCallDone):
            calls.append(event)
        elif isinstance(event, RateLimitsUpdated):
            self._sink.rate_limits_updated(event.snapshot)
        elif isinstance(event, ResponseCompleted) and event.usage is not None:
            self._usage(event.usage)

    def _usage(self, usage: TokenUsage) -> None:
        thread = self.thread
        total = thread.history.add_usage(usage)
        thread.context_tokens = usage.total_tokens  # input + output: the context from now on
        thread.context_mark = len(thread.history)
        payload = ThreadTokenUsage(
            total=_breakdown(total),
            last=_breakdown(usage),
            model_context_window=thread.context_window,
        )
        self._notify(
            THREAD_TOKEN_USAGE_UPDATED, ThreadTokenUsageUpdated(thread.id, self.turn_id, payload)
        )

    def _notify(self, method: Method, payload: Any) -> None:
        self._sink.notify(method, payload)


def schedule_turn(runner: TurnRunner, answered: asyncio.Event | None) -> asyncio.Task[None]:
    """Start the runner as a task (the caller records it as the thread's active turn)."""
    return asyncio.create_task(runner.run(answered), name=f"turn-{runner.turn_id}")
