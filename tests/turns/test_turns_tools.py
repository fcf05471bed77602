"""The shell tool inside the agent loop: real sandboxed commands, streamed output, the
function_call_output the backend receives, bad arguments, a missing sandbox, caps and bounds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from turns_support import methods, of, run_turn, start_thread, turn_session

from codex_lsp.fakes.backend import FakeBackend, shell_call, text


def _outputs_sent(backend: FakeBackend) -> list[dict[str, Any]]:
    """Every function_call_output item the backend received, in order of first appearance."""
    seen: dict[str, dict[str, Any]] = {}
    for request in backend.requests_to("/responses"):
        for item in request.body["input"]:
            if item.get("type") == "function_call_output":
                seen.setdefault(item["call_id"], item)
    return list(seen.values())


def _command_items(
    received: list[tuple[str, Any]], method: str = "item/completed"
) -> list[dict[str, Any]]:
    return [
        p["item"] for m, p in received if m == method and p["item"]["type"] == "commandExecution"
    ]


async def test_tool_call_loop_runs_a_sandboxed_command_and_returns_its_output(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next(
            [text("Let me look."), shell_call(["cat", "hello.txt"], call_id="call-cat")]
        )
        completed, received = await run_turn(s, thread["id"], "what is in hello.txt?")
        assert completed["turn"]["status"] == "completed"
        started = _command_items(received, "item/started")
        assert (
            started
            and started[0]["status"] == "inProgress"
            and started[0]["command"] == "cat hello.txt"
        )
        assert started[0]["cwd"] == str(workspace)
        done = _command_items(received)[0]
        assert done["status"] == "completed" and done["exitCode"] == 0
        assert done["aggregatedOutput"] == "hello from the workspace\n"
        assert isinstance(done["durationMs"], int)
        deltas = [
            p
            for p in of(received, "item/commandExecution/outputDelta")
            if p["itemId"] == done["id"]
        ]
        assert "".join(d["delta"] for d in deltas) == "hello from the workspace\n"
        order = methods(received)
        assert order.index("item/commandExecution/outputDelta") < order.index("turn/completed")
        # The backend got the call and its output, then answered (the fake quotes the output).
        requests = backend.requests_to("/responses")
        assert len(requests) == 2
        tail = requests[1].body["input"][-2:]
        assert tail[0] == {
            "type": "function_call",
            "name": "shell",
            "arguments": json.dumps({"command": ["cat", "hello.txt"]}),
            "call_id": "call-cat",
        }
        assert tail[1]["type"] == "function_call_output" and tail[1]["call_id"] == "call-cat"
        assert tail[1]["output"].startswith("Exit code: 0\n")
        assert "hello from the workspace" in tail[1]["output"]
        final = completed["turn"]["items"][-1]
        assert final["type"] == "agentMessage" and "hello from the workspace" in final["text"]
        assert [i["type"] for i in completed["turn"]["items"]] == [
            "userMessage",
            "agentMessage",
            "commandExecution",
            "agentMessage",
        ]


async def test_read_only_sandbox_really_blocks_writes(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never", sandbox="read-only"))["thread"]
        backend.script_next([shell_call(["touch", "made-by-agent.txt"])])
        completed, received = await run_turn(s, thread["id"], "make a file")
        done = _command_items(received)[0]
        assert done["status"] == "failed" and done["exitCode"] != 0
        assert not (workspace / "made-by-agent.txt").exists()
        assert completed["turn"]["status"] == "completed"  # a failed command is not a failed turn
        assert _outputs_sent(backend)[0]["output"].startswith(f"Exit code: {done['exitCode']}")


async def test_workspace_write_allows_writes_in_cwd_and_workdir_is_relative_to_it(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    (workspace / "sub").mkdir()
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["bash", "-lc", "pwd; touch made.txt"], workdir="sub")])
        _, received = await run_turn(s, thread["id"], "make a file in sub")
        done = _command_items(received)[0]
        assert done["status"] == "completed" and done["cwd"] == str(workspace / "sub")
        assert done["command"] == "pwd; touch made.txt"
        assert (workspace / "sub" / "made.txt").exists()
        assert str(workspace / "sub") in done["aggregatedOutput"]


async def test_bad_arguments_become_a_failed_item_and_the_model_is_told(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never"))["thread"]
        backend.script_next(
            [shell_call([], call_id="c1"), shell_call([], call_id="c2", raw_arguments="{not json")]
        )
        completed, received = await run_turn(s, thread["id"], "do something odd")
        assert completed["turn"]["status"] == "completed"
        failed = _command_items(received)
        assert [i["status"] for i in failed] == ["failed", "failed"]
        outputs = {o["call_id"]: o["output"] for o in _outputs_sent(backend)}
        assert (
            outputs["c1"].startswith("error: invalid shell arguments")
            and "command" in outputs["c1"]
        )
        assert "not valid JSON" in outputs["c2"]
        # A workdir that does not exist is reported the same way.
        backend.script_next([shell_call(["ls"], call_id="c3", workdir="no/such/dir")])
        completed, received = await run_turn(s, thread["id"], "again")
        assert _command_items(received)[0]["status"] == "failed"
        assert {o["call_id"]: o["output"] for o in _outputs_sent(backend)}["c3"].startswith(
            "error: the command could not be started"
        )


async def test_missing_sandbox_fails_the_item_not_the_turn(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    env = {"CODEX_SANDBOX_BACKEND": "none"}
    async with turn_session(codex_home, backend, workspace, env=env) as s:
        thread = (await start_thread(s, approvalPolicy="never", sandbox="read-only"))["thread"]
        backend.script_next([shell_call(["ls"], call_id="c1")])
        completed, received = await run_turn(s, thread["id"], "list")
        assert completed["turn"]["status"] == "completed"
        item = _command_items(received)[0]
        assert item["status"] == "failed" and "sandbox" in item["aggregatedOutput"]
        output = _outputs_sent(backend)[0]["output"]
        assert output.startswith("error: ") and "was not run" in output


async def test_output_is_capped_in_the_item_the_deltas_and_the_model_output(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never"))["thread"]
        backend.script_next([shell_call(["bash", "-lc", "head -c 300000 /dev/zero | tr '\\0' a"])])
        _, received = await run_turn(s, thread["id"], "lots of output")
        item = _command_items(received)[0]
        assert item["exitCode"] == 0
        assert len(item["aggregatedOutput"]) <= 64 * 1024 + 100 and item[
            "aggregatedOutput"
        ].endswith("[... output truncated]")
        streamed = sum(len(d["delta"]) for d in of(received, "item/commandExecution/outputDelta"))
        assert 0 < streamed <= 64 * 1024
        output = _outputs_sent(backend)[0]["output"]
        assert len(output) <= 16 * 1024 + 300 and "characters omitted" in output


async def test_command_timeout_kills_it_and_tells_the_model(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never"))["thread"]
        backend.script_next([shell_call(["sleep", "20"], timeout_ms=300)])
        _, received = await run_turn(s, thread["id"], "sleep")
        item = _command_items(received)[0]
        assert (
            item["status"] == "failed" and item["exitCode"] == 124 and item["durationMs"] < 10_000
        )
        assert "timed out" in _outputs_sent(backend)[0]["output"]


async def test_tool_rounds_are_bounded(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never", sandbox="danger-full-access"))[
            "thread"
        ]
        backend.script_for = lambda body: [
            shell_call(["true"])
        ]  # the model never stops calling tools
        completed, _ = await run_turn(s, thread["id"], "loop forever", timeout=60)
        turn = completed["turn"]
        assert turn["status"] == "failed"
        assert (
            turn["error"]["codexErrorInfo"] == "other" and "50 rounds" in turn["error"]["message"]
        )
        assert len(backend.requests_to("/responses")) == 51
        # The thread is usable afterwards, with a valid history (every call has its output).
        backend.script_for = lambda body: [text("ok")]
        completed, _ = await run_turn(s, thread["id"], "stop")
        assert completed["turn"]["status"] == "completed"
        body = backend.requests_to("/responses")[-1].body
        calls = [i["call_id"] for i in body["input"] if i["type"] == "function_call"]
        outputs = [i["call_id"] for i in body["input"] if i["type"] == "function_call_output"]
        assert calls == outputs and len(calls) == 50
