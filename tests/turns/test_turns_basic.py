"""Threads and plain turns: shapes, notification order, the Responses request we build, params errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException
from turns_support import (
    API_KEY,
    RESPONSE_MARK,
    last_responses_body,
    methods,
    of,
    run_turn,
    start_thread,
    turn_session,
)

from codex_lsp.fakes.backend import FakeBackend, reasoning, text


async def test_thread_start_defaults_cwd_to_workspace_and_sends_started_after_the_answer(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        since = s.mark()
        result = await start_thread(
            s, model="gpt-test", approvalPolicy="never", sandbox="workspace-write"
        )
        started = await s.wait_for("thread/started", since=since)
        thread = result["thread"]
        assert result["cwd"] == str(workspace) == thread["cwd"]
        assert result["model"] == "gpt-test" == thread["model"]
        assert result["modelProvider"] == "fake" == thread["modelProvider"]
        assert result["approvalPolicy"] == "never"
        assert result["approvalsReviewer"] == "user"
        assert result["sandbox"]["type"] == "workspaceWrite"
        assert thread["status"] == {"type": "idle"} and thread["ephemeral"] is False
        assert isinstance(thread["createdAt"], int) and thread["turns"] == []
        assert started["thread"]["id"] == thread["id"]
        order = methods(s.notifications[since:], include_marks=True)
        assert order.index(RESPONSE_MARK) < order.index("thread/started")


async def test_thread_start_resolves_the_model_once_from_config(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(
        codex_home, backend, workspace, args=("-c", 'model="configured-model"')
    ) as s:
        thread = (await start_thread(s))["thread"]
        assert thread["model"] == "configured-model"
        completed, _ = await run_turn(s, thread["id"], "hi")
        assert completed["turn"]["status"] == "completed"
        assert last_responses_body(backend)["model"] == "configured-model"


async def test_plain_turn_full_sequence_and_order(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never"))["thread"]
        backend.script_next([text("Hello there friend")])
        completed, received = await run_turn(s, thread["id"], "Say hello")
        order = methods(received, include_marks=True)
        # The turn/start answer goes out before turn/started.
        assert order[0] == RESPONSE_MARK and order[1] == "turn/started"
        assert order[-2:] == ["thread/tokenUsage/updated", "turn/completed"]
        items = [
            (m, p["item"]["type"]) for m, p in received if m in ("item/started", "item/completed")
        ]
        assert items == [
            ("item/started", "userMessage"),
            ("item/completed", "userMessage"),
            ("item/started", "agentMessage"),
            ("item/completed", "agentMessage"),
        ]
        deltas = of(received, "item/agentMessage/delta")
        assert [d["delta"] for d in deltas] == ["Hello ", "there ", "friend"]
        agent_started = [
            p for m, p in received if m == "item/started" and p["item"]["type"] == "agentMessage"
        ][0]
        assert {d["itemId"] for d in deltas} == {agent_started["item"]["id"]}
        assert order.index("item/agentMessage/delta") > order.index("item/started")
        turn = completed["turn"]
        assert turn["status"] == "completed" and turn["error"] is None
        assert completed["threadId"] == thread["id"]
        assert [i["type"] for i in turn["items"]] == ["userMessage", "agentMessage"]
        assert turn["items"][1]["text"] == "Hello there friend"
        usage = of(received, "thread/tokenUsage/updated")[0]["tokenUsage"]
        assert usage["last"]["totalTokens"] > 0 and usage["total"] == usage["last"]
        request = backend.requests_to("/responses")[-1]
        assert request.bearer == API_KEY


async def test_reasoning_summary_streams_as_reasoning_item(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.script_next([reasoning("Thinking about files"), text("Done")])
        completed, received = await run_turn(
            s, thread["id"], "think", effort="high", summary="detailed"
        )
        order = methods(received)
        assert order.index("item/reasoning/summaryPartAdded") < order.index(
            "item/reasoning/summaryTextDelta"
        )
        deltas = of(received, "item/reasoning/summaryTextDelta")
        assert "".join(d["delta"] for d in deltas) == "Thinking about files"
        assert {d["summaryIndex"] for d in deltas} == {0}
        reasoning_done = [
            p["item"]
            for m, p in received
            if m == "item/completed" and p["item"]["type"] == "reasoning"
        ]
        assert reasoning_done == [
            {
                "type": "reasoning",
                "id": deltas[0]["itemId"],
                "summary": ["Thinking about files"],
                "content": [],
            }
        ]
        assert [i["type"] for i in completed["turn"]["items"]] == [
            "userMessage",
            "reasoning",
            "agentMessage",
        ]
        body = last_responses_body(backend)
        assert body["reasoning"] == {"effort": "high", "summary": "detailed"}


async def test_request_carries_instructions_developer_message_history_tool_and_cache_key(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (
            await start_thread(
                s, baseInstructions="You are a test agent.", developerInstructions="Be brief."
            )
        )["thread"]
        backend.script_next([text("first answer")])
        await run_turn(s, thread["id"], "first question")
        backend.script_next([text("second answer")])
        await run_turn(s, thread["id"], "second question")
        body = last_responses_body(backend)
        assert body["instructions"] == "You are a test agent."
        assert body["prompt_cache_key"] == thread["id"]
        assert body["stream"] is True and body["store"] is False
        assert [t["name"] for t in body["tools"]] == ["shell", "apply_patch", "update_plan"]
        assert body["tools"][0]["parameters"]["required"] == ["command"]
        assert body["tools"][1]["type"] == "custom"  # the bundled models ask for freeform
        environment = body["input"][1]  # the agent context (tests/context) sits before the talk
        assert environment["content"][0]["text"].startswith("<environment_context>")
        assert body["input"][:1] + body["input"][2:] == [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "first question"}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "first answer"}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "second question"}],
            },
        ]
        assert backend.requests_to("/responses")[-1].headers.get("session_id") == thread["id"]


async def test_builtin_instructions_by_default(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        await run_turn(s, thread["id"], "hi")
        assert "coding agent" in last_responses_body(backend)["instructions"]


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("turn/start", {"input": [{"type": "text", "text": "x"}]}, "params.threadId"),
        (
            "turn/start",
            {"threadId": "t", "input": [{"type": "text", "text": 3}]},
            "params.input[0].text",
        ),
        (
            "turn/start",
            {"threadId": "t", "input": [{"type": "audio", "url": "x"}]},
            "params.input[0].type",
        ),
        ("turn/start", {"threadId": "t", "input": [], "effort": "huge"}, "params.effort"),
        ("turn/interrupt", {"threadId": "t"}, "params.turnId"),
        ("thread/start", {"approvalPolicy": "sometimes"}, "params.approvalPolicy"),
        ("thread/start", {"sandbox": "none"}, "params.sandbox"),
        ("thread/start", {"cwd": "relative/dir"}, "params.cwd"),
        ("thread/start", {"cwd": "/no/such/dir"}, "params.cwd"),
        ("thread/start", {"cwd": "/tmp/nul\u0000byte"}, "params.cwd"),
        ("thread/start", {"modelProvider": "nope"}, "params.modelProvider"),
    ],
)
async def test_param_errors_name_the_field(
    codex_home: Path, backend: FakeBackend, workspace: Path, method: str, params: dict, field: str
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call(method, params)
        assert exc.value.code == -32602
        assert exc.value.message.startswith(field), exc.value.message


async def test_bad_sandbox_policy_override_and_empty_input_are_param_errors(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        with pytest.raises(JsonRpcException) as exc:
            await s.call(
                "turn/start",
                {
                    "threadId": thread["id"],
                    "input": [{"type": "text", "text": "x"}],
                    "sandboxPolicy": {"type": "workspaceWrite", "writableRoots": ["rel"]},
                },
            )
        assert exc.value.code == -32602 and exc.value.message.startswith("params.sandboxPolicy")
        with pytest.raises(JsonRpcException) as exc:
            await s.call("turn/start", {"threadId": thread["id"], "input": []})
        assert exc.value.code == -32602 and exc.value.message.startswith("params.input")
        # Nothing was started by the refused requests: a good turn still runs.
        completed, _ = await run_turn(s, thread["id"], "ok")
        assert completed["turn"]["status"] == "completed"


async def test_unknown_thread_is_invalid_request(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        for method, params in [
            ("turn/start", {"threadId": "nope", "input": [{"type": "text", "text": "x"}]}),
            ("turn/interrupt", {"threadId": "nope", "turnId": "t"}),
        ]:
            with pytest.raises(JsonRpcException) as exc:
                await s.call(method, params)
            assert exc.value.code == -32600
            assert "thread not found: nope" in exc.value.message


async def test_one_active_turn_per_thread(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        other = (await start_thread(s))["thread"]
        backend.event_delay_s = 0.05  # keep the first turn running for a while
        since = s.mark()
        first = await s.call(
            "turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "a"}]}
        )
        with pytest.raises(JsonRpcException) as exc:
            await s.call(
                "turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "b"}]}
            )
        assert exc.value.code == -32600 and first["turn"]["id"] in exc.value.message
        # Another thread is not blocked by it.
        second = await s.call(
            "turn/start", {"threadId": other["id"], "input": [{"type": "text", "text": "c"}]}
        )
        for turn_id in (first["turn"]["id"], second["turn"]["id"]):
            done = await s.wait_for(
                "turn/completed",
                since=since,
                timeout=30,
                where=lambda p, t=turn_id: p["turn"]["id"] == t,
            )
            assert done["turn"]["status"] == "completed"
        backend.event_delay_s = 0
        # Once completed, the thread takes a new turn.
        completed, _ = await run_turn(s, thread["id"], "again")
        assert completed["turn"]["status"] == "completed"
