"""A fake Codex backend: a real HTTP/1.1 server on 127.0.0.1 for tests, the offline demo and
the benchmarks.

Routes are matched by path suffix, so any prefix works (``/v1/responses``,
``/backend-api/codex/models``, ``/backend-api/wham/usage``, ``/api/codex/usage``):

- ``POST …/responses`` streams a scripted response as SSE (one chunk per event, flushed
  at once, ``TCP_NODELAY``), with ``x-codex-*`` rate-limit headers.
- ``GET …/models`` returns ``{"models": [...]}`` with an ETag; ``If-None-Match`` → 304.
- ``GET …/wham/usage`` and ``…/api/codex/usage`` return the usage payload.

Usage::

    with FakeBackend() as fake:
        fake.accepted_tokens = {"sk-test"}
        fake.script_next([reasoning("Looking"), shell_call(["ls"])])
        fake.faults.server_errors = 1
        ...
        assert fake.requests[-1].path.endswith("/responses")
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

STALL_LIMIT_S = 30.0  # a stalled stream is released at most this late (or at stop())

# --- scripts ----------------------------------------------------------------------------------


@attrs.frozen
class TextStep:
    """An assistant message streamed as these deltas."""

    deltas: tuple[str, ...]


@attrs.frozen
class ReasoningStep:
    """A reasoning item with one summary part streamed as these deltas. Its ``encrypted_content``
    is this value, or (when None and the request asked for it in ``include``) a generated one."""

    deltas: tuple[str, ...]
    encrypted_content: str | None = None


@attrs.frozen
class ShellCallStep:
    """A ``shell`` function call with the given argv."""

    argv: tuple[str, ...]
    call_id: str | None = None
    workdir: str | None = None
    timeout_ms: int | None = None
    raw_arguments: str | None = None  # sent verbatim instead (escalation flags, malformed JSON)


@attrs.frozen
class FunctionCallStep:
    """A function call to any tool (``update_plan``...) with these JSON arguments."""

    name: str
    arguments: str
    call_id: str | None = None


@attrs.frozen
class PatchCallStep:
    """An ``apply_patch`` call: a freeform ``custom_tool_call`` (input streamed in chunks) or a
    ``function_call`` with ``{"input": patch}``."""

    patch: str
    freeform: bool = True
    call_id: str | None = None
    chunk_chars: int = 64


@attrs.frozen
class FailStep:
    """Ends the stream with ``response.failed`` carrying this error code and message."""

    code: str
    message: str


Step = TextStep | ReasoningStep | ShellCallStep | FunctionCallStep | PatchCallStep | FailStep
Script = list[Step]


def _word_deltas(text: str) -> tuple[str, ...]:
    words = text.split(" ")
    return tuple(w if i == len(words) - 1 else w + " " for i, w in enumerate(words))


def text(message: str) -> TextStep:
    """An assistant message streamed word by word."""
    return TextStep(_word_deltas(message))


def reasoning(summary: str, *, encrypted_content: str | None = None) -> ReasoningStep:
    return ReasoningStep(_word_deltas(summary), encrypted_content)


def function_call(name: str, arguments: Any, *, call_id: str | None = None) -> FunctionCallStep:
    """A call to tool ``name``; ``arguments`` is JSON-encoded unless it is already a string."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return FunctionCallStep(name, raw, call_id)


def shell_call(
    argv: list[str],
    *,
    call_id: str | None = None,
    workdir: str | None = None,
    timeout_ms: int | None = None,
    raw_arguments: str | None = None,
) -> ShellCallStep:
    return ShellCallStep(
        tuple(argv),
        call_id=call_id,
        workdir=workdir,
        timeout_ms=timeout_ms,
        raw_arguments=raw_arguments,
    )


def patch_call(
    patch: str, *, freeform: bool = True, call_id: str | None = None, chunk_chars: int = 64
) -> PatchCallStep:
    return PatchCallStep(patch, freeform=freeform, call_id=call_id, chunk_chars=chunk_chars)


def failure(code: str, message: str = "The model failed.") -> FailStep:
    return FailStep(code, message)


def _last_input_item(body: Any) -> dict[str, Any]:
    items = body.get("input") if isinstance(body, dict) else None
    if isinstance(items, list) and items and isinstance(items[-1], dict):
        return items[-1]
    return {}


