"""Filesystem smoke tests (reference §7 "ro" and "ws"), run under both Linux backends.

Each case asserts the exit code AND the effect on disk. The unprivileged Landlock fallback's
documented gaps (.git not protected, no private /tmp, chmod outside allowed) are asserted as
gaps; as root the fallback closes them with a private mount namespace (`mounts_protect`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import Dirs, mounts_protect, run, sh, unique

from codex_lsp.sandbox.policy import ReadOnly, WorkspaceWrite

WS = WorkspaceWrite()


@pytest.fixture
def host_targets() -> Iterator[dict[str, Path]]:
    """Paths in /etc, ~ and /tmp that a breach would create; removed afterwards either way."""
    targets = {
        "etc": Path("/etc") / unique("codex-sbx"),
        "home": Path.home() / unique("codex-sbx"),
        "tmp": Path("/tmp") / unique("codex-sbx"),
    }
    yield targets
    for path in targets.values():
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- read-only


async def test_ro_write_in_cwd_denied(backend: str, dirs: Dirs) -> None:
    result = await run(sh("echo x > created"), dirs.ws, ReadOnly())
    assert result.exit_code != 0
    assert result.sandbox_backend == backend
    assert not (dirs.ws / "created").exists()


async def test_ro_append_and_mkdir_denied(backend: str, dirs: Dirs) -> None:
    existing = dirs.ws / "existing.txt"
    existing.write_text("original\n")
    append = await run(sh("echo more >> existing.txt"), dirs.ws, ReadOnly())
    mkdir = await run(["mkdir", "newdir"], dirs.ws, ReadOnly())
    assert append.exit_code != 0 and mkdir.exit_code != 0
    assert existing.read_text() == "original\n"
    assert not (dirs.ws / "newdir").exists()


@pytest.mark.parametrize("where", ["outside", "etc", "home"])
async def test_ro_write_elsewhere_denied(
    backend: str, dirs: Dirs, host_targets: dict[str, Path], where: str
) -> None:
    target = dirs.outside / "f" if where == "outside" else host_targets[where]
    result = await run(sh(f"echo x > '{target}'"), dirs.ws, ReadOnly())
    assert result.exit_code != 0
    assert not target.exists()


async def test_ro_reads_and_dev_null_work(backend: str, dirs: Dirs) -> None:
    (dirs.ws / "data.txt").write_text("payload\n")
    result = await run(
        sh("cat data.txt && head -n1 /etc/passwd && echo discarded > /dev/null"),
        dirs.ws,
        ReadOnly(),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("payload\nroot:")


async def test_ro_tmp_is_private_under_bwrap_denied_under_landlock(
    backend: str, dirs: Dirs, host_targets: dict[str, Path]
) -> None:
    target = host_targets["tmp"]
    result = await run(sh(f"echo x > {target} && cat {target}"), dirs.ws, ReadOnly())
    if mounts_protect(backend):
        assert result.exit_code == 0 and result.stdout == "x\n"  # a throw-away tmpfs
    else:
        assert result.exit_code != 0  # gap: no private /tmp in the fallback
    assert not target.exists()


# ---------------------------------------------------------------- workspace-write


async def test_ws_write_append_mkdir_rename_delete_inside(backend: str, dirs: Dirs) -> None:
    (dirs.ws / "doomed").write_text("bye")
    script = (
        "echo one > a.txt && echo two >> a.txt && mkdir -p deep/er/est && "
        "mv a.txt deep/er/est/b.txt && rm doomed"
    )
    result = await run(sh(script), dirs.ws, WS)
    assert result.exit_code == 0, result.stderr
    assert (dirs.ws / "deep/er/est/b.txt").read_text() == "one\ntwo\n"
    assert not (dirs.ws / "a.txt").exists()
    assert not (dirs.ws / "doomed").exists()


@pytest.mark.parametrize("where", ["outside", "etc", "home"])
async def test_ws_write_outside_denied(
    backend: str, dirs: Dirs, host_targets: dict[str, Path], where: str
) -> None:
    target = dirs.outside / "f" if where == "outside" else host_targets[where]
    result = await run(sh(f"echo x > '{target}'"), dirs.ws, WS)
    mkdir = await run(["mkdir", str(dirs.outside / "sub")], dirs.ws, WS)
    assert result.exit_code != 0 and mkdir.exit_code != 0
    assert not target.exists()
    assert not (dirs.outside / "sub").exists()


async def test_ws_extra_writable_root(backend: str, dirs: Dirs) -> None:
    policy = WorkspaceWrite(writable_roots=(dirs.outside,))
    result = await run(sh(f"echo x > '{dirs.outside}/allowed'"), dirs.ws, policy)
    assert result.exit_code == 0, result.stderr
    assert (dirs.outside / "allowed").read_text() == "x\n"


async def test_ws_exclude_slash_tmp(
    backend: str, dirs: Dirs, host_targets: dict[str, Path]
) -> None:
    target = host_targets["tmp"]
    allowed = await run(sh(f"echo x > {target}"), dirs.ws, WS)
    assert allowed.exit_code == 0 and target.exists()
    target.unlink()
    policy = WorkspaceWrite(exclude_slash_tmp=True, exclude_tmpdir_env_var=True)
    result = await run(sh(f"echo x > {target}"), dirs.ws, policy)
    assert not target.exists()
    # bwrap (and the fallback as root) swap in a private tmpfs: the write succeeds and
    # vanishes; the unprivileged fallback denies it.
    assert (result.exit_code == 0) == mounts_protect(backend)


def _make_repo(ws: Path) -> Path:
    git = ws / ".git"
    (git / "hooks").mkdir(parents=True)
    (git / "config").write_text("[core]\n")
    return git


GIT_ATTACKS = {
    "config": "echo '[core] hooksPath=/x' >> .git/config",
    "hook": "echo evil > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit",
    "move": "mv .git moved",
    "remove": "rm -rf .git",
}


@pytest.mark.parametrize("attack", sorted(GIT_ATTACKS))
async def test_ws_git_is_read_only(backend: str, dirs: Dirs, attack: str) -> None:
    git = _make_repo(dirs.ws)
    result = await run(sh(GIT_ATTACKS[attack]), dirs.ws, WS)
    untouched = (
        (git / "config").is_file()
        and (git / "config").read_text() == "[core]\n"
        and not (git / "hooks/pre-commit").exists()
        and not (dirs.ws / "moved").exists()
    )
    if mounts_protect(backend):
        assert result.exit_code != 0
        assert untouched
    else:  # documented gap: Landlock cannot carve .git out of a writable root
        assert result.exit_code == 0, result.stderr
        assert not untouched


async def test_ws_missing_git_cannot_be_created(backend: str, dirs: Dirs) -> None:
    result = await run(sh("mkdir .git && echo evil > .git/config"), dirs.ws, WS)
    if mounts_protect(backend):
        assert result.exit_code != 0
        # The /dev/null mount points bwrap created are removed again afterwards.
        assert sorted(os.listdir(dirs.ws)) == []
    else:  # gap
        assert result.exit_code == 0
        assert (dirs.ws / ".git/config").read_text() == "evil\n"


async def test_ws_codex_dir_is_read_only(backend: str, dirs: Dirs) -> None:
    (dirs.ws / ".codex").mkdir()
    result = await run(sh("echo x > .codex/config.toml"), dirs.ws, WS)
    assert (result.exit_code != 0) == mounts_protect(backend)
    assert (dirs.ws / ".codex/config.toml").exists() != mounts_protect(backend)


async def test_ws_gitdir_target_is_read_only(backend: str, dirs: Dirs) -> None:
    """A worktree's `.git` file points into another writable root; that target is protected."""
    repo = dirs.base / "repo"
    gitdata = repo / "gitdata"
    gitdata.mkdir(parents=True)
    (gitdata / "HEAD").write_text("ref: refs/heads/main\n")
    (dirs.ws / ".git").write_text(f"gitdir: {gitdata}\n")
    policy = WorkspaceWrite(writable_roots=(repo,))
    result = await run(
        sh(f"echo evil > '{gitdata}/HEAD'; echo ok > '{repo}/other'"), dirs.ws, policy
    )
    assert (repo / "other").read_text() == "ok\n"  # the rest of the root is writable
    if mounts_protect(backend):
        assert "evil" not in (gitdata / "HEAD").read_text()
        assert result.exit_code == 0  # the last command (the allowed write) succeeded
        overwrite = await run(sh("echo 'gitdir: /elsewhere' > .git"), dirs.ws, policy)
        assert overwrite.exit_code != 0
        assert (dirs.ws / ".git").read_text() == f"gitdir: {gitdata}\n"
    else:
        assert (gitdata / "HEAD").read_text() == "evil\n"  # gap


