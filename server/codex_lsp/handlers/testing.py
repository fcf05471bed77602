"""Test-only methods, registered only with `CODEX_LSP_TEST_HOOKS=1` (never in production).

They exercise the server's own machinery (error mapping, server→client requests) without
depending on any domain feature. They are not part of the protocol module or its docs.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import attrs

from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.wire import field
from codex_lsp.server import CodexLanguageServer


@attrs.define
class EchoParams:
    """Params of `codexTest/echo`."""

    text: str = field("Text to echo.")
    count: int = field("How many times.", default=1)


@attrs.define
class ClientRequestParams:
    """Params of `codexTest/clientRequest`."""

    method: str = field("Server→client method to call.")
    params: dict[str, Any] = field("Its params.", default=attrs.Factory(dict))
    timeout: float = field("Seconds to wait.", default=5.0)


ECHO = Method("codexTest/echo", "client->server", "request", "handshake", EchoParams, None, "test")
RAISE = Method("codexTest/raise", "client->server", "request", "handshake", None, None, "test")
CLIENT_REQUEST = Method(
    "codexTest/clientRequest",
    "client->server",
    "request",
    "handshake",
    ClientRequestParams,
    None,
    "test",
)
NOTIFY = Method("codexTest/notify", "client->server", "request", "handshake", None, None, "test")
LOADED_MODULES = Method(
    "codexTest/loadedModules", "client->server", "request", "handshake", None, None, "test"
)


def register(server: CodexLanguageServer) -> None:
    @server.request_handler(ECHO)
    async def echo(params: EchoParams) -> dict[str, Any]:
        return {"text": params.text * params.count, "nothing": None}

    @server.request_handler(RAISE)
    async def boom(params: Any) -> None:
        raise RuntimeError(f"kaboom in {__file__}")

    @server.request_handler(CLIENT_REQUEST)
    async def client_request(params: ClientRequestParams) -> Any:
        method = Method(params.method, "server->client", "request", "handshake", None, None, "test")
        answer = await server.request_client(method, params.params, params.timeout)
        return {"answer": answer}

    @server.request_handler(NOTIFY)
    async def notify(params: Any) -> dict[str, Any]:
        from codex_lsp.protocol.account import ACCOUNT_UPDATED, AccountUpdated

        server.send_notification(ACCOUNT_UPDATED, AccountUpdated(auth_mode=None, plan_type=None))
        return {}

    @server.request_handler(LOADED_MODULES)
    async def loaded_modules(params: Any) -> dict[str, Any]:
        return {
            "modules": sorted(m for m in sys.modules if m.startswith("codex_lsp")),
            "frozenObjects": gc.get_freeze_count(),  # see app.freeze_heap
        }
