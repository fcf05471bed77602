"""Compaction: when the conversation nears the model's context window, the model summarises it
and the history is replaced by the initial context, the most recent user messages and that
summary (upstream's `compact.rs` shape).

Pure functions; the turn loop runs the summarisation request and calls `history.replace()`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from codex_lsp.context import agents_md, environment

SUMMARY_PROMPT = """\
You are compacting this conversation so that it can continue in a fresh context window. Write a \
handoff summary for the model that will carry on the work. Include:
- what the user asked for, their constraints and preferences;
- what has been done so far and the key decisions, with file paths and commands that matter;
- what is still to do, as concrete next steps;
- any data, error messages or snippets needed to continue.
Be concise and structured. Do not call tools; answer with the summary only."""

SUMMARY_PREFIX = (
    "Another model worked on this conversation before the context was compacted. Its summary of "
    "the work so far follows; use it to continue without asking the user to repeat themselves."
)

USER_MESSAGES_MAX_TOKENS = 20_000
BYTES_PER_TOKEN = 4
AUTO_COMPACT_WINDOW_FRACTION = 0.9


def estimate_tokens(items: Sequence[Mapping[str, Any]]) -> int:
    """Rough token count of Responses-API items (4 bytes a token, as upstream estimates)."""
    size = sum(len(json.dumps(item, ensure_ascii=False)) for item in items)
    return (size + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def auto_compact_limit(
    context_window: int | None, configured: int | None = None, model_limit: int | None = None
) -> int | None:
    """Tokens of context after which to compact: `model_auto_compact_token_limit` from config,
    else the model's own `auto_compact_token_limit`, else 90% of its context window; never above
    90% of a known window. None when nothing is known (no auto-compaction)."""
    ceiling = int(context_window * AUTO_COMPACT_WINDOW_FRACTION) if context_window else None
    limit = configured or model_limit or ceiling
    if limit is None:
        return None
    return min(limit, ceiling) if ceiling is not None else limit


def should_compact(used_tokens: int, limit: int | None) -> bool:
    return limit is not None and limit > 0 and used_tokens >= limit


def _text_of(item: Mapping[str, Any]) -> str | None:
    content = item.get("content")
    if not isinstance(content, list):
        return None
    texts = [
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text")
    ]
    return "\n".join(texts) if texts else None


def user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def summary_item(summary: str) -> dict[str, Any]:
    return user_message(f"{SUMMARY_PREFIX}\n\n{summary.strip()}")


def is_summary(item: Mapping[str, Any]) -> bool:
    text = _text_of(item) if item.get("role") == "user" else None
    return text is not None and text.startswith(SUMMARY_PREFIX)


def is_contextual(item: Mapping[str, Any]) -> bool:
    """AGENTS.md and environment messages: context the turn loop re-creates, not conversation."""
    if item.get("type") != "message" or item.get("role") != "user":
        return False
    text = _text_of(item) or ""
    return agents_md.agents_md_cwd(item) is not None or text.lstrip().startswith(
        environment.OPEN_TAG
    )


def user_messages(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The texts of the user's own messages, oldest first (context and summaries left out)."""
    texts = []
    for item in history:
        if item.get("type") != "message" or item.get("role") != "user":
            continue
        if is_contextual(item) or is_summary(item):
            continue
        text = _text_of(item)
        if text:
            texts.append(text)
    return texts


def summarization_input(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The input of the request that asks the model for the summary."""
    return [dict(item) for item in history] + [user_message(SUMMARY_PROMPT)]


def recent_user_messages(
    history: Sequence[Mapping[str, Any]], max_tokens: int = USER_MESSAGES_MAX_TOKENS
) -> list[str]:
    """The newest user messages that fit ``max_tokens`` (the oldest kept one may be cut)."""
    budget = max_tokens * BYTES_PER_TOKEN
    kept: list[str] = []
    for text in reversed(user_messages(history)):
        if budget <= 0:
            break
        if len(text) > budget:
            text = text[:budget] + "\n[... truncated during compaction]"
            budget = 0
        else:
            budget -= len(text)
        kept.append(text)
    kept.reverse()
    return kept


def build_replacement(
    history: Sequence[Mapping[str, Any]],
    summary: str,
    *,
    initial_context: Sequence[Mapping[str, Any]] = (),
    max_user_tokens: int = USER_MESSAGES_MAX_TOKENS,
) -> list[dict[str, Any]]:
    """The new history: initial context, the recent user messages, then the summary."""
    items = [dict(item) for item in initial_context]
    items.extend(user_message(text) for text in recent_user_messages(history, max_user_tokens))
    items.append(summary_item(summary))
    return items


def drop_oldest(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]] | None:
    """The history without its oldest conversation item (and that call's output, if it was a
    call), for retrying a summarisation that itself overflowed; None when nothing can go."""
    items = [dict(item) for item in history]
    for index, item in enumerate(items):
        if is_contextual(item):
            continue
        del items[index]
        call_id = item.get("call_id")
        if item.get("type") in ("function_call", "custom_tool_call") and call_id:
            items = [i for i in items if i.get("call_id") != call_id]
        return items
    return None
