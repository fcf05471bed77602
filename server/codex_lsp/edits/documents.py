"""Open editor documents as a file reader: a patch applies to what the user sees.

The LSP layer keeps the documents the editor synced (`didOpen`/`didChange`/`didClose`, in pygls'
workspace). ``snapshot_documents`` copies path → (text, version) once per patch, on the event
loop; ``BufferReader`` then answers reads from that snapshot (falling back to the disk) and
remembers which documents it used, so the `WorkspaceEdit` can carry their versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pygls.uris import to_fs_path

from codex_lsp.edits.plan import DiskReader, FileReader

Buffers = Mapping[Path, tuple[str, int | None]]


def snapshot_documents(documents: Iterable[Any]) -> dict[Path, tuple[str, int | None]]:
    """path → (text, version) of open `file:` documents (pygls TextDocument-like objects)."""
    out: dict[Path, tuple[str, int | None]] = {}
    for doc in documents:
        uri = getattr(doc, "uri", "")
        if not uri.startswith("file:"):
            continue
        fs_path = to_fs_path(uri)
        if fs_path:
            out[Path(fs_path)] = (doc.source, getattr(doc, "version", None))
    return out


class BufferReader:
    """Reads open documents' unsaved text, else the disk."""

    def __init__(self, buffers: Buffers, fallback: FileReader | None = None) -> None:
        self._buffers = buffers
        self._fallback = fallback or DiskReader()
        self.versions: dict[Path, int] = {}

    def read(self, path: Path) -> str | None:
        buffered = self._buffers.get(path)
        if buffered is None:
            return self._fallback.read(path)
        text, version = buffered
        if version is not None:
            self.versions[path] = version
        return text
