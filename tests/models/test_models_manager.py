"""ModelsManager against the loopback fake backend: default choice, cache/ETag/TTL, fallbacks,
pagination, hidden models, API-key filtering and 401 recovery."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_lsp.auth.manager import AuthManager
from codex_lsp.backend.provider import ModelProvider
from codex_lsp.errors import INVALID_PARAMS, InvalidParams
from codex_lsp.fakes.backend import FakeBackend, bundled_models
from codex_lsp.fakes.issuer import FakeIssuer
from codex_lsp.models.manager import ModelsManager
from editor_auth import EditorAuth

pytestmark = pytest.mark.timeout(30)

CLIENT_VERSION = "1.2.3"
BUNDLED_PICKER = ["gpt-5.2-codex", "gpt-5.1-codex-max", "gpt-5.1-codex-mini", "gpt-5.2"]
MODEL_KEYS = {
    "id",
    "model",
    "upgrade",
    "upgradeInfo",
    "availabilityNux",
    "displayName",
    "description",
    "hidden",
    "supportedReasoningEfforts",
    "defaultReasoningEffort",
    "inputModalities",
    "supportsPersonality",
    "additionalSpeedTiers",
    "serviceTiers",
    "defaultServiceTier",
    "isDefault",
}


def model(slug: str, priority: int, **fields: Any) -> dict[str, Any]:
    info = {
        "slug": slug,
        "display_name": slug.upper(),
        "description": f"{slug} from the backend",
        "default_reasoning_level": "low",
        "supported_reasoning_levels": [{"effort": "low", "description": "quick"}],
        "visibility": "list",
        "supported_in_api": True,
        "priority": priority,
        "some_future_field": {"ignored": True},
    }
    info.update(fields)
    return info


AUTO_BALANCED = model("codex-auto-balanced", 50)


def manager_for(
    codex_home: Path,
    auth: AuthManager,
    provider: ModelProvider,
    http_client: httpx.AsyncClient,
    **options: Any,
) -> ModelsManager:
    options.setdefault("configured_model", None)
    return ModelsManager(codex_home, auth, provider, http_client, CLIENT_VERSION, **options)


def cache_file(codex_home: Path) -> Path:
    return codex_home / "models_cache.json"


def age_cache(codex_home: Path, seconds: float) -> None:
    """Make the cache look `seconds` old (as if written by an earlier server run)."""
    data = json.loads(cache_file(codex_home).read_text())
    data["fetched_at"] = datetime.fromtimestamp(time.time() - seconds, UTC).isoformat()
    cache_file(codex_home).write_text(json.dumps(data))


def file_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def slugs(result: dict[str, Any]) -> list[str]:
    return [m["id"] for m in result["data"]]


# --- default model -------------------------------------------------------------------------


async def test_chatgpt_default_comes_from_the_refreshed_list(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.models = [model("remote-top", 0), *bundled_models()]
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    assert await manager.resolve_model(None) == "remote-top"
    [request] = fake.requests
    assert request.method == "GET" and request.path == "/backend-api/codex/models"
    assert request.query == {"client_version": CLIENT_VERSION}
    assert request.bearer == editor_auth.initial_token
    assert request.headers["chatgpt-account-id"] == "acct-1"


async def test_codex_auto_balanced_wins_for_chatgpt(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.models = [*bundled_models(), AUTO_BALANCED]
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    assert await manager.resolve_model(None) == "codex-auto-balanced"
    listing = await manager.list_models()
    assert [m["id"] for m in listing["data"] if m["isDefault"]] == ["codex-auto-balanced"]


async def test_codex_auto_balanced_is_not_the_api_key_default(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    api_key_auth: AuthManager,
    codex_home: Path,
) -> None:
    fake.models = [*bundled_models(), AUTO_BALANCED]
    manager = manager_for(codex_home, api_key_auth, api_provider, http_client)
    assert await manager.resolve_model(None) == "gpt-5.2-codex"
    assert fake.requests[0].path == "/v1/models" and fake.requests[0].bearer == "sk-test"


async def test_codex_auto_balanced_is_picked_up_after_a_refresh(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client, ttl_s=0.3)
    assert await manager.resolve_model(None) == "gpt-5.2-codex"
    first_etag = fake.models_etag
    fake.models = [*bundled_models(), AUTO_BALANCED]
    assert await manager.resolve_model(None) == "gpt-5.2-codex"  # still within the TTL
    assert len(fake.requests) == 1
    await asyncio.sleep(0.35)
    assert await manager.resolve_model(None) == "codex-auto-balanced"
    second = fake.requests[1]
    assert second.headers["if-none-match"] == first_etag


async def test_explicit_then_configured_model_win_without_network(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    plain = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    assert await plain.resolve_model("o3-custom") == "o3-custom"
    configured = manager_for(
        codex_home,
        editor_auth.manager,
        chatgpt_provider,
        http_client,
        configured_model="gpt-5.1-codex-mini",
    )
    assert await configured.resolve_model(None) == "gpt-5.1-codex-mini"
    assert await configured.resolve_model("gpt-5.2") == "gpt-5.2"
    assert fake.requests == []
    listing = await configured.list_models()
    assert [m["id"] for m in listing["data"] if m["isDefault"]] == ["gpt-5.1-codex-mini"]


async def test_builtin_fallback_when_no_model_is_shown_in_the_picker(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    api_provider: ModelProvider,
    editor_auth: EditorAuth,
    api_key_auth: AuthManager,
    tmp_path: Path,
) -> None:
    fake.models = [{**m, "visibility": "hide"} for m in bundled_models()]
    chatgpt = manager_for(tmp_path / "a", editor_auth.manager, chatgpt_provider, http_client)
    assert await chatgpt.resolve_model(None) == "gpt-5.2-codex"
    api = manager_for(tmp_path / "b", api_key_auth, api_provider, http_client)
    assert await api.resolve_model(None) == "gpt-5.1-codex-max"
    # Nothing in the picker: model/list still marks exactly one default when hidden ones show.
    listing = await api.list_models(include_hidden=True)
    assert sum(m["isDefault"] for m in listing["data"]) == 1


# --- cache, TTL, ETag ------------------------------------------------------------------------


async def test_fresh_cache_is_reused_across_instances(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.models = [model("remote-only", 20), *bundled_models()]
    first = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    await first.resolve_model(None)
    await first.list_models()
    assert len(fake.requests) == 1

    data = json.loads(cache_file(codex_home).read_text())
    assert data["etag"] == fake.models_etag
    assert data["client_version"] == CLIENT_VERSION
    assert [m["slug"] for m in data["models"]][0] == "remote-only"
    assert file_names(codex_home) == ["models_cache.json"]  # no temp files left behind

    second = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    assert "remote-only" in slugs(await second.list_models())
    assert len(fake.requests) == 1


async def test_expired_cache_is_revalidated_with_etag(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.models = [model("remote-only", 20), *bundled_models()]
    await manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client).list_models()
    age_cache(codex_home, 3600)

    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    assert "remote-only" in slugs(await manager.list_models())
    revalidation = fake.requests[1]
    assert revalidation.headers["if-none-match"] == fake.models_etag  # answered 304
    fetched_at = json.loads(cache_file(codex_home).read_text())["fetched_at"]
    assert time.time() - datetime.fromisoformat(fetched_at).timestamp() < 60  # TTL renewed
    await manager.list_models()
    assert len(fake.requests) == 2


async def test_changed_etag_replaces_the_cache(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.models = [model("old-model", 20)]
    await manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client).list_models()
    age_cache(codex_home, 3600)
    fake.models = [model("new-model", 20)]
    listed = slugs(
        await manager_for(
            codex_home, editor_auth.manager, chatgpt_provider, http_client
        ).list_models()
    )
    assert "new-model" in listed and "old-model" not in listed
    assert json.loads(cache_file(codex_home).read_text())["etag"] == fake.models_etag


async def test_cache_from_another_client_version_is_ignored(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    await manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client).list_models()
    newer = ModelsManager(
        codex_home, editor_auth.manager, chatgpt_provider, http_client, "9.9.9", None
    )
    await newer.list_models()
    assert len(fake.requests) == 2
    assert "if-none-match" not in fake.requests[1].headers
    assert fake.requests[1].query == {"client_version": "9.9.9"}


async def test_corrupt_cache_is_ignored(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache_file(codex_home).write_text("{not json")
    fake.models = [model("remote-only", 20)]
    with caplog.at_level(logging.WARNING):
        listed = slugs(
            await manager_for(
                codex_home, editor_auth.manager, chatgpt_provider, http_client
            ).list_models()
        )
    assert "remote-only" in listed
    assert "unreadable models cache" in caplog.text
    assert json.loads(cache_file(codex_home).read_text())["models"][0]["slug"] == "remote-only"


async def test_concurrent_resolves_share_one_fetch(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.faults.slow_responses = 1
    fake.faults.slow_response_s = 0.2
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    results = await asyncio.gather(*(manager.resolve_model(None) for _ in range(5)))
    assert set(results) == {"gpt-5.2-codex"}
    assert len(fake.requests) == 1


# --- fallbacks -----------------------------------------------------------------------------


async def test_offline_uses_stale_cache_then_bundled(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.models = [model("remote-only", 20), *bundled_models()]
    with_cache, without_cache = tmp_path / "cached", tmp_path / "empty"
    await manager_for(with_cache, editor_auth.manager, chatgpt_provider, http_client).list_models()
    age_cache(with_cache, 3600)
    fake.stop()  # offline: connection refused

    with caplog.at_level(logging.WARNING):
        cached = manager_for(with_cache, editor_auth.manager, chatgpt_provider, http_client)
        assert "remote-only" in slugs(await cached.list_models())
    assert "using cached models" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        bundled = manager_for(without_cache, editor_auth.manager, chatgpt_provider, http_client)
        assert slugs(await bundled.list_models()) == BUNDLED_PICKER
        assert await bundled.resolve_model(None) == "gpt-5.2-codex"
    assert "using bundled models" in caplog.text


async def test_server_error_falls_back_to_cache_then_bundled(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    tmp_path: Path,
) -> None:
    fake.models = [model("remote-only", 20)]
    await manager_for(
        tmp_path / "c", editor_auth.manager, chatgpt_provider, http_client
    ).list_models()
    age_cache(tmp_path / "c", 3600)
    fake.faults.server_errors = 2
    cached = manager_for(tmp_path / "c", editor_auth.manager, chatgpt_provider, http_client)
    assert "remote-only" in slugs(await cached.list_models())
    bundled = manager_for(tmp_path / "b", editor_auth.manager, chatgpt_provider, http_client)
    assert slugs(await bundled.list_models()) == BUNDLED_PICKER
    assert len(fake.requests) == 3


async def test_timeout_falls_back_within_the_fetch_timeout(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.models = [model("remote-only", 20)]
    fake.faults.slow_responses = 1
    fake.faults.slow_response_s = 5
    manager = manager_for(
        codex_home, editor_auth.manager, chatgpt_provider, http_client, fetch_timeout_s=0.3
    )
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        assert await manager.resolve_model(None) == "gpt-5.2-codex"
    assert time.monotonic() - start < 2
    assert "timed out" in caplog.text


async def test_failed_fetch_is_not_retried_on_every_call(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.faults.server_errors = 1
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client, ttl_s=0.2)
    await manager.resolve_model(None)
    await manager.resolve_model(None)
    assert len(fake.requests) == 1  # backing off after the failure
    await asyncio.sleep(0.25)
    fake.models = [model("remote-only", 0)]
    assert await manager.resolve_model(None) == "remote-only"
    assert len(fake.requests) == 2


async def test_unrecovered_401_falls_back_to_bundled(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.faults.unauthorized_always = True
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    with caplog.at_level(logging.WARNING):
        assert slugs(await manager.list_models()) == BUNDLED_PICKER
    assert "HTTP 401" in caplog.text
    assert editor_auth.initial_token not in caplog.text
    assert editor_auth.refreshed_token not in caplog.text


# --- 401 recovery ----------------------------------------------------------------------------


async def test_models_call_recovers_from_401_through_the_editor(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.accepted_tokens = {editor_auth.refreshed_token}
    fake.models = [model("remote-top", 0)]
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    assert await manager.resolve_model(None) == "remote-top"
    assert editor_auth.editor.calls == ["acct-1"]
    assert [r.bearer for r in fake.requests] == [
        editor_auth.initial_token,
        editor_auth.refreshed_token,
    ]


async def test_models_call_recovers_from_401_with_a_managed_refresh(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    codex_home: Path,
) -> None:
    with FakeIssuer() as issuer:
        login = issuer.issue_tokens("acct-1")
        auth = AuthManager(codex_home, "file", refresh_token_url=issuer.token_url, env={})
        await auth.save_chatgpt_login(
            login["id_token"], login["access_token"], login["refresh_token"]
        )
        fake.faults.unauthorized_once = True
        fake.models = [model("remote-top", 0)]
        manager = manager_for(codex_home, auth, chatgpt_provider, http_client)
        assert await manager.resolve_model(None) == "remote-top"
        assert len(issuer.refresh_requests) == 1
    first, second = fake.requests
    assert first.bearer == login["access_token"]
    assert second.bearer is not None and second.bearer != login["access_token"]
    assert second.headers["chatgpt-account-id"] == "acct-1"


# --- model/list ----------------------------------------------------------------------------


async def test_list_shape_and_hidden_models(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    visible = await manager.list_models()
    assert visible["nextCursor"] is None
    assert slugs(visible) == BUNDLED_PICKER
    for entry in visible["data"]:
        assert set(entry) == MODEL_KEYS
        assert entry["hidden"] is False and entry["model"] == entry["id"]
    top = visible["data"][0]
    assert top["isDefault"] is True
    assert top["supportedReasoningEfforts"][0] == {
        "reasoningEffort": "low",
        "description": "Fast responses with lighter reasoning",
    }
    assert top["inputModalities"] == ["text", "image"]

    everything = await manager.list_models(include_hidden=True)
    hidden = {m["id"]: m for m in everything["data"] if m["hidden"]}
    assert set(hidden) == {"gpt-5.1-codex", "gpt-5"}
    assert hidden["gpt-5.1-codex"]["upgrade"] == "gpt-5.2-codex"
    assert hidden["gpt-5.1-codex"]["upgradeInfo"]["model"] == "gpt-5.2-codex"
    assert hidden["gpt-5.1-codex"]["upgradeInfo"]["migrationMarkdown"]
    assert sum(m["isDefault"] for m in everything["data"]) == 1


async def test_remote_entries_override_bundled_ones(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.models = [model("gpt-5.2", 0, display_name="GPT 5.2 (remote)")]
    listing = await manager_for(
        codex_home, editor_auth.manager, chatgpt_provider, http_client
    ).list_models()
    first = listing["data"][0]
    assert first["id"] == "gpt-5.2" and first["displayName"] == "GPT 5.2 (remote)"
    assert slugs(listing).count("gpt-5.2") == 1
    assert set(BUNDLED_PICKER) <= set(slugs(listing))


async def test_pagination_walks_every_model_once(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    full = slugs(await manager.list_models(include_hidden=True))
    seen: list[str] = []
    defaults = 0
    cursor: str | None = None
    for _ in range(10):  # bounded: 6 models in pages of 2
        page = await manager.list_models(cursor=cursor, limit=2, include_hidden=True)
        assert len(page["data"]) <= 2
        seen += slugs(page)
        defaults += sum(m["isDefault"] for m in page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == full and len(full) == 6
    assert defaults == 1


@pytest.mark.parametrize("cursor", ["abc", "-1", "999", "1.5", ""])
async def test_bad_cursor_is_invalid_params(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
    cursor: str,
) -> None:
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    with pytest.raises(InvalidParams) as info:
        await manager.list_models(cursor=cursor)
    assert info.value.code == INVALID_PARAMS
    assert "cursor" in info.value.message and "nextCursor" in info.value.message


async def test_api_key_only_sees_supported_in_api_models(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    api_provider: ModelProvider,
    editor_auth: EditorAuth,
    api_key_auth: AuthManager,
    tmp_path: Path,
) -> None:
    fake.models = [
        model("chatgpt-only", 0, supported_in_api=False),
        model("api-ok", 1),
        model("gpt-5.1-codex-max", 2, supported_in_api=False),  # overrides the bundled entry
    ]
    api = manager_for(tmp_path / "api", api_key_auth, api_provider, http_client)
    api_slugs = slugs(await api.list_models(include_hidden=True))
    assert "api-ok" in api_slugs
    assert "chatgpt-only" not in api_slugs and "gpt-5.1-codex-max" not in api_slugs
    assert await api.resolve_model(None) == "api-ok"

    chatgpt = manager_for(tmp_path / "chatgpt", editor_auth.manager, chatgpt_provider, http_client)
    chatgpt_slugs = slugs(await chatgpt.list_models())
    assert {"chatgpt-only", "api-ok", "gpt-5.1-codex-max"} <= set(chatgpt_slugs)
    assert await chatgpt.resolve_model(None) == "chatgpt-only"


async def test_model_info_exposes_backend_fields(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    chatgpt_provider: ModelProvider,
    editor_auth: EditorAuth,
    codex_home: Path,
) -> None:
    fake.models = [model("remote-top", 0, context_window=123456, base_instructions="Be brief.")]
    manager = manager_for(codex_home, editor_auth.manager, chatgpt_provider, http_client)
    info = await manager.model_info("remote-top")
    assert info is not None and info.context_window == 123456
    assert info.raw["base_instructions"] == "Be brief."
    assert await manager.model_info("no-such-model") is None


async def test_auth_is_loaded_on_first_use(
    fake: FakeBackend,
    http_client: httpx.AsyncClient,
    api_provider: ModelProvider,
    codex_home: Path,
) -> None:
    unloaded = AuthManager(codex_home, "ephemeral", env={"CODEX_API_KEY": "sk-late"})
    fake.models = [model("chatgpt-only", 0, supported_in_api=False), model("api-ok", 1)]
    manager = manager_for(codex_home, unloaded, api_provider, http_client)
    assert await manager.resolve_model(None) == "api-ok"
    assert fake.requests[0].bearer == "sk-late"
