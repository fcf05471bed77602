"""Progress of an `apply_patch` call while the model is still writing it.

``PatchProgress.feed(delta)`` accumulates the streamed input and, when a hunk header line
(`*** Add File:`, `*** Delete File:`, `*** Update File:`, `*** Move to:`) completes, returns the
files named so far for `item/fileChange/patchUpdated`; otherwise None. Only the new complete
lines are looked at, so a long patch costs O(its length) in total. Never used to apply anything.
"""

from __future__ import annotations

from pathlib import Path

from codex_lsp.edits.parser import ADD_FILE, DELETE_FILE, MOVE_TO, UPDATE_FILE
from codex_lsp.edits.plan import resolve
from codex_lsp.protocol.edits import (
    AddPatchChangeKind,
    DeletePatchChangeKind,
    FileUpdateChange,
    UpdatePatchChangeKind,
)

MAX_STREAMED_CHARS = 4 * 1024 * 1024  # stop reporting progress for absurdly large inputs


class PatchProgress:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._pending = ""  # the incomplete last line
        self._seen = 0
        self._changes: list[FileUpdateChange] = []

    def feed(self, delta: str) -> list[FileUpdateChange] | None:
        self._seen += len(delta)
        if self._seen > MAX_STREAMED_CHARS or "\n" not in delta:
            self._pending += delta if self._seen <= MAX_STREAMED_CHARS else ""
            return None
        text = self._pending + delta
        cut = text.rfind("\n")
        lines, self._pending = text[:cut].split("\n"), text[cut + 1 :]
        changed = False
        for raw in lines:
            changed = self._header(raw.rstrip()) or changed  # " *** x" is a context line
        return list(self._changes) if changed else None

    def _header(self, line: str) -> bool:
        if not line.startswith("*** "):
            return False
        path = lambda marker: str(resolve(self.cwd, line[len(marker) :].strip()))  # noqa: E731
        if line.startswith(ADD_FILE):
            kind: AddPatchChangeKind | DeletePatchChangeKind | UpdatePatchChangeKind
            kind = AddPatchChangeKind(type="add")
            self._changes.append(FileUpdateChange(path=path(ADD_FILE), kind=kind, diff=""))
        elif line.startswith(DELETE_FILE):
            kind = DeletePatchChangeKind(type="delete")
            self._changes.append(FileUpdateChange(path=path(DELETE_FILE), kind=kind, diff=""))
        elif line.startswith(UPDATE_FILE):
            kind = UpdatePatchChangeKind(type="update", move_path=None)
            self._changes.append(FileUpdateChange(path=path(UPDATE_FILE), kind=kind, diff=""))
        elif line.startswith(MOVE_TO) and self._changes:
            last = self._changes[-1]
            if isinstance(last.kind, UpdatePatchChangeKind):
                last.kind = UpdatePatchChangeKind(type="update", move_path=path(MOVE_TO))
        else:
            return False
        return True
