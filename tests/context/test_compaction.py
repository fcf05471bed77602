"""Compaction pieces (pure): thresholds, the replacement history, retries that drop old items."""

from __future__ import annotations

from codex_lsp.context import compaction
from codex_lsp.context.compaction import (
    auto_compact_limit,
    build_replacement,
    drop_oldest,
    is_summary,
    recent_user_messages,
    should_compact,
    summarization_input,
    user_message,
)


def assistant(text: str) -> dict:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


AGENTS = user_message("# AGENTS.md instructions for /p\n\n<INSTRUCTIONS>\nrules\n</INSTRUCTIONS>")
ENV = user_message("<environment_context>\n  <cwd>/p</cwd>\n</environment_context>")


def test_limit_comes_from_config_then_model_then_90_percent_of_the_window() -> None:
    assert auto_compact_limit(None) is None
    assert auto_compact_limit(1000) == 900
    assert auto_compact_limit(1000, model_limit=500) == 500
    assert auto_compact_limit(1000, configured=300, model_limit=500) == 300
    assert auto_compact_limit(1000, configured=5000) == 900  # never past 90% of the window
    assert auto_compact_limit(None, configured=42) == 42
    assert (
        should_compact(900, 900)
        and not should_compact(899, 900)
        and not should_compact(10**9, None)
    )


def test_replacement_keeps_context_recent_user_messages_and_the_summary() -> None:
    history = [
        AGENTS,
        ENV,
        user_message("first ask"),
        assistant("done one"),
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "x" * 1000},
        user_message("second ask"),
    ]
    new = build_replacement(history, "SUMMARY TEXT", initial_context=[AGENTS, ENV])
    assert new[:2] == [AGENTS, ENV]
    assert [m["content"][0]["text"] for m in new[2:4]] == ["first ask", "second ask"]
    assert is_summary(new[-1]) and new[-1]["content"][0]["text"].endswith("SUMMARY TEXT")
    assert compaction.estimate_tokens(new) < compaction.estimate_tokens(history)
    # A second compaction does not keep the old summary as a "user message".
    assert recent_user_messages(new) == ["first ask", "second ask"]


def test_recent_user_messages_fit_the_budget_newest_first() -> None:
    history = [user_message("a" * 400), user_message("b" * 400), user_message("c" * 40)]
    kept = recent_user_messages(history, max_tokens=110)  # 440 bytes
    assert kept[-1] == "c" * 40 and kept[-2] == "b" * 400 and len(kept) == 2


def test_summarization_request_ends_with_the_prompt() -> None:
    history = [user_message("hello")]
    request = summarization_input(history)
    assert (
        request[:-1] == history and request[-1]["content"][0]["text"] == compaction.SUMMARY_PROMPT
    )


def test_drop_oldest_keeps_context_and_call_pairs_consistent() -> None:
    history = [
        AGENTS,
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "o"},
        user_message("later"),
    ]
    trimmed = drop_oldest(history)
    assert trimmed == [AGENTS, user_message("later")]
    assert drop_oldest([AGENTS]) is None