async def test_ws_symlinked_git_target_is_read_only(backend: str, dirs: Dirs) -> None:
    real = dirs.base / "realgit"
    real.mkdir()
    (real / "config").write_text("[core]\n")
    (dirs.ws / ".git").symlink_to(real)
    policy = WorkspaceWrite(writable_roots=(dirs.base,))  # the target lies in a writable root
    result = await run(sh("echo evil >> .git/config"), dirs.ws, policy)
    if mounts_protect(backend):
        assert result.exit_code != 0
        assert (real / "config").read_text() == "[core]\n"
    else:
        assert (real / "config").read_text().endswith("evil\n")  # gap


@pytest.mark.parametrize("policy", [ReadOnly(), WS], ids=["ro", "ws"])
async def test_symlink_escape_denied(backend: str, dirs: Dirs, policy: object) -> None:
    victim = dirs.outside / "victim.txt"
    victim.write_text("safe\n")
    (dirs.ws / "file-link").symlink_to(victim)
    (dirs.ws / "dir-link").symlink_to(dirs.outside)
    result = await run(
        sh(
            "echo pwned > file-link; r1=$?; echo pwned > dir-link/new; r2=$?; "
            "[ $r1 -ne 0 ] && [ $r2 -ne 0 ]"
        ),
        dirs.ws,
        policy,  # type: ignore[arg-type]
    )
    assert result.exit_code == 0, result.stdout + result.stderr  # both writes failed
    assert victim.read_text() == "safe\n"
    assert not (dirs.outside / "new").exists()


