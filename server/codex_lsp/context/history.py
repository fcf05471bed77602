"""The conversation of one thread, as Responses-API input items, and its token accounting.

:class:`ConversationHistory` is the only writer of a thread's conversation. Its invariant, kept
by :meth:`~ConversationHistory.for_prompt`: every `function_call` sent to the model has its
`function_call_output` (a call stopped by an interrupt or a failure gets an "aborted" output),
and no output is sent without its call — the backend refuses a request that breaks either rule.
Compaction swaps the whole conversation with :meth:`~ConversationHistory.replace`; a rollout
recorder follows every change through :meth:`~ConversationHistory.add_listener`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codex_lsp.backend.responses import TokenUsage

Item = dict[str, Any]
ABORTED_OUTPUT = "aborted: the turn was stopped before the command finished"
CALL_TYPES = ("function_call", "custom_tool_call")
OUTPUT_TYPES = {
    "function_call": "function_call_output",
    "custom_tool_call": "custom_tool_call_output",
}


class HistoryListener:
    """Told about every change (e.g. a rollout recorder). Override what you need."""

    def recorded(self, items: Sequence[Item]) -> None:
        """``items`` were appended, in this order."""

    def replaced(self, items: Sequence[Item]) -> None:
        """The whole conversation is now ``items`` (compaction)."""


class ConversationHistory:
    """The items of one thread's conversation, oldest first."""

    def __init__(self, items: Sequence[Item] = ()) -> None:
        self._items: list[Item] = list(items)
        self._listeners: list[HistoryListener] = []
        self.usage_total = TokenUsage()

    # ---- writing ------------------------------------------------------------------------------

    def record(self, *items: Item) -> None:
        """Append items (user/assistant messages, tool calls, tool outputs) in order."""
        self._items.extend(items)
        for listener in self._listeners:
            listener.recorded(items)

    def answer_open_calls(self, output: str = ABORTED_OUTPUT) -> None:
        """Record ``output`` for every call that has none yet (a turn stopped mid-call)."""
        answered = {item.get("call_id") for item in self._items if _is_output(item)}
        missing = [
            {
                "type": OUTPUT_TYPES[str(item["type"])],
                "call_id": item.get("call_id"),
                "output": output,
            }
            for item in self._items
            if item.get("type") in CALL_TYPES and item.get("call_id") not in answered
        ]
        if missing:
            self.record(*missing)

    def replace(self, items: Sequence[Item]) -> None:
        """Swap the whole conversation (compaction keeps a summary instead of the old items)."""
        self._items = list(items)
        for listener in self._listeners:
            listener.replaced(self._items)

    def add_listener(self, listener: HistoryListener) -> None:
        self._listeners.append(listener)

    # ---- reading ------------------------------------------------------------------------------

    @property
    def items(self) -> list[Item]:
        """A copy of the items as recorded (not normalised)."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def for_prompt(self) -> list[Item]:
        """The items to send: every call followed by its output, no output without its call."""
        answered = {item.get("call_id") for item in self._items if _is_output(item)}
        called = {item.get("call_id") for item in self._items if item.get("type") in CALL_TYPES}
        prompt: list[Item] = []
        for item in self._items:
            if _is_output(item) and item.get("call_id") not in called:
                continue  # an orphan output (its call was compacted away) is refused upstream
            prompt.append(item)
            kind = item.get("type")
            if kind in CALL_TYPES and item.get("call_id") not in answered:
                prompt.append(
                    {
                        "type": OUTPUT_TYPES[str(kind)],
                        "call_id": item.get("call_id"),
                        "output": ABORTED_OUTPUT,
                    }
                )
        return prompt

    # ---- token accounting ---------------------------------------------------------------------

    def add_usage(self, usage: TokenUsage) -> TokenUsage:
        """Add one response's usage to the thread's total; returns the new total."""
        self.usage_total = add_usage(self.usage_total, usage)
        return self.usage_total


def _is_output(item: Item) -> bool:
    return item.get("type") in OUTPUT_TYPES.values()


def add_usage(a: TokenUsage, b: TokenUsage) -> TokenUsage:
    return TokenUsage(
        input_tokens=a.input_tokens + b.input_tokens,
        cached_input_tokens=a.cached_input_tokens + b.cached_input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        reasoning_output_tokens=a.reasoning_output_tokens + b.reasoning_output_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )


def user_message(texts: Sequence[str]) -> Item:
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": t} for t in texts],
    }


def assistant_message(text: str) -> Item:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def function_call(name: str, arguments: str, call_id: str) -> Item:
    return {"type": "function_call", "name": name, "arguments": arguments, "call_id": call_id}


def function_call_output(call_id: str, output: str) -> Item:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def custom_tool_call(name: str, tool_input: str, call_id: str) -> Item:
    return {"type": "custom_tool_call", "name": name, "input": tool_input, "call_id": call_id}


def custom_tool_call_output(call_id: str, output: str) -> Item:
    return {"type": "custom_tool_call_output", "call_id": call_id, "output": output}
