"""The turn state machine in process: scripted model rounds, a recording sink, real sandboxed
commands (`echo`), no server process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from engine_support import (
    RecordingSink,
    ScriptedModel,
    call_round,
    make_thread,
    run_turn,
    text_round,
)

from codex_lsp.backend.responses import StreamError
from codex_lsp.context.history import ABORTED_OUTPUT
from codex_lsp.context.instructions import BASE_INSTRUCTIONS
from codex_lsp.turns.tools import (
    FatalToolError,
    RespondToModel,
    SpecContext,
    ToolCall,
    ToolInvocation,
    ToolRegistry,
    default_registry,
)

ECHO = {"command": ["echo", "hi"]}


async def test_text_turn_streams_items_and_ends_once(tmp_path: Path) -> None:
    model = ScriptedModel([text_round("Hello there")])
    thread = make_thread(tmp_path, model)
    sink = RecordingSink()
    await run_turn(thread, sink)
    methods = sink.methods()
    assert methods[0] == "turn/started" and methods[-1] == "turn/completed"
    assert methods.count("turn/completed") == 1
    assert "item/agentMessage/delta" in methods
    turn = sink.completed()
    assert turn["status"] == "completed" and turn["error"] is None
    assert [item["type"] for item in turn["items"]] == ["userMessage", "agentMessage"]
    assert turn["items"][1]["text"] == "Hello there"
    (usage,) = sink.of("thread/tokenUsage/updated")
    assert usage["tokenUsage"]["total"]["totalTokens"] == 7
    assert thread.history.usage_total.total_tokens == 7
    assert thread.active is None and thread.preview == "hello"


async def test_request_is_instructions_prompt_items_history_and_registry_specs(
    tmp_path: Path,
) -> None:
    model = ScriptedModel([text_round("one"), text_round("two", item_id="msg-2")])
    thread = make_thread(tmp_path, model, approval_policy="on-request")
    thread.developer_instructions = "Be terse."
    sink = RecordingSink()
    await run_turn(thread, sink, "first")
    await run_turn(thread, sink, "second")
    request = model.requests[1]
    assert request.instructions == BASE_INSTRUCTIONS
    assert request.input[0]["role"] == "developer"
    roles = [item.get("role") for item in request.input[1:]]
    assert roles == ["user", "assistant", "user"]
    shell, apply_patch, update_plan = request.tools
    assert shell["name"] == "shell" and apply_patch["name"] == "apply_patch"
    assert update_plan["name"] == "update_plan"
    assert apply_patch["type"] == "function"  # make_thread's model has no catalog entry
    assert "with_escalated_permissions" in shell["parameters"]["properties"]


async def test_shell_call_runs_and_its_output_goes_back(tmp_path: Path) -> None:
    model = ScriptedModel([call_round(("shell", "call-1", ECHO)), text_round("done")])
    thread = make_thread(tmp_path, model)
    sink = RecordingSink()
    await run_turn(thread, sink)
    turn = sink.completed()
    command = next(item for item in turn["items"] if item["type"] == "commandExecution")
    assert command["status"] == "completed" and command["exitCode"] == 0
    assert command["aggregatedOutput"] == "hi\n"
    outputs = [i for i in model.requests[1].input if i["type"] == "function_call_output"]
    assert outputs[0]["call_id"] == "call-1" and "Exit code: 0" in outputs[0]["output"]


async def test_unknown_tool_answers_the_model_and_the_turn_goes_on(tmp_path: Path) -> None:
    model = ScriptedModel([call_round(("browse", "call-1", {})), text_round("ok")])
    thread = make_thread(tmp_path, model)
    sink = RecordingSink()
    await run_turn(thread, sink)
    assert sink.completed()["status"] == "completed"
    output = next(i for i in model.requests[1].input if i["type"] == "function_call_output")
    assert (
        output["output"]
        == "error: unknown tool 'browse'; the tools are `shell`, `apply_patch`, `update_plan`."
    )


async def test_declined_approval_declines_the_item_and_tells_the_model(tmp_path: Path) -> None:
    model = ScriptedModel(
        [call_round(("shell", "call-2", {"command": ["touch", "x"]})), text_round("ok")]
    )
    thread = make_thread(tmp_path, model, approval_policy="untrusted")
    sink = RecordingSink(["decline"])
    await run_turn(thread, sink)
    assert len(sink.approvals) == 1
    command = next(i for i in sink.completed()["items"] if i["type"] == "commandExecution")
    assert command["status"] == "declined"
    assert not (tmp_path / "x").exists()
    output = next(i for i in model.requests[1].input if i["type"] == "function_call_output")
    assert output["output"].startswith("The user declined to run this command.")


async def test_accept_for_session_is_remembered(tmp_path: Path) -> None:
    touch = {"command": ["touch", "x"]}
    model = ScriptedModel(
        [call_round(("shell", "c1", touch)), call_round(("shell", "c2", touch)), text_round("ok")]
    )
    thread = make_thread(tmp_path, model, approval_policy="untrusted")
    sink = RecordingSink(["acceptForSession"])
    await run_turn(thread, sink)
    assert len(sink.approvals) == 1  # the second identical command ran without asking
    assert ("touch", "x") in thread.approved_commands
    assert (tmp_path / "x").exists()


async def test_cancel_interrupts_and_the_open_call_gets_an_aborted_output(tmp_path: Path) -> None:
    touch = {"command": ["touch", "x"]}
    model = ScriptedModel([call_round(("shell", "c1", touch)), text_round("after")])
    thread = make_thread(tmp_path, model, approval_policy="untrusted")
    sink = RecordingSink(["cancel"])
    await run_turn(thread, sink)
    turn = sink.completed()
    assert turn["status"] == "interrupted"
    command = next(i for i in turn["items"] if i["type"] == "commandExecution")
    assert command["status"] == "declined"  # stopped while waiting for approval
    started = {p["item"]["id"] for p in sink.of("item/started")}
    completed = {p["item"]["id"] for p in sink.of("item/completed")}
    assert started == completed
    # The next request carries the call with an output, so the backend accepts it.
    await run_turn(thread, RecordingSink())
    sent = model.requests[-1].input
    call_index = next(i for i, item in enumerate(sent) if item.get("call_id") == "c1")
    assert sent[call_index + 1] == {
        "type": "function_call_output",
        "call_id": "c1",
        "output": ABORTED_OUTPUT,
    }


async def test_task_cancel_mid_command_fails_the_item_with_its_output(tmp_path: Path) -> None:
    script = {"command": ["sh", "-c", "echo started; sleep 30"]}
    model = ScriptedModel([call_round(("shell", "c1", script))])
    thread = make_thread(tmp_path, model)
    sink = RecordingSink()
    from codex_lsp.protocol.threads import TextInput
    from codex_lsp.turns.engine import TurnRunner

    runner = TurnRunner(thread, "turn-1", [TextInput(type="text", text="go")], sink)
    task = asyncio.create_task(runner.run())
    for _ in range(200):
        if sink.of("item/commandExecution/outputDelta"):
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.wait_for(task, 30)
    turn = sink.completed()
    assert turn["status"] == "interrupted"
    command = next(i for i in turn["items"] if i["type"] == "commandExecution")
    assert command["status"] == "failed" and command["aggregatedOutput"] == "started\n"


async def test_stream_error_fails_the_turn_with_its_codex_error_info(tmp_path: Path) -> None:
    error = StreamError(
        "the model is busy", {"responseTooManyFailedAttempts": {"httpStatusCode": 503}}
    )
    thread = make_thread(tmp_path, ScriptedModel([error]))
    sink = RecordingSink()
    await run_turn(thread, sink)
    turn = sink.completed()
    assert turn["status"] == "failed"
    assert turn["error"]["codexErrorInfo"] == {
        "responseTooManyFailedAttempts": {"httpStatusCode": 503}
    }


async def test_too_many_tool_rounds_fails_the_turn(tmp_path: Path) -> None:
    rounds: list[Any] = [call_round(("nope", f"c{i}", {})) for i in range(3)]
    thread = make_thread(tmp_path, ScriptedModel(rounds))
    sink = RecordingSink()
    await run_turn(thread, sink, max_tool_rounds=2)
    turn = sink.completed()
    assert turn["status"] == "failed" and "2 rounds" in turn["error"]["message"]


# ---- the registry seam: a tool is one class and one registration -----------------------------


class Upper:
    """A test tool: answers its input upper-cased; "fatal" fails the turn, "bad" the call."""

    name = "upper"

    def spec(self, context: SpecContext) -> dict[str, Any] | None:
        if context.model == "no-tools-model":
            return None
        return {"type": "custom", "name": self.name, "description": "upper-cases"}

    async def handle(self, call: ToolCall, invocation: ToolInvocation) -> str:
        if call.arguments == "fatal":
            raise FatalToolError("the upper tool broke")
        if call.arguments == "bad":
            raise RespondToModel("bad input")
        return call.arguments.upper()


def _with_upper() -> ToolRegistry:
    registry = default_registry()
    registry.register(Upper())
    return registry


async def test_a_registered_tool_is_offered_and_dispatched(tmp_path: Path) -> None:
    model = ScriptedModel(
        [call_round(("upper", "c1", "abc"), ("upper", "c2", "bad")), text_round("ok")]
    )
    thread = make_thread(tmp_path, model)
    await run_turn(thread, RecordingSink(), tools=_with_upper())
    assert [tool["name"] for tool in model.requests[0].tools] == [
        "shell",
        "apply_patch",
        "update_plan",
        "upper",
    ]
    outputs = [i["output"] for i in model.requests[1].input if i["type"] == "function_call_output"]
    assert outputs == ["ABC", "error: bad input"]


async def test_a_fatal_tool_error_fails_the_turn(tmp_path: Path) -> None:
    model = ScriptedModel([call_round(("upper", "c1", "fatal"))])
    thread = make_thread(tmp_path, model)
    sink = RecordingSink()
    await run_turn(thread, sink, tools=_with_upper())
    turn = sink.completed()
    assert turn["status"] == "failed" and turn["error"]["message"] == "the upper tool broke"
    # The failed call still has an output in the conversation.
    assert thread.history.for_prompt()[-1]["output"] == ABORTED_OUTPUT


def test_specs_may_depend_on_the_model() -> None:
    registry = _with_upper()
    assert registry.names == ["shell", "apply_patch", "update_plan", "upper"]
    context = SpecContext("no-tools-model", None, "never")
    assert [spec["name"] for spec in registry.specs(context)] == [
        "shell",
        "apply_patch",
        "update_plan",
    ]
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Upper())