async def test_child_and_grandchild_escapes_denied(backend: str, dirs: Dirs) -> None:
    script = (
        f"sh -c \"echo child > '{dirs.outside}/child'\"; "
        f'sh -c "sh -c \\"echo grandchild > \'{dirs.outside}/grandchild\'\\""; '
        f"sh -c \"echo inside > '{dirs.ws}/inside'\""
    )
    result = await run(sh(script), dirs.ws, WS)
    assert result.exit_code == 0  # the last (allowed) write succeeded
    assert (dirs.ws / "inside").read_text() == "inside\n"
    assert not (dirs.outside / "child").exists()
    assert not (dirs.outside / "grandchild").exists()


async def test_chmod_outside(backend: str, dirs: Dirs) -> None:
    victim = dirs.outside / "mode.txt"
    victim.write_text("x")
    victim.chmod(0o644)
    result = await run(["chmod", "600", str(victim)], dirs.ws, WS)
    mode = victim.stat().st_mode & 0o777
    if mounts_protect(backend):
        assert result.exit_code != 0 and mode == 0o644
    else:  # documented gap: Landlock does not mediate metadata; root owns the file
        assert result.exit_code == 0 and mode == 0o600


async def test_workspace_under_slash_tmp(backend: str, tmp_path: Path) -> None:
    """pytest's tmp_path lives under /tmp: the mount order must keep workspace writes real."""
    ws = tmp_path / "ws"
    ws.mkdir()
    policy = WorkspaceWrite(exclude_slash_tmp=True)
    result = await run(sh("echo kept > kept.txt"), ws, policy)
    assert result.exit_code == 0, result.stderr
    assert (ws / "kept.txt").read_text() == "kept\n"
    ro = await run(sh("cat kept.txt && echo no > denied.txt"), ws, ReadOnly())
    assert ro.exit_code != 0 and ro.stdout == "kept\n"
    assert not (ws / "denied.txt").exists()
    shutil.rmtree(ws)
