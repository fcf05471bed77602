"""Thin LSP handlers: parse (done by the server), call one domain object, map errors.

Each module exposes ``register(server, services)``; :func:`register_all` calls them in order.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services

# Handler modules, one per method group. A module listed here must exist.
MODULES = ("models", "commands", "account", "status", "threads", "search")


def register_all(server: CodexLanguageServer, services: Services) -> None:
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(server, services)
