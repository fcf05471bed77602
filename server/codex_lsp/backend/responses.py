"""Responses API streaming client: ``POST {base}/responses`` with ``stream: true``.

SSE is decoded by httpx-sse and every event is yielded as soon as it is parsed (no
buffering). Opening the stream retries 5xx/429 with bounded exponential backoff; once events
flow, a stall (idle timeout) or a disconnect before ``response.completed`` raises
``StreamError`` carrying the app-server ``codexErrorInfo``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import orjson
from httpx_sse import EventSource, ServerSentEvent, SSEError

from codex_lsp.backend.http import parsed_url, read_error_body, send_authorized
from codex_lsp.backend.provider import Credentials, ModelProvider
from codex_lsp.backend.rate_limits import (
    parse_rate_limit_event,
    parse_rate_limit_header_families,
)
from codex_lsp.errors import CodexError

if TYPE_CHECKING:
    from codex_lsp.auth.manager import AuthManager

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT_S = 30.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
# How long to wait for the end of the body after `response.completed` (it normally comes with it).
_END_OF_STREAM_WAIT_S = 0.25
USAGE_LIMIT_ERROR_TYPES = frozenset({"usage_limit_reached", "usage_not_included"})

CodexErrorInfo = str | dict[str, Any]


# --- errors -------------------------------------------------------------------------------


class StreamError(CodexError):
    """A model request failed; ``codex_error_info`` is the app-server ``codexErrorInfo`` value
    (a string such as ``"unauthorized"`` or an object such as
    ``{"responseTooManyFailedAttempts": {"httpStatusCode": 503}}``)."""

    def __init__(self, message: str, codex_error_info: CodexErrorInfo) -> None:
        super().__init__(message)
        self.codex_error_info = codex_error_info


def _with_status(variant: str, status: int | None) -> dict[str, Any]:
    return {variant: {"httpStatusCode": status}}


def stream_disconnected(reason: str, status: int | None) -> StreamError:
    return StreamError(
        f"The model's response stream was interrupted ({reason}); send the message again.",
        _with_status("responseStreamDisconnected", status),
    )


# --- events ---------------------------------------------------------------------------------


@attrs.frozen
class RateLimitsUpdated:
    """Wire ``RateLimitSnapshot`` from response headers (yielded first) or the stream."""

    snapshot: dict[str, Any]


@attrs.frozen
class ResponseCreated:
    response_id: str | None


@attrs.frozen
class OutputItemAdded:
    output_index: int
    item: dict[str, Any]


@attrs.frozen
class OutputItemDone:
    """A finished item that is not a function call (message, reasoning, ...)."""

    output_index: int
    item: dict[str, Any]


@attrs.frozen
class FunctionCallDone:
    """A finished ``function_call`` item (``arguments`` is the JSON text the model produced), or
    with ``kind="custom"`` a ``custom_tool_call`` (``arguments`` is its raw ``input``)."""

    output_index: int
    item_id: str | None
    call_id: str
    name: str
    arguments: str
    item: dict[str, Any]
    kind: str = "function"

    def parsed_arguments(self) -> Any:
        """The arguments as JSON; raises ``ValueError`` if the model produced invalid JSON."""
        return json.loads(self.arguments or "{}")


@attrs.frozen
class CustomToolCallInputDelta:
    """A chunk of a freeform (custom) tool call's input while the model writes it."""

    item_id: str | None
    output_index: int
    delta: str


@attrs.frozen
class OutputTextDelta:
    item_id: str | None
    output_index: int
    content_index: int
    delta: str


@attrs.frozen
class ReasoningSummaryPartAdded:
    item_id: str | None
    summary_index: int


@attrs.frozen
class ReasoningSummaryTextDelta:
    item_id: str | None
    summary_index: int
    delta: str


@attrs.frozen
class TokenUsage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0


@attrs.frozen
class ResponseCompleted:
    response_id: str | None
    usage: TokenUsage | None


