"""A 401 recovery reuses its connection: the 401 body is drained (not dropped) while the editor
is asked, so the retried request goes out on the same TCP connection (counted at the fake)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from codex_lsp.auth.model import ChatGptAuthTokens
from codex_lsp.backend.http import send_authorized
from codex_lsp.backend.pool import release_response
from codex_lsp.backend.provider import Credentials, ModelProvider, resolve_provider
from codex_lsp.backend.rate_limits import fetch_usage
from codex_lsp.fakes.backend import FakeBackend
from editor_auth import EditorAuth, editor_tokens, make_access_token

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def usage_provider(fake: FakeBackend) -> ModelProvider:
    return resolve_provider(chatgpt_base_url=f"{fake.base_url}/backend-api")


async def test_retry_after_401_reuses_the_connection(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    fake.accepted_tokens = {editor_auth.refreshed_token}
    await fetch_usage(http_client, usage_provider, editor_auth.manager)
    first, retried = fake.requests
    assert (first.bearer, retried.bearer) == (
        editor_auth.initial_token,
        editor_auth.refreshed_token,
    )
    assert retried.connection == first.connection
    assert fake.connections_opened == 1


async def streamed_usage(
    fake: FakeBackend, http_client: httpx.AsyncClient, provider: ModelProvider, auth: EditorAuth
) -> httpx.Response:
    """A streamed request (how turns call the Responses API) through the 401 recovery."""
    url = f"{fake.base_url}/backend-api/wham/usage"

    def build(credentials: Credentials) -> httpx.Request:
        headers = provider.headers_for(credentials, "test")
        return http_client.build_request("GET", url, headers=headers)

    response = await send_authorized(http_client, provider, auth.manager, build, stream=True)
    await response.aread()
    await response.aclose()
    return response


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read"])
async def test_many_recoveries_use_one_connection(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
    streamed: bool,
) -> None:
    rounds = 10
    tokens = [make_access_token() for _ in range(rounds)]
    editor_auth.editor.next_tokens[:] = tokens
    for token in tokens:  # each round: the current token is rejected, the editor's next one works
        fake.accepted_tokens = {token}
        if streamed:
            response = await streamed_usage(fake, http_client, usage_provider, editor_auth)
            assert response.status_code == 200
        else:
            await fetch_usage(http_client, usage_provider, editor_auth.manager)
    assert [r.bearer for r in fake.requests[1::2]] == tokens
    assert len(editor_auth.editor.calls) == rounds
    assert fake.connections_opened == 1  # before: a new connection for every streamed retry


async def test_editor_is_asked_before_the_401_body_is_read(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    """The status decides first: the non-streamed call's 401 body is still unread when the
    editor gets the refresh request."""
    seen: list[bool] = []
    responses: list[httpx.Response] = []

    async def hook(response: httpx.Response) -> None:
        responses.append(response)

    http_client.event_hooks["response"].append(hook)
    refreshed = editor_auth.refreshed_token

    async def refresh(previous_account_id: str | None) -> ChatGptAuthTokens:
        seen.append(responses[0].is_stream_consumed)
        await asyncio.sleep(0)
        return editor_tokens(refreshed)

    editor_auth.manager.set_editor_refresher(refresh)
    fake.accepted_tokens = {refreshed}
    await fetch_usage(http_client, usage_provider, editor_auth.manager)
    assert seen == [False]
    assert responses[0].status_code == 401 and responses[0].is_closed
    assert fake.connections_opened == 1


async def test_non_streamed_success_is_read_and_closed(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    url = f"{fake.base_url}/backend-api/wham/usage"
    response = await send_authorized(
        http_client,
        usage_provider,
        editor_auth.manager,
        lambda c: http_client.build_request(
            "GET", url, headers={"Authorization": f"Bearer {c.bearer}"}
        ),
    )
    assert response.status_code == 200 and response.is_closed
    assert response.json()["plan_type"] == "pro"


async def test_release_response_drops_a_large_body_instead_of_reading_it(fake: FakeBackend) -> None:
    fake.models = [{"slug": f"m{i}", "padding": "x" * 1000} for i in range(200)]  # ~200 KB
    async with httpx.AsyncClient() as client:
        request = client.build_request("GET", f"{fake.base_url}/v1/models")
        response = await client.send(request, stream=True)
        await release_response(response, limit=16 * 1024)
        assert response.is_closed
        await client.get(f"{fake.base_url}/v1/models")
    assert fake.connections_opened == 2  # the big body was not read: its connection was dropped


async def test_a_stalled_401_body_does_not_hold_back_the_retry(editor_auth: EditorAuth) -> None:
    """A backend that sends 401 headers and then stalls its body: the retry goes out as soon as
    the editor answers (the stalled connection is dropped, not waited for)."""
    retried = asyncio.Event()
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        request = await reader.readuntil(b"\r\n\r\n")
        if editor_auth.refreshed_token.encode() in request:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            retried.set()
        else:  # promise 100 bytes, send 4, then stall
            writer.write(b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\n{"er')
        await writer.drain()
        await asyncio.sleep(30)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(timeout=20) as client:

            async def send(auth: object) -> httpx.Response:
                token = (
                    editor_auth.initial_token
                    if auth == editor_auth.manager.current() and not editor_auth.editor.calls
                    else editor_auth.refreshed_token
                )
                request = client.build_request(
                    "GET", f"http://127.0.0.1:{port}/", headers={"Authorization": f"Bearer {token}"}
                )
                return await client.send(request, stream=True)

            async with asyncio.timeout(5):  # not the 20 s read timeout
                response = await editor_auth.manager.send_with_unauthorized_recovery(send)
            assert response.status_code == 200
            await response.aclose()
        assert retried.is_set() and connections == 2
    finally:
        server.close()


async def test_twenty_concurrent_streamed_recoveries_reuse_their_connections(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    usage_provider: ModelProvider,
    editor_auth: EditorAuth,
) -> None:
    """20 concurrent requests all get a 401: one editor refresh, and all 20 retries go out on
    the 20 connections the 401s came back on (the pool keeps that many idle connections)."""
    fake.accepted_tokens = {editor_auth.refreshed_token}
    responses = await asyncio.gather(
        *(streamed_usage(fake, http_client, usage_provider, editor_auth) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20
    assert editor_auth.editor.calls == ["acct-1"]
    rejected_on = {r.connection for r in fake.requests if r.bearer == editor_auth.initial_token}
    retries = [r for r in fake.requests if r.bearer == editor_auth.refreshed_token]
    assert len(retries) == 20 and all(r.connection in rejected_on for r in retries)
    assert fake.connections_opened == 20
