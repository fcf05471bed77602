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
# Nested repositories (ws/sub/.git) are found by a bounded walk of cwd and configured roots.
# It runs before every workspace-write command, so it is bounded in depth and in entries.
NESTED_GIT_SCAN_LIMIT = 20_000  # directory entries
NESTED_GIT_SCAN_DEPTH = 4  # directories up to 4 levels below the root are searched
_SCAN_SKIP = frozenset({".git", "node_modules", ".venv", "__pycache__"})


@attrs.frozen
class WritableRoot:
    """A canonical directory the command may write, minus its protected paths."""

    path: Path
    # Existing protected paths (canonical), bound read-only.
    read_only_paths: tuple[Path, ...] = ()
    # Missing protected paths: creation is blocked by binding /dev/null over them.
    blocked_paths: tuple[Path, ...] = ()
    # Directories between this root and a protected path or a nested root, bound onto
    # themselves so they become mount points: a mount point cannot be renamed, so nobody can
    # move the workspace aside and put a look-alike with a hooked .git in its place.
    pinned_paths: tuple[Path, ...] = ()


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


def _nested_git(
    root: Path, limit: int = NESTED_GIT_SCAN_LIMIT, depth: int = NESTED_GIT_SCAN_DEPTH
) -> list[Path]:
    """`.git` entries below ``root`` (not ``root/.git`` itself), breadth first, in directories at
    most ``depth`` levels down, looking at most at ``limit`` entries (a warning says when the
    scan stopped early)."""
    found: list[Path] = []
    pending = [(root, 0)]
    seen = 0
    while pending:
        directory, level = pending.pop(0)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > limit:
                log.warning(
                    "sandbox: stopped looking for nested .git under %s after %d entries",
                    root,
                    limit,
                )
                return found
            if entry.name == ".git" and directory != root:
                found.append(Path(entry.path))
            elif (
                level < depth
                and entry.name not in _SCAN_SKIP
                and entry.is_dir(follow_symlinks=False)
            ):
                pending.append((Path(entry.path), level + 1))
    return found


def _ancestors_below(root: Path, path: Path) -> list[Path]:
    """Directories strictly between ``root`` and ``path``, parents first."""
    if root not in path.parents:
        return []
    return [parent for parent in reversed(path.parents) if root in parent.parents]


def _protect(root: Path, *, block_missing: bool, nested: tuple[Path, ...] = ()) -> WritableRoot:
    """``nested`` are writable roots inside this one (their ancestors get pinned too)."""
    read_only: list[Path] = []
    blocked: list[Path] = []
    if block_missing:  # cwd and configured roots, not the /tmp scratch space
        for git in _nested_git(root):
            if git.is_symlink():
                continue
            read_only.append(git)
            if git.is_file():
                target = _gitdir_target(git)
                if target is not None:
                    read_only.append(target)
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
    pins: dict[Path, None] = {}
    for path in (*read_only, *blocked, *nested):
        pins.update(dict.fromkeys(_ancestors_below(root, path)))
    return WritableRoot(
        path=root,
        read_only_paths=tuple(dict.fromkeys(read_only)),
        blocked_paths=tuple(blocked),
        pinned_paths=tuple(sorted(pins, key=lambda p: (len(p.parts), str(p)))),
    )


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
    roots = tuple(
        _protect(
            root,
            block_missing=not seen[root],
            nested=tuple(other for other in ordered if root in other.parents),
        )
        for root in ordered
    )
    return FilesystemLayout(
        writable_roots=roots,
        host_tmp_writable=canonical(SLASH_TMP) in seen,
        network_access=policy.network_access,
    )
