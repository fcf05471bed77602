"""Turn parsed hunks into per-file changes, without writing anything.

``plan_patch(patch, cwd, reader)`` resolves every path against ``cwd`` (lexically: ``..`` is
folded, symlinks are left to the write guard in ``apply.py``), reads each file through ``reader``
and computes its new content and a unified diff. Hunks apply in order, each seeing what the
earlier ones produced (add then update the same file works). Any hunk that cannot apply fails the
whole plan, so nothing is written for a patch that does not fit.

The reader is the seam for open editor buffers: ``DiskReader`` reads the disk; the server passes a
reader that answers from the editor's unsaved text for synced documents.

Semantics follow upstream's apply-patch crate: Add overwrites, Move overwrites its destination,
Update and Delete need an existing file, a missing final newline is added, context is found by
``seek_sequence``. Two deliberate differences: a file whose every line ends in CRLF keeps CRLF,
and a chunk with an `@@ context` header but no old lines inserts right after that context line
(upstream appends it at the end of the file).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import attrs

from codex_lsp.edits.linediff import Opcode, hunks_from_opcodes, opcodes, unified_hunks
from codex_lsp.edits.parser import AddFile, DeleteFile, Patch, UpdateChunk, UpdateFile, split_lines
from codex_lsp.edits.seek import seek_sequence

ChangeKind = Literal["add", "delete", "update"]


class PlanError(ValueError):
    """The patch does not fit the files (missing file, context not found, not text)."""


class FileReader(Protocol):
    def read(self, path: Path) -> str | None:
        """The file's text, or None when it does not exist. Raise PlanError if unreadable."""
        ...


class DiskReader:
    """Reads UTF-8 text from disk, keeping line endings as they are."""

    def read(self, path: Path) -> str | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise PlanError(f"{path} is a directory, not a file") from None
        except NotADirectoryError:
            return None
        except OSError as exc:
            raise PlanError(f"Failed to read {path}: {exc.strerror or exc}") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise PlanError(
                f"{path} is not UTF-8 text; apply_patch edits text files only"
            ) from None


@attrs.frozen
class FileChange:
    """One hunk's effect. ``diff`` is what the fileChange item shows: the content for add and
    delete, a unified diff (hunks only, as upstream) for update."""

    path: Path
    display_path: str
    kind: ChangeKind
    move_path: Path | None
    old_content: str | None
    new_content: str | None
    diff: str

    @property
    def target(self) -> Path:
        return self.move_path or self.path


@attrs.frozen
class Plan:
    """Every change of a patch, plus the before/after content of each touched path."""

    cwd: Path
    changes: tuple[FileChange, ...]
    # First-seen content of each touched path (None: did not exist), in first-touch order.
    originals: dict[Path, str | None]
    # Content after the whole patch (None: absent afterwards), same keys and order.
    finals: dict[Path, str | None]

    def written_paths(self) -> list[Path]:
        """Paths whose content or existence the patch changes."""
        return [p for p, new in self.finals.items() if new != self.originals[p]]

    def touched_paths(self) -> list[Path]:
        return list(self.finals)

    def summary(self) -> str:
        """The tool output on success, in upstream's words."""
        lines = ["Success. Updated the following files:"]
        for change in self.changes:
            letter = {"add": "A", "delete": "D", "update": "M"}[change.kind]
            lines.append(f"{letter} {change.display_path}")
        return "\n".join(lines) + "\n"


def resolve(cwd: Path, raw: str) -> Path:
    """``raw`` against ``cwd``, with ``.``/``..`` folded lexically (no symlinks followed)."""
    return Path(os.path.normpath(cwd / raw))


def plan_patch(patch: Patch, cwd: Path, reader: FileReader | None = None) -> Plan:
    if not patch.hunks:
        raise PlanError("No files were modified.")
    source = reader or DiskReader()
    originals: dict[Path, str | None] = {}
    current: dict[Path, str | None] = {}

    def read(path: Path) -> str | None:
        if path not in current:
            content = source.read(path)
            originals[path] = content
            current[path] = content
        return current[path]

    changes: list[FileChange] = []
    for hunk in patch.hunks:
        path = resolve(cwd, hunk.path)
        if isinstance(hunk, AddFile):
            old = read(path)
            current[path] = hunk.contents
            changes.append(
                FileChange(path, hunk.path, "add", None, old, hunk.contents, hunk.contents)
            )
        elif isinstance(hunk, DeleteFile):
            old = read(path)
            if old is None:
                raise PlanError(f"Failed to delete {hunk.path}: the file does not exist")
            current[path] = None
            changes.append(FileChange(path, hunk.path, "delete", None, old, None, old))
        else:
            changes.append(_plan_update(hunk, path, cwd, read, current))
    return Plan(cwd=cwd, changes=tuple(changes), originals=originals, finals=dict(current))


