"""The LSP server: transport, handshake, and the one place where requests become domain calls.

Every custom request goes through :meth:`CodexLanguageServer.request_handler`, which enforces the
handshake (-32002 before `initialize`), normalises params (missing, `null` and `[]` all mean `{}`),
parses them into the protocol module's payload classes (-32602 naming the field), maps
:class:`~codex_lsp.errors.CodexError` to its JSON-RPC code, and turns anything unexpected into a
short -32603 without a traceback. Server→client requests go through :meth:`request_client`, the
only place that touches pygls' private pending-request tables (pygls notes G5).
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
    default_converter,
)
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from codex_lsp import __version__, errors, logs, open_documents, transport
from codex_lsp.config import Config
from codex_lsp.protocol import ParamsError, envelope, from_wire, to_wire
from codex_lsp.protocol.handshake import PROTOCOL_VERSION, CodexCapabilities, InitializationOptions
from codex_lsp.protocol.methods import Method

if TYPE_CHECKING:
    from codex_lsp.services import Services

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 10.0  # the editor gone: how long flushing may keep the process alive
P = TypeVar("P")

USER_AGENT = f"codex_lsp/{__version__} ({platform.system().lower()}; {platform.machine()})"


def converter_factory() -> Any:
    """Keep custom params/results as plain JSON and tolerate a missing ``params`` (pygls G1, G3)."""
    converter = default_converter()

    def structure_raw(obj: dict[str, Any], cls: type) -> Any:
        if cls is not JsonRPCResponseMessage:
            obj.setdefault("params", None)
            fields = {"id", "method", "params", "jsonrpc"}
        else:
            obj.setdefault("result", None)
            fields = {"id", "result", "jsonrpc"}
        return cls(**{k: v for k, v in obj.items() if k in fields})

    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(cls, structure_raw)
    return converter


def _json_for_log(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 2000 else text[:2000] + "..."


class ClientRequestFailed(errors.CodexError):
    """A server→client request failed: error answer, timeout, or disconnect."""

    def __init__(self, message: str, *, timed_out: bool = False, code: int | None = None) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.client_code = code


class CodexProtocol(transport.FastDispatch, LanguageServerProtocol):
    """Adds Codex's handshake additions to pygls' `initialize`."""

    _server: CodexLanguageServer

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls runs this on every JSON object of a message, nested ones included, and drops a
        request it can't structure without answering it (notes G2). Leave nested look-alikes and
        broken envelopes as plain dicts (:meth:`handle_message` answers the latter), answer a
        request whose params fail to structure with -32602, and never abort the whole message."""
        if "jsonrpc" not in data or not envelope.looks_like_envelope(data):
            return data
        if envelope.check_envelope(data) is not None:
            return data
        try:
            return super().structure_message(data)
        except Exception:  # noqa: BLE001 - answered below; pygls logs the rest
            if "id" in data and isinstance(data.get("method"), str):
                self._send_response(
                    data["id"],
                    error=JsonRpcException(
                        f"params: invalid for {data['method']}", code=errors.INVALID_PARAMS
                    ).to_response_error(),
                )
            return data

    def handle_message(self, message: Any) -> None:
        """Answer broken envelopes with -32600 (JSON-RPC 2.0 section 5) before pygls sees them."""
        if isinstance(message, dict | list) or not hasattr(message, "jsonrpc"):
            self.reject_envelope(message)
            return
        super().handle_message(message)

    def reject_envelope(self, message: Any) -> None:
        problem = envelope.check_envelope(message)
        if problem is None:
            return  # a well-formed request whose params failed to structure: answered already
        if not problem.answer:
            log.warning("ignoring an invalid response from the editor: %s", problem.reason)
            return
        log.warning("answering an invalid request with -32600: %s", problem.reason)
        self._send_data(
            {
                "jsonrpc": envelope.JSONRPC_VERSION,
                "id": problem.answer_id,
                "error": {
                    "code": errors.INVALID_REQUEST,
                    "message": f"Invalid Request: {problem.reason}",
                },
            }
        )

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        if self._server.initialized:
            raise JsonRpcException("Already initialized", code=errors.INVALID_REQUEST)
        server = self._server
        server.file_edits_mode = open_documents.requested_mode(params)
        if server.file_edits_mode == open_documents.WORKSPACE_EDIT:
            server._text_document_sync_kind = types.TextDocumentSyncKind.Incremental
        result = yield from super().lsp_initialize(params)
        if server.file_edits_mode != open_documents.WORKSPACE_EDIT:  # no buffers needed
            result.capabilities.text_document_sync = types.TextDocumentSyncOptions(
                open_close=False, change=types.TextDocumentSyncKind.None_
            )
        server.accept_initialization_options(params.initialization_options)
        window = params.capabilities.window if params.capabilities else None
        server.client_supports_show_document = bool(window and window.show_document)
        server.workspace_folders = _workspace_paths(params)
        client = params.client_info.name if params.client_info else "unknown client"
        log.info("initialize from %s; workspace %s", client, server.workspace_folders[:1] or "none")
        result.capabilities.experimental = {"codex": to_wire(server.codex_capabilities())}
        server.initialized = True
        return result


