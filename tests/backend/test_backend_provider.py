"""Provider resolution, headers, base URLs and the shared httpx client's CA handling."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codex_lsp.backend.http import create_http_client
from codex_lsp.backend.provider import (
    DEFAULT_CHATGPT_BASE_URL,
    OPENAI_API_BASE_URL,
    Credentials,
    ProviderConfigError,
    resolve_provider,
)
from codex_lsp.errors import INVALID_REQUEST

pytestmark = pytest.mark.timeout(30)

CHATGPT = Credentials(bearer="access-token-123", account_id="acct-9", is_chatgpt=True)
API_KEY = Credentials(bearer="sk-secret-456")


def test_builtin_openai_base_url_depends_on_auth_mode() -> None:
    provider = resolve_provider()
    assert provider.id == "openai"
    assert provider.base_url_for(API_KEY) == OPENAI_API_BASE_URL
    assert provider.base_url_for(CHATGPT) == f"{DEFAULT_CHATGPT_BASE_URL}/codex"
    custom = resolve_provider(chatgpt_base_url="https://example.test/backend-api/")
    assert custom.base_url_for(CHATGPT) == "https://example.test/backend-api/codex"


def test_headers_for_chatgpt_and_api_key() -> None:
    provider = resolve_provider()
    chatgpt = provider.headers_for(CHATGPT, "ua/1")
    assert chatgpt == {
        "originator": "codex_lsp",
        "User-Agent": "ua/1",
        "Authorization": "Bearer access-token-123",
        "ChatGPT-Account-Id": "acct-9",
    }
    api = provider.headers_for(API_KEY, "ua/1")
    assert api["Authorization"] == "Bearer sk-secret-456"
    assert "ChatGPT-Account-Id" not in api


def test_credentials_repr_hides_the_bearer() -> None:
    assert "access-token-123" not in repr(CHATGPT)
    provider = resolve_provider(
        "p", {"p": {"base_url": "https://x.test", "env_key": "K"}}, env={"K": "env-secret"}
    )
    assert "env-secret" not in repr(provider)
    assert provider.env_credentials().bearer == "env-secret"


def test_custom_provider_fields() -> None:
    table = {
        "name": "Local proxy",
        "base_url": "http://127.0.0.1:8080/v1/",
        "wire_api": "responses",
        "requires_openai_auth": True,
        "http_headers": {"X-Org": "acme"},
    }
    provider = resolve_provider("local", {"local": table})
    assert provider.name == "Local proxy"
    assert provider.base_url_for(CHATGPT) == "http://127.0.0.1:8080/v1"
    assert provider.requires_openai_auth and not provider.uses_env_key
    assert provider.headers_for(API_KEY, "ua")["X-Org"] == "acme"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/v1",
        "http://127.8.9.10/v1",
        "http://localhost:1/v1",
        "http://[::1]:8000/v1",
        "https://models.example.com/v1",
    ],
)
def test_allowed_base_urls(url: str) -> None:
    assert resolve_provider("p", {"p": {"base_url": url}}).base_url == url


@pytest.mark.parametrize(
    "url",
    ["http://example.com/v1", "http://10.0.0.1/v1", "ftp://127.0.0.1/x", "not a url"],
)
def test_rejected_base_urls(url: str) -> None:
    with pytest.raises(ProviderConfigError) as info:
        resolve_provider("p", {"p": {"base_url": url}})
    assert info.value.code == INVALID_REQUEST
    assert "model_providers.p.base_url" in info.value.message


def test_plain_http_chatgpt_base_url_only_on_loopback() -> None:
    with pytest.raises(ProviderConfigError, match="chatgpt_base_url"):
        resolve_provider(chatgpt_base_url="http://chatgpt.example.com/backend-api")
    assert resolve_provider(chatgpt_base_url="http://127.0.0.1:5/backend-api")


def test_config_errors_say_what_to_do() -> None:
    with pytest.raises(ProviderConfigError, match=r"\[model_providers.nope\]"):
        resolve_provider("nope", {})
    with pytest.raises(ProviderConfigError, match="responses"):
        resolve_provider("p", {"p": {"base_url": "https://x.test", "wire_api": "chat"}})
    with pytest.raises(ProviderConfigError, match="base_url is missing"):
        resolve_provider("p", {"p": {"name": "no url"}})
    missing_env = resolve_provider(
        "p", {"p": {"base_url": "https://x.test", "env_key": "K"}}, env={}
    )
    with pytest.raises(ProviderConfigError, match="environment variable K"):
        missing_env.env_credentials()


# --- CA bundle ---------------------------------------------------------------------------------


@pytest.fixture
def self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def tls_server(self_signed_cert: tuple[Path, Path]) -> Iterator[str]:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed_cert)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_codex_ca_certificate_is_trusted(
    tls_server: str, self_signed_cert: tuple[Path, Path]
) -> None:
    async with create_http_client(env={"CODEX_CA_CERTIFICATE": str(self_signed_cert[0])}) as c:
        response = await c.get(tls_server)
        assert response.text == "ok"
    async with create_http_client(env={}) as untrusting:
        with pytest.raises(httpx.ConnectError):
            await untrusting.get(tls_server)


async def test_ssl_cert_file_is_used_when_codex_ca_is_unset(
    tls_server: str, self_signed_cert: tuple[Path, Path]
) -> None:
    async with create_http_client(env={"SSL_CERT_FILE": str(self_signed_cert[0])}) as client:
        assert (await client.get(tls_server)).status_code == 200


def test_unreadable_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError, match="CODEX_CA_CERTIFICATE"):
        create_http_client(env={"CODEX_CA_CERTIFICATE": str(tmp_path / "missing.pem")})
