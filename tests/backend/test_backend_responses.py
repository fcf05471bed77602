"""The Responses streaming client against the loopback fake backend."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from contextlib import aclosing
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent

from codex_lsp.auth.errors import NotLoggedIn
from codex_lsp.auth.manager import AuthManager
from codex_lsp.backend.provider import ModelProvider, ProviderConfigError, resolve_provider
from codex_lsp.backend.responses import (
    FunctionCallDone,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    RateLimitsUpdated,
    ReasoningSummaryPartAdded,
    ReasoningSummaryTextDelta,
    ResponseCompleted,
    ResponseCreated,
    ResponseEvent,
    ResponseFailed,
    ResponsesClient,
    ResponsesRequest,
    RetryPolicy,
    StreamError,
    error_for_status,
    parse_retry_after,
    parse_sse_event,
)
from codex_lsp.fakes.backend import FakeBackend, failure, reasoning, shell_call, text
from codex_lsp.turns.errors import turn_error
from editor_auth import EditorAuth

pytestmark = pytest.mark.timeout(30)

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, retry_after_cap_s=2)
SHELL_TOOL = {
    "type": "function",
    "name": "shell",
    "description": "Run a command",
    "parameters": {"type": "object", "properties": {"command": {"type": "array"}}},
    "strict": False,
}


def user_request(message: str = "hi", **overrides: Any) -> ResponsesRequest:
    fields: dict[str, Any] = {
        "model": "gpt-5.2-codex",
        "instructions": "You are a coding agent.",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": message}],
            }
        ],
    }
    fields.update(overrides)
    return ResponsesRequest(**fields)


def client_for(
    http_client: httpx.AsyncClient,
    provider: ModelProvider,
    auth: AuthManager | None,
    **options: Any,
) -> ResponsesClient:
    options.setdefault("retry", FAST_RETRY)
    return ResponsesClient(http_client, provider, auth, **options)


async def collect(client: ResponsesClient, request: ResponsesRequest) -> list[ResponseEvent]:
    return [event async for event in client.stream(request)]


async def test_streams_typed_events_in_order(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.script_next([reasoning("Let me look"), text("Listing files"), shell_call(["ls", "-la"])])
    events = await collect(client_for(http_client, api_provider, api_key_auth), user_request())

    assert isinstance(events[0], RateLimitsUpdated)  # from the response headers, first
    assert events[0].snapshot["primary"] == {
        "usedPercent": 23,
        "windowDurationMins": 300,
        "resetsAt": 1764000000,
    }
    assert isinstance(events[1], ResponseCreated) and events[1].response_id
    kinds = [type(e) for e in events[2:]]
    assert kinds == [
        OutputItemAdded,
        ReasoningSummaryPartAdded,
        ReasoningSummaryTextDelta,
        ReasoningSummaryTextDelta,
        ReasoningSummaryTextDelta,
        OutputItemDone,
        OutputItemAdded,
        OutputTextDelta,
        OutputTextDelta,
        OutputItemDone,
        OutputItemAdded,
        FunctionCallDone,
        ResponseCompleted,
    ]
    summary = "".join(e.delta for e in events if isinstance(e, ReasoningSummaryTextDelta))
    assert summary == "Let me look"
    assert "".join(e.delta for e in events if isinstance(e, OutputTextDelta)) == "Listing files"
    call = next(e for e in events if isinstance(e, FunctionCallDone))
    assert call.name == "shell" and call.call_id
    assert call.parsed_arguments() == {"command": ["ls", "-la"]}
    completed = events[-1]
    assert isinstance(completed, ResponseCompleted) and completed.usage is not None
    assert (
        completed.usage.total_tokens
        == (completed.usage.input_tokens + completed.usage.output_tokens)
        > 0
    )


async def test_request_body_and_headers(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    request = user_request(
        "run ls",
        tools=[SHELL_TOOL],
        reasoning_effort="high",
        reasoning_summary="detailed",
        prompt_cache_key="thread-1",
        session_id="thread-1",
    )
    await collect(client_for(http_client, api_provider, api_key_auth), request)

    [recorded] = fake.requests_to("/responses")
    assert recorded.method == "POST" and recorded.path == "/v1/responses"
    body = recorded.body
    assert body["stream"] is True and body["store"] is False
    assert body["tool_choice"] == "auto"
    assert body["model"] == "gpt-5.2-codex"
    assert body["instructions"] == "You are a coding agent."
    assert body["input"] == request.input and body["tools"] == [SHELL_TOOL]
    assert body["reasoning"] == {"effort": "high", "summary": "detailed"}
    assert body["prompt_cache_key"] == "thread-1"
    assert recorded.bearer == "sk-test"
    assert recorded.headers["originator"] == "codex_lsp"
    assert recorded.headers["accept"] == "text/event-stream"
    assert recorded.headers["session_id"] == "thread-1"
    assert recorded.headers["user-agent"].startswith("codex_lsp/")
    assert "chatgpt-account-id" not in recorded.headers


async def test_chatgpt_auth_uses_codex_base_and_account_header(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    await collect(client_for(http_client, chatgpt_provider, editor_auth.manager), user_request())
    [recorded] = fake.requests_to("/responses")
    assert recorded.path == "/backend-api/codex/responses"
    assert recorded.bearer == editor_auth.initial_token
    assert recorded.headers["chatgpt-account-id"] == "acct-1"


async def test_default_script_after_tool_output_mentions_the_output(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    conversation = [
        *user_request("list files").input,
        {
            "type": "function_call",
            "name": "shell",
            "call_id": "c1",
            "arguments": json.dumps({"command": ["ls"]}),
        },
        {"type": "function_call_output", "call_id": "c1", "output": "README.md\nsetup.py"},
    ]
    events = await collect(
        client_for(http_client, api_provider, api_key_auth), user_request(input=conversation)
    )
    answer = "".join(e.delta for e in events if isinstance(e, OutputTextDelta))
    assert "README.md" in answer and "setup.py" in answer
    assert not any(isinstance(e, FunctionCallDone) for e in events)


async def test_rate_limit_sse_event_is_parsed(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.rate_limit_headers = {}
    fake.rate_limit_event = {
        "plan_type": "plus",
        "rate_limits": {"primary": {"used_percent": 42.4, "window_minutes": 300, "reset_at": 7}},
        "credits": {"has_credits": False, "unlimited": True, "balance": None},
    }
    events = await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    snapshots = [e.snapshot for e in events if isinstance(e, RateLimitsUpdated)]
    assert snapshots == [
        {
            "limitId": "codex",
            "limitName": None,
            "primary": {"usedPercent": 42, "windowDurationMins": 300, "resetsAt": 7},
            "secondary": None,
            "credits": {"hasCredits": False, "unlimited": True, "balance": None},
            "individualLimit": None,
            "planType": "plus",
            "rateLimitReachedType": None,
        }
    ]


async def test_events_are_yielded_as_they_arrive(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.event_delay_s = 0.1
    fake.script_next([text("one two three four five six")])
    start = time.monotonic()
    arrivals = []
    async for event in client_for(http_client, api_provider, api_key_auth).stream(user_request()):
        if isinstance(event, OutputTextDelta):
            arrivals.append(time.monotonic() - start)
    total = time.monotonic() - start
    assert len(arrivals) == 6
    # ~15 events at 0.1 s each: the first delta must not wait for the end of the stream.
    assert arrivals[0] < total - 0.5
    assert arrivals[-1] - arrivals[0] >= 0.4


async def test_retries_500_then_succeeds(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.server_errors = 2
    events = await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert isinstance(events[-1], ResponseCompleted)
    attempts = fake.requests_to("/responses")
    assert len(attempts) == 3
    assert attempts[0].body["input"][0]["content"][0]["text"] == "hi"
    assert all(a.body == attempts[0].body for a in attempts)  # every retry sends the same body


async def test_500_until_attempts_run_out(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.server_errors = 10
    with pytest.raises(StreamError) as info:
        await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert info.value.codex_error_info == {"responseTooManyFailedAttempts": {"httpStatusCode": 500}}
    assert "try again" in info.value.message
    assert len(fake.requests_to("/responses")) == 4
    assert turn_error(info.value).codex_error_info == info.value.codex_error_info


async def test_429_honours_retry_after(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.rate_limited = 1
    fake.faults.retry_after_s = 0.4
    start = time.monotonic()
    events = await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert isinstance(events[-1], ResponseCompleted)
    assert time.monotonic() - start >= 0.4
    assert len(fake.requests_to("/responses")) == 2


async def test_retry_after_is_capped(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.rate_limited = 1
    fake.faults.retry_after_s = 3600
    policy = RetryPolicy(base_delay_s=0.01, retry_after_cap_s=0.2)
    start = time.monotonic()
    events = await collect(
        client_for(http_client, api_provider, api_key_auth, retry=policy), user_request()
    )
    assert isinstance(events[-1], ResponseCompleted)
    assert time.monotonic() - start < 2


async def test_429_until_attempts_run_out(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.rate_limited = 10
    with pytest.raises(StreamError) as info:
        await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert info.value.codex_error_info == {"responseTooManyFailedAttempts": {"httpStatusCode": 429}}


async def test_usage_limit_429_is_not_retried(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.rate_limited = 5
    fake.faults.usage_limit = True
    with pytest.raises(StreamError) as info:
        await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert info.value.codex_error_info == "usageLimitExceeded"
    assert "usage limit" in info.value.message
    assert len(fake.requests_to("/responses")) == 1


async def test_stall_mid_stream_raises_disconnected(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.stall_after_events = 3
    client = client_for(http_client, api_provider, api_key_auth, idle_timeout_s=0.3)
    received: list[ResponseEvent] = []
    start = time.monotonic()
    with pytest.raises(StreamError) as info:
        async for event in client.stream(user_request()):
            received.append(event)
    assert time.monotonic() - start < 5
    assert info.value.codex_error_info == {"responseStreamDisconnected": {"httpStatusCode": 200}}
    assert "0.3s" in info.value.message
    assert len([e for e in received if not isinstance(e, RateLimitsUpdated)]) == 3


async def test_disconnect_mid_stream_raises_disconnected(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.faults.disconnect_after_events = 4
    with pytest.raises(StreamError) as info:
        await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert info.value.codex_error_info == {"responseStreamDisconnected": {"httpStatusCode": 200}}
    # The next request works again on a fresh connection.
    events = await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert isinstance(events[-1], ResponseCompleted)


async def test_response_failed_event_raises_mapped_error(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.script_next([text("partial"), failure("context_length_exceeded", "Input too long")])
    received: list[ResponseEvent] = []
    with pytest.raises(StreamError) as info:
        async for event in client_for(http_client, api_provider, api_key_auth).stream(
            user_request()
        ):
            received.append(event)
    assert info.value.codex_error_info == "contextWindowExceeded"
    assert "Input too long" in info.value.message
    assert any(isinstance(e, OutputTextDelta) for e in received)


async def test_connection_refused_raises_http_connection_failed(
    http_client: httpx.AsyncClient,
    api_key_auth: AuthManager,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = resolve_provider(
        "down", {"down": {"base_url": f"http://127.0.0.1:{port}/v1", "requires_openai_auth": True}}
    )
    with pytest.raises(StreamError) as info:
        await collect(client_for(http_client, provider, api_key_auth), user_request())
    assert info.value.codex_error_info == {"httpConnectionFailed": {"httpStatusCode": None}}
    assert "network" in info.value.message


async def test_401_recovers_with_editor_refresh(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    fake.accepted_tokens = {editor_auth.refreshed_token}
    client = client_for(http_client, chatgpt_provider, editor_auth.manager)
    events = await collect(client, user_request())
    assert isinstance(events[-1], ResponseCompleted)
    assert editor_auth.editor.calls == ["acct-1"]
    bearers = [r.bearer for r in fake.requests_to("/responses")]
    assert bearers == [editor_auth.initial_token, editor_auth.refreshed_token]
    # Later calls use the refreshed token straight away.
    await collect(client, user_request())
    assert fake.requests_to("/responses")[-1].bearer == editor_auth.refreshed_token
    assert editor_auth.editor.calls == ["acct-1"]


async def test_401_after_recovery_is_unauthorized(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    fake.faults.unauthorized_always = True
    with pytest.raises(StreamError) as info:
        await collect(
            client_for(http_client, chatgpt_provider, editor_auth.manager), user_request()
        )
    assert info.value.codex_error_info == "unauthorized"
    assert "sign in again" in info.value.message
    assert editor_auth.initial_token not in info.value.message
    assert editor_auth.editor.calls == ["acct-1"]


async def test_api_key_401_is_unauthorized_without_retry(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.accepted_tokens = {"sk-other"}
    with pytest.raises(StreamError) as info:
        await collect(client_for(http_client, api_provider, api_key_auth), user_request())
    assert info.value.codex_error_info == "unauthorized"
    assert "sk-test" not in info.value.message and "sk-test" not in repr(info.value)
    assert len(fake.requests_to("/responses")) == 1


async def test_not_logged_in_passes_through(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    no_auth: AuthManager,
) -> None:
    with pytest.raises(NotLoggedIn):
        await collect(client_for(http_client, api_provider, no_auth), user_request())
    assert fake.requests == []


async def test_env_key_provider_sends_env_bearer(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    no_auth: AuthManager,
) -> None:
    table = {
        "base_url": f"{fake.base_url}/v1",
        "env_key": "FAKE_KEY",
        "http_headers": {"X-Team": "blue"},
    }
    provider = resolve_provider("p", {"p": table}, env={"FAKE_KEY": "env-secret"})
    fake.accepted_tokens = {"env-secret"}
    events = await collect(client_for(http_client, provider, no_auth), user_request())
    assert isinstance(events[-1], ResponseCompleted)
    [recorded] = fake.requests
    assert recorded.bearer == "env-secret" and recorded.headers["x-team"] == "blue"

    missing = resolve_provider("p", {"p": table}, env={})
    with pytest.raises(ProviderConfigError, match="FAKE_KEY"):
        await collect(client_for(http_client, missing, no_auth), user_request())


async def test_early_close_releases_the_stream(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    fake.event_delay_s = 0.05
    client = client_for(http_client, api_provider, api_key_auth)
    async with aclosing(client.stream(user_request())) as events:
        async for event in events:
            if isinstance(event, ResponseCreated):
                break
    # The pool isn't stuck: a full request still completes promptly.
    fake.event_delay_s = 0.0
    completed = await collect(client, user_request())
    assert isinstance(completed[-1], ResponseCompleted)


async def test_consecutive_streams_reuse_one_connection(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
) -> None:
    """The body is read to its end after response.completed, so the connection goes back to
    the pool: three model calls (a tool round, then two turns) take one TCP connection."""
    client = client_for(http_client, api_provider, api_key_auth)
    fake.script_next([shell_call(["ls"])])
    for _ in range(3):
        events = await collect(client, user_request())
        assert isinstance(events[-1], ResponseCompleted)
    assert fake.connections_opened == 1
    assert len({r.connection for r in fake.requests}) == 1


async def test_a_body_that_never_ends_after_completed_does_not_hold_the_turn(
    http_client: httpx.AsyncClient, api_key_auth: AuthManager
) -> None:
    completed = b'event: response.completed\ndata: {"type": "response.completed", "response": {"id": "r1"}}\n\n'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        writer.write(head + b"Transfer-Encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(completed), completed))  # and never the last chunk
        await writer.drain()
        await asyncio.sleep(30)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = resolve_provider(
        "stall",
        {"stall": {"base_url": f"http://127.0.0.1:{port}/v1", "requires_openai_auth": True}},
    )
    try:
        async with asyncio.timeout(5):  # not the 30 s idle timeout
            events = await collect(client_for(http_client, provider, api_key_auth), user_request())
        assert isinstance(events[-1], ResponseCompleted)
    finally:
        server.close()


# --- pure parsing ---------------------------------------------------------------------------


def test_parse_sse_event_ignores_unknown_and_bad_json() -> None:
    assert parse_sse_event(ServerSentEvent(event="response.in_progress", data="{}")) is None
    assert (
        parse_sse_event(ServerSentEvent(event="response.output_text.delta", data="{oops")) is None
    )
    delta = parse_sse_event(
        ServerSentEvent(
            event="response.output_text.delta",
            data=json.dumps(
                {
                    "type": "response.output_text.delta",
                    "item_id": "m1",
                    "output_index": 2,
                    "content_index": 0,
                    "delta": "hé",
                }
            ),
        )
    )
    assert delta == OutputTextDelta(item_id="m1", output_index=2, content_index=0, delta="hé")


@pytest.mark.parametrize(
    ("payload", "code", "info"),
    [
        (
            {
                "type": "response.failed",
                "response": {"error": {"code": "server_error", "message": "boom"}},
            },
            "server_error",
            "internalServerError",
        ),
        (
            {"type": "error", "error": {"type": "usage_limit_reached", "message": "limit"}},
            "usage_limit_reached",
            "usageLimitExceeded",
        ),
        ({"type": "error", "code": "weird", "message": "odd"}, "weird", "other"),
    ],
)
def test_failure_events_map_to_codex_error_info(
    payload: dict[str, Any], code: str, info: str
) -> None:
    event = parse_sse_event(ServerSentEvent(event=payload["type"], data=json.dumps(payload)))
    assert isinstance(event, ResponseFailed) and event.code == code
    assert event.to_stream_error().codex_error_info == info


def test_error_for_status_mapping() -> None:
    bad = error_for_status(
        400, b'{"error": {"message": "Unsupported parameter: x"}}', retries_exhausted=False
    )
    assert bad.codex_error_info == "badRequest" and "Unsupported parameter" in bad.message
    assert error_for_status(404, b"", retries_exhausted=False).codex_error_info == {
        "httpConnectionFailed": {"httpStatusCode": 404}
    }
    assert error_for_status(401, b"", retries_exhausted=False).codex_error_info == "unauthorized"


def test_retry_policy_backoff_is_bounded() -> None:
    policy = RetryPolicy(base_delay_s=0.2, max_delay_s=1.0, retry_after_cap_s=3.0)
    assert 0.18 <= policy.delay_s(1, None) <= 0.22
    assert 0.36 <= policy.delay_s(2, None) <= 0.44
    assert policy.delay_s(10, None) == 1.0
    assert policy.delay_s(1, 100.0) == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_request_json_leaves_out_unset_reasoning_and_cache_key() -> None:
    body = user_request(reasoning_effort=None, reasoning_summary=None).to_json()
    assert "reasoning" not in body and "prompt_cache_key" not in body
    assert user_request(reasoning_effort="low").to_json()["reasoning"] == {
        "effort": "low",
        "summary": "auto",
    }
