"""stdio transport: read the editor's messages on the event loop, and a cheaper dispatch.

pygls reads stdin through its thread pool, three executor hops per message (header line, blank
line, body) plus the GIL hand-offs between threads: most of the server's CPU per request. When
stdin is a pipe or a socket (how every editor starts us) :func:`open_stdin_reader` reads it on the
event loop instead (``connect_read_pipe`` + ``StreamReader``). Everything else keeps pygls' own
threaded reader: Windows, a regular file (``codex-lsp < messages.txt``) and a terminal (its
non-blocking flag would leak into the shell). Reading fd 0 on the loop makes it non-blocking, which
every child process would inherit, so children must get ``stdin=DEVNULL`` (sandbox/runner and
sandbox/detect do).

The message loop itself stays pygls' ``run_async`` (framing and parsing are unchanged); the reader
only implements its two calls, ``readline()`` and ``readexactly(n)``, and reports EOF (also in the
middle of a message) as ``b""``, which ends that loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import stat
import sys
import threading
from typing import Any, BinaryIO

import orjson
from pygls.exceptions import JsonRpcInternalError
from pygls.io_ import StdoutWriter, run_async
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCProtocol,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    RPCNotification,
    RPCRequest,
    RPCResponse,
)

log = logging.getLogger(__name__)
STREAM_LIMIT = 1024 * 1024  # buffer high-water mark; a body may be larger (readexactly copes)


class LoopStdinReader:
    """pygls' ``AsyncReader`` over an asyncio ``StreamReader`` fed by a pipe transport."""

    def __init__(self, stream: asyncio.StreamReader, transport: asyncio.BaseTransport) -> None:
        self.stream = stream
        self.transport = transport

    async def readline(self) -> bytes:
        try:
            return await self.stream.readline()
        except ValueError:
            # A line longer than STREAM_LIMIT: not a header. asyncio dropped it from the buffer;
            # hand pygls a non-header line so it keeps looking for the next message.
            return b"<oversized line>\r\n"

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self.stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""  # EOF in the middle of a body: the editor is gone

    def close(self) -> None:
        self.transport.close()


def reads_on_loop(stdin: BinaryIO) -> bool:
    """True when ``stdin`` can be read with ``connect_read_pipe`` (a pipe or socket, on POSIX)."""
    if sys.platform.startswith("win") or os.environ.get("CODEX_LSP_THREADED_STDIN") == "1":
        return False  # the env switch is an escape hatch (and lets benchmarks compare)
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _same_file(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """One socket for both directions: making it non-blocking for reading would make our
    blocking stdout writes fail, so such a setup keeps the threaded reader."""
    try:
        a, b = os.fstat(stdin.fileno()), os.fstat(stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return True
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


async def open_stdin_reader(stdin: BinaryIO) -> LoopStdinReader:
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stream, loop=loop), stdin
    )
    return LoopStdinReader(stream, transport)


def serve_stdio(server: Any, stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """Run ``server`` (a pygls ``JsonRPCServer``) over stdio with the loop reader, like pygls'
    ``start_io`` otherwise. Returns False, without doing anything, when stdin is not a pipe."""
    if not reads_on_loop(stdin) or _same_file(stdin, stdout):
        return False
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))

    async def serve() -> None:
        reader = await open_stdin_reader(stdin)
        try:
            await run_async(
                stop_event=server._stop_event,
                reader=reader,
                protocol=server.protocol,
                logger=log,
                error_handler=server.report_server_error,
            )
        finally:
            reader.close()
        # The editor is gone (EOF). Editors often quit without waiting for `shutdown` to finish
        # (Neovim does): close like `shutdown` would, so queued rollout lines still reach disk.
        await server.close_services()

    try:
        asyncio.run(serve())
    except BrokenPipeError:
        log.error("the editor closed the connection; shutting down")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
    return True


# ---- dispatch --------------------------------------------------------------------------------

_REQUEST, _NOTIFICATION, _RESPONSE, _ERROR = range(4)
_kinds: dict[type, int] = {}


def _message_kind(message: Any) -> int:
    """pygls' runtime-checkable Protocol checks (``isinstance(m, RPCRequest)``...), once per class:
    they only look at which attributes exist, and every attrs message class always has its fields."""
    cls = type(message)
    kind = _kinds.get(cls)
    if kind is None:
        if isinstance(message, RPCRequest):
            kind = _REQUEST
        elif isinstance(message, RPCNotification):
            kind = _NOTIFICATION
        elif isinstance(message, RPCResponse):
            kind = _RESPONSE
        else:
            kind = _ERROR
        if hasattr(cls, "__attrs_attrs__"):
            _kinds[cls] = kind
    return kind


# pygls' untyped messages (every custom method's request, answer and notification) and their
# wire fields, in pygls' order: they are written without its cattrs pass.
_PLAIN_FIELDS: dict[type, tuple[str, ...]] = {
    JsonRPCResponseMessage: ("id", "jsonrpc", "result"),
    JsonRPCNotification: ("method", "jsonrpc", "params"),
    JsonRPCRequestMessage: ("id", "method", "jsonrpc", "params"),
}
_HEADER = b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"


class FastDispatch(JsonRPCProtocol):
    """pygls' ``handle_message`` with the Protocol checks cached per message class, and a
    cheaper ``_send_data`` for the messages that carry our own (already wire-shaped) payloads:
    pygls runs them through ``json.dumps`` whose ``default`` hook makes cattrs copy the whole
    payload first; orjson writes the same JSON (UTF-8, Content-Length in bytes) directly."""

    def _send_data(self, data: Any) -> None:
        fields = _PLAIN_FIELDS.get(type(data))
        if fields is None or self.writer is None or not self._include_headers:
            super()._send_data(data)
            return
        try:
            body = orjson.dumps({name: getattr(data, name) for name in fields})
        except TypeError:  # an lsprotocol object inside: pygls' converter knows how
            super()._send_data(data)
            return
        try:
            written = self.writer.write(_HEADER % len(body) + body)
            if written is not None:
                asyncio.ensure_future(written)
        except BrokenPipeError:
            log.error("the editor closed the connection while we were writing")
            raise
        except Exception as error:  # noqa: BLE001 - as pygls: report, keep serving
            log.error("error sending data (%s)", type(error).__name__)
            self._server._report_server_error(error, JsonRpcInternalError)

    def handle_message(self, message: Any) -> None:
        if not hasattr(type(message), "__attrs_attrs__"):
            super().handle_message(message)  # dicts and oddities: pygls' own path
            return
        if message.jsonrpc != JsonRPCProtocol.VERSION:
            super().handle_message(message)  # pygls logs and drops it
            return
        if self._shutdown and getattr(message, "method", "") != "exit":
            super().handle_message(message)
            return
        ctx = contextvars.copy_context()
        kind = _message_kind(message)
        if kind == _REQUEST:
            ctx.run(self._handle_request, message.id, message.method, message.params)
        elif kind == _NOTIFICATION:
            ctx.run(self._handle_notification, message.method, message.params)
        elif kind == _RESPONSE:
            ctx.run(self._handle_response, message.id, message.result)
        else:
            ctx.run(self._handle_response, message.id, None, message.error)
