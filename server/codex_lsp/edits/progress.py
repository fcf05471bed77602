"""Progress of an `apply_patch` call while the model is still writing it.

``PatchProgress.feed(delta)`` accumulates the streamed input and, when the files it names change
(a new hunk header completed), returns the changes so far for `item/fileChange/patchUpdated`;
otherwise None. Parsing is upstream's streaming mode: never used to apply anything.
"""

from __future__ import annotations

from pathlib import Path

from codex_lsp.edits.parser import AddFile, DeleteFile, PatchParseError, parse_patch
from codex_lsp.edits.plan import resolve
from codex_lsp.protocol.edits import (
    AddPatchChangeKind,
    DeletePatchChangeKind,
    FileUpdateChange,
    PatchChangeKind,
    UpdatePatchChangeKind,
)

MAX_STREAMED_CHARS = 4 * 1024 * 1024  # stop reporting progress for absurdly large inputs


class PatchProgress:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.text = ""
        self._last: list[tuple[str, str]] = []

    def feed(self, delta: str) -> list[FileUpdateChange] | None:
        if len(self.text) > MAX_STREAMED_CHARS:
            return None
        self.text += delta
        if "\n" not in delta:  # a header only completes at a line end
            return None
        complete = self.text[: self.text.rfind("\n") + 1]
        try:
            patch = parse_patch(complete, streaming=True)
        except PatchParseError:
            return None
        changes: list[FileUpdateChange] = []
        for hunk in patch.hunks:
            kind: PatchChangeKind
            if isinstance(hunk, AddFile):
                kind = AddPatchChangeKind(type="add")
            elif isinstance(hunk, DeleteFile):
                kind = DeletePatchChangeKind(type="delete")
            else:
                move = str(resolve(self.cwd, hunk.move_path)) if hunk.move_path else None
                kind = UpdatePatchChangeKind(type="update", move_path=move)
            changes.append(
                FileUpdateChange(path=str(resolve(self.cwd, hunk.path)), kind=kind, diff="")
            )
        key: list[tuple[str, str]] = [(c.path, c.kind.type) for c in changes]
        if key == self._last:
            return None
        self._last = key
        return changes