def _workspace_paths(params: types.InitializeParams) -> list[Path]:
    paths: list[Path] = []
    for folder in params.workspace_folders or []:
        if (path := to_fs_path(folder.uri)) is not None:
            paths.append(Path(path))
    if not paths and params.root_uri and (path := to_fs_path(params.root_uri)) is not None:
        paths.append(Path(path))
    if not paths and params.root_path:
        paths.append(Path(params.root_path))
    return paths


class CodexLanguageServer(LanguageServer):
    """pygls server with Codex's handshake, error mapping, notifications and client requests."""

    def __init__(self, config: Config, *, log_level: str = "INFO") -> None:
        super().__init__(
            "codex-lsp",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=CodexProtocol,
            converter_factory=converter_factory,
        )
        self.config = config
        self.initialized = False
        self.experimental_api = False
        self.opted_out: frozenset[str] = frozenset()
        self.client_supports_show_document = False
        self.file_edits_mode = "disk"  # or "workspaceEdit" (initializationOptions.fileEdits)
        self.workspace_folders: list[Path] = []
        self.registered: dict[str, Method] = {}  # methods with a bound handler
        # method name -> binds its handler on first use (see on_demand)
        self._on_demand: dict[str, Callable[[], Awaitable[None]]] = {}
        self.services: Services | None = None  # set during start-up
        self._handlers: dict[str, Callable[[Any], Awaitable[Any]]] = {}
        self._routed: set[str] = set()
        self._startup: asyncio.Future[None] | None = None
        self._log_level = log_level
        self._forwarder: logs.LogMessageForwarder | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """pygls' stdio server, reading stdin on the event loop when it is a pipe (see transport)."""
        if not transport.serve_stdio(self, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer):
            super().start_io(stdin, stdout)

    # ---- handshake -----------------------------------------------------------------------------

    def codex_capabilities(self) -> CodexCapabilities:
        is_windows = sys.platform.startswith("win")
        os_name = "macos" if sys.platform == "darwin" else ("windows" if is_windows else "linux")
        return CodexCapabilities(
            user_agent=USER_AGENT,
            codex_home=str(self.config.codex_home),
            platform_family="windows" if is_windows else "unix",
            platform_os=os_name,  # type: ignore[arg-type]
            protocol_version=PROTOCOL_VERSION,
        )

    def accept_initialization_options(self, raw: Any) -> None:
        """Read `initializationOptions`; bad values are logged and ignored (initialize must succeed)."""
        self._loop = asyncio.get_running_loop()
        if raw in (None, []):
            raw = {}
        try:
            options = from_wire(InitializationOptions, raw, "initializationOptions")
        except ParamsError as exc:
            log.warning("ignoring initializationOptions: %s", exc)
            options = InitializationOptions()
        self.experimental_api = options.experimental_api
        self.opted_out = frozenset(options.opt_out_notification_methods or ())
        if self._forwarder is None:
            self._forwarder = logs.attach_forwarder(self._send_log_message, self._log_level)

    def _send_log_message(self, level: int, message: str) -> None:
        if not self.initialized or self.protocol.writer is None:
            return
        kind = (
            types.MessageType.Error
            if level >= logging.ERROR
            else types.MessageType.Warning
            if level >= logging.WARNING
            else types.MessageType.Info
            if level >= logging.INFO
            else types.MessageType.Log
        )
        self._on_loop(
            lambda: self.protocol.notify(
                types.WINDOW_LOG_MESSAGE, types.LogMessageParams(type=kind, message=message)
            )
        )

    def _on_loop(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Never pop up `window/showMessage` for internal errors (pygls G6): log instead."""
        if isinstance(error, JsonRpcException):
            return  # already answered to the client as a JSON-RPC error
        log.error(
            "server error (%s): %s", getattr(source, "__name__", source), type(error).__name__
        )

    def workspace_root(self) -> Path | None:
        return self.workspace_folders[0] if self.workspace_folders else None

    # ---- requests from the client --------------------------------------------------------------

    def route(self, name: str) -> None:
        """Make pygls route the request ``name`` to :meth:`_dispatch` (cheap: needs neither the
        handler nor the method's payload classes yet)."""
        if name in self._routed:
            return

        async def wrapper(params: Any) -> Any:
            return await self._dispatch(name, params)

        wrapper.__name__ = f"handle_{name.replace('/', '_')}"
        self.feature(name)(wrapper)
        self._routed.add(name)

    def request_handler(
        self, method: Method
    ) -> Callable[[Callable[[Any], Awaitable[Any]]], Callable[[Any], Awaitable[Any]]]:
        """Bind ``handler(params) -> result`` to a client→server request of the protocol module."""

        def decorator(handler: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
            self.route(method.name)
            self._handlers[method.name] = handler
            self.registered[method.name] = method
            return handler

        return decorator

    def on_demand(self, methods: Iterable[Method], load: Callable[[], Awaitable[None]]) -> None:
        """Route ``methods`` now; ``load`` binds their handlers on the first request for any of
        them (and must be safe to await more than once)."""
        for method in methods:
            self.route(method.name)
            self._on_demand[method.name] = load

    async def load_on_demand(self) -> None:
        """Bind every handler that is still waiting for its first request (tests, tools)."""
        for load in dict.fromkeys(self._on_demand.values()):
            await load()

    async def close_services(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop turns and flush every rollout (what `shutdown` does), at most ``timeout_s``;
        shared with a `shutdown` already doing it."""
        if self.services is None:
            return
        try:
            await asyncio.wait_for(self.services.close(), timeout_s)
        except TimeoutError:
            log.warning("closing took longer than %gs; exiting anyway", timeout_s)
        except Exception as exc:  # noqa: BLE001 - exiting anyway
            log.warning("closing failed (%s); exiting anyway", type(exc).__name__)

    def begin_startup(self, startup: Awaitable[None]) -> None:
        """Run the heavy part of start-up (imports, credentials, handlers) after `initialize`
        answers; requests wait for it, so the editor gets its handshake answer fast."""
        self._startup = asyncio.ensure_future(startup)

    async def wait_started(self) -> None:
        if self._startup is None:
            return
        try:
            await asyncio.shield(self._startup)
        except Exception as exc:  # noqa: BLE001 - reported to every request, logged once
            raise JsonRpcException(
                f"codex-lsp failed to start: {logs.redact(str(exc))}", code=errors.INTERNAL_ERROR
            ) from None

    async def _dispatch(self, name: str, params: Any) -> Any:
        if not self.initialized:
            raise JsonRpcException("Server not initialized", code=errors.SERVER_NOT_INITIALIZED)
        await self.wait_started()
        handler = self._handlers.get(name)
        if handler is None and name in self._on_demand:
            await self._on_demand[name]()
            handler = self._handlers.get(name)
        if handler is None:
            raise JsonRpcException(f"Method Not Found: {name}", code=errors.METHOD_NOT_FOUND)
        method = self.registered[name]
        if log.isEnabledFor(logging.DEBUG):
            # Params can carry tokens: the log filter scrubs them (see logs.SecretRedactor).
            log.debug("request %s params=%s", method.name, _json_for_log(params))
        if params is None or params == []:
            params = {}
        try:
            parsed = from_wire(method.params, params) if method.params is not None else params
        except ParamsError as exc:
            raise JsonRpcException(str(exc), code=errors.INVALID_PARAMS) from None
        try:
            result = await handler(parsed)
        except JsonRpcException:
            raise
        except errors.CodexError as exc:
            raise JsonRpcException(logs.redact(exc.message), code=exc.code) from None
        except ParamsError as exc:
            raise JsonRpcException(str(exc), code=errors.INVALID_PARAMS) from None
        except Exception as exc:  # noqa: BLE001 - the boundary: log it, answer a short -32603
            log.error("%s failed: %s", method.name, type(exc).__name__, exc_info=exc)
            raise JsonRpcException(
                f"internal error in {method.name} ({type(exc).__name__}); see the server log",
                code=errors.INTERNAL_ERROR,
            ) from None
        return to_wire(result)

    # ---- messages to the client ----------------------------------------------------------------

    def send_notification(self, method: Method, payload: Any) -> None:
        """Send a notification unless the client opted out of it."""
        if method.name in self.opted_out or self.protocol.writer is None:
            return
        self.protocol.notify(method.name, to_wire(payload))

    def after_response(self, send: Callable[[], None]) -> None:
        """Run ``send`` once the current request's answer (or error) is on the wire.

        pygls writes the answer from a done-callback of the handler task, registered before the
        handler ran; callbacks run in registration order, so ours runs right after it.
        """
        task = asyncio.current_task()
        if task is None:
            send()
        else:
            task.add_done_callback(lambda _done: send())

    async def request_client(
        self, method: Method, payload: Any, timeout: float, *, msg_id: str | None = None
    ) -> Any:
        """Send a server→client request and wait at most ``timeout`` seconds for the answer.

        On timeout the pending entry is dropped and `$/cancelRequest` sent, so a late answer is
        only logged by pygls, never turned into an error (pygls notes G5). Raises
        :class:`ClientRequestFailed` for an error answer, a timeout or a closed connection.
        Pass ``msg_id`` when the caller must name the request later (`serverRequest/resolved`).
        """
        if self.protocol.writer is None:
            raise ClientRequestFailed(f"{method.name}: the editor is not connected")
        msg_id = msg_id or str(uuid.uuid4())
        # Standard LSP requests (workspace/applyEdit) go as lsprotocol objects: pygls structures them.
        is_lsp = type(payload).__module__.startswith("lsprotocol")
        wire = payload if is_lsp else to_wire(payload)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("asking the editor: %s %s", method.name, _json_for_log(to_wire(payload)))
        future = self.protocol.send_request_async(method.name, wire, msg_id=msg_id)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._forget_request(msg_id)
            log.warning("%s: the editor did not answer within %gs", method.name, timeout)
            raise ClientRequestFailed(
                f"{method.name}: the editor did not answer within {timeout:g}s", timed_out=True
            ) from None
        except asyncio.CancelledError:
            self._forget_request(msg_id)
            raise
        except JsonRpcException as exc:
            log.info("%s: the editor answered error %s", method.name, exc.code)
            raise ClientRequestFailed(
                f"{method.name}: the editor answered with error {exc.code}: {exc.message}",
                code=exc.code,
            ) from None

    def _forget_request(self, msg_id: str) -> None:
        self.protocol._request_futures.pop(msg_id, None)
        self.protocol._result_types.pop(msg_id, None)
        if self.protocol.writer is not None:
            self.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
