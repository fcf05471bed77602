"""The unified diff of everything a turn's patches changed, relative to the turn's start.

``TurnDiff`` remembers the content each path had the first time a patch of the turn touched it
(its baseline) and renders, on demand, a git-style diff of baseline → current for every such path
(`diff --git`, `new file mode` / `deleted file mode`, `--- /dev/null`, `\\ No newline at end of
file`), so `git apply` accepts it. Paths are shown relative to the thread's cwd when inside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from codex_lsp.edits.linediff import unified_hunks

NO_NEWLINE = "\\ No newline at end of file"


def _lines(text: str) -> list[str]:
    """Lines with their LF (CR kept inside), the last one possibly without LF."""
    if not text:
        return []
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix().lstrip("/")


def file_diff(name: str, old: str | None, new: str | None, *, context: int = 3) -> str:
    """A git-style diff of one file; empty when nothing changed."""
    if old == new:
        return ""
    header = [f"diff --git a/{name} b/{name}"]
    if old is None:
        header.append("new file mode 100644")
    elif new is None:
        header.append("deleted file mode 100644")
    old_lines, new_lines = _lines(old or ""), _lines(new or "")
    body = list(unified_hunks(old_lines, new_lines, context))
    if not body:  # e.g. an empty file added
        return "\n".join(header) + "\n"
    out = header[:]
    out.append("--- /dev/null" if old is None else f"--- a/{name}")
    out.append("+++ /dev/null" if new is None else f"+++ b/{name}")
    for line in body:
        if line.endswith("\n"):
            out.append(line[:-1])
        elif line.startswith("@@"):
            out.append(line)
        else:
            out.append(line)
            out.append(NO_NEWLINE)
    return "\n".join(out) + "\n"


class TurnDiff:
    """Baselines of the paths a turn's patches touched; renders the turn's diff."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._baseline: dict[Path, str | None] = {}

    def remember(self, originals: dict[Path, str | None]) -> None:
        """Record baselines for paths not yet seen this turn (call before writing)."""
        for path, content in originals.items():
            self._baseline.setdefault(path, content)

    def paths(self) -> Iterable[Path]:
        return self._baseline.keys()

    def render(self, current: Callable[[Path], str | None]) -> str:
        """The diff of every touched path from its baseline to ``current(path)``."""
        parts = []
        for path in sorted(self._baseline, key=lambda p: display_path(p, self.cwd)):
            parts.append(
                file_diff(display_path(path, self.cwd), self._baseline[path], current(path))
            )
        return "".join(parts)


def read_current(path: Path) -> str | None:
    """The file's text now (None when absent or unreadable as UTF-8)."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None if not os.path.lexists(path) else ""
