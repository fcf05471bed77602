"""The thread and file-search handler modules load on their first request: an idle server does
not import the turn engine, edits, history or search; concurrent first requests share one load
and all succeed; and replies with non-ASCII text are framed by byte length (the orjson path)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.harness import start_session

pytestmark = pytest.mark.timeout(120)

ON_DEMAND_MODULES = (
    "codex_lsp.handlers.threads",
    "codex_lsp.handlers.search",
    "codex_lsp.turns.engine",
    "codex_lsp.edits.apply",
    "codex_lsp.history.service",
    "codex_lsp.search.service",
)


async def loaded(session) -> set[str]:  # type: ignore[no-untyped-def]
    return set((await session.call("codexTest/loadedModules", {}))["modules"])


async def frozen(session) -> int:  # type: ignore[no-untyped-def]
    return int((await session.call("codexTest/loadedModules", {}))["frozenObjects"])


async def frozen_after_startup(session) -> int:  # type: ignore[no-untyped-def]
    """The start-up's objects are out of the cyclic collector's reach once it finished (it runs
    in the background after `initialize`): tens of thousands of them."""
    for _ in range(300):
        count = await frozen(session)
        if count > 20_000:
            return count
        await asyncio.sleep(0.05)
    raise AssertionError(f"start-up froze only {count} objects")


async def test_idle_server_has_not_loaded_the_thread_domain(
    codex_home: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("x\n")
    async with start_session(codex_home, workspace=workspace) as s:
        await s.call("account/read", {})
        before = await loaded(s)
        assert "codex_lsp.services" in before  # the start-up did run
        frozen_before = await frozen_after_startup(s)
        assert not before & set(ON_DEMAND_MODULES), before & set(ON_DEMAND_MODULES)
        # Three first requests at once, for both on-demand groups: all answered.
        listed, started, found = await asyncio.gather(
            s.call("thread/list", {}),
            s.call("thread/start", {"cwd": str(workspace)}),
            s.call("fuzzyFileSearch", {"query": "notes", "roots": [str(workspace)]}),
        )
        assert isinstance(listed["data"], list)
        assert started["thread"]["id"]
        assert [f["path"] for f in found["files"]] == ["notes.txt"]
        after = await loaded(s)
        assert set(ON_DEMAND_MODULES) <= after
        frozen_after = await frozen(s)
        assert frozen_after > frozen_before  # the imported domain is frozen too
        # Loaded once: later requests go straight to the bound handlers.
        again = await s.call("thread/read", {"threadId": started["thread"]["id"]})
        assert again["thread"]["id"] == started["thread"]["id"]


async def test_non_ascii_replies_are_framed_by_byte_length(codex_home: Path) -> None:
    text = 'héllo ✓ 𝄞 \u2028 "quoted" \\ end'
    async with start_session(codex_home) as s:
        for count in (1, 3, 500):
            answer = await s.call("codexTest/echo", {"text": text, "count": count})
            assert answer == {"text": text * count, "nothing": None}
