"""A minimal asyncio LSP client for benchmarks: Content-Length framing over a subprocess's stdio.

Deliberately tiny (no pygls on the client side) so client overhead doesn't pollute the figures.
Every notification is timestamped with `time.perf_counter()` when its bytes are parsed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Which server source tree `spawn` runs: None is the installed one (this checkout); run.py's
# --baseline sets another tree's `server/` directory here for the "before" side of a comparison.
SERVER_PATH: Path | None = None
# XDG_CACHE_HOME for spawned servers (run.py points it at a bench-owned dir: the code cache).
CACHE_HOME: Path | None = None

Handler = Callable[[Any], Awaitable[Any] | Any]


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = error.get("message")


class LspClient:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self.handlers: dict[str, Handler] = {}
        self.notifications: list[tuple[float, str, Any]] = []
        self.listeners: list[Callable[[float, str, Any], None]] = []
        # (parsed at, answer written at) of every server->client request, by method.
        self.server_requests: dict[str, list[tuple[float, float]]] = {}
        self._reader = asyncio.create_task(self._read_loop())

    @classmethod
    async def spawn(
        cls,
        codex_home: Path,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        stderr: Any = asyncio.subprocess.DEVNULL,
    ) -> LspClient:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OPENAI_"))}
        environ.update({"CODEX_HOME": str(codex_home), "CODEX_LSP_LOG_LEVEL": "WARNING"})
        if SERVER_PATH is not None:
            environ["PYTHONPATH"] = os.pathsep.join(
                [str(SERVER_PATH), *filter(None, [environ.get("PYTHONPATH")])])
        if CACHE_HOME is not None:
            environ["XDG_CACHE_HOME"] = str(CACHE_HOME)
        environ.update(env or {})
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "codex_lsp",
            *(args or []),
            env=environ,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        return cls(proc)

    @classmethod
    async def spawn_echo(cls, script: str = "echo_server.py") -> LspClient:
        """A floor server of bench/ (echo_server.py: round trips; refresh_floor.py: 401s)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name(script)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def initialize(self, workspace: Path | None = None, init_options: Any = None) -> Any:
        result = await self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": workspace.as_uri() if workspace else None,
                "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}]
                if workspace
                else None,
                "capabilities": {},
                "initializationOptions": init_options,
            },
        )
        self.notify("initialized", {})
        return result

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self._write(
            {
                "jsonrpc": "2.0",
                "id": msg_id,
                "method": method,
                "params": params if params is not None else {},
            }
        )
        return await asyncio.wait_for(future, timeout)

    def notify(self, method: str, params: Any = None) -> None:
        self._write(
            {"jsonrpc": "2.0", "method": method, "params": params if params is not None else {}}
        )

    async def _read_loop(self) -> None:
        reader = self.proc.stdout
        assert reader is not None
        try:
            while True:
                header = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                message = json.loads(await reader.readexactly(length))
                now = time.perf_counter()
                await self._dispatch(now, message)
        except (asyncio.IncompleteReadError, ConnectionError):
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("server exited"))

    async def _dispatch(self, now: float, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            asyncio.create_task(self._answer(now, message))
        elif "method" in message:
            self.notifications.append((now, message["method"], message.get("params")))
            for listener in self.listeners:
                listener(now, message["method"], message.get("params"))
        else:
            future = self._pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                if "error" in message:
                    future.set_exception(RpcError(message["error"]))
                else:
                    future.set_result(message.get("result"))

    async def _answer(self, parsed_at: float, message: dict[str, Any]) -> None:
        handler = self.handlers.get(message["method"])
        if handler is None:
            self._write(
                {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {"code": -32601, "message": "no handler"},
                }
            )
            return
        result = handler(message.get("params"))
        if asyncio.iscoroutine(result):
            result = await result
        self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})
        self.server_requests.setdefault(message["method"], []).append((parsed_at, time.perf_counter()))

    async def close(self) -> None:
        try:
            await self.request("shutdown", None, timeout=10)
            self.notify("exit")
            await asyncio.wait_for(self.proc.wait(), 10)
        except Exception:  # noqa: BLE001 - best effort, then kill
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()

    def rss_kb(self) -> tuple[int, int]:
        """(current RSS, peak RSS) of the server process in KiB, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
