"""Shell forms that are patches, the WorkspaceEdit shapes, the turn diff, the tool definitions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from codex_lsp.edits.grammar import GRAMMAR, apply_patch_tool
from codex_lsp.edits.parser import parse_patch
from codex_lsp.edits.plan import plan_patch
from codex_lsp.edits.shell_forms import IMPLICIT_INVOCATION, ShellPatch, ShellPatchError, detect
from codex_lsp.edits.turn_diff import TurnDiff, file_diff, read_current
from codex_lsp.edits.workspace_edit import LABEL, EditCapabilities, text_edits, workspace_edit

PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"


@pytest.mark.parametrize(
    ("argv", "workdir"),
    [
        (["apply_patch", PATCH], None),
        (["applypatch", PATCH], None),
        (["bash", "-lc", f"apply_patch <<'EOF'\n{PATCH}\nEOF\n"], None),
        (["/bin/sh", "-c", f"apply_patch <<EOF\n{PATCH}\nEOF"], None),
        (["zsh", "-lc", f'applypatch <<"PATCH"\n{PATCH}\nPATCH\n'], None),
        (["bash", "-lc", f"cd sub/dir && apply_patch <<'EOF'\n{PATCH}\nEOF\n"], "sub/dir"),
        (["bash", "-lc", f"cd 'my dir' && apply_patch <<'EOF'\n{PATCH}\nEOF\n"], "my dir"),
        (["apply_patch", f"<<'EOF'\n{PATCH}\nEOF\n"], None),
    ],
)
def test_patch_forms_are_recognised(argv: list[str], workdir: str | None) -> None:
    found = detect(argv)
    assert isinstance(found, ShellPatch), found
    assert found.workdir == workdir
    assert found.patch.hunks[0].path == "a.txt"


@pytest.mark.parametrize(
    "argv",
    [
        ["bash", "-lc", "ls -la"],
        ["bash", "-lc", f"echo hi; apply_patch <<'EOF'\n{PATCH}\nEOF\n"],
        ["bash", "-lc", f"apply_patch <<'EOF'\n{PATCH}\nEOF\n && echo done"],
        ["bash", "-lc", f"cd a || apply_patch <<'EOF'\n{PATCH}\nEOF\n"],
        ["python3", "-c", f"apply_patch <<'EOF'\n{PATCH}\nEOF\n"],
        ["cat", "file"],
    ],
)
def test_other_commands_are_not_patches(argv: list[str]) -> None:
    assert detect(argv) is None


def test_bare_patch_and_broken_patch_are_errors_for_the_model() -> None:
    assert detect([PATCH]) == ShellPatchError(IMPLICIT_INVOCATION)
    assert detect(["bash", "-lc", PATCH]) == ShellPatchError(IMPLICIT_INVOCATION)
    broken = detect(["apply_patch", "*** Begin Patch\n*** Nope: x\n*** End Patch"])
    assert isinstance(broken, ShellPatchError) and "line 2" in broken.message


def test_tools_for_both_model_kinds() -> None:
    custom = apply_patch_tool("freeform")
    assert custom["type"] == "custom" and custom["name"] == "apply_patch"
    assert custom["format"] == {"type": "grammar", "syntax": "lark", "definition": GRAMMAR}
    function = apply_patch_tool("function")
    assert function["type"] == "function" and function["parameters"]["required"] == ["input"]
    assert apply_patch_tool(None)["type"] == "function"


def _apply_text_edits(text: str, edits: list[lsp.TextEdit]) -> str:
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def offset(pos: lsp.Position) -> int:
        return offsets[pos.line] + pos.character  # test texts are BMP-only where it matters

    for edit in sorted(
        edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
    ):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a\nb\nc\n", "a\nB\nc\n"),
        ("a\nb\nc", "a\nb\nc\n"),
        ("a\nb", "x\n"),
        ("", "new\n"),
        ("keep\n" * 50 + "x\n", "keep\n" * 50 + "y\nz\n"),
        ("one\r\ntwo\r\n", "one\r\nTWO\r\n"),
    ],
)
def test_text_edits_reproduce_the_new_text(old: str, new: str) -> None:
    edits = text_edits(old, new)
    assert _apply_text_edits(old, edits) == new
    if old.count("\n") > 10:
        assert len(edits) == 1 and edits[0].range.start.line == 50  # untouched lines untouched


def _plan(tmp_path: Path) -> tuple[Path, object]:
    (tmp_path / "m.txt").write_text("a\nb\n")
    (tmp_path / "d.txt").write_text("gone\n")
    (tmp_path / "s.txt").write_text("s\n")
    patch = (
        "*** Begin Patch\n*** Add File: n.txt\n+new\n*** Update File: m.txt\n@@\n-b\n+B\n"
        "*** Delete File: d.txt\n*** Update File: s.txt\n*** Move to: t.txt\n@@\n-s\n+t\n*** End Patch"
    )
    return tmp_path, plan_patch(parse_patch(patch), tmp_path)


def test_workspace_edit_with_resource_operations(tmp_path: Path) -> None:
    root, plan = _plan(tmp_path)
    caps = EditCapabilities(document_changes=True, create=True, rename=True, delete=True)
    result = workspace_edit(plan, caps, {root / "m.txt": 7})  # type: ignore[arg-type]
    assert result.disk_only == ()
    ops = result.edit.document_changes
    assert ops is not None
    kinds = [type(op).__name__ for op in ops]
    assert kinds == [
        "CreateFile",
        "TextDocumentEdit",
        "TextDocumentEdit",
        "DeleteFile",
        "RenameFile",
        "TextDocumentEdit",
    ]
    assert (
        ops[2].text_document.version == 7 and ops[2].text_document.uri == (root / "m.txt").as_uri()
    )
    assert ops[4].new_uri == (root / "t.txt").as_uri()
    assert LABEL == "Codex: apply patch"


def test_workspace_edit_without_resource_operations_leaves_files_to_the_disk(
    tmp_path: Path,
) -> None:
    root, plan = _plan(tmp_path)
    result = workspace_edit(plan, EditCapabilities(document_changes=True), {})  # type: ignore[arg-type]
    assert [op.text_document.uri for op in result.edit.document_changes or []] == [
        (root / "m.txt").as_uri()
    ]
    assert set(result.disk_only) == {root / "n.txt", root / "d.txt", root / "s.txt", root / "t.txt"}
    plain = workspace_edit(plan, EditCapabilities(), {})  # type: ignore[arg-type]
    assert plain.edit.document_changes is None and list(plain.edit.changes or {}) == [
        (root / "m.txt").as_uri()
    ]


def test_capabilities_from_the_client() -> None:
    caps = lsp.ClientCapabilities(
        workspace=lsp.WorkspaceClientCapabilities(
            workspace_edit=lsp.WorkspaceEditClientCapabilities(
                document_changes=True,
                resource_operations=[
                    lsp.ResourceOperationKind.Create,
                    lsp.ResourceOperationKind.Rename,
                    lsp.ResourceOperationKind.Delete,
                ],
            )
        )
    )
    assert EditCapabilities.from_client(caps).resource_operations
    assert not EditCapabilities.from_client(lsp.ClientCapabilities()).document_changes


def test_turn_diff_is_git_applicable(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "m.txt").write_text("a\nb\n")
    (base / "d.txt").write_text("gone")
    subprocess.run(["git", "init", "-q"], cwd=base, check=True)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(base), str(copy)], check=True)
    tracker = TurnDiff(base)
    for patch in (
        "*** Begin Patch\n*** Update File: m.txt\n@@\n-b\n+B\n*** Add File: n/x.txt\n+x\n*** End Patch",
        "*** Begin Patch\n*** Delete File: d.txt\n*** Update File: m.txt\n@@\n-a\n+A\n*** End Patch",
    ):
        plan = plan_patch(parse_patch(patch), base)
        tracker.remember(plan.originals)
        for path, content in plan.finals.items():
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    diff = tracker.render(read_current)
    assert "diff --git a/m.txt b/m.txt" in diff and "-a\n-b\n+A\n+B\n" in diff
    assert "deleted file mode" in diff and "\\ No newline at end of file" in diff
    (tmp_path / "turn.diff").write_text(diff)
    subprocess.run(["git", "apply", str(tmp_path / "turn.diff")], cwd=copy, check=True)
    assert (copy / "m.txt").read_text() == "A\nB\n" and not (copy / "d.txt").exists()
    assert (copy / "n" / "x.txt").read_text() == "x\n"
    assert file_diff("same", "x\n", "x\n") == ""