def _plan_update(
    hunk: UpdateFile,
    path: Path,
    cwd: Path,
    read: Callable[[Path], str | None],
    current: dict[Path, str | None],
) -> FileChange:
    old = read(path)
    if old is None:
        raise PlanError(f"Failed to read file to update {hunk.path}: the file does not exist")
    new, diff = apply_chunks(old, hunk.chunks, hunk.path)
    move_path = resolve(cwd, hunk.move_path) if hunk.move_path else None
    display = hunk.path
    if move_path is not None and move_path != path:
        read(move_path)  # remember what the destination held, for the turn diff
        current[path] = None
        current[move_path] = new
        display = hunk.move_path or hunk.path
    else:
        current[path] = new
    return FileChange(path, display, "update", move_path, old, new, diff)


def line_ending(text: str) -> str:
    """CRLF when every newline of ``text`` is part of a CRLF, else LF."""
    newlines = text.count("\n")
    return "\r\n" if newlines and text.count("\r\n") == newlines else "\n"


def apply_chunks(
    original: str, chunks: tuple[UpdateChunk, ...], display_path: str
) -> tuple[str, str]:
    """The new text of a file after its update chunks (a final newline always present), and
    the item diff (computed from the replacements, so its cost follows the patch, not the file)."""
    eol = line_ending(original)
    lines = original.split(eol)
    if lines and lines[-1] == "":
        lines.pop()
    replacements: list[tuple[int, int, tuple[str, ...]]] = []
    index = 0
    for chunk in chunks:
        if chunk.context is not None:
            found = seek_sequence(lines, [chunk.context], index)
            if found is None:
                raise PlanError(f"Failed to find context '{chunk.context}' in {display_path}")
            index = found + 1
        if not chunk.old_lines:
            at = index if chunk.context is not None else len(lines)
            replacements.append((at, 0, chunk.new_lines))
            continue
        pattern, new_lines = chunk.old_lines, chunk.new_lines
        found = seek_sequence(lines, pattern, index, eof=chunk.is_end_of_file)
        if found is None and pattern and pattern[-1] == "":
            # A trailing empty old line stands for the file's final newline.
            pattern = pattern[:-1]
            if new_lines and new_lines[-1] == "":
                new_lines = new_lines[:-1]
            found = seek_sequence(lines, pattern, index, eof=chunk.is_end_of_file)
        if found is None:
            expected = "\n".join(chunk.old_lines)
            raise PlanError(f"Failed to find expected lines in {display_path}:\n{expected}")
        replacements.append((found, len(pattern), new_lines))
        index = found + len(pattern)
    replacements.sort(key=lambda r: r[0])
    original_lines = list(lines)
    for start, length, new_lines in reversed(replacements):
        lines[start : start + length] = new_lines
    diff = _replacement_diff(original_lines, lines, replacements)
    if not lines or lines[-1] != "":
        lines.append("")
    return eol.join(lines), diff


def _replacement_diff(
    old: list[str], new: list[str], replacements: list[tuple[int, int, tuple[str, ...]]]
) -> str:
    ops: list[Opcode] = []
    pos_a = pos_b = 0
    for start, length, new_lines in replacements:
        if start < pos_a:  # overlapping replacements: diff the whole file instead
            ops = opcodes(old, new)
            break
        ops.append(("equal", pos_a, start, pos_b, pos_b + start - pos_a))
        pos_b += start - pos_a
        for tag, i1, i2, j1, j2 in opcodes(old[start : start + length], new_lines):
            ops.append((tag, start + i1, start + i2, pos_b + j1, pos_b + j2))
        pos_a, pos_b = start + length, pos_b + len(new_lines)
    else:
        ops.append(("equal", pos_a, len(old), pos_b, len(new)))
    ops = [op for op in ops if op[1] != op[2] or op[3] != op[4]]
    return "".join(line + "\n" for line in hunks_from_opcodes(old, new, ops, 1))


def item_diff(old: str, new: str) -> str:
    """A unified diff of the hunks only (no file headers), one line of context, as upstream."""
    return "".join(line + "\n" for line in unified_hunks(split_lines(old), split_lines(new), 1))
