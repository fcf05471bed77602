"""The shared httpx client and the one way every backend request is sent.

One ``httpx.AsyncClient`` per server keeps TLS connections warm between turns. Requests are
built per attempt from the current credentials (the base URL itself depends on the auth mode),
and go through ``AuthManager.send_with_unauthorized_recovery`` so a 401 gets one recovery.
"""

from __future__ import annotations

import functools
import os
import platform
import ssl
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import httpx

from codex_lsp import __version__
from codex_lsp.auth.model import AuthMode, CodexAuth, account_id, auth_mode, bearer_token
from codex_lsp.backend.provider import (
    NO_CREDENTIALS,
    Credentials,
    ModelProvider,
    ProviderConfigError,
)

if TYPE_CHECKING:
    from codex_lsp.auth.manager import AuthManager

CA_BUNDLE_ENV_VARS = ("CODEX_CA_CERTIFICATE", "SSL_CERT_FILE")
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 60.0
MAX_ERROR_BODY_BYTES = 64 * 1024

RequestBuilder = Callable[[Credentials], httpx.Request]


def user_agent() -> str:
    return (
        f"codex_lsp/{__version__} (Python {platform.python_version()}; "
        f"{platform.system()} {platform.machine()})"
    )


def _ssl_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for name in CA_BUNDLE_ENV_VARS:
        path = environ.get(name)
        if not path:
            continue
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ProviderConfigError(
                f"{name} points to {path!r}, which is not a readable PEM CA bundle "
                f"({exc.__class__.__name__}); fix the path or unset {name}"
            ) from None
        break  # CODEX_CA_CERTIFICATE takes precedence over SSL_CERT_FILE
    return context


@functools.lru_cache(maxsize=32)
def parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once. httpx parses a string URL again on every request (tens of µs, about
    half of building one), and the backend's URLs are the same few strings; httpx.URL is
    immutable."""
    return httpx.URL(url)


def create_http_client(
    *,
    env: Mapping[str, str] | None = None,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
) -> httpx.AsyncClient:
    """The server-wide client: keep-alive pool, extra CA bundle from the environment,
    bounded connect/read timeouts (callers tighten them per request)."""
    environ = os.environ if env is None else env
    return httpx.AsyncClient(
        verify=_ssl_context(environ),
        timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
        # Keep as many idle connections as we may open: a burst of concurrent 401 retries (or turns)
        # then reuses them instead of reconnecting (reqwest, upstream, keeps every idle one).
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=90),
        headers={"User-Agent": user_agent()},
        follow_redirects=False,
    )


def credentials_from_auth(auth: CodexAuth) -> Credentials:
    return Credentials(
        bearer=bearer_token(auth),
        account_id=account_id(auth),
        is_chatgpt=auth_mode(auth) != AuthMode.API_KEY,
    )


async def current_credentials(
    provider: ModelProvider, auth_manager: AuthManager | None
) -> Credentials | None:
    """Credentials a request would use right now (loading auth on first use), or None when
    nobody is signed in."""
    if provider.uses_env_key:
        return provider.env_credentials()
    auth = await auth_manager.cached_auth() if auth_manager is not None else None
    if auth is None:
        return None
    return credentials_from_auth(auth)


async def send_authorized(
    http_client: httpx.AsyncClient,
    provider: ModelProvider,
    auth_manager: AuthManager | None,
    build_request: RequestBuilder,
    *,
    stream: bool = False,
) -> httpx.Response:
    """Send one request with the provider's credentials.

    ``env_key`` providers use their environment bearer (no recovery: nothing to refresh).
    Otherwise the request goes through the AuthManager's 401 recovery loop; a provider that
    doesn't require OpenAI auth may also be called anonymously when nobody is signed in.
    """
    if provider.uses_env_key:
        request = build_request(provider.env_credentials())
        return await http_client.send(request, stream=stream)
    if auth_manager is None or (
        not provider.requires_openai_auth and await auth_manager.cached_auth() is None
    ):
        return await http_client.send(build_request(NO_CREDENTIALS), stream=stream)

    async def send(auth: CodexAuth) -> httpx.Response:
        # Always streamed: the status decides first (a 401 asks the editor before its body is
        # read); other bodies are read below for callers that did not ask for a stream.
        return await http_client.send(build_request(credentials_from_auth(auth)), stream=True)

    response = await auth_manager.send_with_unauthorized_recovery(send)
    if not stream:
        try:
            await response.aread()
        finally:
            await response.aclose()
    return response


async def read_error_body(response: httpx.Response) -> bytes:
    """Read at most 64 KiB of an error response (it may be a stream) and close it."""
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) >= MAX_ERROR_BODY_BYTES:
                break
    except httpx.HTTPError:
        pass  # a broken error body still has a status code worth reporting
    finally:
        await response.aclose()
    return bytes(body[:MAX_ERROR_BODY_BYTES])
