"""Reading rollouts upstream wrote: tolerant parsing, listing from heads and tails, paging, names."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from codex_lsp.errors import InvalidParams
from codex_lsp.fakes.rollouts import write_upstream_rollout
from codex_lsp.history.reader import (
    ListQuery,
    RolloutUnreadable,
    ThreadCatalog,
    load_rollout,
    read_summary,
)
from codex_lsp.history.rollout import new_thread_id

BASE = 1_764_400_000.0


def test_upstream_0169_rollout_summary(codex_home: Path) -> None:
    path = write_upstream_rollout(
        codex_home, created=BASE, exchanges=[("Fix the bug", "Done."), ("Thanks", "ok")]
    )
    summary = read_summary(path, archived=False)
    assert summary is not None
    assert summary.preview == "Fix the bug", "context messages are not the preview"
    assert (
        summary.cli_version == "0.169.0"
        and summary.source == "cli"
        and summary.model_provider == "openai"
    )
    assert summary.model == "gpt-5.1-codex" and summary.created_at == int(BASE)
    assert summary.git is not None and summary.git["branch"] == "main"


def test_upstream_04x_rollout_summary(codex_home: Path) -> None:
    path = write_upstream_rollout(
        codex_home, created=BASE, shape="0.4x", exchanges=[("Old question", "Old answer")]
    )
    summary = read_summary(path, archived=False)
    assert (
        summary is not None
        and summary.preview == "Old question"
        and summary.cli_version == "0.46.0"
    )


def test_preview_found_beyond_the_first_chunk(codex_home: Path) -> None:
    path = write_upstream_rollout(codex_home, created=BASE, exchanges=[("late", "x")])
    lines = path.read_text().splitlines()
    big = json.dumps(
        {
            "timestamp": "2026-01-01T00:00:00.000Z",
            "type": "response_item",
            "payload": {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "y" * 200_000}],
            },
        }
    )
    path.write_text("\n".join([lines[0], big, *lines[1:]]) + "\n")
    summary = read_summary(path, archived=False)
    assert summary is not None and summary.preview == "late"


def test_corrupt_and_truncated_lines_are_skipped_with_one_warning(
    codex_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_upstream_rollout(codex_home, created=BASE, exchanges=[("a", "b"), ("c", "d")])
    lines = path.read_text().splitlines()
    lines.insert(3, "{not json")
    lines.insert(5, json.dumps({"type": "brand_new_type_from_0_200", "payload": {"x": 1}}))
    text = "\n".join(lines) + "\n" + '{"timestamp":"2026-01-01T00:00:00Z","type":"event_msg","payl'
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        rollout = load_rollout(path)
    assert rollout.skipped == 2
    warnings = [r for r in caplog.records if path.name in r.getMessage()]
    assert len(warnings) == 1 and "2 unreadable" in warnings[0].getMessage()
    assert any(line.type == "brand_new_type_from_0_200" for line in rollout.lines)


def test_a_file_without_session_meta_is_unreadable_and_left_in_place(codex_home: Path) -> None:
    path = (
        codex_home / "sessions/2026/11/29" / f"rollout-2026-11-29T10-00-00-{new_thread_id()}.jsonl"
    )
    path.parent.mkdir(parents=True)
    path.write_text("garbage\n{}\n")
    with pytest.raises(RolloutUnreadable) as info:
        load_rollout(path)
    assert path.name in info.value.message and str(path.parent) not in info.value.message
    assert path.exists()
    assert read_summary(path, archived=False) is None


def _many(codex_home: Path, count: int) -> list[str]:
    ids = []
    for n in range(count):
        thread_id = new_thread_id()
        ids.append(thread_id)
        write_upstream_rollout(
            codex_home,
            thread_id=thread_id,
            created=BASE + n,
            exchanges=[(f"question {n}", "a")],
            cwd=f"/p/{n % 3}",
            provider="openai" if n % 2 else "oss",
            with_command=False,
        )
    return ids


async def test_paging_is_complete_newest_first_and_stable(codex_home: Path) -> None:
    ids = _many(codex_home, 53)
    catalog = ThreadCatalog(codex_home)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await catalog.list(ListQuery(limit=10, cursor=cursor))
        seen += [s.id for s in page.data]
        pages += 1
        if pages == 2:  # a thread created mid-paging does not shift later pages
            write_upstream_rollout(codex_home, created=BASE + 1000, exchanges=[("new", "x")])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids)) and pages == 6
    oldest = await catalog.list(ListQuery(limit=3, descending=False))
    assert [s.id for s in oldest.data] == ids[:3]


async def test_filters(codex_home: Path) -> None:
    _many(codex_home, 12)
    write_upstream_rollout(
        codex_home, created=BASE + 50, exchanges=[("exec thing", "x")], source="exec"
    )
    catalog = ThreadCatalog(codex_home)
    by_cwd = await catalog.list(ListQuery(limit=100, cwds=("/p/1",)))
    assert len(by_cwd.data) == 4 and all(s.cwd == "/p/1" for s in by_cwd.data)
    oss = await catalog.list(ListQuery(limit=100, model_providers=("oss",)))
    assert len(oss.data) == 6 and all(s.model_provider == "oss" for s in oss.data)
    search = await catalog.list(ListQuery(limit=100, search_term="QUESTION 1"))
    assert sorted(s.preview for s in search.data) == ["question 1", "question 10", "question 11"]
    interactive = await catalog.list(ListQuery(limit=100))
    assert all(s.source == "cli" for s in interactive.data) and len(interactive.data) == 12
    execs = await catalog.list(ListQuery(limit=100, source_kinds=("exec",)))
    assert [s.preview for s in execs.data] == ["exec thing"]


async def test_updated_at_sort_uses_the_file_time(codex_home: Path) -> None:
    ids = _many(codex_home, 4)
    catalog = ThreadCatalog(codex_home)
    found = await catalog.find(ids[0])
    assert found is not None
    now = time.time()
    os.utime(found[0], (now + 100, now + 100))
    page = await catalog.list(ListQuery(limit=2, sort_key="updated_at"))
    assert page.data[0].id == ids[0]
    rest = await catalog.list(ListQuery(limit=10, sort_key="updated_at", cursor=page.next_cursor))
    assert len(rest.data) == 2 and ids[0] not in [s.id for s in rest.data]


async def test_bad_cursor_names_the_field(codex_home: Path) -> None:
    catalog = ThreadCatalog(codex_home)
    with pytest.raises(InvalidParams, match="params.cursor"):
        await catalog.list(ListQuery(cursor="nonsense!"))
    page = await catalog.list(ListQuery(limit=1))
    assert page.next_cursor is None and page.data == []


async def test_names_archive_and_unarchive(codex_home: Path) -> None:
    ids = _many(codex_home, 3)
    catalog = ThreadCatalog(codex_home)
    await catalog.set_name(ids[1], "first name")
    await catalog.set_name(ids[1], "Renamed")
    page = await catalog.list(ListQuery(limit=10))
    assert {s.id: s.name for s in page.data}[ids[1]] == "Renamed"
    assert (await catalog.list(ListQuery(limit=10, search_term="renamed"))).data[0].id == ids[1]
    found = await catalog.find(ids[1])
    assert found is not None and not found[1]
    moved = await catalog.archive(found[0])
    assert moved.parent == codex_home / "archived_sessions" and not found[0].exists()
    assert ids[1] not in [s.id for s in (await catalog.list(ListQuery(limit=10))).data]
    archived = await catalog.list(ListQuery(limit=10, archived=True))
    assert [s.id for s in archived.data] == [ids[1]] and archived.data[0].archived
    assert await catalog.find(ids[1]) == (moved, True)
    back = await catalog.unarchive(moved)
    assert back == found[0] and back.exists()
