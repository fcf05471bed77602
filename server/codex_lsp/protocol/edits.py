"""File edits: the `fileChange` item, its approval, the turn diff and patch progress."""

from __future__ import annotations

from typing import Literal

import attrs

from codex_lsp.protocol.methods import define
from codex_lsp.protocol.wire import field

FileEditsMode = Literal["disk", "workspaceEdit"]


@attrs.define
class AddPatchChangeKind:
    """The file is created (or overwritten)."""

    type: Literal["add"] = field("Discriminator.")


@attrs.define
class DeletePatchChangeKind:
    """The file is deleted."""

    type: Literal["delete"] = field("Discriminator.")


@attrs.define
class UpdatePatchChangeKind:
    """The file is changed, and moved when `move_path` is set."""

    type: Literal["update"] = field("Discriminator.")
    move_path: str | None = field(
        "Absolute destination path of a move (snake_case on the wire, as upstream).",
        default=None,
        wire="move_path",
    )


PatchChangeKind = AddPatchChangeKind | DeletePatchChangeKind | UpdatePatchChangeKind


@attrs.define
class FileUpdateChange:
    """One file of a patch."""

    path: str = field("Absolute path of the file (its source path for a move).")
    kind: PatchChangeKind = field("Add, delete, or update (with an optional move).")
    diff: str = field(
        "For `add` the new content, for `delete` the old content, for `update` a unified diff "
        "(hunks only, one line of context, as upstream)."
    )


PatchApplyStatus = Literal["inProgress", "completed", "failed", "declined"]


@attrs.define
class FileChangeItem:
    """A patch the model asked to apply (the `apply_patch` tool or a shell form of it)."""

    type: Literal["fileChange"] = field("Discriminator.")
    id: str = field("Item id.")
    changes: list[FileUpdateChange] = field("The files the patch changes, in patch order.")
    status: PatchApplyStatus = field(
        "`inProgress` until applied; then `completed`, `failed` (nothing or only part written: "
        "see the model's output) or `declined` (refused by the user or the policy; nothing written)."
    )


@attrs.define
class FileChangeRequestApprovalParams:
    """The agent wants to apply a patch and the approval policy says to ask."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item_id: str = field(
        "The `fileChange` item (sent in `item/started` just before) with the changes."
    )
    started_at_ms: int = field("When the request was made, unix milliseconds.")
    reason: str | None = field(
        "Why approval is asked (e.g. the patch writes outside the writable roots)."
    )
    grant_root: str | None = field(
        "[UNSTABLE upstream] A root the agent asks to write under for the session; always null here.",
        default=None,
    )


@attrs.define
class FileChangeRequestApprovalResponse:
    """The editor's decision."""

    decision: Literal["accept", "acceptForSession", "decline", "cancel"] = field(
        "`accept` applies the patch; `acceptForSession` also approves later patches to the same "
        "files for the rest of the thread; `decline` writes nothing and tells the model; `cancel` "
        "writes nothing and interrupts the turn."
    )


ITEM_FILE_CHANGE_REQUEST_APPROVAL = define(
    "item/fileChange/requestApproval",
    direction="server->client",
    kind="request",
    group="edits",
    params=FileChangeRequestApprovalParams,
    result=FileChangeRequestApprovalResponse,
    doc="Ask the editor whether to apply a patch. Followed by `serverRequest/resolved`.",
)


@attrs.define
class TurnDiffUpdated:
    """The turn's aggregated diff changed."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    diff: str = field(
        "Git-style unified diff of every file the turn's patches touched, from the file's content "
        "when the turn first touched it to its content now; paths relative to the thread's cwd."
    )


TURN_DIFF_UPDATED = define(
    "turn/diff/updated",
    direction="server->client",
    kind="notification",
    group="edits",
    params=TurnDiffUpdated,
    doc="Sent after each `fileChange` item that changed files completes.",
)


@attrs.define
class FileChangePatchUpdated:
    """Progress of a patch the model is still writing."""

    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")
    item_id: str = field("The `fileChange` item.")
    changes: list[FileUpdateChange] = field(
        "The files parsed so far (diff empty until the patch is complete)."
    )


ITEM_FILE_CHANGE_PATCH_UPDATED = define(
    "item/fileChange/patchUpdated",
    direction="server->client",
    kind="notification",
    group="edits",
    params=FileChangePatchUpdated,
    doc="While a freeform `apply_patch` call streams: the files it names so far.",
)
