"""An incremental index of the files and directories under one root.

The first use walks the tree (skipping `.git` and whatever .gitignore/.ignore files — the root's,
its subdirectories', those of parent directories up to the git root — and `.git/info/exclude`
say; ignored directories are not entered; symlinks are listed, never followed). Later uses only
`stat` the known directories: a directory whose mtime changed (an entry was added, removed or
renamed) is re-listed, one whose ignore files changed is re-walked. A directory modified within
the last seconds is re-listed every time until it settles, so a change in the same clock tick as a
scan is not missed (git's "racy" rule). Blocking: use it from a worker thread.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import attrs
import pathspec

from .matcher import Candidates

log = logging.getLogger(__name__)

IGNORE_FILES = (".gitignore", ".ignore")
SKIPPED_DIRS = frozenset({".git"})
RACY_WINDOW_NS = 2_000_000_000
MAX_ENTRIES = 500_000  # a root bigger than this (a home directory...) is cut off


@attrs.frozen
class IgnoreRules:
    """One ignore file set: patterns relative to ``base`` (a directory, relative to the root,
    "" for the root; for files above the root, ``prefix`` is the root relative to them)."""

    base: str
    prefix: str
    spec: pathspec.GitIgnoreSpec

    def verdict(self, rel: str, is_dir: bool) -> bool | None:
        """True ignored, False re-included, None no rule applies."""
        local = rel[len(self.base) + 1 :] if self.base else rel
        path = self.prefix + local + ("/" if is_dir else "")
        return self.spec.check_file(path).include


def is_ignored(chain: Sequence[IgnoreRules], rel: str, is_dir: bool) -> bool:
    for rules in reversed(chain):  # the deepest file that has a say decides
        verdict = rules.verdict(rel, is_dir)
        if verdict is not None:
            return verdict
    return False


def _read_rules(
    directory: Path, names: Sequence[str]
) -> tuple[list[str], tuple[tuple[str, int], ...]]:
    lines: list[str] = []
    stamps: list[tuple[str, int]] = []
    for name in names:
        path = directory / name
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                continue
            lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
            stamps.append((str(path), info.st_mtime_ns))
        except OSError:
            continue
    return lines, tuple(stamps)


def _read_stamps(directory: Path, names: Sequence[str]) -> tuple[tuple[str, int], ...]:
    stamps = []
    for name in names:
        try:
            info = (directory / name).stat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            stamps.append((str(directory / name), info.st_mtime_ns))
    return tuple(stamps)


def _find_git_root(root: Path) -> Path | None:
    for directory in (root, *root.parents):
        if (directory / ".git").exists():
            return directory
    return None


@attrs.define
class _Dir:
    mtime_ns: int
    racy: bool
    files: list[str]
    subdirs: list[str]
    inherited: tuple[IgnoreRules, ...]  # rules from the directories above
    chain: tuple[IgnoreRules, ...]  # rules that apply inside this directory
    ignore_stamps: tuple[tuple[str, int], ...]


class FileIndex:
    """Files and directories of one root.

    The first :meth:`snapshot` walks the tree. Later ones answer from the current snapshot at
    once and, when it was last checked more than ``max_age_s`` ago, start one background check
    (stat'ing every known directory costs tens of milliseconds on big trees, too much to pay
    before every keystroke's answer): a change shows up within about a second.
    """

    def __init__(self, root: Path, *, max_age_s: float = 1.0) -> None:
        self.root = root
        self.max_age_s = max_age_s
        self._dirs: dict[str, _Dir] = {}
        self._walk_lock = threading.Lock()  # held while _dirs is walked or changed
        self._lock = threading.Lock()  # guards the published snapshot and the refresh flag
        self._published: tuple[Candidates, list[bool]] | None = None
        self._checked_at = 0.0
        self._refreshing = False
        self._outer: tuple[IgnoreRules, ...] = ()
        self._outer_stamps: tuple[tuple[str, int], ...] = ()
        self.truncated = False

    # ---- public -------------------------------------------------------------------------------

    def snapshot(self, *, fresh: bool = False) -> tuple[Candidates, list[bool]]:
        """The paths and which of them are directories. ``fresh`` checks the tree first."""
        with self._lock:
            published = self._published
            stale = time.monotonic() - self._checked_at > self.max_age_s
            start_check = published is not None and stale and not fresh and not self._refreshing
            if start_check:
                self._refreshing = True
        if published is None or fresh:
            return self.refresh()
        if start_check:
            threading.Thread(
                target=self._check_in_background, name="file-index", daemon=True
            ).start()
        return published

    def refresh(self) -> tuple[Candidates, list[bool]]:
        """Bring the index up to date with the tree (blocking) and publish it."""
        with self._walk_lock:
            changed = self._refresh()
            with self._lock:
                if changed or self._published is None:
                    self._published = self._build()
                self._checked_at = time.monotonic()
                return self._published

    # ---- walking ------------------------------------------------------------------------------

    def _check_in_background(self) -> None:
        try:
            self.refresh()
        except Exception:  # noqa: BLE001 - a failed check keeps the old snapshot
            log.exception("refreshing the file index of %s failed", self.root)
        finally:
            with self._lock:
                self._refreshing = False

    def _build(self) -> tuple[Candidates, list[bool]]:
        paths: list[str] = []
        is_dir: list[bool] = []
        for rel in sorted(self._dirs):
            entry = self._dirs[rel]
            if rel:
                paths.append(rel)
                is_dir.append(True)
            paths.extend(entry.files)
            is_dir.extend([False] * len(entry.files))
        return Candidates.build(paths), is_dir

    def _refresh(self) -> bool:
        """Re-walk or re-list what changed; True if anything did."""
        outer, stamps = self._outer_rules()
        if not self._dirs or stamps != self._outer_stamps:
            self._outer, self._outer_stamps = outer, stamps
            self._dirs.clear()
            self.truncated = False
            self._scan_tree("", self._outer)
            return True
        changed = False
        for rel in list(self._dirs):
            entry = self._dirs.get(rel)
            if entry is None:
                continue  # dropped with a parent during this loop
            try:
                mtime = os.stat(self._abs(rel)).st_mtime_ns
            except OSError:
                self._drop(rel)
                changed = True
                continue
            moved = mtime != entry.mtime_ns or entry.racy
            if self._stamps_changed(entry) or (
                moved and self._own_stamps(rel) != entry.ignore_stamps
            ):
                self._drop(rel)
                self._scan_tree(rel, entry.inherited)
                changed = True
            elif moved:
                changed |= self._relist(rel, entry)
        return changed

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else str(self.root)

    def _outer_rules(self) -> tuple[tuple[IgnoreRules, ...], tuple[tuple[str, int], ...]]:
        """Rules from the git root down to the root's parent, and `.git/info/exclude`."""
        git_root = _find_git_root(self.root)
        if git_root is None:
            return (), ()
        chain: list[IgnoreRules] = []
        all_stamps: list[tuple[str, int]] = []

        def add(directory: Path, names: Sequence[str]) -> None:
            lines, stamps = _read_rules(directory, names)
            all_stamps.extend(stamps)
            if lines:
                below = self.root.relative_to(anchor).as_posix()
                prefix = "" if below == "." else below + "/"
                chain.append(IgnoreRules("", prefix, pathspec.GitIgnoreSpec.from_lines(lines)))

        anchor = git_root
        add(git_root / ".git" / "info", ("exclude",))
        above = [p for p in reversed(self.root.parents) if p == git_root or git_root in p.parents]
        for anchor in above:
            add(anchor, IGNORE_FILES)
        return tuple(chain), tuple(all_stamps)

    def _own_rules(self, rel: str) -> tuple[IgnoreRules | None, tuple[tuple[str, int], ...]]:
        lines, stamps = _read_rules(Path(self._abs(rel)), IGNORE_FILES)
        if not lines:
            return None, stamps
        return IgnoreRules(rel, "", pathspec.GitIgnoreSpec.from_lines(lines)), stamps

    def _own_stamps(self, rel: str) -> tuple[tuple[str, int], ...]:
        return _read_stamps(Path(self._abs(rel)), IGNORE_FILES)

    def _stamps_changed(self, entry: _Dir) -> bool:
        for path, mtime in entry.ignore_stamps:
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return True
            except OSError:
                return True
        return False

    def _list(
        self, rel: str, chain: tuple[IgnoreRules, ...]
    ) -> tuple[int, list[str], list[str]] | None:
        """(mtime, files, subdirs) of one directory, ignore rules applied; None if unreadable."""
        path = self._abs(rel)
        try:
            mtime = os.stat(path).st_mtime_ns
            entries = list(os.scandir(path))
        except OSError:
            return None
        files: list[str] = []
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            child = f"{rel}/{name}" if rel else name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir and name in SKIPPED_DIRS:
                continue
            if chain and is_ignored(chain, child, is_dir):
                continue
            (subdirs if is_dir else files).append(child)
        files.sort()
        subdirs.sort()
        return mtime, files, subdirs

    def _scan_tree(self, rel: str, parent_chain: tuple[IgnoreRules, ...]) -> None:
        pending = [(rel, parent_chain)]
        count = sum(len(d.files) + 1 for d in self._dirs.values())
        while pending:
            current, inherited = pending.pop()
            own, stamps = self._own_rules(current)
            chain = (*inherited, own) if own is not None else inherited
            listed = self._list(current, chain)
            if listed is None:
                continue
            mtime, files, subdirs = listed
            self._dirs[current] = _Dir(
                mtime, self._is_racy(mtime), files, subdirs, inherited, chain, stamps
            )
            count += len(files) + 1
            if count > MAX_ENTRIES:
                self.truncated = True
                return
            pending.extend((sub, chain) for sub in reversed(subdirs))

    def _relist(self, rel: str, entry: _Dir) -> bool:
        listed = self._list(rel, entry.chain)
        if listed is None:
            self._drop(rel)
            return True
        mtime, files, subdirs = listed
        changed = files != entry.files or subdirs != entry.subdirs
        for gone in set(entry.subdirs) - set(subdirs):
            self._drop(gone)
        entry.mtime_ns, entry.racy, entry.files = mtime, self._is_racy(mtime), files
        old = set(entry.subdirs)
        entry.subdirs = subdirs
        for new in subdirs:
            if new not in old:
                self._scan_tree(new, entry.chain)
        return changed

    def _drop(self, rel: str) -> None:
        if not rel:
            self._dirs.clear()
            return
        prefix = rel + "/"
        for key in [k for k in self._dirs if k == rel or k.startswith(prefix)]:
            del self._dirs[key]

    @staticmethod
    def _is_racy(mtime_ns: int) -> bool:
        return time.time_ns() - mtime_ns < RACY_WINDOW_NS
