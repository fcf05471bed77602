"""The rollout recorder: upstream's line format, lazy creation, flush, lock, secrets."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_lsp import logs
from codex_lsp.history.reader import load_rollout
from codex_lsp.history.recorder import RolloutLocked, RolloutRecorder
from codex_lsp.history.rollout import new_thread_id, parse_filename, rollout_path

META = {
    "id": "",
    "timestamp": "2026-11-29T10:00:00.000Z",
    "cwd": "/w",
    "originator": "codex-lsp",
    "cli_version": "0.1.0",
    "source": "vscode",
    "model_provider": "openai",
}


def _recorder(codex_home: Path) -> RolloutRecorder:
    thread_id = new_thread_id()
    return RolloutRecorder.new(
        rollout_path(codex_home, thread_id, 1_764_410_400), thread_id, {**META, "id": thread_id}
    )


async def test_file_appears_with_the_first_item_and_session_meta_comes_first(
    codex_home: Path,
) -> None:
    rec = _recorder(codex_home)
    assert not rec.path.exists()
    await rec.flush()
    assert not rec.path.exists(), "an empty thread leaves no file"
    rec.record(
        "response_item",
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    )
    rec.record("event_msg", {"type": "user_message", "message": "hi", "images": []})
    await rec.flush()
    raw = rec.path.read_bytes().decode().splitlines()
    records = [json.loads(line) for line in raw]
    assert [r["type"] for r in records] == ["session_meta", "response_item", "event_msg"]
    assert records[0]["payload"]["id"] == rec.thread_id
    assert all(r["timestamp"].endswith("Z") and "T" in r["timestamp"] for r in records)
    named = parse_filename(rec.path.name)
    assert named is not None and named[1] == rec.thread_id
    assert rec.path.parent.parent.parent.parent.name == "sessions"
    await rec.aclose()


async def test_policy_drops_what_upstream_does_not_persist(codex_home: Path) -> None:
    rec = _recorder(codex_home)
    rec.record("response_item", {"type": "message", "role": "user", "content": []})
    rec.record("event_msg", {"type": "agent_message_delta", "delta": "x"})
    rec.record("event_msg", {"type": "exec_command_begin"})
    rec.record("response_item", {"type": "other"})
    await rec.aclose()
    kinds = [
        json.loads(line)["payload"].get("type") for line in rec.path.read_text().splitlines()[1:]
    ]
    assert kinds == ["message"]


async def test_no_secret_reaches_the_file(codex_home: Path) -> None:
    token = "editor-owned-opaque-token-7f3a9c"
    logs.register_secret(token)
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
    key = "sk-proj-abcdefghijklmnopqrstuvwx"
    rec = _recorder(codex_home)
    rec.record(
        "response_item",
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": f"TOKEN={token}\nAuthorization: Bearer abcdefghijklmnop1234\n{jwt} {key}",
        },
    )
    rec.record(
        "response_item",
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "shell",
            "arguments": json.dumps({"api_key": "plain-looking-value"}),
        },
    )
    rec.record("turn_context", {"model": "m", "authorization": "Bearer zzzzzzzzzzzzzzzzzzzz"})
    await rec.aclose()
    data = rec.path.read_bytes()
    for secret in (token, "abcdefghijklmnop1234", jwt, key, "zzzzzzzzzzzzzzzzzzzz"):
        assert secret.encode() not in data
    for line in data.decode().splitlines():
        json.loads(line)  # still valid JSON
    assert b"[REDACTED]" in data


async def test_many_records_keep_their_order_and_every_line_is_whole(codex_home: Path) -> None:
    rec = _recorder(codex_home)
    for n in range(500):
        rec.record("event_msg", {"type": "agent_message", "message": f"m{n}" * (n % 7 + 1)})
        if n % 100 == 0:
            await asyncio.sleep(0)
    await rec.aclose()
    rollout = load_rollout(rec.path)
    assert rollout.skipped == 0
    messages = [line.payload["message"] for line in rollout.lines if line.type == "event_msg"]
    assert messages == [f"m{n}" * (n % 7 + 1) for n in range(500)]


class _CountingRecorder(RolloutRecorder):
    """Counts the worker-thread writes (each is one hop off the event loop)."""

    writes = 0

    def _write_sync(self, *args: Any) -> None:
        type(self).writes += 1
        super()._write_sync(*args)


async def test_lines_recorded_close_together_take_one_write(codex_home: Path) -> None:
    thread_id = new_thread_id()
    rec = _CountingRecorder.new(
        rollout_path(codex_home, thread_id, 1_764_410_400), thread_id, {**META, "id": thread_id}
    )
    _CountingRecorder.writes = 0
    for n in range(20):  # a turn's events: each recorded on its own loop iteration
        rec.record("event_msg", {"type": "agent_message", "message": f"m{n}"})
        await asyncio.sleep(0)
    await rec.flush(durable=False)
    assert _CountingRecorder.writes == 1  # one hop for all 20 lines (and the fsync)
    assert len(rec.path.read_bytes().splitlines()) == 21  # session_meta + 20
    await rec.aclose()


async def test_lines_reach_the_file_without_a_flush(codex_home: Path) -> None:
    rec = _recorder(codex_home)
    rec.record("event_msg", {"type": "agent_message", "message": "unflushed"})
    for _ in range(200):  # the gathering window is COALESCE_S; give it up to 4 s
        if rec.path.exists() and b"unflushed" in rec.path.read_bytes():
            break
        await asyncio.sleep(0.02)
    assert b"unflushed" in rec.path.read_bytes()
    await rec.aclose()


async def test_record_after_close_is_ignored_and_close_is_idempotent(codex_home: Path) -> None:
    rec = _recorder(codex_home)
    rec.record("event_msg", {"type": "agent_message", "message": "a"})
    await rec.aclose()
    await rec.aclose()
    rec.record("event_msg", {"type": "agent_message", "message": "b"})
    await asyncio.sleep(0.05)
    assert b'"b"' not in rec.path.read_bytes()


_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(30)
"""


async def test_a_second_process_cannot_append_to_a_locked_rollout(codex_home: Path) -> None:
    rec = _recorder(codex_home)
    rec.record("event_msg", {"type": "agent_message", "message": "a"})
    await rec.aclose()
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLD, str(rec.path), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 30)).strip() == b"locked"
        with pytest.raises(RolloutLocked) as info:
            await RolloutRecorder.open_existing(rec.path, rec.thread_id)
        assert (
            rec.thread_id in info.value.message and "another codex-lsp server" in info.value.message
        )
        assert str(rec.path) not in info.value.message
    finally:
        holder.kill()
        await holder.wait()
    again = await RolloutRecorder.open_existing(
        rec.path, rec.thread_id
    )  # free once the holder is gone
    again.record("event_msg", {"type": "agent_message", "message": "resumed"})
    await again.aclose()
    assert b"resumed" in rec.path.read_bytes()


async def test_write_failure_is_logged_once_and_does_not_raise(
    codex_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = _recorder(codex_home)
    rec.path.parent.parent.parent.parent.mkdir(parents=True)
    (rec.path.parent.parent.parent.parent / rec.path.parent.parent.parent.name).write_text(
        "not a dir"
    )
    rec.record("event_msg", {"type": "agent_message", "message": "a"})
    rec.record("event_msg", {"type": "agent_message", "message": "b"})
    await rec.flush()
    rec.record("event_msg", {"type": "agent_message", "message": "c"})
    await rec.aclose()
    warnings = [r for r in caplog.records if "cannot write the history" in r.getMessage()]
    assert len(warnings) == 1
    assert os.path.isfile(rec.path.parent.parent.parent)
