"""turn/interrupt during streaming and during a command: the turn ends `interrupted`, items are
completed, the command's processes are gone, and the thread takes the next turn."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException
from turns_support import of, run_turn, start_thread, turn_session

from codex_lsp.fakes.backend import FakeBackend, shell_call, text


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry))
    return found


async def test_interrupt_during_streaming(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.event_delay_s = 0.1
        backend.script_next([text(" ".join(f"word{i}" for i in range(200)))])
        since = s.mark()
        turn = (
            await s.call(
                "turn/start",
                {"threadId": thread["id"], "input": [{"type": "text", "text": "talk"}]},
            )
        )["turn"]
        await s.wait_for("item/agentMessage/delta", since=since)
        assert (
            await s.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]}) == {}
        )
        received = s.notifications[since:]
        (completed,) = of(received, "turn/completed")  # sent before the interrupt answer
        assert completed["turn"]["status"] == "interrupted" and completed["turn"]["error"] is None
        agent = [
            p["item"]
            for m, p in received
            if m == "item/completed" and p["item"]["type"] == "agentMessage"
        ]
        assert agent and agent[0]["text"].startswith("word0 ") and "word199" not in agent[0]["text"]
        # A second interrupt of the finished turn is refused; the thread takes a new turn.
        with pytest.raises(JsonRpcException) as exc:
            await s.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]})
        assert exc.value.code == -32600
        backend.event_delay_s = 0
        backend.script_next([text("fresh")])
        completed, _ = await run_turn(s, thread["id"], "again")
        assert completed["turn"]["status"] == "completed"


async def test_interrupt_during_a_command_kills_it(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    marker = "31.4159"
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next(
            [
                shell_call(
                    ["bash", "-c", f"echo started; sleep {marker}; echo never"], call_id="slow"
                )
            ]
        )
        since = s.mark()
        turn = (
            await s.call(
                "turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "run"}]}
            )
        )["turn"]
        await s.wait_for(
            "item/commandExecution/outputDelta",
            since=since,
            timeout=20,
            where=lambda p: "started" in p["delta"],
        )
        assert _processes_with(f"sleep {marker}")
        assert (
            await s.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]}) == {}
        )
        assert _processes_with(f"sleep {marker}") == []  # gone by the time the answer arrives
        received = s.notifications[since:]
        (completed,) = of(received, "turn/completed")
        assert completed["turn"]["status"] == "interrupted"
        command = [
            p["item"]
            for m, p in received
            if m == "item/completed" and p["item"]["type"] == "commandExecution"
        ]
        assert command[0]["status"] == "failed" and command[0]["aggregatedOutput"].startswith(
            "started"
        )
        # The next request carries the aborted call with an output, so the history stays valid.
        backend.script_next([text("ok")])
        await run_turn(s, thread["id"], "next")
        inputs = backend.requests_to("/responses")[-1].body["input"]
        aborted = [
            i for i in inputs if i.get("type") == "function_call_output" and i["call_id"] == "slow"
        ]
        assert aborted and aborted[0]["output"].startswith("aborted")


async def test_interrupt_with_wrong_turn_id(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        with pytest.raises(JsonRpcException) as exc:
            await s.call("turn/interrupt", {"threadId": thread["id"], "turnId": "not-a-turn"})
        assert exc.value.code == -32600 and "not running" in exc.value.message


async def test_interrupt_while_the_model_request_is_still_opening(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s))["thread"]
        backend.faults.slow_responses = 1
        backend.faults.slow_response_s = 5
        since = s.mark()
        turn = (
            await s.call(
                "turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "x"}]}
            )
        )["turn"]
        await s.wait_for("turn/started", since=since)
        await asyncio.sleep(0.2)
        start = asyncio.get_running_loop().time()
        await s.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]})
        assert asyncio.get_running_loop().time() - start < 2
        (completed,) = of(s.notifications[since:], "turn/completed")
        assert completed["turn"]["status"] == "interrupted"
