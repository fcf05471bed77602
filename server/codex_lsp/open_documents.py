"""Open editor documents and how this connection takes file edits (`fileEdits`).

With `initializationOptions.fileEdits = "workspaceEdit"` and the client capability
`workspace.applyEdit`, the server asks for incremental text sync; pygls' built-in
`didOpen`/`didChange`/`didClose` handlers keep each open document's text and version in
``server.workspace``, and patches read those unsaved texts (see :mod:`codex_lsp.edits.documents`).
Otherwise no document sync is advertised and patches go straight to the disk.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from codex_lsp.protocol.methods import Method

if TYPE_CHECKING:  # the edits package loads after `initialize` (start-up stays light)
    from codex_lsp.edits.session import EditorConnection, FileEditsMode
    from codex_lsp.server import CodexLanguageServer

log = logging.getLogger(__name__)

WORKSPACE_EDIT = "workspaceEdit"

# The standard LSP request of the workspaceEdit mode. Not one of our protocol methods (so not in
# the registry, the schema or the client tables): only its name is needed to send it.
WORKSPACE_APPLY_EDIT = Method(
    name="workspace/applyEdit",
    direction="server->client",
    kind="request",
    group="edits",
    params=None,
    result=None,
    doc="LSP workspace/applyEdit, labelled `Codex: apply patch`.",
)
APPLY_EDIT_TIMEOUT_S = 30.0


def register(server: CodexLanguageServer) -> None:
    """Document-sync features (before `initialize`, so the capability can be advertised)."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        """pygls' built-in handler already stored the document."""

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        """pygls' built-in handler already applied the change."""

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        """pygls' built-in handler already dropped the document."""


def requested_mode(params: types.InitializeParams) -> FileEditsMode:
    """The effective `fileEdits` mode: `workspaceEdit` only when the client can apply edits."""
    options: Any = params.initialization_options
    wanted = options.get("fileEdits") if isinstance(options, dict) else None
    if wanted != WORKSPACE_EDIT:
        return "disk"
    workspace = params.capabilities.workspace if params.capabilities else None
    if not (workspace and workspace.apply_edit):
        log.warning(
            "initializationOptions.fileEdits is workspaceEdit but the client does not advertise "
            "workspace.applyEdit; patches are written to disk directly"
        )
        return "disk"
    return "workspaceEdit"


def connection(server: CodexLanguageServer) -> EditorConnection:
    """What the turn's patches need to know about this editor connection."""
    from codex_lsp.edits.documents import snapshot_documents
    from codex_lsp.edits.session import EditorConnection
    from codex_lsp.edits.workspace_edit import EditCapabilities

    if server.file_edits_mode != WORKSPACE_EDIT:
        return EditorConnection()
    workspace = server.workspace
    encoding = str(getattr(workspace.position_encoding, "value", workspace.position_encoding))
    return EditorConnection(
        mode="workspaceEdit",
        capabilities=EditCapabilities.from_client(server.client_capabilities),
        position_encoding=encoding or "utf-16",
        buffers=lambda: snapshot_documents(list(server.workspace.text_documents.values())),
    )
