"""Builds the server: configuration, domain services and handler registration in one place."""

from __future__ import annotations

import os

from .config import Config
from .handlers import testing
from .server import CodexLanguageServer


def build_server(config: Config, *, log_level: str = "INFO") -> CodexLanguageServer:
    server = CodexLanguageServer(config, log_level=log_level)
    if os.environ.get("CODEX_LSP_TEST_HOOKS") == "1":
        testing.register(server)
    return server
