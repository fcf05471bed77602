"""Thin LSP handlers: parse (done by the server), call one domain object, map errors.

Each module exposes ``register(server, services)``; :func:`register_all` calls those of MODULES
at start-up. The modules of ON_DEMAND are imported on the first request for one of their
methods: the thread domain (turn engine, tools, edits, history, context) and file search are
about 5 MB of an idle server that an editor which never opens a thread does not need. The first
such request pays their import once (tens of milliseconds, off the event loop).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING

from codex_lsp.protocol.context import (
    FUZZY_FILE_SEARCH,
    THREAD_COMPACT_START,
    TURN_STEER,
)
from codex_lsp.protocol.history import (
    THREAD_ARCHIVE,
    THREAD_FORK,
    THREAD_LIST,
    THREAD_NAME_SET,
    THREAD_READ,
    THREAD_RESUME,
    THREAD_UNARCHIVE,
)
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.threads import THREAD_START, TURN_INTERRUPT, TURN_START

if TYPE_CHECKING:
    from codex_lsp.server import CodexLanguageServer
    from codex_lsp.services import Services

# Handler modules bound at start-up, one per method group. A module listed here must exist.
MODULES = ("models", "commands", "account", "status")

# Handler modules bound on first use, with every method they register (checked when loaded).
ON_DEMAND: dict[str, tuple[Method, ...]] = {
    "threads": (
        THREAD_START,
        TURN_START,
        TURN_STEER,
        TURN_INTERRUPT,
        THREAD_COMPACT_START,
        THREAD_LIST,
        THREAD_READ,
        THREAD_RESUME,
        THREAD_FORK,
        THREAD_ARCHIVE,
        THREAD_UNARCHIVE,
        THREAD_NAME_SET,
    ),
    "search": (FUZZY_FILE_SEARCH,),
}


def register_all(server: CodexLanguageServer, services: Services) -> None:
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(server, services)
    for name, methods in ON_DEMAND.items():
        server.on_demand(methods, _loader(name, methods, server, services))


def _loader(
    name: str, methods: tuple[Method, ...], server: CodexLanguageServer, services: Services
) -> Callable[[], Awaitable[None]]:
    loading: asyncio.Future[None] | None = None

    async def load() -> None:
        nonlocal loading
        if loading is None:  # concurrent first requests share one import
            loading = asyncio.ensure_future(_load(name, methods, server, services))
        await asyncio.shield(loading)

    return load


async def _load(
    name: str, methods: tuple[Method, ...], server: CodexLanguageServer, services: Services
) -> None:
    # The import runs in a thread so the loop keeps serving (streams, other requests) meanwhile.
    module = await asyncio.to_thread(_import, f"{__name__}.{name}")
    module.register(server, services)
    missing = sorted(m.name for m in methods if m.name not in server.registered)
    if missing:
        raise RuntimeError(f"handlers.{name} did not bind {missing}")


_import_lock = threading.Lock()


def _import(module_name: str) -> ModuleType:
    """Import through the attrs code cache (start-up has put attrs back by now): the thread
    domain builds some sixty attrs classes."""
    from codex_lsp import codecache
    from codex_lsp.app import freeze_heap

    with _import_lock:
        codecache.install()
        try:
            return importlib.import_module(module_name)
        finally:
            codecache.save_and_uninstall()
            freeze_heap()  # the new modules live as long as the server
