"""The in-process tier: a turn runs against a scripted model stream and a recording sink,
without a server process, HTTP or JSON-RPC (importable as `engine_support`).

The subprocess suites (tests/turns) keep the wire ordering honest; this tier makes the engine's
state machine cheap to probe (milliseconds per turn)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

from codex_lsp.backend.responses import (
    FunctionCallDone,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ResponseCompleted,
    ResponseEvent,
    ResponsesRequest,
    TokenUsage,
)
from codex_lsp.edits.session import EditorAnswer, EditorConnection
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.threads import (
    TURN_COMPLETED,
    CommandExecutionRequestApprovalParams,
    TextInput,
    TurnNotification,
)
from codex_lsp.protocol.wire import to_wire
from codex_lsp.sandbox.policy import SandboxPolicy, WorkspaceWrite
from codex_lsp.turns.approvals import Decision
from codex_lsp.turns.engine import TurnRunner
from codex_lsp.turns.store import ThreadState
from codex_lsp.turns.tools import ToolRegistry

Round = Sequence[ResponseEvent] | BaseException


class ScriptedModel:
    """Plays one scripted list of events per model request and keeps every request."""

    def __init__(self, rounds: Sequence[Round]) -> None:
        self._rounds = list(rounds)
        self.requests: list[ResponsesRequest] = []

    async def stream(self, request: ResponsesRequest) -> AsyncGenerator[ResponseEvent, None]:
        self.requests.append(request)
        if not self._rounds:
            raise AssertionError("the engine asked for more model rounds than were scripted")
        round_ = self._rounds.pop(0)
        if isinstance(round_, BaseException):
            raise round_
        for event in round_:
            await asyncio.sleep(0)
            yield event


class RecordingSink:
    """Records notifications (as wire JSON) and answers approvals from a script."""

    def __init__(self, decisions: Sequence[Decision] = ()) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.approvals: list[CommandExecutionRequestApprovalParams] = []
        self.rate_limits: list[dict[str, Any]] = []
        self._decisions = list(decisions)
        self.on_approval: Callable[[], None] | None = None

    def notify(self, method: Method, payload: Any) -> None:
        self.events.append((method.name, to_wire(payload)))

    def rate_limits_updated(self, snapshot: dict[str, Any]) -> None:
        self.rate_limits.append(snapshot)

    async def request_approval(self, params: CommandExecutionRequestApprovalParams) -> Decision:
        self.approvals.append(params)
        if self.on_approval is not None:
            self.on_approval()
        await asyncio.sleep(0)
        return self._decisions.pop(0) if self._decisions else "decline"

    async def ask_editor(self, method: Method, params: Any, thread_id: str) -> Decision:
        self.approvals.append(params)
        if self.on_approval is not None:
            self.on_approval()
        await asyncio.sleep(0)
        return self._decisions.pop(0) if self._decisions else "decline"

    async def apply_workspace_edit(self, label: str, edit: Any) -> EditorAnswer:
        return EditorAnswer(False, "this recording sink has no editor")

    def file_edits(self) -> EditorConnection:
        return EditorConnection()

    async def complete_turn(self, payload: TurnNotification) -> None:
        self.notify(TURN_COMPLETED, payload)

    def methods(self) -> list[str]:
        return [method for method, _ in self.events]

    def of(self, method: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.events if name == method]

    def completed(self) -> dict[str, Any]:
        (done,) = self.of("turn/completed")
        return done["turn"]


# ---- scripted events ----------------------------------------------------------------------------


def text_round(text: str, *, item_id: str = "msg-1", tokens: int = 7) -> list[ResponseEvent]:
    message = {"type": "message", "id": item_id, "role": "assistant"}
    done = dict(message, content=[{"type": "output_text", "text": text}])
    return [
        OutputItemAdded(0, message),
        OutputTextDelta(item_id, 0, 0, text),
        OutputItemDone(0, done),
        ResponseCompleted("resp", TokenUsage(input_tokens=tokens, total_tokens=tokens)),
    ]


def call_round(*calls: tuple[str, str, Any]) -> list[ResponseEvent]:
    """One round of tool calls: (name, call_id, arguments as JSON-able or raw str)."""
    events: list[ResponseEvent] = []
    for index, (name, call_id, arguments) in enumerate(calls):
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        item = {"type": "function_call", "name": name, "call_id": call_id, "arguments": raw}
        events.append(FunctionCallDone(index, None, call_id, name, raw, item))
    events.append(ResponseCompleted("resp", None))
    return events


def make_thread(
    cwd: Path,
    model: ScriptedModel,
    *,
    approval_policy: str = "never",
    sandbox: SandboxPolicy | None = None,
) -> ThreadState:
    return ThreadState(
        id="thread-1",
        cwd=cwd,
        model="test-model",
        model_provider="test",
        approval_policy=approval_policy,
        sandbox_policy=sandbox if sandbox is not None else WorkspaceWrite(),
        client=model,
    )


async def run_turn(
    thread: ThreadState,
    sink: RecordingSink,
    text: str = "hello",
    *,
    tools: ToolRegistry | None = None,
    max_tool_rounds: int = 50,
) -> TurnRunner:
    runner = TurnRunner(
        thread,
        "turn-1",
        [TextInput(type="text", text=text)],
        sink,
        tools=tools,
        max_tool_rounds=max_tool_rounds,
    )
    thread.active = None
    await asyncio.wait_for(runner.run(), timeout=60)
    return runner
