"""Test harness: the real server in a subprocess, driven over real LSP framing by pytest-lsp.

`start_session(...)` spawns `python -m codex_lsp`, initializes it, and returns a `Session` that
records every notification in arrival order (so tests can assert ordering without racing
`wait_for_notification`) and answers server→client requests with handlers the test installs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import register_lsp_features
from pytest_lsp.protocol import LanguageClientProtocol

from codex_lsp.server import converter_factory

ROOT = Path(__file__).resolve().parent.parent


class RecordingProtocol(LanguageClientProtocol):
    """Records every notification (method, params) in arrival order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, Any]] = []
        self.arrived = asyncio.Event()

    def _handle_notification(self, method_name: str, params: Any) -> None:
        self.received.append((method_name, params))
        self.arrived.set()
        super()._handle_notification(method_name, params)


def _make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=converter_factory, protocol_cls=RecordingProtocol)
    register_lsp_features(client)
    return client


class Session:
    """A running server plus helpers to call it and read what it sent."""

    def __init__(self, client: LanguageClient, init_result: Any, stderr_file: Path | None) -> None:
        self.client = client
        self.init_result = init_result
        self.stderr_file = stderr_file

    @property
    def protocol(self) -> RecordingProtocol:
        return self.client.protocol  # type: ignore[return-value]

    @property
    def notifications(self) -> list[tuple[str, Any]]:
        return self.protocol.received

    def custom_notifications(self) -> list[tuple[str, Any]]:
        return [(m, p) for m, p in self.notifications if not m.startswith(("window/", "$/"))]

    async def call(self, method: str, params: Any = None, *, timeout: float = 15.0) -> Any:
        """Send a request (``params=None`` sends `{}`); JSON-RPC errors raise JsonRpcException."""
        payload = {} if params is None else params
        return await asyncio.wait_for(self.protocol.send_request_async(method, payload), timeout)

    async def call_raw(
        self, method: str, *, omit_params: bool = False, params: Any = None, timeout: float = 15.0
    ) -> Any:
        """Send a request exactly as given: ``omit_params`` leaves the `params` key out."""
        loop = asyncio.get_running_loop()
        msg_id = f"raw-{id(object())}-{loop.time()}"
        future: asyncio.Future[Any] = loop.create_future()
        self.protocol._request_futures[msg_id] = future  # type: ignore[assignment]
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if not omit_params:
            message["params"] = params
        self.protocol._send_data(message)
        return await asyncio.wait_for(future, timeout)

    def mark(self) -> int:
        """Index to pass to `wait_for` so only notifications after this point count."""
        return len(self.notifications)

    async def wait_for(
        self,
        method: str,
        *,
        since: int = 0,
        timeout: float = 10.0,
        where: Callable[[Any], bool] | None = None,
    ) -> Any:
        """Wait for a notification named ``method`` received at or after index ``since``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for name, params in self.notifications[since:]:
                if name == method and (where is None or where(params)):
                    return params
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [m for m, _ in self.notifications[since:]]
                raise TimeoutError(f"no {method} within {timeout}s; saw {seen}")
            self.protocol.arrived.clear()
            try:
                await asyncio.wait_for(self.protocol.arrived.wait(), remaining)
            except TimeoutError:
                pass

    def on_request(self, method: str, handler: Callable[[Any], Awaitable[Any] | Any]) -> None:
        """Answer server→client requests named ``method`` with ``handler(params)``."""
        self.client.feature(method)(handler)

    def stderr_text(self) -> str:
        return self.stderr_file.read_text(errors="replace") if self.stderr_file else ""


def server_env(codex_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OPENAI_"))}
    env.update(
        {"CODEX_HOME": str(codex_home), "CODEX_LSP_TEST_HOOKS": "1", "PYTHONUNBUFFERED": "1"}
    )
    env.update(extra or {})
    return env


@asynccontextmanager
async def start_session(
    codex_home: Path,
    *,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    init_options: Any = None,
    capabilities: types.ClientCapabilities | None = None,
    workspace: Path | None = None,
    stderr_file: Path | None = None,
    initialize: bool = True,
    before_initialize: Callable[[Session], None] | None = None,
    wrapper: list[str] | None = None,
    python: str | None = None,
):
    """Start the real server (stdio) and yield an initialized `Session` (``python``: the
    interpreter that runs it, this one by default)."""
    command = [*(wrapper or []), python or sys.executable, "-m", "codex_lsp", *(args or [])]
    if stderr_file is not None:
        command = ["/bin/sh", "-c", f'exec "$0" "$@" 2>>"{stderr_file}"', *command]
    config = ClientServerConfig(
        server_command=command, client_factory=_make_client, server_env=server_env(codex_home, env)
    )
    client = await config.start()
    session = Session(client, None, stderr_file)
    if before_initialize:
        before_initialize(session)
    try:
        if initialize:
            folders = (
                [types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")] if workspace else None
            )
            session.init_result = await asyncio.wait_for(
                client.initialize_session(
                    types.InitializeParams(
                        capabilities=capabilities or types.ClientCapabilities(),
                        initialization_options=init_options,
                        workspace_folders=folders,
                        root_uri=workspace.as_uri() if workspace else None,
                    )
                ),
                20,
            )
        yield session
    finally:
        try:
            if initialize and client.error is None:
                await asyncio.wait_for(client.shutdown_session(), 10)
        finally:
            proc = client._server
            if proc is not None and proc.returncode is None:
                if proc.stdin is not None:
                    proc.stdin.close()  # EOF ends a server that never got `exit`
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()
            await asyncio.wait_for(client.stop(), 10)
