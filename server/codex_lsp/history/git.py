"""Git metadata for `session_meta` (as upstream records it): commit, branch, origin URL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

GIT_TIMEOUT_S = 2.0


async def _git(cwd: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            git,
            "-C",
            str(cwd),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None
    text = out.decode("utf-8", "replace").strip()
    return text if proc.returncode == 0 and text else None


def _maybe_in_repository(cwd: Path) -> bool:
    """False when no directory from ``cwd`` up holds a ``.git`` (and git isn't pointed elsewhere
    by ``GIT_DIR``): then no git process is started (thread/start in a plain directory)."""
    if os.environ.get("GIT_DIR"):
        return True
    return any((directory / ".git").exists() for directory in (cwd, *cwd.parents))


async def collect_git_info(cwd: Path) -> dict[str, Any] | None:
    """``{commit_hash, branch, repository_url}`` of the repository at ``cwd``, or None outside one."""
    if not _maybe_in_repository(cwd):
        return None
    # One rev-parse answers both (commit, then branch); the origin URL is asked at the same time.
    heads, url = await asyncio.gather(
        _git(cwd, "rev-parse", "HEAD", "--abbrev-ref", "HEAD"),
        _git(cwd, "remote", "get-url", "origin"),
    )
    commit, _, branch = (heads or "").partition("\n")
    if not commit:
        return None
    return {
        "commit_hash": commit,
        "branch": None if branch in ("HEAD", "") else branch,
        "repository_url": url,
    }
