"""The summarisation request of a compaction: the conversation plus the summary prompt, no tools;
the model's answer is the summary. A summarisation that itself overflows the context window is
retried without the oldest items (a bounded number of times)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Protocol

import attrs

from codex_lsp.backend.responses import (
    OutputItemDone,
    ResponseCompleted,
    ResponseEvent,
    ResponsesRequest,
    StreamError,
    TokenUsage,
)
from codex_lsp.context import compaction
from codex_lsp.errors import CodexError

MAX_ATTEMPTS = 6
KEEP_FRACTION = 0.7  # each retry keeps about this share of the conversation (the newest part)


class ModelStream(Protocol):
    def stream(self, request: ResponsesRequest) -> AsyncGenerator[ResponseEvent, None]: ...


class CompactionFailed(CodexError):
    """The model gave no summary."""


@attrs.frozen
class Summary:
    text: str
    usage: TokenUsage | None
    dropped: int  # oldest items left out to make the request fit


def _message_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") == "output_text"
    )


def _trim(history: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    target = compaction.estimate_tokens(history) * KEEP_FRACTION
    trimmed: list[dict[str, Any]] | None = history
    while trimmed is not None and compaction.estimate_tokens(trimmed) > target:
        trimmed = compaction.drop_oldest(trimmed)
    return trimmed


async def summarize(
    client: ModelStream,
    template: ResponsesRequest,
    prefix: Sequence[dict[str, Any]],
    history: Sequence[dict[str, Any]],
) -> Summary:
    """Ask the model for the summary. ``template`` gives model, instructions and reasoning; its
    input and tools are replaced."""
    items = [dict(i) for i in history]
    dropped = 0
    for attempt in range(MAX_ATTEMPTS):
        request = attrs.evolve(
            template,
            input=[*prefix, *compaction.summarization_input(items)],
            tools=[],
        )
        try:
            text, usage = await _collect(client, request)
        except StreamError as exc:
            trimmed = _trim(items) if exc.codex_error_info == "contextWindowExceeded" else None
            if trimmed is None or attempt == MAX_ATTEMPTS - 1:
                raise
            dropped += len(items) - len(trimmed)
            items = trimmed
            continue
        if not text.strip():
            raise CompactionFailed(
                "The model returned an empty summary, so the conversation was not compacted; "
                "try again."
            )
        return Summary(text=text, usage=usage, dropped=dropped)
    raise AssertionError("unreachable: the loop returns or raises")


async def _collect(client: ModelStream, request: ResponsesRequest) -> tuple[str, TokenUsage | None]:
    texts: list[str] = []
    usage: TokenUsage | None = None
    async with contextlib.aclosing(client.stream(request)) as events:
        async for event in events:
            if isinstance(event, OutputItemDone) and event.item.get("type") == "message":
                texts.append(_message_text(event.item))
            elif isinstance(event, ResponseCompleted):
                usage = event.usage
    return "\n".join(t for t in texts if t), usage
