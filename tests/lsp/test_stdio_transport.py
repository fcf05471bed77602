"""The stdio reader (codex_lsp.transport): the real server over a pipe fed in awkward chunks, a
regular file as stdin, EOF in the middle of a message; plus the reader itself over os.pipe()."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from codex_lsp import transport
from harness import server_env

pytestmark = pytest.mark.timeout(60)


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initialize(msg_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "initialize",
        "params": {"processId": None, "rootUri": None, "capabilities": {}},
    }


def request(msg_id: int, method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params or {}}


async def read_message(stdout: asyncio.StreamReader) -> dict[str, Any]:
    header = await stdout.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in header.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return json.loads(await stdout.readexactly(length))


async def answers(
    stdout: asyncio.StreamReader, ids: set[Any], timeout: float = 30
) -> dict[Any, Any]:
    """Read messages until every id in ``ids`` was answered (notifications are skipped)."""
    found: dict[Any, Any] = {}
    async with asyncio.timeout(timeout):
        while not ids <= set(found):
            message = await read_message(stdout)
            if "id" in message and "method" not in message:
                found[message["id"]] = message
    return found


async def spawn(codex_home: Path, tmp_path: Path, stdin: Any) -> asyncio.subprocess.Process:
    env = server_env(codex_home, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codex_lsp",
        "--log-level",
        "WARNING",
        env=env,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("wb"),
    )


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def test_pipe_with_partial_headers_split_bodies_and_batched_messages(
    codex_home: Path,
    tmp_path: Path,
) -> None:
    proc = await spawn(codex_home, tmp_path, asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        data = frame(initialize())
        # Partial header: the header line arrives in three pieces, the body in two.
        for piece in (data[:5], data[5:17], data[17:40], data[40:]):
            proc.stdin.write(piece)
            await proc.stdin.drain()
            await asyncio.sleep(0.05)
        init = (await answers(proc.stdout, {1}))[1]
        assert init["result"]["serverInfo"]["name"] == "codex-lsp"
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        # Three messages in one write, the last one cut in the middle of its body...
        batch = (
            frame(request(2, "account/read"))
            + frame(request(3, "no/such"))
            + frame(request(4, "account/read", {"refreshToken": False}))
        )
        proc.stdin.write(batch[:-7])
        await proc.stdin.drain()
        first = await answers(proc.stdout, {2, 3})
        assert "result" in first[2] and first[3]["error"]["code"] == -32601
        await asyncio.sleep(0.1)
        proc.stdin.write(batch[-7:])  # ...and finished later
        assert "result" in (await answers(proc.stdout, {4}))[4]
        # A body bigger than the stream's buffer limit, in one piece.
        big = {"text": "x" * (transport.STREAM_LIMIT + 1000)}
        proc.stdin.write(frame(request(5, "codexTest/echo", big)))
        echoed = (await answers(proc.stdout, {5}))[5]
        assert "x" * 1000 in json.dumps(echoed)
        proc.stdin.write(frame(request(6, "shutdown")))
        assert "error" not in (await answers(proc.stdout, {6}))[6]
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit", "params": None}))
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        await stop(proc)


async def test_eof_in_the_middle_of_a_message_ends_the_server(
    codex_home: Path,
    tmp_path: Path,
) -> None:
    proc = await spawn(codex_home, tmp_path, asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(frame(initialize()))
        await answers(proc.stdout, {1})
        half = frame(request(2, "account/read"))
        proc.stdin.write(half[: len(half) // 2 + 20])
        await proc.stdin.drain()
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 15)  # exits by itself, no hang
    finally:
        await stop(proc)


async def test_eof_in_the_middle_of_a_header_ends_the_server(
    codex_home: Path,
    tmp_path: Path,
) -> None:
    proc = await spawn(codex_home, tmp_path, asyncio.subprocess.PIPE)
    assert proc.stdin is not None
    try:
        proc.stdin.write(b"Content-Len")
        await proc.stdin.drain()
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 15)
    finally:
        await stop(proc)


async def test_regular_file_stdin_uses_the_threaded_reader(
    codex_home: Path, tmp_path: Path
) -> None:
    messages = tmp_path / "messages.bin"
    # Answered synchronously (before EOF ends the server): initialize and an unknown method.
    messages.write_bytes(frame(initialize()) + frame(request(2, "no/such")))
    with messages.open("rb") as stdin:
        assert not transport.reads_on_loop(stdin)
        proc = await spawn(codex_home, tmp_path, stdin)
    assert proc.stdout is not None
    try:
        found = await answers(proc.stdout, {1, 2})
        assert found[1]["result"]["serverInfo"]["name"] == "codex-lsp"
        assert found[2]["error"]["code"] == -32601
        await asyncio.wait_for(proc.wait(), 15)
    finally:
        await stop(proc)


# ---- the reader alone ------------------------------------------------------------------------


async def test_loop_reader_over_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as stdin:
        assert transport.reads_on_loop(stdin)
        reader = await transport.open_stdin_reader(stdin)
        try:
            os.write(write_fd, b"Content-Le")
            line = asyncio.ensure_future(reader.readline())
            await asyncio.sleep(0.05)
            assert not line.done()  # a partial header line waits for the rest
            os.write(write_fd, b"ngth: 5\r\n\r\nab")
            assert await line == b"Content-Length: 5\r\n"
            assert await reader.readline() == b"\r\n"
            body = asyncio.ensure_future(reader.readexactly(5))
            await asyncio.sleep(0.05)
            assert not body.done()  # a split body waits too
            os.write(write_fd, b"cde" + b"x" * 10)
            assert await body == b"abcde"
            assert await reader.readexactly(3) == b"xxx"
            os.close(write_fd)
            assert await reader.readexactly(100) == b""  # EOF mid-body reads as the end
            assert await reader.readline() == b""
        finally:
            reader.close()


async def test_loop_reader_survives_an_oversized_line() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as stdin:
        reader = await transport.open_stdin_reader(stdin)
        try:

            async def feed() -> None:
                data = b"y" * (transport.STREAM_LIMIT + 10) + b"\r\nContent-Length: 2\r\n"
                await asyncio.to_thread(os.write, write_fd, data)

            task = asyncio.ensure_future(feed())
            assert await reader.readline() == b"<oversized line>\r\n"
            await task
            assert await reader.readline() == b"Content-Length: 2\r\n"
        finally:
            os.close(write_fd)
            reader.close()


def test_terminal_and_windows_keep_the_threaded_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    with open(os.devnull, "rb") as devnull:  # a character device, like a terminal
        assert not transport.reads_on_loop(devnull)
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(read_fd, "rb") as stdin:
            monkeypatch.setattr(sys, "platform", "win32")
            assert not transport.reads_on_loop(stdin)
    finally:
        os.close(write_fd)


async def test_one_socket_for_stdin_and_stdout_keeps_the_threaded_reader(
    codex_home: Path,
    tmp_path: Path,
) -> None:
    """Some launchers hand the server one socket as both stdin and stdout; it must still work."""
    import socket

    ours, theirs = socket.socketpair()
    env = server_env(codex_home, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codex_lsp",
        "--log-level",
        "WARNING",
        env=env,
        stdin=theirs,
        stdout=theirs,
        stderr=asyncio.subprocess.DEVNULL,
    )
    theirs.close()
    try:
        reader, writer = await asyncio.open_connection(sock=ours)
        writer.write(frame(initialize()) + frame(request(2, "no/such")))
        found = await answers(reader, {1, 2})
        assert found[1]["result"]["serverInfo"]["name"] == "codex-lsp"
        assert found[2]["error"]["code"] == -32601
        # An answer far bigger than the socket buffer: written with blocking writes, intact.
        writer.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        writer.write(frame(request(3, "codexTest/echo", {"text": "z" * 4_000_000})))
        await asyncio.sleep(0.5)  # let the server fill the buffer before we read
        echoed = (await answers(reader, {3}))[3]
        assert "z" * 100_000 in json.dumps(echoed)
        writer.close()
    finally:
        await stop(proc)