@attrs.frozen
class ResponseFailed:
    """``response.failed`` or a top-level ``error`` event; the stream raises it as
    ``StreamError`` (``ResponsesClient.stream`` never yields this)."""

    code: str | None
    message: str

    def to_stream_error(self) -> StreamError:
        info: CodexErrorInfo
        if self.code == "context_length_exceeded":
            info = "contextWindowExceeded"
            return StreamError(
                f"The conversation no longer fits the model's context window: {self.message or self.code}. "
                "Start a new thread or compact this one (thread/compact/start).",
                info,
            )
        elif self.code in USAGE_LIMIT_ERROR_TYPES or self.code == "insufficient_quota":
            info = "usageLimitExceeded"
        elif self.code == "server_error":
            info = "internalServerError"
        else:
            info = "other"
        detail = self.message or self.code or "no details"
        return StreamError(f"The model request failed: {detail}", info)


ResponseEvent = (
    RateLimitsUpdated
    | ResponseCreated
    | OutputItemAdded
    | OutputItemDone
    | FunctionCallDone
    | CustomToolCallInputDelta
    | OutputTextDelta
    | ReasoningSummaryPartAdded
    | ReasoningSummaryTextDelta
    | ResponseCompleted
    | ResponseFailed
)


# --- SSE parsing ----------------------------------------------------------------------------


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_usage(raw: Any) -> TokenUsage | None:
    if not isinstance(raw, dict):
        return None
    return TokenUsage(
        input_tokens=_int(raw.get("input_tokens")),
        cached_input_tokens=_int(_dict(raw.get("input_tokens_details")).get("cached_tokens")),
        output_tokens=_int(raw.get("output_tokens")),
        reasoning_output_tokens=_int(
            _dict(raw.get("output_tokens_details")).get("reasoning_tokens")
        ),
        total_tokens=_int(raw.get("total_tokens")),
    )


def _item_done(data: dict[str, Any]) -> OutputItemDone | FunctionCallDone:
    item = _dict(data.get("item"))
    index = _int(data.get("output_index"))
    if item.get("type") == "function_call":
        return FunctionCallDone(
            output_index=index,
            item_id=_str(item.get("id")),
            call_id=_str(item.get("call_id")) or "",
            name=_str(item.get("name")) or "",
            arguments=_str(item.get("arguments")) or "",
            item=item,
        )
    if item.get("type") == "custom_tool_call":
        return FunctionCallDone(
            output_index=index,
            item_id=_str(item.get("id")),
            call_id=_str(item.get("call_id")) or "",
            name=_str(item.get("name")) or "",
            arguments=_str(item.get("input")) or "",
            item=item,
            kind="custom",
        )
    return OutputItemDone(output_index=index, item=item)


def _failed(data: dict[str, Any]) -> ResponseFailed:
    error = _dict(_dict(data.get("response")).get("error")) or _dict(data.get("error")) or data
    return ResponseFailed(
        code=_str(error.get("code")) or _str(error.get("type")),
        message=_str(error.get("message")) or "",
    )


def event_from_json(event_type: str, data: dict[str, Any]) -> ResponseEvent | None:
    """Typed event for one decoded SSE payload; None for events we don't use."""
    match event_type:
        case "response.created":
            return ResponseCreated(_str(_dict(data.get("response")).get("id")))
        case "response.output_item.added":
            return OutputItemAdded(_int(data.get("output_index")), _dict(data.get("item")))
        case "response.output_item.done":
            return _item_done(data)
        case "response.output_text.delta":
            return OutputTextDelta(
                item_id=_str(data.get("item_id")),
                output_index=_int(data.get("output_index")),
                content_index=_int(data.get("content_index")),
                delta=_str(data.get("delta")) or "",
            )
        case "response.custom_tool_call_input.delta":
            return CustomToolCallInputDelta(
                item_id=_str(data.get("item_id")),
                output_index=_int(data.get("output_index")),
                delta=_str(data.get("delta")) or "",
            )
        case "response.reasoning_summary_part.added":
            return ReasoningSummaryPartAdded(
                _str(data.get("item_id")), _int(data.get("summary_index"))
            )
        case "response.reasoning_summary_text.delta":
            return ReasoningSummaryTextDelta(
                item_id=_str(data.get("item_id")),
                summary_index=_int(data.get("summary_index")),
                delta=_str(data.get("delta")) or "",
            )
        case "response.completed":
            response = _dict(data.get("response"))
            return ResponseCompleted(_str(response.get("id")), parse_usage(response.get("usage")))
        case "response.failed" | "error":
            return _failed(data)
        case "codex.rate_limits":
            return RateLimitsUpdated(parse_rate_limit_event(data))
    return None


