"""Pure rebuilds: Thread.turns and the model context from a rollout; notifications → event_msg."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codex_lsp.fakes.rollouts import upstream_lines
from codex_lsp.history.policy import events_for_notification
from codex_lsp.history.reader import RolloutLine, parse_line
from codex_lsp.history.turns import resume_state, turns_from_rollout

TID = "0199a213-81c0-7800-8aa1-bbab2a035a53"


def _parse(lines: list[str]) -> list[RolloutLine]:
    parsed = [parse_line(line) for line in lines]
    return [p for p in parsed if p is not None]


def _line(line_type: str, payload: dict[str, Any]) -> RolloutLine:
    return RolloutLine("2026-01-01T00:00:00.000Z", line_type, payload)


def test_turns_from_an_upstream_0169_rollout() -> None:
    lines = _parse(upstream_lines(TID, created=0, cwd="/w", exchanges=[("one", "1"), ("two", "2")]))
    turns = turns_from_rollout(lines)
    assert [t["status"] for t in turns] == ["completed", "completed"]
    assert turns[0]["id"] == f"{TID[:8]}-turn-0"
    kinds = [i["type"] for i in turns[0]["items"]]
    assert kinds == ["userMessage", "reasoning", "agentMessage"]
    assert turns[0]["items"][0]["content"] == [{"type": "text", "text": "one"}]
    assert turns[1]["items"][2]["text"] == "2"
    assert turns[0]["items"][1]["summary"] == ["**Thinking 0**"]
    assert turns_from_rollout(lines) == turns, "ids are stable across reads"
    assert len({i["id"] for t in turns for i in t["items"]}) == 6


def test_turns_from_a_04x_rollout_without_turn_events() -> None:
    lines = _parse(
        upstream_lines(TID, created=0, cwd="/w", exchanges=[("a", "A"), ("b", "B")], shape="0.4x")
    )
    turns = turns_from_rollout(lines)
    assert len(turns) == 2 and all(t["status"] == "completed" for t in turns)
    assert [i["type"] for i in turns[1]["items"]] == ["userMessage", "reasoning", "agentMessage"]


def test_turns_fall_back_to_response_items_when_no_events_exist() -> None:
    lines = [
        line
        for line in _parse(upstream_lines(TID, created=0, cwd="/w", exchanges=[("q", "ans")]))
        if line.type != "event_msg"
    ]
    (turn,) = turns_from_rollout(lines)
    kinds = [i["type"] for i in turn["items"]]
    assert kinds == ["userMessage", "reasoning", "commandExecution", "agentMessage"]
    assert "README.md" in turn["items"][2]["aggregatedOutput"]


def test_our_event_msgs_round_trip_every_item_kind_and_status() -> None:
    user = {"type": "userMessage", "id": "i1", "content": [{"type": "text", "text": "run ls"}]}
    command = {
        "type": "commandExecution",
        "id": "i2",
        "command": "ls -la",
        "cwd": "/w",
        "status": "completed",
        "commandActions": [],
        "aggregatedOutput": "x\n",
        "exitCode": 0,
        "durationMs": 12,
    }
    change = {
        "type": "fileChange",
        "id": "i3",
        "status": "completed",
        "changes": [{"path": "/w/a.txt", "kind": {"type": "add"}, "diff": "+hi\n"}],
    }
    compaction = {"type": "contextCompaction", "id": "i4"}
    agent = {"type": "agentMessage", "id": "i5", "text": "done"}
    reasoning = {"type": "reasoning", "id": "i6", "summary": ["s1", "s2"], "content": []}
    notes: list[tuple[str, dict[str, Any]]] = [
        ("turn/started", {"threadId": TID, "turn": {"id": "t1"}})
    ]
    for item in (user, reasoning, command, change, compaction, agent):
        notes.append(("item/completed", {"threadId": TID, "turnId": "t1", "item": item}))
    notes.append(
        (
            "thread/tokenUsage/updated",
            {
                "threadId": TID,
                "turnId": "t1",
                "tokenUsage": {
                    "total": {"totalTokens": 9, "inputTokens": 5},
                    "last": {"totalTokens": 9},
                    "modelContextWindow": 100,
                },
            },
        )
    )
    notes.append(
        (
            "turn/completed",
            {"threadId": TID, "turn": {"id": "t1", "status": "completed", "items": [agent]}},
        )
    )
    notes.append(("turn/started", {"threadId": TID, "turn": {"id": "t2"}}))
    notes.append(
        (
            "turn/completed",
            {"threadId": TID, "turn": {"id": "t2", "status": "interrupted", "items": []}},
        )
    )
    notes.append(("turn/started", {"threadId": TID, "turn": {"id": "t3"}}))
    notes.append(
        (
            "turn/completed",
            {
                "threadId": TID,
                "turn": {
                    "id": "t3",
                    "status": "failed",
                    "items": [],
                    "error": {"message": "boom", "codexErrorInfo": "other"},
                },
            },
        )
    )
    lines = [
        _line("event_msg", e)
        for method, params in notes
        for e in events_for_notification(method, params)
    ]
    # the events are valid JSON in upstream's shapes
    kinds = [line.payload["type"] for line in lines]
    assert kinds[:3] == ["task_started", "user_message", "agent_reasoning"]
    assert "exec_command_end" in kinds and "patch_apply_end" in kinds and "token_count" in kinds
    exec_end = next(line.payload for line in lines if line.payload["type"] == "exec_command_end")
    assert exec_end["command"] == ["ls", "-la"] and exec_end["duration"] == {
        "secs": 0,
        "nanos": 12_000_000,
    }
    json.dumps([line.payload for line in lines])
    turns = turns_from_rollout(lines)
    assert [t["status"] for t in turns] == ["completed", "interrupted", "failed"]
    assert turns[0]["id"] == "t1"
    # upstream's message events carry no item ids: those get stable synthetic ones
    rebuilt = [
        {**i, "id": "-"} if i["type"] in ("userMessage", "reasoning", "agentMessage") else i
        for i in turns[0]["items"]
    ]
    expected = [
        {**user, "id": "-"},
        {**reasoning, "id": "-"},
        command,
        change,
        compaction,
        {**agent, "id": "-"},
    ]
    assert rebuilt == expected
    assert turns[2]["error"]["message"] == "boom"


def test_unterminated_last_turn_reads_as_interrupted() -> None:
    lines = [
        _line("event_msg", {"type": "task_started", "turn_id": "t1"}),
        _line("event_msg", {"type": "user_message", "message": "hi"}),
    ]
    (turn,) = turns_from_rollout(lines)
    assert turn["status"] == "interrupted"


def test_resume_state_replays_items_and_honours_compaction_and_rollback() -> None:
    def msg(role: str, text: str) -> dict[str, Any]:
        return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}

    lines = [
        _line("session_meta", {"id": TID}),
        _line("turn_context", {"model": "old-model", "effort": "low"}),
        _line("response_item", msg("user", "first")),
        _line("response_item", msg("assistant", "r1")),
        _line("compacted", {"message": "summary", "replacement_history": [msg("user", "SUMMARY")]}),
        _line("response_item", msg("user", "second")),
        _line("response_item", msg("assistant", "r2")),
        _line("turn_context", {"model": "new-model", "effort": "high"}),
        _line("response_item", msg("user", "third")),
        _line("response_item", msg("assistant", "r3")),
        _line("event_msg", {"type": "thread_rolled_back", "num_turns": 1}),
        _line(
            "event_msg", {"type": "token_count", "info": {"total_token_usage": {"total_tokens": 7}}}
        ),
    ]
    state = resume_state(lines)
    texts = [c["text"] for item in state.history for c in item["content"]]
    assert texts == ["SUMMARY", "second", "r2"]
    assert state.turn_context == {"model": "new-model", "effort": "high"}
    assert state.preview == "first"
    assert state.token_usage == {"total_token_usage": {"total_tokens": 7}}


def test_legacy_compaction_without_replacement_history() -> None:
    lines = [
        _line(
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q1"}]},
        ),
        _line(
            "response_item",
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}],
            },
        ),
        _line("compacted", {"message": "what happened so far"}),
    ]
    history = resume_state(lines).history
    assert [item["role"] for item in history] == ["user", "user"]
    assert history[-1]["content"][0]["text"] == "what happened so far"


def test_resume_state_of_an_upstream_rollout_keeps_reasoning_and_calls(tmp_path: Path) -> None:
    lines = _parse(upstream_lines(TID, created=0, cwd="/w", exchanges=[("q", "ans")]))
    state = resume_state(lines)
    kinds = [item["type"] for item in state.history]
    assert kinds == [
        "message",
        "message",
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert state.history[3]["encrypted_content"].startswith("gAAAA")
    assert state.turn_context is not None and state.turn_context["model"] == "gpt-5.1-codex"


def test_resume_defaults_come_from_the_last_turn_context_but_never_widen_the_sandbox() -> None:
    from codex_lsp.history.policy import turn_context_line

    wire = {"type": "workspaceWrite", "writableRoots": ["/x"], "networkAccess": False}
    ours = turn_context_line(
        turn_id="t1",
        cwd="/w",
        model="m",
        effort="high",
        summary=None,
        approval_policy="on-request",
        sandbox_policy_wire=wire,
    )
    assert ours["sandbox_policy"] == {
        "type": "workspace-write",
        "writable_roots": ["/x"],
        "network_access": False,
        "exclude_tmpdir_env_var": False,
        "exclude_slash_tmp": False,
    }
    state = resume_state([_line("turn_context", ours)])
    assert (state.model, state.effort, state.cwd, state.approval_policy) == (
        "m",
        "high",
        "/w",
        "on-request",
    )
    assert state.sandbox_mode("danger-full-access") == "workspace-write"
    assert state.sandbox_mode("read-only") == "read-only"
    wide = resume_state(
        [
            _line(
                "turn_context",
                {"sandbox_policy": {"type": "danger-full-access"}, "approval_policy": "bogus"},
            )
        ]
    )
    assert (
        wide.sandbox_mode("workspace-write") == "workspace-write" and wide.approval_policy is None
    )
    legacy = resume_state([_line("turn_context", {"sandbox_policy": {"mode": "read-only"}})])
    assert legacy.sandbox_mode("workspace-write") == "read-only" and legacy.model is None


def test_items_the_api_does_not_take_are_not_replayed() -> None:
    lines = [
        _line("response_item", {"type": "ghost_snapshot", "ghost_commit": {"id": "abc"}}),
        _line(
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        ),
        _line("response_item", {"type": "other"}),
    ]
    assert [item["type"] for item in resume_state(lines).history] == ["message"]
