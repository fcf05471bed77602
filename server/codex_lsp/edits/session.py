"""One turn's patches, end to end: plan → item → approval → write (disk or editor) → turn diff.

``TurnEdits.apply_patch`` is what the `apply_patch` tool and the shell interception call. It
talks to the turn through a small ``EditHost`` (start/complete items, notify, ask the editor,
send `workspace/applyEdit`), so it is testable without JSON-RPC, and returns the text for the
model. Order of events for one patch:

    item/started (fileChange, inProgress)
    [item/fileChange/requestApproval → answer → serverRequest/resolved]   (the host sends resolved)
    item/completed (completed | failed | declined)
    turn/diff/updated (when files changed)

Nothing is written unless every path passes the guard and the decision (or the user) allows it.
In `workspaceEdit` mode the editor applies the edit first; only after `applied: true` does the
server make the disk agree.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs
from lsprotocol import types as lsp

from codex_lsp.edits.apply import ApplyOutcome, apply_plan
from codex_lsp.edits.approval import Apply, Ask, decide
from codex_lsp.edits.documents import BufferReader, Buffers
from codex_lsp.edits.guard import EditRefused, WriteGuard, writable_roots
from codex_lsp.edits.parser import AddFile, DeleteFile, Patch, PatchParseError, parse_patch
from codex_lsp.edits.plan import DiskReader, FileReader, Plan, PlanError, plan_patch, resolve
from codex_lsp.edits.turn_diff import TurnDiff, display_path, read_current
from codex_lsp.edits.workspace_edit import LABEL, EditCapabilities, workspace_edit
from codex_lsp.protocol.edits import (
    ITEM_FILE_CHANGE_REQUEST_APPROVAL,
    TURN_DIFF_UPDATED,
    AddPatchChangeKind,
    DeletePatchChangeKind,
    FileChangeItem,
    FileChangeRequestApprovalParams,
    FileUpdateChange,
    PatchChangeKind,
    TurnDiffUpdated,
    UpdatePatchChangeKind,
)
from codex_lsp.protocol.methods import Method
from codex_lsp.sandbox.layout import canonical
from codex_lsp.sandbox.policy import SandboxPolicy

log = logging.getLogger(__name__)

Decision = Literal["accept", "acceptForSession", "decline", "cancel"]
FileEditsMode = Literal["disk", "workspaceEdit"]
DECLINED_OUTPUT = (
    "The user declined this patch; nothing was written. Do not apply it again; continue "
    "without it or ask the user how to proceed."
)


class PatchCancelled(Exception):
    """The editor answered `cancel`: the turn must end as interrupted."""


@attrs.frozen
class EditorAnswer:
    """The editor's answer to `workspace/applyEdit` (``applied`` False also for error/timeout)."""

    applied: bool
    reason: str | None = None


class EditHost(Protocol):
    """What a patch needs from its turn and the editor connection."""

    thread_id: str
    turn_id: str

    def start_item(self, item: FileChangeItem) -> None: ...

    def complete_item(self, item: FileChangeItem) -> None: ...

    def notify(self, method: Method, payload: Any) -> None: ...

    async def ask(self, method: Method, params: Any) -> Decision:
        """Send an approval request, wait, send `serverRequest/resolved`; errors are `decline`."""
        ...

    async def apply_edit(self, label: str, edit: lsp.WorkspaceEdit) -> EditorAnswer: ...


@attrs.frozen
class EditorConnection:
    """What the editor connection offers for edits (the LSP layer builds it)."""

    mode: FileEditsMode = "disk"
    capabilities: EditCapabilities = EditCapabilities()
    position_encoding: str = "utf-16"
    buffers: Callable[[], Buffers] | None = None


@attrs.define
class EditSettings:
    """What a turn's patches obey. ``approved_paths`` is the thread's acceptForSession set."""

    cwd: Path
    approval_policy: str
    sandbox: SandboxPolicy
    approved_paths: set[Path] = attrs.Factory(set)
    mode: FileEditsMode = "disk"
    capabilities: EditCapabilities = EditCapabilities()
    position_encoding: str = "utf-16"
    # Called on the event loop for each patch in workspaceEdit mode: open documents now.
    buffers: Callable[[], Buffers] | None = None