def parse_sse_event(sse: ServerSentEvent) -> ResponseEvent | None:
    """Typed event for one SSE message; unparseable or unknown events give None."""
    try:
        data = json.loads(sse.data) if sse.data else {}
    except ValueError:
        log.debug("skipping SSE event %r with non-JSON data", sse.event)
        return None
    if not isinstance(data, dict):
        return None
    event_type = _str(data.get("type")) or sse.event
    return event_from_json(event_type, data)


# --- request ----------------------------------------------------------------------------------


@attrs.frozen
class ResponsesRequest:
    """One model call. ``input`` and ``tools`` are Responses-API JSON items."""

    model: str
    instructions: str
    input: list[dict[str, Any]]
    tools: list[dict[str, Any]] = attrs.field(factory=list)
    reasoning_effort: str | None = None
    reasoning_summary: str | None = "auto"
    prompt_cache_key: str | None = None
    parallel_tool_calls: bool = False
    session_id: str | None = None
    # e.g. ["reasoning.encrypted_content"]: with store=false, reasoning can only be carried to the
    # next request as the encrypted content the backend returns.
    include: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "instructions": self.instructions,
            "input": self.input,
            "tools": self.tools,
            "tool_choice": "auto",
            "parallel_tool_calls": self.parallel_tool_calls,
            "store": False,
            "stream": True,
            "include": list(self.include),
        }
        if self.prompt_cache_key is not None:
            body["prompt_cache_key"] = self.prompt_cache_key
        reasoning = {
            key: value
            for key, value in (
                ("effort", self.reasoning_effort),
                ("summary", self.reasoning_summary),
            )
            if value is not None
        }
        if reasoning:  # models without reasoning reject the parameter, so leave it out
            body["reasoning"] = reasoning
        return body


@attrs.frozen
class RetryPolicy:
    """Bounded retries for 5xx, 429 and connection failures before the stream starts."""

    max_attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0
    retry_after_cap_s: float = 10.0

    def delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.retry_after_cap_s)
        backoff = self.base_delay_s * (2 ** (attempt - 1))
        return float(min(backoff * random.uniform(0.9, 1.1), self.max_delay_s))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _error_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return _dict(data.get("error")) or data


def _backend_message(error: Mapping[str, Any]) -> str:
    message = _str(error.get("message")) or ""
    return message[:300]


def _is_usage_limit(error: Mapping[str, Any]) -> bool:
    return (error.get("type") in USAGE_LIMIT_ERROR_TYPES) or (
        error.get("code") in USAGE_LIMIT_ERROR_TYPES
    )


def error_for_status(status: int, body: bytes, *, retries_exhausted: bool) -> StreamError:
    """The ``StreamError`` for a final non-2xx answer to ``POST /responses``."""
    error = _error_json(body)
    detail = _backend_message(error)
    suffix = f": {detail}" if detail else ""
    if status == 429 and _is_usage_limit(error):
        return StreamError(
            f"You've hit your usage limit{suffix}. Wait for it to reset or add credits, "
            "then try again.",
            "usageLimitExceeded",
        )
    if retries_exhausted:
        return StreamError(
            f"The model backend kept failing (HTTP {status}){suffix}; try again in a moment.",
            _with_status("responseTooManyFailedAttempts", status),
        )
    if status == 401:
        return StreamError(
            "The backend rejected the credentials (HTTP 401); sign in again.", "unauthorized"
        )
    if status == 400 and (error.get("code") or error.get("type")) == "context_length_exceeded":
        return StreamError(
            f"The conversation no longer fits the model's context window{suffix}. Start a new "
            "thread or compact this one (thread/compact/start).",
            "contextWindowExceeded",
        )
    if status == 400:
        return StreamError(f"The model backend rejected the request{suffix}.", "badRequest")
    return StreamError(
        f"The model backend answered HTTP {status}{suffix}.",
        _with_status("httpConnectionFailed", status),
    )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


# --- client ---------------------------------------------------------------------------------


