"""On a slow disk: `turn/completed` reaches the editor only once the turn is written, and when
the editor quits without waiting (Neovim sends `shutdown` and exits at once, or just closes the
pipes) the server still writes every queued rollout line before it exits."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "turns"))

from turns_support import API_KEY, api_key_args  # noqa: E402

from codex_lsp.fakes.backend import FakeBackend, text  # noqa: E402

pytestmark = pytest.mark.timeout(90)


class Pipe:
    """Just enough JSON-RPC over the server's stdio to drive one turn, then hang up."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ids = 0

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        header = await self.proc.stdout.readuntil(b"\r\n\r\n")
        length = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        return json.loads(await self.proc.stdout.readexactly(length))

    async def call(self, method: str, params: Any) -> dict[str, Any]:
        self.ids += 1
        self.send({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
        while True:
            message = await self.read()
            if message.get("id") == self.ids and "method" not in message:
                assert "error" not in message, message
                return message["result"]

    async def until(self, method: str) -> dict[str, Any]:
        while True:
            message = await self.read()
            if message.get("method") == method:
                return message


async def _slow_disk_server(codex_home: Path, backend: FakeBackend) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OPENAI_"))}
    env.update(
        CODEX_HOME=str(codex_home),
        CODEX_API_KEY=API_KEY,
        CODEX_LSP_TEST_HOOKS="1",
        CODEX_LSP_TEST_ROLLOUT_WRITE_DELAY_S="0.4",  # a slow disk: lines are still queued
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codex_lsp",
        *api_key_args(backend),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _start_turn(pipe: Pipe, backend: FakeBackend, workspace: Path) -> None:
    await pipe.call("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    pipe.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    thread = (await pipe.call("thread/start", {"cwd": str(workspace)}))["thread"]
    backend.script_next([text("Noted: the codeword is plum.")])
    await pipe.call(
        "turn/start",
        {"threadId": thread["id"], "input": [{"type": "text", "text": "the codeword is plum"}]},
    )


def _rollout_kinds(codex_home: Path) -> list[tuple[str, Any]]:
    files = list((codex_home / "sessions").rglob("rollout-*.jsonl"))
    assert len(files) == 1
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    return [(line["type"], line["payload"].get("type")) for line in lines]


async def test_turn_completed_arrives_once_the_turn_is_written(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    proc = await _slow_disk_server(codex_home, backend)
    pipe = Pipe(proc)
    try:
        await _start_turn(pipe, backend, workspace)
        await pipe.until("turn/completed")
        kinds = _rollout_kinds(codex_home)  # read at once, while the server still runs
        assert ("event_msg", "user_message") in kinds
        assert kinds[-1] == ("event_msg", "task_complete")
    finally:
        proc.kill()
        await proc.wait()


@pytest.mark.parametrize("goodbye", ["shutdown then hang up", "hang up"])
async def test_queued_rollout_lines_reach_disk_when_the_editor_hangs_up(
    codex_home: Path, backend: FakeBackend, workspace: Path, goodbye: str
) -> None:
    proc = await _slow_disk_server(codex_home, backend)
    pipe = Pipe(proc)
    try:
        await _start_turn(pipe, backend, workspace)
        # The user message is announced, its line is still queued behind the slow disk.
        while (await pipe.until("item/completed"))["params"]["item"]["type"] != "userMessage":
            pass
        if goodbye.startswith("shutdown"):
            pipe.ids += 1
            pipe.send({"jsonrpc": "2.0", "id": pipe.ids, "method": "shutdown", "params": None})
        assert proc.stdin is not None
        proc.stdin.close()  # the editor is gone
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    kinds = _rollout_kinds(codex_home)
    assert ("event_msg", "user_message") in kinds
    # The turn's very last line: it ran to its end, or was stopped by the shutdown.
    assert kinds[-1] in {("event_msg", "task_complete"), ("event_msg", "turn_aborted")}
