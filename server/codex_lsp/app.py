"""Builds the server: configuration, domain services and handler registration in one place.

Start-up is split so the editor's `initialize` is answered fast: this module and the protocol
module are light; the domain services (httpx, credentials, models, sandbox detection) and the
handler modules are loaded right after `initialize` answers, and requests wait for that.
"""

from __future__ import annotations

import os
from typing import Any

from lsprotocol import types

from codex_lsp.config import Config
from codex_lsp.protocol import client_requests
from codex_lsp.server import CodexLanguageServer


async def start_services(server: CodexLanguageServer, config: Config) -> None:
    """Build the services, load credentials, and bind every handler."""
    from codex_lsp.handlers import register_all
    from codex_lsp.services import Services

    services = Services.from_config(config)
    server.services = services
    register_all(server, services)
    await services.start()


def build_server(config: Config, *, log_level: str = "INFO") -> CodexLanguageServer:
    server = CodexLanguageServer(config, log_level=log_level)
    for method in client_requests():
        if method.name != "initialize":
            server.route(method)

    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        server.begin_startup(start_services(server, config))

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(params: Any) -> None:
        if server.services is not None:
            await server.services.close()

    if os.environ.get("CODEX_LSP_TEST_HOOKS") == "1":
        from codex_lsp.handlers import testing

        testing.register(server)
    return server
