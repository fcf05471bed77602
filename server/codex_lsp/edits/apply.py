"""The only code that writes a patch to disk.

``apply_plan`` checks every path with the ``WriteGuard`` first (nothing is written if one is
refused), then writes each changed file by atomic replace (a temp file in the same directory,
renamed over the target; the target's permission bits, and its owner when we are root, are kept;
a symlinked file is written through to its real target, which the guard has checked) and deletes
removed files last, so a move never loses its content. An OS error stops at that file; the result
says exactly which files were changed before it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

import attrs

from codex_lsp.edits.guard import EditRefused, WriteGuard
from codex_lsp.edits.plan import Plan
from codex_lsp.edits.turn_diff import display_path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_DEFAULT_MODE = 0o666 & ~_umask()


@attrs.frozen
class ApplyOutcome:
    """What happened on disk. ``changed`` lists (letter, display path) in write order."""

    changed: tuple[tuple[str, str], ...]
    failed: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def failure_report(self) -> str:
        """For the model: what failed and exactly what was already changed."""
        lines = [f"Failed to apply the patch: {self.error}"]
        if self.changed:
            lines.append("These files were changed before the failure (they stay changed):")
            lines.extend(f"{letter} {path}" for letter, path in self.changed)
        else:
            lines.append("No file was changed.")
        return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path``'s content in one rename, keeping its mode (and owner when root)."""
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(21, "not a regular file", str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".codex-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else _DEFAULT_MODE)
            if st is not None and os.geteuid() == 0:
                mine = os.fstat(fd)
                if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
                    with contextlib.suppress(OSError):
                        os.fchown(fd, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _letter(plan: Plan, path: Path) -> str:
    if plan.finals[path] is None:
        return "D"
    return "A" if plan.originals[path] is None else "M"


def _same_on_disk(real: Path, text: str | None) -> bool:
    try:
        data = real.read_bytes()
    except FileNotFoundError:
        return text is None
    except OSError:
        return False
    return text is not None and data == text.encode("utf-8")


def apply_plan(plan: Plan, guard: WriteGuard, *, skip_identical: bool = False) -> ApplyOutcome:
    """Write ``plan`` to disk. Raises EditRefused (before any write) for a forbidden path.

    ``skip_identical`` leaves files alone whose disk content already is the planned one (used
    after the editor applied the edit and may have saved some files itself).
    """
    paths = plan.written_paths()
    targets = {path: guard.check(path, display_path(path, plan.cwd)) for path in paths}
    writes = [p for p in paths if plan.finals[p] is not None]
    deletes = [p for p in paths if plan.finals[p] is None]
    changed: list[tuple[str, str]] = []
    for path in writes + deletes:
        real, new, shown = targets[path], plan.finals[path], display_path(path, plan.cwd)
        if skip_identical and _same_on_disk(real, new):
            changed.append((_letter(plan, path), shown))
            continue
        try:
            if new is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # the link itself when it is one; its target stays
            else:
                write_atomic(real, new)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            return ApplyOutcome(tuple(changed), failed=shown, error=f"{shown}: {reason}")
        changed.append((_letter(plan, path), shown))
    return ApplyOutcome(tuple(changed))


__all__ = ["ApplyOutcome", "EditRefused", "apply_plan", "write_atomic"]
