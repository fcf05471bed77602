"""The adversarial suite: every escape found by the red-team pass (issue 15), replayed through
the real server (`command/exec` and the model's `shell` calls) under both Linux backends.

Each case asserts the effect on disk (or on the victim), not just an exit code, so a future
change that weakens the sandbox fails here. Workspaces live under /var/tmp (see conftest).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from escape_support import Approvals, agent_turn, server_session
from sandbox_support import Dirs

from codex_lsp.fakes.backend import FakeBackend, shell_call


@pytest.fixture
def model() -> Iterator[FakeBackend]:
    """The loopback model backend (the attacker's voice)."""
    with FakeBackend() as running:
        yield running


# ---------------------------------------------------------------- finding 1: model-chosen workdir


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
async def test_model_workdir_outside_the_workspace_is_not_writable(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend, how: str
) -> None:
    """Before the fix the workdir became a writable root: `pwned` landed in OUTSIDE, unasked."""
    workdir = str(dirs.outside) if how == "absolute" else "../outside"
    async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
        approvals = Approvals(s)
        (item,) = await agent_turn(
            s, model, [shell_call(["sh", "-c", "echo x > pwned"], workdir=workdir)], cwd=dirs.ws
        )
        assert item["exitCode"] != 0 and os.path.normpath(item["cwd"]) == str(dirs.outside)
        assert approvals.calls == []
        assert (
            "outside the writable roots"
            in model.requests_to("/responses")[-1].body["input"][-1]["output"]
        )
    assert not (dirs.outside / "pwned").exists()


async def test_model_workdir_root_home_is_not_writable(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    target = Path.home() / f"codex-escape-{os.getpid()}"
    try:
        async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
            (item,) = await agent_turn(
                s,
                model,
                [shell_call(["sh", "-c", f"echo x > {target.name}"], workdir=str(Path.home()))],
                cwd=dirs.ws,
            )
            assert item["exitCode"] != 0
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


async def test_model_workdir_in_dot_git_stays_read_only(
    bwrap_only: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    """(Under Landlock, .git has its own rule: see finding 4.)"""
    (dirs.ws / ".git" / "hooks").mkdir(parents=True)
    async with server_session(codex_home, dirs.ws, backend=bwrap_only, model=model) as s:
        (item,) = await agent_turn(
            s,
            model,
            [shell_call(["sh", "-c", "echo evil > hooks/pre-commit"], workdir=".git")],
            cwd=dirs.ws,
        )
        assert item["exitCode"] != 0
    assert not (dirs.ws / ".git" / "hooks" / "pre-commit").exists()


async def test_model_workdir_inside_the_workspace_still_writes(
    backend: str, dirs: Dirs, codex_home: Path, model: FakeBackend
) -> None:
    (dirs.ws / "sub").mkdir()
    async with server_session(codex_home, dirs.ws, backend=backend, model=model) as s:
        (item,) = await agent_turn(
            s, model, [shell_call(["sh", "-c", "echo ok > made"], workdir="sub")], cwd=dirs.ws
        )
        assert item["exitCode"] == 0, item
    assert (dirs.ws / "sub" / "made").read_text() == "ok\n"
