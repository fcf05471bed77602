"""Open documents as a file reader: unsaved text wins, versions are remembered."""

from __future__ import annotations

from pathlib import Path

from pygls.workspace.text_document import TextDocument

from codex_lsp.edits.documents import BufferReader, snapshot_documents
from codex_lsp.edits.parser import parse_patch
from codex_lsp.edits.plan import plan_patch


def test_snapshot_and_reader(tmp_path: Path) -> None:
    on_disk = tmp_path / "a.py"
    on_disk.write_text("saved\n")
    (tmp_path / "b.py").write_text("only on disk\n")
    docs = [
        TextDocument(on_disk.as_uri(), "unsaved\n", version=7),
        TextDocument("untitled:Untitled-1", "scratch", version=1),
    ]
    buffers = snapshot_documents(docs)
    assert buffers == {on_disk: ("unsaved\n", 7)}
    reader = BufferReader(buffers)
    patch = parse_patch(
        "*** Begin Patch\n*** Update File: a.py\n@@\n-unsaved\n+patched\n"
        "*** Update File: b.py\n@@\n-only on disk\n+changed\n*** End Patch"
    )
    plan = plan_patch(patch, tmp_path, reader)
    assert plan.finals[on_disk] == "patched\n"
    assert reader.versions == {on_disk: 7}
    assert on_disk.read_text() == "saved\n"  # planning writes nothing