def _kind(change_kind: str, move_path: Path | None) -> PatchChangeKind:
    if change_kind == "add":
        return AddPatchChangeKind(type="add")
    if change_kind == "delete":
        return DeletePatchChangeKind(type="delete")
    return UpdatePatchChangeKind(type="update", move_path=str(move_path) if move_path else None)


def item_changes(plan: Plan) -> list[FileUpdateChange]:
    return [
        FileUpdateChange(path=str(c.path), kind=_kind(c.kind, c.move_path), diff=c.diff)
        for c in plan.changes
    ]


def _named_changes(patch: Patch, cwd: Path) -> list[FileUpdateChange]:
    """The files a patch names, for an item whose patch did not fit (no diffs)."""
    out = []
    for hunk in patch.hunks:
        if isinstance(hunk, AddFile):
            kind: PatchChangeKind = AddPatchChangeKind(type="add")
        elif isinstance(hunk, DeleteFile):
            kind = DeletePatchChangeKind(type="delete")
        else:
            move = str(resolve(cwd, hunk.move_path)) if hunk.move_path else None
            kind = UpdatePatchChangeKind(type="update", move_path=move)
        out.append(FileUpdateChange(path=str(resolve(cwd, hunk.path)), kind=kind, diff=""))
    return out


def now_ms() -> int:
    return int(time.time() * 1000)


