"""The agent loop of one turn: model call → items and deltas → shell tool calls → model call …

A :class:`TurnRunner` runs as its own asyncio task. It streams every backend event to the editor
as soon as it is parsed (no buffering), runs `shell` calls through the sandbox with the thread's
approval policy, and always ends with exactly one `turn/completed`: ``completed``,
``interrupted`` (the task was cancelled by `turn/interrupt`, or an approval answered ``cancel``)
or ``failed`` (with ``codexErrorInfo``). Every `item/started` gets its `item/completed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any, Protocol

from .. import logs
from ..auth.errors import AuthRecoveryFailed, NotLoggedIn
from ..backend.responses import (
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
    StreamError,
    TokenUsage,
)
from ..errors import CodexError, InvalidParams
from ..protocol.methods import Method
from ..protocol.threads import (
    ITEM_AGENT_MESSAGE_DELTA,
    ITEM_COMMAND_EXECUTION_OUTPUT_DELTA,
    ITEM_COMPLETED,
    ITEM_REASONING_SUMMARY_PART_ADDED,
    ITEM_REASONING_SUMMARY_TEXT_DELTA,
    ITEM_STARTED,
    THREAD_TOKEN_USAGE_UPDATED,
    TURN_COMPLETED,
    TURN_STARTED,
    AgentMessageItem,
    CommandExecutionItem,
    CommandExecutionRequestApprovalParams,
    ItemCompleted,
    ItemDelta,
    ItemStarted,
    ReasoningItem,
    ThreadItem,
    ThreadTokenUsage,
    ThreadTokenUsageUpdated,
    TokenUsageBreakdown,
    Turn,
    TurnError,
    TurnNotification,
    UserInput,
    UserMessageItem,
)
from ..protocol.threads import ReasoningSummaryPartAdded as PartAddedPayload
from ..protocol.threads import (
    ReasoningSummaryTextDelta as SummaryDeltaPayload,
)
from ..protocol.wire import to_wire
from ..sandbox.detect import SandboxUnavailable
from ..sandbox.policy import DangerFullAccess, SandboxPolicy
from ..sandbox.runner import CommandResult, run_command
from .approvals import (
    ON_REQUEST,
    Decision,
    ask_after_failure,
    ask_before_running,
    ask_when_sandbox_unavailable,
)
from .shell import (
    RUN_OUTPUT_CAP_BYTES,
    SHELL_TOOL_NAME,
    OutputCollector,
    ShellArgs,
    display_command,
    model_output,
    parse_shell_args,
    shell_tool,
)
from .store import ThreadState

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 50
PREVIEW_CHARS = 120


class TurnSink(Protocol):
    """Where a turn's output goes (the LSP layer implements it)."""

    def notify(self, method: Method, payload: Any) -> None: ...

    def rate_limits_updated(self, snapshot: dict[str, Any]) -> None: ...

    async def request_approval(self, params: CommandExecutionRequestApprovalParams) -> Decision: ...


class TurnCancelled(Exception):
    """The editor answered an approval with `cancel`: the turn ends as interrupted."""


class TooManyToolRounds(CodexError):
    """The model kept calling tools without answering."""


def now_ms() -> int:
    return int(time.time() * 1000)


def new_item_id() -> str:
    return f"item-{uuid.uuid4().hex[:16]}"


def _breakdown(usage: TokenUsage) -> TokenUsageBreakdown:
    return TokenUsageBreakdown(
        total_tokens=usage.total_tokens,
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_output_tokens=usage.reasoning_output_tokens,
    )


def _add_usage(a: TokenUsage, b: TokenUsage) -> TokenUsage:
    return TokenUsage(
        input_tokens=a.input_tokens + b.input_tokens,
        cached_input_tokens=a.cached_input_tokens + b.cached_input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        reasoning_output_tokens=a.reasoning_output_tokens + b.reasoning_output_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )


