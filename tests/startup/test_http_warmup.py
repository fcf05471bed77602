"""The start-up HTTP warm-up talks only to its own loopback listener: it works with a dead proxy
configured (so it never goes through the user's proxy or leaves the machine)."""

from __future__ import annotations

import asyncio

import pytest

from codex_lsp import app

pytestmark = pytest.mark.timeout(30)


def test_warm_up_uses_its_own_listener_even_with_a_proxy_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    asyncio.run(asyncio.wait_for(app.warm_http_stack(), 10))  # raises if the request failed