def _user_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def default_script(body: Any) -> Script:
    """After a tool result: a final answer quoting the output. Otherwise: a short reply."""
    last = _last_input_item(body)
    if last.get("type") in ("function_call_output", "custom_tool_call_output"):
        output = last.get("output")
        if isinstance(output, dict):  # some clients send {content, success}
            output = output.get("content", "")
        return [text(f"The command finished. Its output was:\n{output}")]
    said = _user_text(last).strip()
    return [
        reasoning("Reading the request."),
        text(f"Hello from the fake backend. You said: {said}"),
    ]


# --- faults and the request log ----------------------------------------------------------------


@attrs.define
class Faults:
    """Switches tests flip to make the next requests fail. Counters count down as they fire.

    ``path_suffix`` limits every fault to requests whose path ends with it (e.g. "/models").
    """

    unauthorized_once: bool = False
    unauthorized_always: bool = False
    server_errors: int = 0
    rate_limited: int = 0
    retry_after_s: float | None = None
    usage_limit: bool = False  # 429 answers carry a usage_limit_reached body
    stall_after_events: int | None = None  # next stream stops sending after N events
    disconnect_after_events: int | None = None  # next stream drops the connection after N events
    slow_responses: int = 0  # the next N requests wait slow_response_s before answering
    slow_response_s: float = 2.0
    path_suffix: str | None = None


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = attrs.field(repr=False)  # lower-case names; holds bearer tokens
    body: Any
    connection: int = 0  # serial number of the TCP connection it came on (1, 2, ...)
    received_at: float = 0.0  # time.perf_counter() when its body was read

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None


def bundled_models() -> list[dict[str, Any]]:
    """The package's bundled model presets (the fake's default ``/models`` list)."""
    data = resources.files("codex_lsp").joinpath("data/models.json").read_text("utf-8")
    models = json.loads(data)["models"]
    assert isinstance(models, list)
    return models


DEFAULT_RATE_LIMIT_HEADERS = {
    "x-codex-primary-used-percent": "23.0",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-at": "1764000000",
    "x-codex-secondary-used-percent": "61.0",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-at": "1764080000",
    "x-codex-credits-has-credits": "true",
    "x-codex-credits-unlimited": "false",
    "x-codex-credits-balance": "12.50",
}

DEFAULT_USAGE = {
    "plan_type": "pro",
    "rate_limit": {
        "allowed": True,
        "limit_reached": False,
        "primary_window": {
            "used_percent": 23,
            "limit_window_seconds": 18000,
            "reset_after_seconds": 3600,
            "reset_at": 1764000000,
        },
        "secondary_window": {
            "used_percent": 61,
            "limit_window_seconds": 604800,
            "reset_after_seconds": 86400,
            "reset_at": 1764080000,
        },
    },
    "credits": {"has_credits": True, "unlimited": False, "balance": "12.50"},
}


# --- the server -------------------------------------------------------------------------------


