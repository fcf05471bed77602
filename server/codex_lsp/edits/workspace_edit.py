"""Turn a plan into an LSP `WorkspaceEdit` the editor applies as one labelled undo step.

What the client can express decides the shape (its `workspace.workspaceEdit` capabilities):

- `documentChanges` with `create`/`rename`/`delete` resource operations: everything is one
  ordered `documentChanges` list: `TextDocumentEdit`s (versioned for documents the editor has open
  and synced, `version: null` otherwise), `CreateFile` + an insert for new files, `RenameFile` +
  edits for moves, `DeleteFile` for deletions.
- `documentChanges` without (some) resource operations: `TextDocumentEdit`s for files that exist
  before and after; the rest is left to the server to write on disk (``disk_only``).
- neither: the plain `changes` map for files that exist before and after; the rest ``disk_only``.

Text edits are line-granular (a line diff of old → new), so editors keep cursors, folds and marks
on untouched lines. Positions count UTF-16 code units, as LSP requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs
from lsprotocol import types as lsp

from codex_lsp.edits.linediff import opcodes
from codex_lsp.edits.plan import Plan

LABEL = "Codex: apply patch"


@attrs.frozen
class EditCapabilities:
    """The parts of the client's `workspace.workspaceEdit` capability we use."""

    document_changes: bool = False
    create: bool = False
    rename: bool = False
    delete: bool = False

    @classmethod
    def from_client(cls, caps: lsp.ClientCapabilities | None) -> EditCapabilities:
        edit = caps.workspace.workspace_edit if caps and caps.workspace else None
        if edit is None:
            return cls()
        ops = {str(getattr(op, "value", op)) for op in (edit.resource_operations or [])}
        return cls(bool(edit.document_changes), "create" in ops, "rename" in ops, "delete" in ops)

    @property
    def resource_operations(self) -> bool:
        return self.document_changes and self.create and self.rename and self.delete


@attrs.frozen
class EditorEdit:
    """The edit for the editor, and the paths it cannot express (the server writes those)."""

    edit: lsp.WorkspaceEdit
    disk_only: tuple[Path, ...]


def char_len(text: str, encoding: str = "utf-16") -> int:
    """Length of ``text`` in the negotiated position encoding's code units."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _keep_ends(text: str) -> list[str]:
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def text_edits(old: str, new: str, encoding: str = "utf-16") -> list[lsp.TextEdit]:
    """Non-overlapping line-granular edits turning ``old`` into ``new``."""
    old_lines, new_lines = _keep_ends(old), _keep_ends(new)

    def position(index: int) -> lsp.Position:
        if index < len(old_lines) or not old_lines or old_lines[-1].endswith("\n"):
            return lsp.Position(line=index, character=0)
        last = old_lines[-1]  # past a last line without LF: its end
        return lsp.Position(line=len(old_lines) - 1, character=char_len(last, encoding))

    edits = []
    for tag, i1, i2, j1, j2 in opcodes(old_lines, new_lines):
        if tag == "equal":
            continue
        edits.append(
            lsp.TextEdit(
                range=lsp.Range(start=position(i1), end=position(i2)),
                new_text="".join(new_lines[j1:j2]),
            )
        )
    return edits


def _doc_edit(uri: str, version: int | None, edits: list[lsp.TextEdit]) -> lsp.TextDocumentEdit:
    return lsp.TextDocumentEdit(
        text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
        edits=list(edits),
    )


def _renames(plan: Plan) -> dict[Path, Path]:
    """Moves that can be a RenameFile: source and destination touched by that hunk only."""
    touched: dict[Path, int] = {}
    for change in plan.changes:
        for path in {change.path, change.target}:
            touched[path] = touched.get(path, 0) + 1
    return {
        c.path: c.move_path
        for c in plan.changes
        if c.move_path is not None
        and c.move_path != c.path
        and touched[c.path] == 1
        and touched[c.move_path] == 1
    }


def workspace_edit(
    plan: Plan,
    caps: EditCapabilities,
    versions: Mapping[Path, int] | None = None,
    encoding: str = "utf-16",
) -> EditorEdit:
    """The `WorkspaceEdit` for ``plan``; ``versions`` holds synced open documents' versions."""
    versions = versions or {}
    changed = plan.written_paths()
    if caps.resource_operations:
        return EditorEdit(_full_document_changes(plan, changed, versions, encoding), ())
    in_place = [p for p in changed if plan.originals[p] is not None and plan.finals[p] is not None]
    disk_only = tuple(p for p in changed if p not in in_place)
    if caps.document_changes:
        doc_changes: list = [
            _doc_edit(
                p.as_uri(),
                versions.get(p),
                text_edits(plan.originals[p] or "", plan.finals[p] or "", encoding),
            )
            for p in in_place
        ]
        return EditorEdit(lsp.WorkspaceEdit(document_changes=doc_changes), disk_only)
    changes = {
        p.as_uri(): text_edits(plan.originals[p] or "", plan.finals[p] or "", encoding)
        for p in in_place
    }
    return EditorEdit(lsp.WorkspaceEdit(changes=changes), disk_only)


def _full_document_changes(
    plan: Plan, changed: list[Path], versions: Mapping[Path, int], encoding: str
) -> lsp.WorkspaceEdit:
    renames = _renames(plan)
    rename_targets = set(renames.values())
    ops: list = []
    for path in changed:
        if path in rename_targets:
            continue  # emitted with its source
        old, new = plan.originals[path], plan.finals[path]
        uri = path.as_uri()
        if path in renames:
            dest = renames[path]
            ops.append(
                lsp.RenameFile(
                    old_uri=uri,
                    new_uri=dest.as_uri(),
                    options=lsp.RenameFileOptions(overwrite=True),
                )
            )
            edits = text_edits(old or "", plan.finals[dest] or "", encoding)
            if edits:
                ops.append(_doc_edit(dest.as_uri(), None, edits))
        elif new is None:
            ops.append(
                lsp.DeleteFile(uri=uri, options=lsp.DeleteFileOptions(ignore_if_not_exists=True))
            )
        elif old is None:
            ops.append(lsp.CreateFile(uri=uri, options=lsp.CreateFileOptions(overwrite=True)))
            if new:
                ops.append(
                    _doc_edit(
                        uri,
                        None,
                        [
                            lsp.TextEdit(
                                range=lsp.Range(
                                    start=lsp.Position(line=0, character=0),
                                    end=lsp.Position(line=0, character=0),
                                ),
                                new_text=new,
                            )
                        ],
                    )
                )
        else:
            ops.append(_doc_edit(uri, versions.get(path), text_edits(old, new, encoding)))
    return lsp.WorkspaceEdit(document_changes=ops)