def turn_error(exc: BaseException) -> TurnError:
    """The `turn/completed` error for a failure, with its codexErrorInfo."""
    if isinstance(exc, StreamError):
        return TurnError(logs.redact(exc.message), exc.codex_error_info, None)
    if isinstance(exc, AuthRecoveryFailed | NotLoggedIn):
        return TurnError(logs.redact(exc.message), "unauthorized", None)
    if isinstance(exc, CodexError):
        return TurnError(logs.redact(exc.message), "other", None)
    return TurnError(
        f"internal error while running the turn ({type(exc).__name__}); see the server log "
        "and send the message again",
        "other",
        None,
    )


def _message_text(item: dict[str, Any]) -> str | None:
    content = item.get("content")
    if not isinstance(content, list):
        return None
    parts = [
        p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "output_text"
    ]
    return "".join(str(p) for p in parts) if parts else None


def _summary_texts(item: dict[str, Any]) -> list[str] | None:
    summary = item.get("summary")
    if not isinstance(summary, list) or not summary:
        return None
    return [str(p.get("text", "")) for p in summary if isinstance(p, dict)]


class TurnRunner:
    """Runs one turn of a thread; create it, then run :meth:`run` as a task."""

    def __init__(
        self,
        thread: ThreadState,
        turn_id: str,
        user_input: list[UserInput],
        sink: TurnSink,
        *,
        max_tool_rounds: int = MAX_TOOL_ROUNDS,
    ) -> None:
        self.thread = thread
        self.turn_id = turn_id
        self._input = user_input
        self._sink = sink
        self._max_tool_rounds = max_tool_rounds
        self._items: list[Any] = []  # completed items, wire shape, for turn/completed
        self._open: dict[str, ThreadItem] = {}  # started, not yet completed, by our item id
        self._by_backend_id: dict[str, ThreadItem] = {}
        self._output: OutputCollector | None = None  # output of the running command
        self._ran: set[str] = set()  # command items that were started (not only asked about)
        self._call_in_flight: FunctionCallDone | None = None

    # ---- the turn ------------------------------------------------------------------------------

    async def run(self, answered: asyncio.Future[Any] | None = None) -> None:
        """Run to the end; never raises. ``answered`` completes once `turn/start` was answered."""
        status, error = "completed", None
        try:
            if answered is not None:
                await asyncio.wait({answered})  # the turn/start response goes out first
            self._notify(TURN_STARTED, TurnNotification(self.thread.id, self._turn("inProgress")))
            self._user_message()
            await self._agent_loop()
        except (asyncio.CancelledError, TurnCancelled):
            status = "interrupted"
            self._record_aborted_call()
        except Exception as exc:  # noqa: BLE001 - any failure ends the turn as `failed`
            status, error = "failed", turn_error(exc)
            if not isinstance(exc, CodexError):
                log.error("turn failed unexpectedly: %s", type(exc).__name__, exc_info=exc)
            self._record_aborted_call()
        self._close_open_items()
        self.thread.active = None
        self.thread.touch()
        self._notify(TURN_COMPLETED, TurnNotification(self.thread.id, self._turn(status, error)))

    def _turn(self, status: Any, error: TurnError | None = None) -> Turn:
        items = list(self._items) if status != "inProgress" else []
        return Turn(id=self.turn_id, status=status, items=items, error=error)

    def _user_message(self) -> None:
        item = UserMessageItem(type="userMessage", id=new_item_id(), content=list(self._input))
        self._start(item)
        self._complete(item)
        text = "\n".join(part.text for part in self._input)
        if not self.thread.preview:
            self.thread.preview = text[:PREVIEW_CHARS]
        self.thread.history.append(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": part.text} for part in self._input],
            }
        )

    async def _agent_loop(self) -> None:
        for round_number in range(self._max_tool_rounds + 1):
            calls = await self._model_round()
            if not calls:
                return
            if round_number == self._max_tool_rounds:
                raise TooManyToolRounds(
                    f"The model kept calling tools for {self._max_tool_rounds} rounds without "
                    "answering; the turn was stopped. Send a more specific message to continue."
                )
            for call in calls:
                self._call_in_flight = call
                output = await self._run_call(call)
                self._call_in_flight = None
                self._record_call(call, output)

    def _record_call(self, call: FunctionCallDone, output: str) -> None:
        self.thread.history.append(
            {
                "type": "function_call",
                "name": call.name,
                "arguments": call.arguments,
                "call_id": call.call_id,
            }
        )
        self.thread.history.append(
            {"type": "function_call_output", "call_id": call.call_id, "output": output}
        )

    def _record_aborted_call(self) -> None:
        # Every function_call in the history needs its output, or the next request is refused.
        if self._call_in_flight is not None:
            self._record_call(
                self._call_in_flight, "aborted: the turn was stopped before the command finished"
            )
            self._call_in_flight = None

    # ---- model calls -------------------------------------------------------------------------

    def _request(self) -> ResponsesRequest:
        thread = self.thread
        items: list[dict[str, Any]] = []
        if thread.developer_instructions:
            items.append(
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": thread.developer_instructions}],
                }
            )
        items.extend(thread.history)
        return ResponsesRequest(
            model=thread.model,
            instructions=thread.instructions,
            input=items,
            tools=[shell_tool(allow_escalation=thread.approval_policy == ON_REQUEST)],
            reasoning_effort=thread.effort,
            reasoning_summary=None if thread.summary == "none" else thread.summary,
            prompt_cache_key=thread.id,
            session_id=thread.id,
        )

    async def _model_round(self) -> list[FunctionCallDone]:
        calls: list[FunctionCallDone] = []
        async with contextlib.aclosing(self.thread.client.stream(self._request())) as events:
            async for event in events:
                self._on_event(event, calls)
        return calls

    def _on_event(self, event: ResponseEvent, calls: list[FunctionCallDone]) -> None:
        if isinstance(event, OutputTextDelta):
            self._text_delta(event)
        elif isinstance(event, ReasoningSummaryTextDelta):
            self._summary_delta(event)
        elif isinstance(event, OutputItemAdded):
            self._item_added(event.item)
        elif isinstance(event, ReasoningSummaryPartAdded):
            self._summary_part(event)
        elif isinstance(event, OutputItemDone):
            self._item_done(event.item)
        elif isinstance(event, FunctionCallDone):
            calls.append(event)
        elif isinstance(event, RateLimitsUpdated):
            self._sink.rate_limits_updated(event.snapshot)
        elif isinstance(event, ResponseCompleted) and event.usage is not None:
            self._usage(event.usage)

    def _backend_item(self, backend_id: str | None, kind: str) -> ThreadItem:
        item = self._by_backend_id.get(backend_id or "")
        if item is not None:
            return item
        new: ThreadItem
        if kind == "message":
            new = AgentMessageItem(type="agentMessage", id=new_item_id(), text="")
        else:
            new = ReasoningItem(type="reasoning", id=new_item_id(), summary=[], content=[])
        if backend_id:
            self._by_backend_id[backend_id] = new
        self._start(new)
        return new

    def _item_added(self, raw: dict[str, Any]) -> None:
        kind = raw.get("type")
        if kind in ("message", "reasoning"):
            self._backend_item(raw.get("id"), kind)

    def _text_delta(self, event: OutputTextDelta) -> None:
        item = self._backend_item(event.item_id, "message")
        if isinstance(item, AgentMessageItem):
            item.text += event.delta
            self._notify(
                ITEM_AGENT_MESSAGE_DELTA,
                ItemDelta(self.thread.id, self.turn_id, item.id, event.delta),
            )

    def _summary_part(self, event: ReasoningSummaryPartAdded) -> None:
        item = self._backend_item(event.item_id, "reasoning")
        if isinstance(item, ReasoningItem):
            while len(item.summary) <= event.summary_index:
                item.summary.append("")
            self._notify(
                ITEM_REASONING_SUMMARY_PART_ADDED,
                PartAddedPayload(self.thread.id, self.turn_id, item.id, event.summary_index),
            )

    def _summary_delta(self, event: ReasoningSummaryTextDelta) -> None:
        item = self._backend_item(event.item_id, "reasoning")
        if isinstance(item, ReasoningItem):
            while len(item.summary) <= event.summary_index:
                item.summary.append("")
            item.summary[event.summary_index] += event.delta
            self._notify(
                ITEM_REASONING_SUMMARY_TEXT_DELTA,
                SummaryDeltaPayload(
                    self.thread.id, self.turn_id, item.id, event.delta, event.summary_index
                ),
            )

    def _item_done(self, raw: dict[str, Any]) -> None:
        kind = raw.get("type")
        if kind == "message":
            item = self._backend_item(raw.get("id"), "message")
            assert isinstance(item, AgentMessageItem)
            text = _message_text(raw)
            if text is not None:
                item.text = text
            self._complete(item)
            self.thread.history.append(
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": item.text}],
                }
            )
        elif kind == "reasoning":
            reasoning = self._backend_item(raw.get("id"), "reasoning")
            assert isinstance(reasoning, ReasoningItem)
            summary = _summary_texts(raw)
            if summary is not None:
                reasoning.summary = summary
            # Reasoning is not sent back: with store=false the backend can't resolve its id.
            self._complete(reasoning)

    def _usage(self, usage: TokenUsage) -> None:
        thread = self.thread
        thread.usage_total = _add_usage(thread.usage_total, usage)
        payload = ThreadTokenUsage(
            total=_breakdown(thread.usage_total),
            last=_breakdown(usage),
            model_context_window=thread.context_window,
        )
        self._notify(
            THREAD_TOKEN_USAGE_UPDATED, ThreadTokenUsageUpdated(thread.id, self.turn_id, payload)
        )

    # ---- the shell tool ------------------------------------------------------------------------

    async def _run_call(self, call: FunctionCallDone) -> str:
        """Run one function call; the returned text is the function_call_output."""
        if call.name != SHELL_TOOL_NAME:
            return f"error: unknown tool {call.name!r}; the only tool is `{SHELL_TOOL_NAME}`."
        item = CommandExecutionItem(
            type="commandExecution",
            id=new_item_id(),
            command=call.arguments[:500],
            cwd=str(self.thread.cwd),
            status="inProgress",
            command_actions=[],
            aggregated_output=None,
            exit_code=None,
            duration_ms=None,
        )
        try:
            args = parse_shell_args(call.arguments, self.thread.cwd)
        except InvalidParams as exc:
            self._start(item)
            return self._fail(item, f"invalid shell arguments: {exc.message}")
        item.command = display_command(args.command)
        item.cwd = str(args.workdir)
        self._start(item)
        return await self._execute(item, args)

    async def _execute(self, item: CommandExecutionItem, args: ShellArgs) -> str:
        thread = self.thread
        policy, sandbox = thread.approval_policy, thread.sandbox_policy
        reason = ask_before_running(
            policy,
            args.command,
            escalate=args.with_escalated_permissions,
            approved=thread.approved_commands,
        )
        if reason is not None:
            if args.justification:
                reason = f"{reason} Reason given: {args.justification}"
            if not await self._approve(item, args, reason):
                return self._declined(item)
            if args.with_escalated_permissions:
                sandbox = DangerFullAccess()
        try:
            result = await self._run(item, args, sandbox)
        except SandboxUnavailable as exc:
            if not ask_when_sandbox_unavailable(policy):
                return self._fail(item, exc.message)
            if not await self._approve(item, args, f"{exc.message} Run it without the sandbox?"):
                return self._fail(item, exc.message + " The user declined to run it unsandboxed.")
            sandbox = DangerFullAccess()
            result = await self._run(item, args, sandbox)
        except InvalidParams as exc:  # e.g. a workdir that does not exist
            return self._fail(item, f"the command could not be started: {exc.message}")
        note = ""
        retry = ask_after_failure(policy, sandbox, result.exit_code, timed_out=result.timed_out)
        if retry is not None:
            if await self._approve(item, args, retry):
                result = await self._run(item, args, DangerFullAccess())
            else:
                note = "the user declined to run the command again without the sandbox"
        return self._finish_command(item, result, note)

    async def _run(
        self, item: CommandExecutionItem, args: ShellArgs, sandbox: SandboxPolicy
    ) -> CommandResult:
        output = OutputCollector()
        self._output = output
        self._ran.add(item.id)
        thread_id, turn_id, item_id = self.thread.id, self.turn_id, item.id

        def on_output(stream: str, chunk: bytes) -> None:
            text = output.add(stream, chunk)
            if text:
                self._notify(
                    ITEM_COMMAND_EXECUTION_OUTPUT_DELTA,
                    ItemDelta(thread_id, turn_id, item_id, text),
                )

        return await run_command(
            args.command,
            cwd=args.workdir,
            policy=sandbox,
            timeout_s=args.timeout_ms / 1000,
            output_cap=RUN_OUTPUT_CAP_BYTES,
            on_output=on_output,
        )

    async def _approve(self, item: CommandExecutionItem, args: ShellArgs, reason: str) -> bool:
        """Ask the editor; True to run. `cancel` ends the turn; acceptForSession is remembered."""
        params = CommandExecutionRequestApprovalParams(
            thread_id=self.thread.id,
            turn_id=self.turn_id,
            item_id=item.id,
            started_at_ms=now_ms(),
            approval_id=str(uuid.uuid4()),
            command=item.command,
            cwd=item.cwd,
            reason=reason,
        )
        decision = await self._sink.request_approval(params)
        if decision == "cancel":
            raise TurnCancelled()
        if decision == "acceptForSession":
            self.thread.approved_commands.add(tuple(args.command))
        return decision in ("accept", "acceptForSession")

    def _declined(self, item: CommandExecutionItem) -> str:
        item.status = "declined"
        self._complete(item)
        return (
            "The user declined to run this command. Do not run it again; continue without it "
            "or ask the user how to proceed."
        )

    def _fail(self, item: CommandExecutionItem, message: str) -> str:
        item.status = "failed"
        item.aggregated_output = message
        self._complete(item)
        return f"error: {message}"

    def _finish_command(self, item: CommandExecutionItem, result: CommandResult, note: str) -> str:
        output = self._output.text if self._output is not None else result.stdout + result.stderr
        self._output = None
        if result.timed_out:
            note = f"the command timed out and was killed (exit code {result.exit_code})"
        item.status = "completed" if result.exit_code == 0 else "failed"
        item.exit_code = result.exit_code
        item.duration_ms = result.duration_ms
        item.aggregated_output = output
        self._complete(item)
        return model_output(result.exit_code, result.duration_ms, output, note)

    # ---- items and notifications ---------------------------------------------------------------

    def _notify(self, method: Method, payload: Any) -> None:
        self._sink.notify(method, payload)

    def _start(self, item: ThreadItem) -> None:
        self._open[item.id] = item
        self._notify(ITEM_STARTED, ItemStarted(self.thread.id, self.turn_id, item, now_ms()))

    def _complete(self, item: ThreadItem) -> None:
        self._open.pop(item.id, None)
        self._items.append(to_wire(item))
        self._notify(ITEM_COMPLETED, ItemCompleted(self.thread.id, self.turn_id, item, now_ms()))

    def _close_open_items(self) -> None:
        """A stopped turn still completes every item it started (commands as failed/declined)."""
        for item in list(self._open.values()):
            if isinstance(item, CommandExecutionItem):
                if item.id not in self._ran:
                    item.status = "declined"  # stopped while waiting for approval
                else:
                    item.status = "failed"
                    item.aggregated_output = self._output.text if self._output else None
            self._complete(item)


def schedule_turn(runner: TurnRunner, answered: asyncio.Future[Any] | None) -> asyncio.Task[None]:
    """Start the runner as a task (the caller records it as the thread's active turn)."""
    return asyncio.create_task(runner.run(answered), name=f"turn-{runner.turn_id}")
