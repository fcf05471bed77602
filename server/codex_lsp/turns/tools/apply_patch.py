"""`apply_patch`: the model's file edits, as `fileChange` items (the work is in :mod:`codex_lsp.edits`).

Offered on every turn: a freeform custom tool (Lark grammar) when the model's `/models` entry says
`apply_patch_tool_type: "freeform"`, else a function tool with one string parameter `input`. The
`shell` tool hands its patch-shaped calls (`apply_patch <<'EOF'` …) to :func:`run_shell_patch`.

All patches of one turn share one :class:`~codex_lsp.edits.session.TurnEdits` (one turn diff);
it is kept per turn, keyed by the turn's :class:`~codex_lsp.turns.items.TurnItems`.
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from codex_lsp.edits.grammar import TOOL_NAME, apply_patch_tool
from codex_lsp.edits.parser import Patch
from codex_lsp.edits.progress import PatchProgress
from codex_lsp.edits.session import EditorAnswer, EditSettings, PatchCancelled, TurnEdits
from codex_lsp.edits.shell_forms import ShellPatchError, detect
from codex_lsp.protocol.edits import (
    ITEM_FILE_CHANGE_PATCH_UPDATED,
    FileChangeItem,
    FileChangePatchUpdated,
)
from codex_lsp.protocol.methods import Method
from codex_lsp.turns.errors import TurnCancelled
from codex_lsp.turns.items import TurnItems
from codex_lsp.turns.tools.base import RespondToModel, SpecContext, ToolCall, ToolInvocation

_TURN_EDITS: weakref.WeakKeyDictionary[TurnItems, TurnEdits] = weakref.WeakKeyDictionary()


class _Host:
    """TurnEdits' view of the turn: its items, and the editor through the turn's sink."""

    def __init__(self, items: TurnItems) -> None:
        self.items = items
        self.thread_id = items.thread_id
        self.turn_id = items.turn_id

    def start_item(self, item: FileChangeItem) -> None:
        self.items.start(item)

    def complete_item(self, item: FileChangeItem) -> None:
        self.items.complete(item)

    def notify(self, method: Method, payload: Any) -> None:
        self.items.notify(method, payload)

    async def ask(self, method: Method, params: Any) -> Any:
        return await self.items.sink.ask_editor(method, params, self.thread_id)

    async def apply_edit(self, label: str, edit: lsp.WorkspaceEdit) -> EditorAnswer:
        return await self.items.sink.apply_workspace_edit(label, edit)


def turn_edits(invocation: ToolInvocation) -> TurnEdits:
    """The turn's TurnEdits (created with the thread's settings at the turn's first patch)."""
    edits = _TURN_EDITS.get(invocation.items)
    if edits is None:
        thread = invocation.thread
        connection = invocation.items.sink.file_edits()
        settings = EditSettings(
            cwd=thread.cwd,
            approval_policy=thread.approval_policy,
            sandbox=thread.sandbox_policy,
            approved_paths=thread.approved_patch_paths,
            mode=connection.mode,
            capabilities=connection.capabilities,
            position_encoding=connection.position_encoding,
            buffers=connection.buffers,
        )
        edits = TurnEdits(_Host(invocation.items), settings)
        _TURN_EDITS[invocation.items] = edits
    return edits


async def _apply(
    invocation: ToolInvocation, item_id: str, patch: str | Patch, workdir: str | None = None
) -> str:
    try:
        return await turn_edits(invocation).apply_patch(item_id, patch, workdir=workdir)
    except PatchCancelled:
        raise TurnCancelled() from None


async def intercept_shell_patch(call: ToolCall, invocation: ToolInvocation) -> str | None:
    """The output for a `shell` call that is really a patch (applied like an apply_patch call,
    never run as a command), or None for an ordinary command."""
    from codex_lsp.errors import InvalidParams
    from codex_lsp.turns.tools.shell import parse_shell_args

    try:
        args = parse_shell_args(call.arguments, invocation.thread.cwd)
    except InvalidParams:
        return None  # the shell tool reports bad arguments
    found = detect(args.command)
    if found is None:
        return None
    if isinstance(found, ShellPatchError):
        raise RespondToModel(found.message)
    workdir = args.workdir / found.workdir if found.workdir else args.workdir
    return await _apply(invocation, call.call_id, found.patch, str(workdir))


class PatchStream:
    """Forwards the progress of freeform apply_patch calls as `item/fileChange/patchUpdated`
    (item id = the call id, as the `fileChange` item that follows)."""

    def __init__(self, items: TurnItems, cwd: Path) -> None:
        self.items = items
        self.cwd = cwd
        self._calls: dict[str, tuple[str, PatchProgress]] = {}  # backend item id -> call

    def added(self, raw: dict[str, Any]) -> None:
        if raw.get("type") == "custom_tool_call" and raw.get("name") == TOOL_NAME:
            item_id, call_id = raw.get("id"), raw.get("call_id")
            if isinstance(item_id, str) and isinstance(call_id, str):
                self._calls[item_id] = (call_id, PatchProgress(self.cwd))

    def delta(self, item_id: str | None, delta: str) -> None:
        call = self._calls.get(item_id or "")
        if call is None:
            return
        call_id, progress = call
        changes = progress.feed(delta)
        if changes is not None:
            items = self.items
            items.notify(
                ITEM_FILE_CHANGE_PATCH_UPDATED,
                FileChangePatchUpdated(items.thread_id, items.turn_id, call_id, changes),
            )


class ApplyPatchTool:
    name = TOOL_NAME

    def spec(self, context: SpecContext) -> dict[str, Any]:
        info = context.model_info
        kind = info.raw.get("apply_patch_tool_type") if info is not None else None
        return apply_patch_tool(kind if isinstance(kind, str) else None)

    async def handle(self, call: ToolCall, invocation: ToolInvocation) -> str:
        text: Any = call.arguments
        if call.kind != "custom":
            try:
                arguments = json.loads(call.arguments or "{}")
            except ValueError:
                raise RespondToModel(
                    'apply_patch arguments must be JSON like {"input": "*** Begin Patch ..."}'
                ) from None
            text = arguments.get("input") if isinstance(arguments, dict) else None
            if not isinstance(text, str):
                raise RespondToModel('apply_patch needs a string "input" holding the patch')
        return await _apply(invocation, call.call_id, text)
