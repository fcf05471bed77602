"""ThreadHistory: resume appends to the same rollout, fork copies it, archive releases it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codex_lsp.errors import InvalidRequest
from codex_lsp.fakes.rollouts import write_upstream_rollout
from codex_lsp.history.payloads import thread_from_summary
from codex_lsp.history.reader import ListQuery, load_rollout
from codex_lsp.history.recorder import RolloutLocked
from codex_lsp.history.rollout import new_thread_id
from codex_lsp.history.service import ThreadHistory, session_meta


async def test_resume_appends_to_the_stored_rollout_and_locks_it(codex_home: Path) -> None:
    path = write_upstream_rollout(codex_home, exchanges=[("q", "a")])
    thread_id = path.name[-42:-6]
    history = ThreadHistory(codex_home)
    stored, recorder = await history.resume(thread_id)
    assert stored.summary.preview == "q" and stored.summary.cli_version == "0.169.0"
    assert [t["status"] for t in stored.turns()] == ["completed"]
    assert stored.state.turn_context is not None and stored.state.turn_context["effort"] == "high"
    with pytest.raises(RolloutLocked):  # a second opener (another server) is refused
        await ThreadHistory(codex_home).resume(thread_id)
    recorder.record("event_msg", {"type": "user_message", "message": "more", "images": []})
    await history.aclose()
    assert load_rollout(path).lines[-1].payload["message"] == "more"
    await ThreadHistory(codex_home).resume(thread_id)  # unlocked after close


async def test_fork_copies_history_under_a_new_id(codex_home: Path) -> None:
    path = write_upstream_rollout(codex_home, exchanges=[("q1", "a1"), ("q2", "a2")])
    source_id = path.name[-42:-6]
    history = ThreadHistory(codex_home)
    source = await history.open(source_id)
    new_id = new_thread_id()
    meta = session_meta(
        new_id,
        cwd="/w",
        model_provider="openai",
        base_instructions=None,
        session_id=source.summary.session_id,
        forked_from_id=source_id,
    )
    history.fork(source, new_id, meta)
    await history.aclose()
    fork = await history.open(new_id)
    assert fork.summary.forked_from_id == source_id and fork.summary.session_id == source_id
    assert fork.turns() == source.turns()
    assert fork.state.history == source.state.history
    assert path.read_bytes() == path.read_bytes() and source_id not in fork.rollout.path.name
    wire = thread_from_summary(fork.summary)
    assert wire.forked_from_id == source_id and wire.status.type == "notLoaded" and wire.path


async def test_unknown_ids_and_archive_rules(codex_home: Path) -> None:
    history = ThreadHistory(codex_home)
    for bad in ("nope", new_thread_id()):
        with pytest.raises(InvalidRequest, match=f"thread not found: {bad}"):
            await history.open(bad)
    path = write_upstream_rollout(codex_home)
    thread_id = path.name[-42:-6]
    await history.archive(thread_id)
    with pytest.raises(InvalidRequest, match="already archived"):
        await history.archive(thread_id)
    with pytest.raises(InvalidRequest, match="unarchive"):
        await history.resume(thread_id)
    assert (await history.summary(thread_id)).archived
    await history.unarchive(thread_id)
    assert (await history.list(ListQuery())).data[0].id == thread_id
    await history.set_name(thread_id, "named")
    assert (await history.summary(thread_id)).name == "named"
    await history.set_name(thread_id, "")
    assert await history.name_of(thread_id) is None


async def test_git_info_of_a_repository_and_of_a_plain_directory(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from codex_lsp.history.git import collect_git_info

    if shutil.which("git") is None:
        pytest.fail("git is not installed; install it (apt-get install git) to run this test")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert await collect_git_info(plain) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    for args in (
        ["init", "-q", "-b", "trunk"],
        ["commit", "-q", "--allow-empty", "-m", "x"],
        ["remote", "add", "origin", "https://example.com/repo.git"],
    ):
        await asyncio.to_thread(
            subprocess.run, ["git", "-C", str(repo), *args], check=True, env=env, timeout=30
        )
    info = await collect_git_info(repo)
    assert info is not None and len(info["commit_hash"]) == 40
    assert info["branch"] == "trunk" and info["repository_url"] == "https://example.com/repo.git"
    (repo / "sub" / "dir").mkdir(parents=True)
    assert await collect_git_info(repo / "sub" / "dir") == info  # found from below the root
    await asyncio.to_thread(
        subprocess.run,
        ["git", "-C", str(repo), "checkout", "-q", "--detach"],
        check=True,
        env=env,
        timeout=30,
    )
    detached = await collect_git_info(repo)
    assert detached == {**info, "branch": None}  # a detached HEAD has a commit, no branch
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    await asyncio.to_thread(
        subprocess.run, ["git", "-C", str(unborn), "init", "-q"], check=True, env=env, timeout=30
    )
    assert await collect_git_info(unborn) is None  # no commit yet: nothing to record