class TurnEdits:
    """The patches of one turn (create one per turn; it owns the turn's diff)."""

    def __init__(self, host: EditHost, settings: EditSettings) -> None:
        self.host = host
        self.settings = settings
        self.diff = TurnDiff(settings.cwd)

    # ---- entry point -------------------------------------------------------------------------

    async def apply_patch(
        self, item_id: str, text: str | Patch, *, workdir: str | None = None
    ) -> str:
        """Apply one patch; returns the model's output. Raises PatchCancelled on `cancel`."""
        settings = self.settings
        cwd = resolve(settings.cwd, workdir) if workdir else settings.cwd
        item = FileChangeItem(type="fileChange", id=item_id, changes=[], status="inProgress")
        try:
            patch = text if isinstance(text, Patch) else parse_patch(text)
        except PatchParseError as exc:
            return self._fail_unstarted(item, str(exc))
        if not cwd.is_dir():
            item.changes = _named_changes(patch, cwd)
            return self._fail_unstarted(item, f"the working directory {workdir} does not exist")
        reader, buffers = self._reader()
        try:
            plan = await asyncio.to_thread(plan_patch, patch, cwd, reader)
        except PlanError as exc:
            item.changes = _named_changes(patch, cwd)
            return self._fail_unstarted(item, str(exc))
        item.changes = item_changes(plan)
        self.host.start_item(item)
        return await self._decide_and_apply(item, patch, plan, cwd, buffers, reader)

    # ---- steps ---------------------------------------------------------------------------------

    def _reader(self) -> tuple[FileReader, Buffers]:
        settings = self.settings
        if settings.mode == "workspaceEdit" and settings.buffers is not None:
            buffers = settings.buffers()
            return BufferReader(buffers), buffers
        return DiskReader(), {}

    async def _decide_and_apply(
        self,
        item: FileChangeItem,
        patch: Patch,
        plan: Plan,
        cwd: Path,
        buffers: Buffers,
        reader: FileReader,
    ) -> str:
        settings = self.settings
        roots = writable_roots(settings.sandbox, settings.cwd)
        written = [(p, display_path(p, settings.cwd)) for p in plan.written_paths()]
        decision = decide(
            written,
            approval_policy=settings.approval_policy,
            roots=roots,
            approved=settings.approved_paths,
        )
        user_approved: Iterable[Path] = ()
        if isinstance(decision, Ask):
            answer = await self.host.ask(
                ITEM_FILE_CHANGE_REQUEST_APPROVAL,
                FileChangeRequestApprovalParams(
                    thread_id=self.host.thread_id,
                    turn_id=self.host.turn_id,
                    item_id=item.id,
                    started_at_ms=now_ms(),
                    reason=decision.reason,
                    grant_root=None,
                ),
            )
            if answer == "cancel":
                self._finish(item, "declined")
                raise PatchCancelled()
            if answer not in ("accept", "acceptForSession"):
                self._finish(item, "declined")
                return DECLINED_OUTPUT
            if answer == "acceptForSession":
                settings.approved_paths.update(canonical(p) for p, _ in written)
            user_approved = [p for p, _ in written]
            # The files may have changed while the user looked: plan again, same patch.
            reader, buffers = self._reader()
            try:
                replanned = await asyncio.to_thread(plan_patch, patch, cwd, reader)
            except PlanError as exc:
                return self._fail(
                    item,
                    f"{exc}\nThe files changed while waiting for approval; "
                    "nothing was written. Read them again and send a new patch.",
                )
            if replanned.finals != plan.finals:
                return self._fail(
                    item,
                    "The files changed while waiting for approval; nothing was "
                    "written. Read them again and send a new patch.",
                )
            plan = replanned
        elif not isinstance(decision, Apply):
            self._finish(item, "declined")
            return f"patch rejected: {decision.reason}"
        guard = WriteGuard(roots, approved=[*user_approved, *settings.approved_paths])
        if settings.mode == "workspaceEdit":
            return await self._through_editor(item, plan, guard, reader)
        return await self._to_disk(item, plan, guard)

    async def _to_disk(self, item: FileChangeItem, plan: Plan, guard: WriteGuard) -> str:
        self.diff.remember(plan.originals)
        try:
            outcome = await asyncio.to_thread(apply_plan, plan, guard)
        except EditRefused as exc:
            return self._fail(item, f"patch rejected: {exc}")
        return await self._done(item, plan, outcome)

    async def _through_editor(
        self, item: FileChangeItem, plan: Plan, guard: WriteGuard, reader: FileReader
    ) -> str:
        settings = self.settings
        try:
            for path in plan.written_paths():  # refuse before the editor sees anything
                guard.check(path, display_path(path, plan.cwd))
        except EditRefused as exc:
            return self._fail(item, f"patch rejected: {exc}")
        versions = reader.versions if isinstance(reader, BufferReader) else {}
        editor_edit = workspace_edit(
            plan, settings.capabilities, versions, settings.position_encoding
        )
        answer = await self.host.apply_edit(LABEL, editor_edit.edit)
        if not answer.applied:
            why = f": {answer.reason}" if answer.reason else ""
            return self._fail(
                item, f"The editor did not apply the patch{why}. Nothing was written."
            )
        self.diff.remember(plan.originals)
        try:
            outcome = await asyncio.to_thread(apply_plan, plan, guard, skip_identical=True)
        except EditRefused as exc:  # the filesystem changed under us since the pre-check
            return self._fail(
                item, f"The editor applied the patch but the disk was not updated: {exc}"
            )
        return await self._done(item, plan, outcome)

    # ---- endings ---------------------------------------------------------------------------------

    async def _done(self, item: FileChangeItem, plan: Plan, outcome: ApplyOutcome) -> str:
        self._finish(item, "completed" if outcome.ok else "failed")
        if outcome.changed:  # after item/completed, and off the event loop
            diff = await asyncio.to_thread(self.diff.render, read_current)
            self.host.notify(
                TURN_DIFF_UPDATED, TurnDiffUpdated(self.host.thread_id, self.host.turn_id, diff)
            )
        return plan.summary() if outcome.ok else outcome.failure_report()

    def _finish(self, item: FileChangeItem, status: Any) -> None:
        item.status = status
        self.host.complete_item(item)

    def _fail(self, item: FileChangeItem, message: str) -> str:
        self._finish(item, "failed")
        return message if message.endswith("\n") else message + "\n"

    def _fail_unstarted(self, item: FileChangeItem, message: str) -> str:
        self.host.start_item(item)
        return self._fail(item, message)
