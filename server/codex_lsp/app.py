"""Builds the server: configuration, domain services and handler registration in one place.

Start-up is split so the editor's `initialize` is answered fast: this module and the protocol
module are light; the domain services (httpx, credentials, models, sandbox detection) and the
handler modules are loaded right after `initialize` answers, and requests wait for that.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from lsprotocol import types

from codex_lsp import open_documents
from codex_lsp.config import Config
from codex_lsp.protocol.names import CLIENT_REQUESTS
from codex_lsp.server import CodexLanguageServer

log = logging.getLogger(__name__)
_background: set[asyncio.Future[None]] = set()


async def start_services(server: CodexLanguageServer, config: Config) -> None:
    """Build the services, load credentials, and bind every handler."""
    from codex_lsp.handlers import register_all
    from codex_lsp.services import Services

    services = Services.from_config(config)
    server.services = services
    register_all(server, services)
    await services.start()
    # After requests are unblocked, off the loop: nothing waits for it, the first backend
    # request at worst waits on the import lock.
    task = asyncio.ensure_future(asyncio.to_thread(finish_startup))
    _background.add(task)
    task.add_done_callback(_background.discard)


def finish_startup() -> None:
    """Pay the HTTP stack's lazy imports now rather than in the first backend request (httpx
    loads anyio, its asyncio backend, h11 and the idna codec on first connect), persist the
    code cache and put attrs back (see codecache), then resolve the payload classes' type hints
    (otherwise the first request using each class pays for it)."""
    from codex_lsp import codecache

    try:
        import encodings.idna  # noqa: F401 - httpx encodes the host name with it
        import ssl  # noqa: F401

        import anyio._backends._asyncio  # noqa: F401
        import anyio.streams.tls  # noqa: F401
        import h11  # noqa: F401
        import httpcore._backends.anyio  # noqa: F401
    except ImportError as exc:  # a different httpx stack: it will import what it needs itself
        log.debug("HTTP stack preload skipped: %s", exc)
    try:
        asyncio.run(warm_http_stack())
    except Exception as exc:  # noqa: BLE001 - only a warm-up
        log.debug("HTTP warm-up skipped (%s)", type(exc).__name__)
    codecache.save_and_uninstall()
    compile_own_bytecode()
    from codex_lsp.protocol import METHODS
    from codex_lsp.protocol.wire import prepare

    try:
        prepare([part for m in METHODS.values() for part in (m.params, m.result)])
    except Exception as exc:  # noqa: BLE001 - only a warm-up: requests resolve them as before
        log.warning("payload classes not prepared (%s)", type(exc).__name__)
    release_free_memory()
    freeze_heap()


def release_free_memory() -> None:
    """Give the heap that start-up used and freed back to the OS (glibc keeps it otherwise):
    about half a megabyte of an idle server's RSS."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc (macOS, musl, Windows): nothing to do


def freeze_heap() -> None:
    """Move every object alive now (modules, classes, lsprotocol's and attrs' machinery: some
    65,000) out of the cyclic collector's reach. They live as long as the server, and a full
    collection that walks them all pauses the event loop for tens of ms, in the middle of a
    stream. Called at the end of start-up and after each on-demand handler import."""
    import gc

    gc.freeze()


async def warm_http_stack() -> None:
    """One request through a throw-away client to a listener of our own on 127.0.0.1 (nothing
    leaves the machine), on this thread's own loop: the first request through httpx, httpcore,
    h11 and anyio runs a lot of code for the first time (and unspecialised), several ms that
    would otherwise land on the user's first backend request."""
    import httpx

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        port = listener.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            response = await client.get(f"http://127.0.0.1:{port}/", headers={"X-Warm-Up": "1"})
            response.json()
    finally:
        listener.close()
        await listener.wait_closed()


def compile_own_bytecode() -> None:
    """Write our package's missing .pyc files once, so later spawns don't recompile ~60 modules.

    Editors often start servers with bytecode writing off (PYTHONDONTWRITEBYTECODE) or from a
    source checkout; Python still *reads* .pyc files then. Up-to-date files are skipped (a stat
    each); a read-only install is left alone. `.ci/setup` does the same at install time.
    """
    import sys

    if not sys.dont_write_bytecode or os.environ.get("CODEX_LSP_NO_CODE_CACHE") == "1":
        return  # Python writes them itself (or the user opted out)
    import compileall
    from pathlib import Path

    try:
        compileall.compile_dir(Path(__file__).parent, quiet=2, workers=1)
    except OSError as exc:
        log.debug("bytecode not written: %s", type(exc).__name__)


def build_server(config: Config, *, log_level: str = "INFO") -> CodexLanguageServer:
    server = CodexLanguageServer(config, log_level=log_level)
    for name in CLIENT_REQUESTS:
        if name != "initialize":
            server.route(name)

    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        server.begin_startup(start_services(server, config))

    open_documents.register(server)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(params: Any) -> None:
        if server.services is not None:
            await server.services.close()

    if os.environ.get("CODEX_LSP_TEST_HOOKS") == "1":
        from codex_lsp.handlers import testing

        testing.register(server)
    return server
