"""What the sandboxed command may write: writable roots and the protected paths inside them.

This is the one place that looks at the filesystem (realpath, .git files). Backends turn the
resulting `FilesystemLayout` into bwrap arguments, Landlock rules or a Seatbelt profile.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from codex_lsp.sandbox.policy import (
    DangerFullAccess,
    SandboxPolicy,
    WorkspaceWrite,
    policy_writable_roots,
)

log = logging.getLogger(__name__)

# Names that stay read-only inside every writable root: git metadata (hooks run outside the
# sandbox later) and Codex's own config.
PROTECTED_NAMES = (".git", ".codex")
SLASH_TMP = Path("/tmp")


@attrs.frozen
class WritableRoot:
    """A canonical directory the command may write, minus its protected paths."""

    path: Path
    # Existing protected paths (canonical), bound read-only.
    read_only_paths: tuple[Path, ...] = ()
    # Missing protected paths: creation is blocked by binding /dev/null over them.
    blocked_paths: tuple[Path, ...] = ()


@attrs.frozen
class FilesystemLayout:
    writable_roots: tuple[WritableRoot, ...]
    # True when /tmp itself is a writable root; otherwise bwrap gives a private tmpfs.
    host_tmp_writable: bool
    network_access: bool


def canonical(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def _gitdir_target(git_file: Path) -> Path | None:
    """The directory a `.git` file (worktree, submodule) points to, canonicalised."""
    try:
        first_line = git_file.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return None
    if not first_line.startswith("gitdir:"):
        return None
    target = Path(first_line.removeprefix("gitdir:").strip())
    if not target.is_absolute():
        target = git_file.parent / target
    resolved = canonical(target)
    return resolved if resolved.is_dir() else None


def _protect(root: Path, *, block_missing: bool) -> WritableRoot:
    read_only: list[Path] = []
    blocked: list[Path] = []
    for name in PROTECTED_NAMES:
        candidate = root / name
        if candidate.is_symlink():
            # A mount cannot sit on a symlink: protect what it points to (the link itself
            # stays replaceable; see protocol-docs/sandbox.md).
            target = canonical(candidate)
            if target.exists():
                read_only.append(target)
            log.info("sandbox: %s is a symlink; protecting its target only", candidate)
            continue
        if candidate.exists():
            read_only.append(candidate)
            if candidate.is_file():
                gitdir = _gitdir_target(candidate)
                if gitdir is not None:
                    read_only.append(gitdir)
        elif block_missing:
            blocked.append(candidate)
    return WritableRoot(path=root, read_only_paths=tuple(read_only), blocked_paths=tuple(blocked))


def _candidate_roots(
    policy: WorkspaceWrite, policy_cwd: Path, env: Mapping[str, str]
) -> list[tuple[Path, bool]]:
    """(root, is_scratch) pairs before canonicalisation; scratch roots are /tmp and $TMPDIR."""
    tmpdir = env.get("TMPDIR")
    scratch = {SLASH_TMP}
    if tmpdir and os.path.isabs(tmpdir):
        scratch.add(Path(os.path.normpath(tmpdir)))
    configured = {Path(os.path.normpath(policy_cwd))}
    configured.update(Path(os.path.normpath(root)) for root in policy.writable_roots)
    return [
        (root, root in scratch and root not in configured)
        for root in policy_writable_roots(policy, policy_cwd, tmpdir=tmpdir)
    ]


def compute_layout(
    policy: SandboxPolicy, policy_cwd: Path, env: Mapping[str, str] | None = None
) -> FilesystemLayout:
    """Canonical writable roots (parents first) with their protected paths.

    ``policy_cwd`` is the thread's cwd (or, for `command/exec`, the client's cwd): the root the
    policy is anchored at. A command's own working directory plays no part here.

    Missing roots are skipped (a bind source must exist). Missing protected paths are blocked
    only in cwd and configured roots, not in /tmp or $TMPDIR, which are scratch space.
    """
    if isinstance(policy, DangerFullAccess):
        raise ValueError("danger-full-access has no sandbox layout")
    if not isinstance(policy, WorkspaceWrite):
        return FilesystemLayout((), host_tmp_writable=False, network_access=policy.network_access)
    environment = os.environ if env is None else env
    seen: dict[Path, bool] = {}
    for root, is_scratch in _candidate_roots(policy, policy_cwd, environment):
        resolved = canonical(root)
        if not resolved.is_dir():
            log.info("sandbox: writable root %s does not exist; skipped", root)
            continue
        seen[resolved] = seen.get(resolved, True) and is_scratch
    ordered = sorted(seen, key=lambda path: (len(path.parts), str(path)))
    roots = tuple(_protect(root, block_missing=not seen[root]) for root in ordered)
    return FilesystemLayout(
        writable_roots=roots,
        host_tmp_writable=canonical(SLASH_TMP) in seen,
        network_access=policy.network_access,
    )