class ResponsesClient:
    """Streams model responses from ``{provider base}/responses``."""

    def __init__(
        self,
        http_client: httpx.AsyncClient,
        provider: ModelProvider,
        auth_manager: AuthManager | None,
        *,
        retry: RetryPolicy | None = None,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        self._http = http_client
        self._provider = provider
        self._auth_manager = auth_manager
        self._retry = retry or RetryPolicy()
        self._idle_timeout_s = idle_timeout_s
        self._timeout = httpx.Timeout(
            idle_timeout_s + 1.0, connect=connect_timeout_s, pool=connect_timeout_s
        )

    async def stream(self, request: ResponsesRequest) -> AsyncGenerator[ResponseEvent, None]:
        """Yield events for one model call, ending with ``ResponseCompleted``.

        Raises ``StreamError`` (with ``codexErrorInfo``) on failure; other ``CodexError``s
        from the AuthManager (not signed in, recovery failed) pass through. Wrap in
        ``contextlib.aclosing`` when stopping early so the connection is released at once.
        """
        response = await self._open(request)
        try:
            for snapshot in parse_rate_limit_header_families(response.headers).values():
                yield RateLimitsUpdated(snapshot)  # codex first, then x-codex-<limitId>-* families
            async for event in self._events(response):
                yield event
        finally:
            await response.aclose()

    def _build(
        self, request: ResponsesRequest, body: bytes, credentials: Credentials
    ) -> httpx.Request:
        headers = self._provider.headers_for(credentials, self._http.headers["User-Agent"])
        headers["Accept"] = "text/event-stream"
        headers["Content-Type"] = "application/json"
        if request.session_id:
            headers["session_id"] = request.session_id
        url = parsed_url(f"{self._provider.base_url_for(credentials)}/responses")
        return self._http.build_request(
            "POST", url, headers=headers, content=body, timeout=self._timeout
        )

    async def _open(self, request: ResponsesRequest) -> httpx.Response:
        # Encoded once for every attempt; orjson: the whole conversation goes out every request.
        encoded = orjson.dumps(request.to_json())
        attempts = max(self._retry.max_attempts, 1)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = await send_authorized(
                    self._http,
                    self._provider,
                    self._auth_manager,
                    lambda creds: self._build(request, encoded, creds),
                    stream=True,
                )
            except httpx.TransportError as exc:
                log.warning("model request attempt %d failed: %s", attempt, type(exc).__name__)
                if last:
                    raise StreamError(
                        "Couldn't reach the model backend "
                        f"({type(exc).__name__}); check the network connection and try again.",
                        _with_status("httpConnectionFailed", None),
                    ) from None
                await asyncio.sleep(self._retry.delay_s(attempt, None))
                continue
            status = response.status_code
            if 200 <= status < 300:
                return response
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            body = await read_error_body(response)
            if _retryable(status) and not last and not _is_usage_limit(_error_json(body)):
                log.warning("model request attempt %d got HTTP %d; retrying", attempt, status)
                await asyncio.sleep(self._retry.delay_s(attempt, retry_after))
                continue
            raise error_for_status(status, body, retries_exhausted=_retryable(status))
        raise AssertionError("unreachable: the retry loop always returns or raises")

    async def _events(self, response: httpx.Response) -> AsyncIterator[ResponseEvent]:
        status = response.status_code
        sse_events = EventSource(response).aiter_sse()
        try:
            while True:
                try:
                    async with asyncio.timeout(self._idle_timeout_s):
                        sse = await anext(sse_events)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise stream_disconnected(
                        f"no data for {self._idle_timeout_s:g}s", status
                    ) from None
                except httpx.HTTPError as exc:
                    raise stream_disconnected(type(exc).__name__, status) from None
                except SSEError:
                    raise StreamError(
                        "The model backend did not answer with an event stream; check the "
                        "provider's base_url.",
                        "other",
                    ) from None
                event = parse_sse_event(sse)
                if isinstance(event, ResponseFailed):
                    raise event.to_stream_error()
                if event is not None:
                    yield event
                if isinstance(event, ResponseCompleted):
                    await _read_to_end(sse_events)
                    return
        finally:
            await sse_events.aclose()
        raise stream_disconnected("stream closed before response.completed", status)


async def _read_to_end(sse_events: AsyncIterator[ServerSentEvent]) -> None:
    """Read what follows ``response.completed`` (the end of the chunked body), briefly: a body
    read to its end gives its connection back to the pool, so the next model request (the next
    tool round or turn) doesn't open a new TCP and TLS connection."""
    try:
        async with asyncio.timeout(_END_OF_STREAM_WAIT_S):
            async for _ in sse_events:
                pass  # nothing the model says after completed counts
    except (TimeoutError, httpx.HTTPError, SSEError):
        pass  # the connection is dropped instead; the turn is complete either way
