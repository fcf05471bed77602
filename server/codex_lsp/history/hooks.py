"""Where a loaded thread meets its rollout: the conversation listener and the recording sink.

- :class:`RolloutListener` follows the thread's :class:`~codex_lsp.context.history.ConversationHistory`:
  every recorded item becomes a ``response_item`` line, every ``replace()`` (compaction) a
  ``compacted`` line with its ``replacement_history``.
- :class:`RecordingSink` wraps the turn's sink: what the turn tells the editor becomes
  ``event_msg`` lines (see :func:`~codex_lsp.history.policy.events_for_notification`), a
  ``turn_context`` line follows ``task_started``, and the rollout is flushed when the turn ends.
  ``turn/completed`` reaches the editor once the turn's lines are written (not yet fsynced), so an
  editor that reads the thread (or the file) right after it finds the whole turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from lsprotocol import types as lsp

from codex_lsp.context.history import HistoryListener, Item
from codex_lsp.edits.session import EditorAnswer, EditorConnection
from codex_lsp.history.policy import events_for_notification
from codex_lsp.history.recorder import RolloutRecorder
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.threads import (
    TURN_COMPLETED,
    CommandExecutionRequestApprovalParams,
    TurnNotification,
)
from codex_lsp.protocol.wire import to_wire
from codex_lsp.turns.approvals import Decision
from codex_lsp.turns.items import TurnSink

log = logging.getLogger(__name__)

# How long `turn/completed` waits for the turn's lines to be written before it goes anyway.
_WRITE_WAIT_S = 5.0
_RECORDED_METHODS = frozenset({"turn/started", "item/completed", "thread/tokenUsage/updated"})


class RolloutListener(HistoryListener):
    """Persists the conversation as it changes."""

    def __init__(self, recorder: RolloutRecorder) -> None:
        self.recorder = recorder

    def recorded(self, items: Sequence[Item]) -> None:
        self.recorder.record_items(list(items))

    def replaced(self, items: Sequence[Item]) -> None:
        self.recorder.record("compacted", {"message": "", "replacement_history": list(items)})


class RecordingSink:
    """A :class:`TurnSink` that also writes the turn's events to the rollout."""

    def __init__(
        self,
        inner: TurnSink,
        recorder: RolloutRecorder,
        turn_context: Callable[[str], dict[str, Any]],
    ) -> None:
        self._inner = inner
        self._recorder = recorder
        self._turn_context = turn_context

    def notify(self, method: Method, payload: Any) -> None:
        if method.name in _RECORDED_METHODS:
            self._record(method.name, payload)
        self._inner.notify(method, payload)

    def rate_limits_updated(self, snapshot: dict[str, Any]) -> None:
        self._inner.rate_limits_updated(snapshot)

    async def request_approval(self, params: CommandExecutionRequestApprovalParams) -> Decision:
        return await self._inner.request_approval(params)

    async def ask_editor(self, method: Method, params: Any, thread_id: str) -> Decision:
        return await self._inner.ask_editor(method, params, thread_id)

    async def apply_workspace_edit(self, label: str, edit: lsp.WorkspaceEdit) -> EditorAnswer:
        return await self._inner.apply_workspace_edit(label, edit)

    def file_edits(self) -> EditorConnection:
        return self._inner.file_edits()

    async def complete_turn(self, payload: TurnNotification) -> None:
        self._record(TURN_COMPLETED.name, payload)
        try:  # written, then announced; the fsync follows in the same worker hop
            await asyncio.wait_for(self._recorder.flush(durable=False), _WRITE_WAIT_S)
        except TimeoutError:  # a disk that hangs must not hang the turn
            log.warning("the history of thread %s is slow to write", self._recorder.thread_id)
        finally:
            self._inner.notify(TURN_COMPLETED, payload)

    def _record(self, method: str, payload: Any) -> None:
        try:
            wire = to_wire(payload)
            for event in events_for_notification(method, wire):
                self._recorder.record("event_msg", event)
                if event.get("type") == "task_started":
                    self._recorder.record(
                        "turn_context", self._turn_context(str(event.get("turn_id")))
                    )
        except Exception:  # noqa: BLE001 - history must never break the turn
            log.exception("recording %s in the rollout failed", method)
