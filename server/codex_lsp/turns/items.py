"""The items of one turn: `item/started`, `item/completed` (exactly once each), the deltas in
between, and the completed items that `turn/completed` carries."""

from __future__ import annotations

import time
import uuid
from typing import Any, Protocol

from lsprotocol import types as lsp

from codex_lsp.edits.session import EditorAnswer, EditorConnection
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.threads import (
    ITEM_COMPLETED,
    ITEM_STARTED,
    CommandExecutionRequestApprovalParams,
    ItemCompleted,
    ItemStarted,
    ThreadItem,
    TurnNotification,
)
from codex_lsp.protocol.wire import to_wire
from codex_lsp.turns.approvals import Decision


class TurnSink(Protocol):
    """Where a turn's output goes (the LSP layer implements it; tests record it)."""

    def notify(self, method: Method, payload: Any) -> None: ...

    def rate_limits_updated(self, snapshot: dict[str, Any]) -> None: ...

    async def request_approval(self, params: CommandExecutionRequestApprovalParams) -> Decision: ...

    async def ask_editor(self, method: Method, params: Any, thread_id: str) -> Decision:
        """Any approval request (e.g. `item/fileChange/requestApproval`): ask, wait, send
        `serverRequest/resolved`; an error, a bad answer or no answer is `decline`."""
        ...

    async def apply_workspace_edit(self, label: str, edit: lsp.WorkspaceEdit) -> EditorAnswer:
        """`workspace/applyEdit`; an error or no answer is `applied: false` with the reason."""
        ...

    def file_edits(self) -> EditorConnection:
        """How this editor connection takes file edits (mode, capabilities, open documents)."""
        ...

    async def complete_turn(self, payload: TurnNotification) -> None:
        """Send `turn/completed` (always, even when cancelled while waiting) once what the turn
        leaves behind (its rollout lines) is written: an editor that reads the thread right after
        finds the whole turn."""
        ...


def now_ms() -> int:
    return int(time.time() * 1000)


def new_item_id() -> str:
    return f"item-{uuid.uuid4().hex[:16]}"


class TurnItems:
    """Starts and completes the items of one turn and sends its notifications."""

    def __init__(self, sink: TurnSink, thread_id: str, turn_id: str) -> None:
        self.sink = sink
        self.thread_id = thread_id
        self.turn_id = turn_id
        self.completed: list[Any] = []  # wire shape, for turn/completed
        self._open: dict[str, ThreadItem] = {}

    def notify(self, method: Method, payload: Any) -> None:
        self.sink.notify(method, payload)

    def start(self, item: ThreadItem) -> None:
        self._open[item.id] = item
        self.notify(ITEM_STARTED, ItemStarted(self.thread_id, self.turn_id, item, now_ms()))

    def complete(self, item: ThreadItem) -> None:
        self._open.pop(item.id, None)
        self.completed.append(to_wire(item))
        self.notify(ITEM_COMPLETED, ItemCompleted(self.thread_id, self.turn_id, item, now_ms()))

    def close_open(self) -> None:
        """A stopped turn still completes every item it started (their owners set the status)."""
        for item in list(self._open.values()):
            self.complete(item)
