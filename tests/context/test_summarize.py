"""The summarisation request (in-process, with a scripted model stream)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from codex_lsp.backend.responses import (
    OutputItemDone,
    ResponseCompleted,
    ResponseEvent,
    ResponsesRequest,
    StreamError,
    TokenUsage,
)
from codex_lsp.context.compaction import SUMMARY_PROMPT, user_message
from codex_lsp.context.summarize import CompactionFailed, summarize


class ScriptedModel:
    """Answers each request with the next scripted reply: a text, or a StreamError to raise."""

    def __init__(self, *replies: str | StreamError) -> None:
        self.replies = list(replies)
        self.requests: list[ResponsesRequest] = []

    async def stream(self, request: ResponsesRequest) -> AsyncGenerator[ResponseEvent, None]:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, StreamError):
            raise reply
        item = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": reply}],
        }
        yield OutputItemDone(0, item)
        yield ResponseCompleted("r", TokenUsage(input_tokens=10, output_tokens=5, total_tokens=15))


TEMPLATE = ResponsesRequest(
    model="m", instructions="base", input=[], tools=[{"type": "function", "name": "shell"}]
)


async def test_summary_request_has_no_tools_and_ends_with_the_prompt() -> None:
    model = ScriptedModel("the summary")
    history = [user_message("fix the bug")]
    prefix = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]}
    ]
    summary = await summarize(model, TEMPLATE, prefix, history)
    assert summary.text == "the summary" and summary.usage is not None and summary.dropped == 0
    sent = model.requests[0]
    assert sent.tools == [] and sent.instructions == "base"
    assert sent.input[0] == prefix[0] and sent.input[1] == history[0]
    assert sent.input[-1]["content"][0]["text"] == SUMMARY_PROMPT


async def test_an_overflowing_summarisation_is_retried_without_the_oldest_items() -> None:
    overflow = StreamError("too long", "contextWindowExceeded")
    model = ScriptedModel(overflow, "short summary")
    history = [user_message(f"message {i} " + "x" * 200) for i in range(10)]
    summary = await summarize(model, TEMPLATE, [], history)
    assert summary.text == "short summary" and summary.dropped > 0
    assert len(model.requests[1].input) < len(model.requests[0].input)
    assert model.requests[1].input[-2] == history[-1]  # the newest items are kept


async def test_other_failures_and_empty_summaries_fail() -> None:
    with pytest.raises(StreamError):
        await summarize(
            ScriptedModel(StreamError("down", "internalServerError")),
            TEMPLATE,
            [],
            [user_message("x")],
        )
    with pytest.raises(CompactionFailed):
        await summarize(ScriptedModel("  "), TEMPLATE, [], [user_message("x")])