class FakeBackend:
    """The fake backend. Thread-safe: the server runs in its own threads; tests mutate the
    public attributes from anywhere."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.accepted_tokens: set[str] = set()  # empty: any (or no) bearer is accepted
        self.faults = Faults()
        self.rate_limit_headers: dict[str, str] = dict(DEFAULT_RATE_LIMIT_HEADERS)
        self.rate_limit_event: dict[str, Any] | None = None  # sent as codex.rate_limits if set
        self.usage: dict[str, Any] = json.loads(json.dumps(DEFAULT_USAGE))
        self.script_for: Callable[[Any], Script] = default_script
        self.event_delay_s = 0.0
        # When a list, every SSE delta written is logged as (perf_counter(), delta) so the
        # benchmarks can measure how fast the server forwards it to the editor.
        self.sent_deltas: list[tuple[float, str]] | None = None
        # When a list: (perf_counter, call_id or item id) of each finished output item written.
        self.sent_items: list[tuple[float, str]] | None = None
        self._scripts: list[Script] = []
        self._requests: list[RecordedRequest] = []
        self._models: list[dict[str, Any]] = bundled_models()
        self._etag = _etag_of(self._models)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._connection_serials = itertools.count(1)
        self.connections_opened = 0  # TCP connections accepted so far
        # Set to answer the next plain (JSON) response with `Connection: close` and hang up, so
        # the client's following request opens a new connection (benchmarks: a fresh connection).
        self.close_after_next_response = False
        # time.perf_counter() of every 401 written (benchmarks: 401 -> editor asked).
        self.sent_401_at: list[float] = []
        self._server = _Server((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeBackend:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-backend",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _shutdown(conn)
        self._server.server_close()

    def __enter__(self) -> FakeBackend:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # scripting and state
    def script_next(self, steps: list[Step]) -> None:
        """Queue a script for the next ``/responses`` request (FIFO)."""
        with self._lock:
            self._scripts.append(list(steps))

    @property
    def models(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._models)

    @models.setter
    def models(self, models: list[dict[str, Any]]) -> None:
        with self._lock:
            self._models = list(models)
            self._etag = _etag_of(self._models)

    @property
    def models_etag(self) -> str:
        with self._lock:
            return self._etag

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(suffix)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # used by the handler
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_script(self, body: Any) -> Script:
        with self._lock:
            if self._scripts:
                return self._scripts.pop(0)
        return self.script_for(body)

    def _take_fault(self, path: str, authorized: bool) -> str | None:
        """Which fault (if any) answers this request; one-shot faults are consumed."""
        if not authorized:
            return "401"
        with self._lock:
            f = self.faults
            if f.path_suffix is not None and not path.endswith(f.path_suffix):
                return None
            if f.unauthorized_always:
                return "401"
            if f.unauthorized_once:
                f.unauthorized_once = False
                return "401"
            if f.rate_limited > 0:
                f.rate_limited -= 1
                return "429"
            if f.server_errors > 0:
                f.server_errors -= 1
                return "500"
            return None

    def _maybe_delay(self, path: str) -> None:
        with self._lock:
            f = self.faults
            if f.slow_responses <= 0 or (
                f.path_suffix is not None and not path.endswith(f.path_suffix)
            ):
                return
            f.slow_responses -= 1
            delay = min(f.slow_response_s, STALL_LIMIT_S)
        self._stopping.wait(delay)

    def _take_stream_fault(self, path: str) -> tuple[str, int] | None:
        with self._lock:
            f = self.faults
            if f.path_suffix is not None and not path.endswith(f.path_suffix):
                return None
            if f.stall_after_events is not None:
                count, f.stall_after_events = f.stall_after_events, None
                return ("stall", count)
            if f.disconnect_after_events is not None:
                count, f.disconnect_after_events = f.disconnect_after_events, None
                return ("disconnect", count)
            return None

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"


def _etag_of(models: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256(json.dumps(models, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:16]}"'


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of 20 reconnects (after 401s close
    # connections) would see SYNs dropped and retried a second later.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeBackend
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping connections (and our own disconnect faults) are routine here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # low latency per SSE event
    timeout = 60  # idle keep-alive connections are dropped eventually
    server: _Server

    @property
    def fake(self) -> FakeBackend:
        return self.server.fake

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)
            self.connection_serial = next(self.fake._connection_serials)
            self.fake.connections_opened += 1

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass  # the client (or a fault) already dropped the connection

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests assert on fake.requests instead

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    # dispatch
    def _handle(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest(
            self.command,
            path,
            dict(parse_qsl(parts.query)),
            headers,
            body,
            connection=self.connection_serial,
            received_at=time.perf_counter(),
        )
        self.fake._record(request)
        self.fake._maybe_delay(path)
        fault = self.fake._take_fault(path, self._authorized(request))
        if fault is not None:
            self._send_fault(fault)
        elif self.command == "POST" and path.endswith("/responses"):
            self._responses(path, body)
        elif self.command == "GET" and path.endswith("/models"):
            self._models(headers)
        elif self.command == "GET" and path.endswith(("/wham/usage", "/api/codex/usage")):
            self._send_json(200, self.fake.usage)
        else:
            self._send_json(404, {"error": {"message": f"no route for {self.command} {path}"}})

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _authorized(self, request: RecordedRequest) -> bool:
        accepted = self.fake.accepted_tokens
        return not accepted or request.bearer in accepted

    # plain responses
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.fake.close_after_next_response:
            self.fake.close_after_next_response = False
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _send_fault(self, fault: str) -> None:
        faults = self.fake.faults
        if fault == "401":
            self._send_json(401, {"error": {"message": "token expired", "code": "token_expired"}})
            self.wfile.flush()
            self.fake.sent_401_at.append(time.perf_counter())
        elif fault == "429":
            headers = {}
            if faults.retry_after_s is not None:
                headers["Retry-After"] = f"{faults.retry_after_s:g}"
            error: dict[str, Any] = {"message": "Rate limit reached", "type": "rate_limit_exceeded"}
            if faults.usage_limit:
                error = {
                    "message": "You've hit your usage limit.",
                    "type": "usage_limit_reached",
                    "plan_type": "plus",
                    "resets_at": int(time.time()) + 3600,
                }
            self._send_json(429, {"error": error}, headers)
        else:
            self._send_json(500, {"error": {"message": "internal error", "type": "server_error"}})

    def _models(self, headers: dict[str, str]) -> None:
        with self.fake._lock:
            models, etag = list(self.fake._models), self.fake._etag
        if headers.get("if-none-match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send_json(200, {"models": models}, {"ETag": etag})

    # SSE
    def _responses(self, path: str, body: Any) -> None:
        script = self.fake._next_script(body)
        fault = self.fake._take_stream_fault(path)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in self.fake.rate_limit_headers.items():
            self.send_header(name, value)
        self.end_headers()
        for sent, event in enumerate(_render_script(self.fake, script, body)):
            if fault is not None and sent >= fault[1]:
                self._break_stream(fault[0])
                return
            if self.fake.event_delay_s:
                time.sleep(self.fake.event_delay_s)
            self._write_chunk(_sse_bytes(event))
            log = self.fake.sent_deltas
            if log is not None and event.get("type") == "response.output_text.delta":
                log.append((time.perf_counter(), str(event.get("delta", ""))))
            done = self.fake.sent_items
            if done is not None and event.get("type") == "response.output_item.done":
                item = event.get("item") or {}
                done.append((time.perf_counter(), str(item.get("call_id") or item.get("id"))))
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _break_stream(self, kind: str) -> None:
        if kind == "stall":
            self.fake._stopping.wait(STALL_LIMIT_S)
        self.close_connection = True
        _shutdown(self.connection)


def _sse_bytes(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _render_script(fake: FakeBackend, script: Script, body: Any) -> Iterator[dict[str, Any]]:
    response_id = fake._new_id("resp")
    yield {"type": "response.created", "response": {"id": response_id}}
    output_tokens = 0
    for index, step in enumerate(script):
        if isinstance(step, FailStep):
            error = {"code": step.code, "message": step.message}
            yield {"type": "response.failed", "response": {"id": response_id, "error": error}}
            return
        if isinstance(step, TextStep):
            yield from _render_text(fake, index, step)
        elif isinstance(step, ReasoningStep):
            yield from _render_reasoning(fake, index, step, body)
        elif isinstance(step, FunctionCallStep):
            yield from _render_function_call(fake, index, step.name, step.arguments, step.call_id)
        elif isinstance(step, PatchCallStep):
            yield from _render_patch_call(fake, index, step)
        else:
            yield from _render_shell_call(fake, index, step)
        output_tokens += sum(len(d) for d in getattr(step, "deltas", ())) // 4 + 1
    if fake.rate_limit_event is not None:
        yield {"type": "codex.rate_limits", **fake.rate_limit_event}
    input_tokens = len(json.dumps(body)) // 4
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }
    yield {"type": "response.completed", "response": {"id": response_id, "usage": usage}}


def _render_text(fake: FakeBackend, index: int, step: TextStep) -> Iterator[dict[str, Any]]:
    item_id = fake._new_id("msg")
    full = "".join(step.deltas)
    yield {
        "type": "response.output_item.added",
        "output_index": index,
        "item": {"type": "message", "id": item_id, "role": "assistant", "content": []},
    }
    part = {"type": "output_text", "text": ""}
    yield {
        "type": "response.content_part.added",
        "item_id": item_id,
        "output_index": index,
        "content_index": 0,
        "part": part,
    }
    for delta in step.deltas:
        yield {
            "type": "response.output_text.delta",
            "item_id": item_id,
            "output_index": index,
            "content_index": 0,
            "delta": delta,
        }
    yield {
        "type": "response.output_text.done",
        "item_id": item_id,
        "output_index": index,
        "content_index": 0,
        "text": full,
    }
    yield {
        "type": "response.content_part.done",
        "item_id": item_id,
        "output_index": index,
        "content_index": 0,
        "part": {"type": "output_text", "text": full},
    }
    yield {
        "type": "response.output_item.done",
        "output_index": index,
        "item": {
            "type": "message",
            "id": item_id,
            "role": "assistant",
            "content": [{"type": "output_text", "text": full}],
        },
    }


def _wants_encrypted_reasoning(body: Any) -> bool:
    include = body.get("include") if isinstance(body, dict) else None
    return isinstance(include, list) and "reasoning.encrypted_content" in include


def _render_reasoning(
    fake: FakeBackend, index: int, step: ReasoningStep, body: Any = None
) -> Iterator[dict[str, Any]]:
    item_id = fake._new_id("rs")
    encrypted = step.encrypted_content
    if encrypted is None and _wants_encrypted_reasoning(body):
        encrypted = f"gAAAA-encrypted-{item_id}"
    full = "".join(step.deltas)
    yield {
        "type": "response.output_item.added",
        "output_index": index,
        "item": {"type": "reasoning", "id": item_id, "summary": []},
    }
    yield {
        "type": "response.reasoning_summary_part.added",
        "item_id": item_id,
        "output_index": index,
        "summary_index": 0,
        "part": {"type": "summary_text", "text": ""},
    }
    for delta in step.deltas:
        yield {
            "type": "response.reasoning_summary_text.delta",
            "item_id": item_id,
            "output_index": index,
            "summary_index": 0,
            "delta": delta,
        }
    yield {
        "type": "response.reasoning_summary_text.done",
        "item_id": item_id,
        "output_index": index,
        "summary_index": 0,
        "text": full,
    }
    yield {
        "type": "response.output_item.done",
        "output_index": index,
        "item": {
            "type": "reasoning",
            "id": item_id,
            "summary": [{"type": "summary_text", "text": full}],
            **({"encrypted_content": encrypted} if encrypted is not None else {}),
        },
    }


def _render_shell_call(
    fake: FakeBackend, index: int, step: ShellCallStep
) -> Iterator[dict[str, Any]]:
    item_id = fake._new_id("fc")
    call_id = step.call_id or fake._new_id("call")
    arguments: dict[str, Any] = {"command": list(step.argv)}
    if step.workdir is not None:
        arguments["workdir"] = step.workdir
    if step.timeout_ms is not None:
        arguments["timeout_ms"] = step.timeout_ms
    args_json = step.raw_arguments if step.raw_arguments is not None else json.dumps(arguments)
    yield from _render_function_call(fake, index, "shell", args_json, call_id, item_id)


def _render_function_call(
    fake: FakeBackend,
    index: int,
    name: str,
    args_json: str,
    call_id: str | None,
    item_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    item_id = item_id or fake._new_id("fc")
    call_id = call_id or fake._new_id("call")
    item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": name}
    yield {
        "type": "response.output_item.added",
        "output_index": index,
        "item": {**item, "arguments": ""},
    }
    yield {
        "type": "response.function_call_arguments.delta",
        "item_id": item_id,
        "output_index": index,
        "delta": args_json,
    }
    yield {
        "type": "response.output_item.done",
        "output_index": index,
        "item": {**item, "arguments": args_json},
    }


def _render_patch_call(
    fake: FakeBackend, index: int, step: PatchCallStep
) -> Iterator[dict[str, Any]]:
    call_id = step.call_id or fake._new_id("call")
    size = max(1, step.chunk_chars)
    if not step.freeform:
        item_id = fake._new_id("fc")
        args_json = json.dumps({"input": step.patch})
        item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": "apply_patch"}
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "arguments": ""},
        }
        for start in range(0, len(args_json), size):
            yield {
                "type": "response.function_call_arguments.delta",
                "item_id": item_id,
                "output_index": index,
                "delta": args_json[start : start + size],
            }
        yield {
            "type": "response.output_item.done",
            "output_index": index,
            "item": {**item, "arguments": args_json},
        }
        return
    item_id = fake._new_id("ctc")
    item = {"type": "custom_tool_call", "id": item_id, "call_id": call_id, "name": "apply_patch"}
    yield {
        "type": "response.output_item.added",
        "output_index": index,
        "item": {**item, "input": ""},
    }
    for start in range(0, len(step.patch), size):
        yield {
            "type": "response.custom_tool_call_input.delta",
            "item_id": item_id,
            "output_index": index,
            "delta": step.patch[start : start + size],
        }
    yield {
        "type": "response.custom_tool_call_input.done",
        "item_id": item_id,
        "output_index": index,
        "input": step.patch,
    }
    yield {
        "type": "response.output_item.done",
        "output_index": index,
        "item": {**item, "input": step.patch},
    }
