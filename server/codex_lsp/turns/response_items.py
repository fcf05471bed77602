"""One model response as the editor sees it: backend stream events → agent-message and
reasoning items with their deltas; finished messages go into the conversation."""

from __future__ import annotations

from typing import Any

from codex_lsp.backend.responses import (
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningSummaryPartAdded,
    ReasoningSummaryTextDelta,
)
from codex_lsp.context.history import ConversationHistory, assistant_message
from codex_lsp.protocol.threads import (
    ITEM_AGENT_MESSAGE_DELTA,
    ITEM_REASONING_SUMMARY_PART_ADDED,
    ITEM_REASONING_SUMMARY_TEXT_DELTA,
    AgentMessageItem,
    ItemDelta,
    ReasoningItem,
    ThreadItem,
)
from codex_lsp.protocol.threads import ReasoningSummaryPartAdded as PartAddedPayload
from codex_lsp.protocol.threads import ReasoningSummaryTextDelta as SummaryDeltaPayload
from codex_lsp.turns.items import TurnItems, new_item_id


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


class ResponseItems:
    """Maps the message and reasoning events of a turn's responses onto items."""

    def __init__(self, items: TurnItems, history: ConversationHistory) -> None:
        self._items = items
        self._history = history
        self._by_backend_id: dict[str, ThreadItem] = {}

    def item_added(self, event: OutputItemAdded) -> None:
        kind = event.item.get("type")
        if kind in ("message", "reasoning"):
            self._backend_item(event.item.get("id"), kind)

    def text_delta(self, event: OutputTextDelta) -> None:
        item = self._backend_item(event.item_id, "message")
        if isinstance(item, AgentMessageItem):
            item.text += event.delta
            self._items.notify(ITEM_AGENT_MESSAGE_DELTA, self._delta(item, event.delta))

    def summary_part(self, event: ReasoningSummaryPartAdded) -> None:
        item = self._backend_item(event.item_id, "reasoning")
        if isinstance(item, ReasoningItem):
            while len(item.summary) <= event.summary_index:
                item.summary.append("")
            items = self._items
            items.notify(
                ITEM_REASONING_SUMMARY_PART_ADDED,
                PartAddedPayload(items.thread_id, items.turn_id, item.id, event.summary_index),
            )

    def summary_delta(self, event: ReasoningSummaryTextDelta) -> None:
        item = self._backend_item(event.item_id, "reasoning")
        if isinstance(item, ReasoningItem):
            while len(item.summary) <= event.summary_index:
                item.summary.append("")
            item.summary[event.summary_index] += event.delta
            items = self._items
            items.notify(
                ITEM_REASONING_SUMMARY_TEXT_DELTA,
                SummaryDeltaPayload(
                    items.thread_id, items.turn_id, item.id, event.delta, event.summary_index
                ),
            )

    def item_done(self, event: OutputItemDone) -> None:
        raw = event.item
        kind = raw.get("type")
        if kind == "message":
            item = self._backend_item(raw.get("id"), "message")
            assert isinstance(item, AgentMessageItem)
            text = _message_text(raw)
            if text is not None:
                item.text = text
            self._items.complete(item)
            self._history.record(assistant_message(item.text))
        elif kind == "reasoning":
            reasoning = self._backend_item(raw.get("id"), "reasoning")
            assert isinstance(reasoning, ReasoningItem)
            summary = _summary_texts(raw)
            if summary is not None:
                reasoning.summary = summary
            # With store=false the backend can't look reasoning up by id: it goes back to the
            # model only as its encrypted content, exactly as received (nothing without it).
            if isinstance(raw.get("encrypted_content"), str):
                self._history.record(dict(raw))
            self._items.complete(reasoning)

    def _delta(self, item: ThreadItem, delta: str) -> ItemDelta:
        return ItemDelta(self._items.thread_id, self._items.turn_id, item.id, delta)

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
        self._items.start(new)
        return new
