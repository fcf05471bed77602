"""TurnEdits over real files with a recording host standing in for the LSP connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp

from codex_lsp.edits.session import (
    DECLINED_OUTPUT,
    EditorAnswer,
    EditSettings,
    PatchCancelled,
    TurnEdits,
)
from codex_lsp.edits.workspace_edit import EditCapabilities
from codex_lsp.protocol.edits import FileChangeItem
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.wire import to_wire
from codex_lsp.sandbox.policy import ReadOnly, WorkspaceWrite

WS = WorkspaceWrite(exclude_slash_tmp=True, exclude_tmpdir_env_var=True)


class Host:
    thread_id = "thread-1"
    turn_id = "turn-1"

    def __init__(self, decision: str = "accept", applied: bool = True) -> None:
        self.events: list[tuple[str, Any]] = []
        self.decision = decision
        self.applied = applied
        self.edits: list[lsp.WorkspaceEdit] = []
        self.on_ask: Any = None

    def start_item(self, item: FileChangeItem) -> None:
        self.events.append(("item/started", to_wire(item)))

    def complete_item(self, item: FileChangeItem) -> None:
        self.events.append(("item/completed", to_wire(item)))

    def notify(self, method: Method, payload: Any) -> None:
        self.events.append((method.name, to_wire(payload)))

    async def ask(self, method: Method, params: Any) -> Any:
        self.events.append((method.name, to_wire(params)))
        if self.on_ask:
            self.on_ask()
        return self.decision

    async def apply_edit(self, label: str, edit: lsp.WorkspaceEdit) -> EditorAnswer:
        self.events.append(("workspace/applyEdit", label))
        self.edits.append(edit)
        return EditorAnswer(self.applied, None if self.applied else "the document changed")

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def patch(body: str) -> str:
    return f"*** Begin Patch\n{body}*** End Patch\n"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    (root / "a.txt").write_text("one\ntwo\n")
    return root


async def test_inside_the_roots_applies_without_asking_and_sends_the_turn_diff(work: Path) -> None:
    host = Host()
    edits = TurnEdits(host, EditSettings(cwd=work, approval_policy="on-request", sandbox=WS))
    out = await edits.apply_patch("call_1", patch("*** Update File: a.txt\n@@\n-two\n+TWO\n"))
    assert out == "Success. Updated the following files:\nM a.txt\n"
    assert host.names() == ["item/started", "item/completed", "turn/diff/updated"]
    started, completed = host.events[0][1], host.events[1][1]
    assert started["status"] == "inProgress" and completed["status"] == "completed"
    assert started["changes"] == [
        {
            "path": str(work / "a.txt"),
            "kind": {"type": "update", "move_path": None},
            "diff": "@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n",
        }
    ]
    out = await edits.apply_patch("call_2", patch("*** Add File: b.txt\n+b\n"))
    diff = host.events[-1][1]["diff"]
    assert "a/a.txt" in diff and "b/b.txt" in diff  # the whole turn so far
    assert (work / "a.txt").read_text() == "one\nTWO\n"


@pytest.mark.parametrize(
    ("decision", "status", "written"),
    [
        ("accept", "completed", True),
        ("acceptForSession", "completed", True),
        ("decline", "declined", False),
    ],
)
async def test_untrusted_asks_and_obeys(
    work: Path, decision: str, status: str, written: bool
) -> None:
    host = Host(decision)
    settings = EditSettings(cwd=work, approval_policy="untrusted", sandbox=WS)
    out = await TurnEdits(host, settings).apply_patch("c", patch("*** Add File: n.txt\n+n\n"))
    assert host.names()[:3] == ["item/started", "item/fileChange/requestApproval", "item/completed"]
    assert host.events[1][1]["itemId"] == "c"
    assert host.events[2][1]["status"] == status
    assert (work / "n.txt").exists() == written
    if not written:
        assert out == DECLINED_OUTPUT
    assert bool(settings.approved_paths) == (decision == "acceptForSession")


async def test_cancel_writes_nothing_and_raises(work: Path) -> None:
    host = Host("cancel")
    edits = TurnEdits(host, EditSettings(cwd=work, approval_policy="untrusted", sandbox=WS))
    with pytest.raises(PatchCancelled):
        await edits.apply_patch("c", patch("*** Add File: n.txt\n+n\n"))
    assert not (work / "n.txt").exists() and host.events[-1][1]["status"] == "declined"


async def test_session_approval_is_remembered_per_path(work: Path) -> None:
    host = Host("acceptForSession")
    edits = TurnEdits(host, EditSettings(cwd=work, approval_policy="untrusted", sandbox=WS))
    await edits.apply_patch("c1", patch("*** Update File: a.txt\n@@\n-one\n+1\n"))
    await edits.apply_patch("c2", patch("*** Update File: a.txt\n@@\n-two\n+2\n"))
    await edits.apply_patch("c3", patch("*** Add File: other.txt\n+o\n"))
    asks = [e for e in host.events if e[0] == "item/fileChange/requestApproval"]
    assert [a[1]["itemId"] for a in asks] == ["c1", "c3"]


async def test_read_only_and_never_refuses(work: Path) -> None:
    host = Host()
    edits = TurnEdits(host, EditSettings(cwd=work, approval_policy="never", sandbox=ReadOnly()))
    out = await edits.apply_patch("c", patch("*** Add File: n.txt\n+n\n"))
    assert out.startswith("patch rejected: writing outside of the project")
    assert host.names() == ["item/started", "item/completed"] and not (work / "n.txt").exists()


async def test_files_changed_while_waiting_for_approval(work: Path) -> None:
    host = Host("accept")
    host.on_ask = lambda: (work / "a.txt").write_text("someone\nelse\n")
    edits = TurnEdits(host, EditSettings(cwd=work, approval_policy="untrusted", sandbox=WS))
    out = await edits.apply_patch("c", patch("*** Update File: a.txt\n@@\n-two\n+TWO\n"))
    assert "changed while waiting for approval" in out
    assert (work / "a.txt").read_text() == "someone\nelse\n"
    assert host.events[-1][1]["status"] == "failed"


async def test_malformed_patch_is_a_failed_item_and_an_error_for_the_model(work: Path) -> None:
    host = Host()
    edits = TurnEdits(host, EditSettings(cwd=work, approval_policy="on-request", sandbox=WS))
    out = await edits.apply_patch("c", "*** Begin Patch\n*** Bogus\n*** End Patch")
    assert out.startswith("Invalid patch hunk on line 2")
    assert host.names() == ["item/started", "item/completed"]
    assert host.events[1][1]["status"] == "failed"


async def test_workspace_edit_mode_uses_buffers_and_makes_the_disk_agree(work: Path) -> None:
    host = Host()
    buffer_text = "one\ntwo\nunsaved\n"
    settings = EditSettings(
        cwd=work,
        approval_policy="on-request",
        sandbox=WS,
        mode="workspaceEdit",
        capabilities=EditCapabilities(True, True, True, True),
        buffers=lambda: {work / "a.txt": (buffer_text, 12)},
    )
    out = await TurnEdits(host, settings).apply_patch(
        "c", patch("*** Update File: a.txt\n@@\n-unsaved\n+saved by codex\n")
    )
    assert out.startswith("Success.")
    edit = host.edits[0]
    assert edit.document_changes and edit.document_changes[0].text_document.version == 12
    assert (work / "a.txt").read_text() == "one\ntwo\nsaved by codex\n"


async def test_workspace_edit_refused_by_the_editor_writes_nothing(work: Path) -> None:
    host = Host(applied=False)
    settings = EditSettings(
        cwd=work, approval_policy="on-request", sandbox=WS, mode="workspaceEdit", buffers=lambda: {}
    )
    out = await TurnEdits(host, settings).apply_patch("c", patch("*** Add File: n.txt\n+n\n"))
    assert "did not apply the patch: the document changed" in out
    assert not (work / "n.txt").exists() and host.events[-1][1]["status"] == "failed"
    assert "turn/diff/updated" not in host.names()


def test_patch_progress_reports_each_new_file_once(tmp_path: Path) -> None:
    from codex_lsp.edits.progress import PatchProgress

    progress = PatchProgress(tmp_path)
    text = "*** Begin Patch\n*** Add File: a.txt\n+a\n+b\n*** Update File: b.txt\n@@\n-x\n+y\n"
    reports = [
        r for ch in (text[i : i + 5] for i in range(0, len(text), 5)) if (r := progress.feed(ch))
    ]
    assert [[c.path for c in r] for r in reports] == [
        [str(tmp_path / "a.txt")],
        [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")],
    ]


async def test_session_approval_lets_the_writer_through_on_a_read_only_sandbox(work: Path) -> None:
    host = Host("acceptForSession")
    settings = EditSettings(cwd=work, approval_policy="on-request", sandbox=ReadOnly())
    edits = TurnEdits(host, settings)
    await edits.apply_patch("c1", patch("*** Update File: a.txt\n@@\n-one\n+1\n"))
    out = await TurnEdits(host, settings).apply_patch(
        "c2", patch("*** Update File: a.txt\n@@\n-two\n+2\n")
    )
    assert out.startswith("Success.") and (work / "a.txt").read_text() == "1\n2\n"
    assert [n for n in host.names() if n.endswith("requestApproval")] == [
        "item/fileChange/requestApproval"
    ]


def test_patch_progress_ignores_marker_lookalikes_in_content(tmp_path: Path) -> None:
    from codex_lsp.edits.progress import PatchProgress

    progress = PatchProgress(tmp_path)
    text = (
        "*** Begin Patch\n*** Update File: a.md\n*** Move to: b.md\n@@\n *** Add File: no.txt\n"
        "+*** Delete File: no.txt\n"
    )
    report = progress.feed(text)
    assert report is not None and [(c.path, c.kind.type) for c in report] == [
        (str(tmp_path / "a.md"), "update")
    ]
    assert report[0].kind.move_path == str(tmp_path / "b.md")  # type: ignore[union-attr]
