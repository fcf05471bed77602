"""`ConversationHistory`: the conversation's invariants and its change listeners."""

from __future__ import annotations

from collections.abc import Sequence

from codex_lsp.backend.responses import TokenUsage
from codex_lsp.context.history import (
    ABORTED_OUTPUT,
    ConversationHistory,
    HistoryListener,
    Item,
    assistant_message,
    function_call,
    function_call_output,
    user_message,
)


def test_for_prompt_gives_every_call_an_output_right_after_it() -> None:
    history = ConversationHistory()
    history.record(user_message(["hi"]), function_call("shell", "{}", "c1"))
    history.record(function_call("shell", "{}", "c2"), function_call_output("c2", "ok"))
    prompt = history.for_prompt()
    assert [item["type"] for item in prompt] == [
        "message",
        "function_call",
        "function_call_output",
        "function_call",
        "function_call_output",
    ]
    assert prompt[2] == {"type": "function_call_output", "call_id": "c1", "output": ABORTED_OUTPUT}
    assert len(history) == 4  # for_prompt doesn't change what was recorded


def test_for_prompt_drops_an_output_without_its_call() -> None:
    history = ConversationHistory([function_call_output("gone", "x"), assistant_message("a")])
    assert history.for_prompt() == [assistant_message("a")]


def test_answer_open_calls_records_the_missing_outputs_once() -> None:
    history = ConversationHistory([function_call("shell", "{}", "c1")])
    history.answer_open_calls()
    history.answer_open_calls()
    assert history.items[1] == function_call_output("c1", ABORTED_OUTPUT)
    assert len(history) == 2


class Recorder(HistoryListener):
    def __init__(self) -> None:
        self.recorded_items: list[Item] = []
        self.replacements: list[list[Item]] = []

    def recorded(self, items: Sequence[Item]) -> None:
        self.recorded_items.extend(items)

    def replaced(self, items: Sequence[Item]) -> None:
        self.replacements.append(list(items))


def test_listeners_see_records_and_replacements() -> None:
    history = ConversationHistory()
    recorder = Recorder()
    history.add_listener(recorder)
    history.record(user_message(["a"]), assistant_message("b"))
    history.replace([user_message(["summary"])])
    assert recorder.recorded_items == [user_message(["a"]), assistant_message("b")]
    assert recorder.replacements == [[user_message(["summary"])]]
    assert history.items == [user_message(["summary"])]


def test_usage_adds_up() -> None:
    history = ConversationHistory()
    history.add_usage(TokenUsage(input_tokens=3, total_tokens=4))
    total = history.add_usage(TokenUsage(output_tokens=2, total_tokens=2))
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (3, 2, 6)
