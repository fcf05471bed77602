"""File edits end to end: the real server over LSP, the fake backend scripting apply_patch calls,
real files. Freeform and function patches, the shell heredoc form, approvals under each policy,
refusals (.git, symlinks, outside the workspace), malformed patches, workspace/applyEdit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import converters
from lsprotocol import types as lsp
from turns_support import api_key_args, methods, run_turn, start_thread

from codex_lsp.fakes.backend import FakeBackend, bundled_models, patch_call, shell_call
from harness import Session, start_session

FILE_APPROVAL = "item/fileChange/requestApproval"
NO_TMP_ROOTS = [
    "-c",
    "sandbox_workspace_write.exclude_slash_tmp=true",
    "-c",
    "sandbox_workspace_write.exclude_tmpdir_env_var=true",
]
APPLY_EDIT = "workspace/applyEdit"


def P(body: str) -> str:
    return f"*** Begin Patch\n{body}*** End Patch\n"


class Answers:
    """Answers approval and applyEdit requests with scripted values; records what was asked."""

    def __init__(self, session: Session, *decisions: str, applied: bool = True) -> None:
        self.decisions = list(decisions)
        self.approvals: list[dict[str, Any]] = []
        self.edits: list[dict[str, Any]] = []
        self.applied = applied
        self.write_edits_to_disk = False

        async def approve(params: Any) -> Any:
            self.approvals.append(params)
            return {"decision": self.decisions.pop(0) if self.decisions else "decline"}

        async def apply_edit(params: Any) -> Any:
            self.edits.append(converters.get_converter().unstructure(params))
            return lsp.ApplyWorkspaceEditResult(
                applied=self.applied, failure_reason=None if self.applied else "stale"
            )

        session.on_request(FILE_APPROVAL, approve)
        session.on_request(APPLY_EDIT, apply_edit)


def _items(received: list[tuple[str, Any]], kind: str, event: str = "item/completed") -> list[Any]:
    return [p["item"] for m, p in received if m == event and p["item"]["type"] == kind]


def _outputs(backend: FakeBackend, kind: str = "custom_tool_call_output") -> list[dict[str, Any]]:
    return [
        i for r in backend.requests_to("/responses") for i in r.body["input"] if i["type"] == kind
    ]


async def _session(codex_home: Path, backend: FakeBackend, workspace: Path, **kwargs: Any):
    return start_session(
        codex_home,
        # /tmp (where pytest's tmp_path lives) is no writable root here, so "outside" is outside.
        args=api_key_args(backend) + NO_TMP_ROOTS,
        env={"CODEX_API_KEY": "sk-test-edits", "CODEX_LSP_STREAM_IDLE_TIMEOUT_S": "5"},
        workspace=workspace,
        **kwargs,
    )


async def test_freeform_patch_adds_updates_deletes_and_moves(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    (workspace / "app.py").write_text("def main():\n    print('hi')\n\nmain()\n")
    (workspace / "old.txt").write_text("bye\n")
    (workspace / "src.txt").write_text("moving\n")
    patch = P(
        "*** Add File: docs/new.md\n+# New\n"
        "*** Update File: app.py\n@@ def main():\n-    print('hi')\n+    print('hello')\n"
        "*** Delete File: old.txt\n"
        "*** Update File: src.txt\n*** Move to: dest/moved.txt\n@@\n-moving\n+moved\n"
    )
    async with await _session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next([patch_call(patch, call_id="call_patch_1")])
        completed, received = await run_turn(s, thread["id"], "edit the files")
    assert completed["turn"]["status"] == "completed"
    assert (workspace / "docs/new.md").read_text() == "# New\n"
    assert (workspace / "app.py").read_text() == "def main():\n    print('hello')\n\nmain()\n"
    assert not (workspace / "old.txt").exists() and not (workspace / "src.txt").exists()
    assert (workspace / "dest/moved.txt").read_text() == "moved\n"
    order = [m for m in methods(received) if m.startswith(("item/", "turn/diff"))]
    file_events = [
        (m, p["item"]["status"])
        for m, p in received
        if m in ("item/started", "item/completed") and p["item"]["type"] == "fileChange"
    ]
    assert file_events == [("item/started", "inProgress"), ("item/completed", "completed")]
    assert order.index("turn/diff/updated") > order.index("item/completed")
    item = _items(received, "fileChange")[0]
    assert item["id"] == "call_patch_1"
    kinds = [(c["path"], c["kind"]) for c in item["changes"]]
    assert kinds == [
        (str(workspace / "docs/new.md"), {"type": "add"}),
        (str(workspace / "app.py"), {"type": "update", "move_path": None}),
        (str(workspace / "old.txt"), {"type": "delete"}),
        (
            str(workspace / "src.txt"),
            {"type": "update", "move_path": str(workspace / "dest/moved.txt")},
        ),
    ]
    assert "-    print('hi')\n+    print('hello')" in item["changes"][1]["diff"]
    diff = [p for m, p in received if m == "turn/diff/updated"][-1]["diff"]
    assert "diff --git a/app.py b/app.py" in diff and "deleted file mode" in diff
    output = _outputs(backend)[-1]
    assert output["call_id"] == "call_patch_1"
    assert output["output"] == (
        "Success. Updated the following files:\nA docs/new.md\nM app.py\nD old.txt\nM dest/moved.txt\n"
    )
    tools = backend.requests_to("/responses")[0].body["tools"]
    spec = next(t for t in tools if t["name"] == "apply_patch")
    assert spec["type"] == "custom" and spec["format"]["syntax"] == "lark"
    assert "*** Begin Patch" in spec["format"]["definition"]


async def test_function_form_for_models_that_ask_for_it(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    backend.models = [{**m, "apply_patch_tool_type": "function"} for m in bundled_models()]
    async with await _session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next(
            [patch_call(P("*** Add File: f.txt\n+function\n"), freeform=False, call_id="call_fn")]
        )
        completed, received = await run_turn(s, thread["id"], "add a file")
    assert (workspace / "f.txt").read_text() == "function\n"
    spec = next(
        t for t in backend.requests_to("/responses")[0].body["tools"] if t["name"] == "apply_patch"
    )
    assert spec["type"] == "function" and spec["parameters"]["required"] == ["input"]
    output = _outputs(backend, "function_call_output")[-1]
    assert output["call_id"] == "call_fn" and output["output"].startswith("Success.")
    assert _items(received, "fileChange")[0]["status"] == "completed"


@pytest.mark.parametrize(
    "argv",
    [
        [
            "bash",
            "-lc",
            "apply_patch <<'EOF'\n" + P("*** Add File: heredoc.txt\n+via shell\n") + "EOF\n",
        ],
        [
            "bash",
            "-lc",
            "cd sub && apply_patch <<'EOF'\n"
            + P("*** Add File: heredoc.txt\n+via shell\n")
            + "EOF\n",
        ],
        ["apply_patch", P("*** Add File: heredoc.txt\n+via shell\n")],
    ],
    ids=["heredoc", "cd-heredoc", "argv"],
)
async def test_shell_forms_are_patches_not_commands(
    codex_home: Path, backend: FakeBackend, workspace: Path, argv: list[str]
) -> None:
    (workspace / "sub").mkdir()
    async with await _session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next([shell_call(argv, call_id="call_sh")])
        _, received = await run_turn(s, thread["id"], "patch via shell")
    target = workspace / ("sub" if "cd sub" in argv[-1] else "") / "heredoc.txt"
    assert target.read_text() == "via shell\n"
    assert _items(received, "commandExecution", "item/started") == []
    assert _items(received, "fileChange")[0]["status"] == "completed"
    output = _outputs(backend, "function_call_output")[-1]
    assert output["call_id"] == "call_sh" and output["output"].startswith("Success.")


# policy, inside the workspace?, decision → asked?, written?, turn status
MATRIX = [
    ("untrusted", True, "accept", True, True, "completed"),
    ("untrusted", True, "acceptForSession", True, True, "completed"),
    ("untrusted", True, "decline", True, False, "completed"),
    ("untrusted", True, "cancel", True, False, "interrupted"),
    ("on-request", True, None, False, True, "completed"),
    ("on-failure", True, None, False, True, "completed"),
    ("never", True, None, False, True, "completed"),
    ("on-request", False, "accept", True, True, "completed"),
    ("on-request", False, "decline", True, False, "completed"),
    ("on-request", False, "acceptForSession", True, True, "completed"),
    ("on-request", False, "cancel", True, False, "interrupted"),
    ("on-failure", False, "accept", True, True, "completed"),
    ("on-failure", False, "decline", True, False, "completed"),
    ("on-failure", False, "acceptForSession", True, True, "completed"),
    ("on-failure", False, "cancel", True, False, "interrupted"),
    ("never", False, None, False, False, "completed"),
]


@pytest.mark.parametrize(("policy", "inside", "decision", "asked", "written", "status"), MATRIX)
async def test_approval_matrix(
    codex_home: Path,
    backend: FakeBackend,
    tmp_path: Path,
    workspace: Path,
    policy: str,
    inside: bool,
    decision: str | None,
    asked: bool,
    written: bool,
    status: str,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = (workspace / "t.txt") if inside else (outside / "t.txt")
    rel = "t.txt" if inside else "../outside/t.txt"
    async with await _session(codex_home, backend, workspace) as s:
        answers = Answers(s, *([decision] if decision else []))
        thread = (
            await start_thread(
                s, cwd=str(workspace), approvalPolicy=policy, sandbox="workspace-write"
            )
        )["thread"]
        backend.script_next([patch_call(P(f"*** Add File: {rel}\n+x\n"), call_id="c1")])
        completed, received = await run_turn(s, thread["id"], "write")
    assert completed["turn"]["status"] == status
    assert bool(answers.approvals) == asked
    assert target.exists() == written
    item = _items(received, "fileChange")[0]
    assert item["status"] == ("completed" if written else "declined")
    if asked:
        ask = answers.approvals[0]
        assert ask["itemId"] == "c1" and ask["threadId"] == thread["id"]
        resolved = [m for m, _ in received if m == "serverRequest/resolved"]
        assert len(resolved) == 1

        def at(method: str, kind: str | None = None) -> int:
            return next(
                i
                for i, (m, p) in enumerate(received)
                if m == method and (kind is None or p["item"]["type"] == kind)
            )

        assert at("item/started", "fileChange") < at("serverRequest/resolved")
        assert at("serverRequest/resolved") < at("item/completed", "fileChange")
    if status == "completed" and not written:
        output = _outputs(backend)[-1]["output"]
        assert "declined" in output or "rejected" in output


async def test_accept_for_session_is_remembered_for_the_same_file(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with await _session(codex_home, backend, workspace) as s:
        answers = Answers(s, "acceptForSession")
        thread = (await start_thread(s, cwd=str(workspace), approvalPolicy="untrusted"))["thread"]
        backend.script_next([patch_call(P("*** Add File: s.txt\n+1\n"))])
        await run_turn(s, thread["id"], "one")
        backend.script_next([patch_call(P("*** Update File: s.txt\n@@\n-1\n+2\n"))])
        await run_turn(s, thread["id"], "two")
        backend.script_next([patch_call(P("*** Add File: other.txt\n+o\n"))])
        await run_turn(s, thread["id"], "three")
    assert (workspace / "s.txt").read_text() == "2\n"
    assert len(answers.approvals) == 2  # s.txt once, other.txt once
    assert not (workspace / "other.txt").exists()  # the second ask got the default decline


@pytest.mark.parametrize("where", ["git", "symlink", "symlinked-dir"])
async def test_refused_paths_never_asked_never_written(
    codex_home: Path, backend: FakeBackend, tmp_path: Path, workspace: Path, where: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret\n")
    (workspace / ".git" / "hooks").mkdir(parents=True)
    (workspace / "link").symlink_to(outside / "secret")
    (workspace / "linkdir").symlink_to(outside)
    body = {
        "git": "*** Add File: .git/hooks/pre-commit\n+#!/bin/sh\n+curl evil\n",
        "symlink": "*** Update File: link\n@@\n-secret\n+pwned\n",
        "symlinked-dir": "*** Add File: linkdir/new\n+x\n",
    }[where]
    async with await _session(codex_home, backend, workspace) as s:
        answers = Answers(s, "accept")
        thread = (
            await start_thread(
                s,
                cwd=str(workspace),
                approvalPolicy="on-request",
                sandbox="danger-full-access" if where == "git" else "workspace-write",
            )
        )["thread"]
        backend.script_next([patch_call(P("*** Add File: first.txt\n+1\n" + body))])
        completed, received = await run_turn(s, thread["id"], "try")
    assert completed["turn"]["status"] == "completed" and answers.approvals == []
    assert not (workspace / "first.txt").exists()
    assert not (workspace / ".git/hooks/pre-commit").exists()
    assert (outside / "secret").read_text() == "secret\n" and not (outside / "new").exists()
    assert _outputs(backend)[-1]["output"].startswith("patch rejected:")
    assert _items(received, "fileChange")[0]["status"] == "declined"


@pytest.mark.parametrize(
    "patch",
    [
        "*** Begin Patch\n*** Frobnicate: x\n*** End Patch\n",
        "not a patch at all",
        P("*** Update File: hello.txt\n@@\n-no such line\n+x\n"),
    ],
    ids=["bad-header", "no-envelope", "context-not-found"],
)
async def test_malformed_patch_is_an_error_for_the_model_and_changes_nothing(
    codex_home: Path, backend: FakeBackend, workspace: Path, patch: str
) -> None:
    before = (workspace / "hello.txt").read_text()
    async with await _session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next([patch_call(patch)])
        completed, received = await run_turn(s, thread["id"], "bad patch")
    assert completed["turn"]["status"] == "completed"
    assert (workspace / "hello.txt").read_text() == before
    assert sorted(p.name for p in workspace.iterdir()) == ["hello.txt"]
    output = _outputs(backend)[-1]["output"]
    assert output.startswith(("Invalid patch", "Failed to find"))
    assert _items(received, "fileChange")[0]["status"] == "failed"
    assert "turn/diff/updated" not in methods(received)


EDIT_CAPS = lsp.ClientCapabilities(
    workspace=lsp.WorkspaceClientCapabilities(
        apply_edit=True,
        workspace_edit=lsp.WorkspaceEditClientCapabilities(
            document_changes=True,
            resource_operations=[
                lsp.ResourceOperationKind.Create,
                lsp.ResourceOperationKind.Rename,
                lsp.ResourceOperationKind.Delete,
            ],
        ),
    )
)


async def _open(s: Session, path: Path, text: str, version: int) -> None:
    s.client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=path.as_uri(), language_id="python", version=version, text=text
            )
        )
    )


async def test_apply_edit_uses_the_unsaved_buffer_and_makes_the_disk_agree(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    app = workspace / "app.py"
    app.write_text("x = 1\n")
    async with await _session(
        codex_home,
        backend,
        workspace,
        init_options={"fileEdits": "workspaceEdit"},
        capabilities=EDIT_CAPS,
    ) as s:
        answers = Answers(s)
        await _open(s, app, "x = 1\ny = 2  # unsaved\n", 4)
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next(
            [
                patch_call(
                    P(
                        "*** Update File: app.py\n@@\n x = 1\n-y = 2  # unsaved\n+y = 3\n"
                        "*** Add File: new.py\n+new\n"
                    )
                )
            ]
        )
        completed, received = await run_turn(s, thread["id"], "edit the buffer")
    assert completed["turn"]["status"] == "completed"
    edit = answers.edits[0]
    assert edit["label"] == "Codex: apply patch"
    changes = edit["edit"]["documentChanges"]
    doc_edit = next(c for c in changes if c.get("textDocument", {}).get("uri") == app.as_uri())
    assert doc_edit["textDocument"]["version"] == 4
    assert any(c.get("kind") == "create" for c in changes)
    # The editor answered applied:true without saving: the server made the disk agree.
    assert app.read_text() == "x = 1\ny = 3\n"
    assert (workspace / "new.py").read_text() == "new\n"
    assert _items(received, "fileChange")[0]["status"] == "completed"


async def test_apply_edit_refused_writes_nothing_and_tells_the_model(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with await _session(
        codex_home,
        backend,
        workspace,
        init_options={"fileEdits": "workspaceEdit"},
        capabilities=EDIT_CAPS,
    ) as s:
        answers = Answers(s, applied=False)
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next(
            [patch_call(P("*** Update File: hello.txt\n@@\n-hello from the workspace\n+changed\n"))]
        )
        _, received = await run_turn(s, thread["id"], "edit")
    assert len(answers.edits) == 1
    assert (workspace / "hello.txt").read_text() == "hello from the workspace\n"
    assert _items(received, "fileChange")[0]["status"] == "failed"
    assert "did not apply the patch: stale" in _outputs(backend)[-1]["output"]


async def test_no_apply_edit_without_the_option(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with await _session(codex_home, backend, workspace, capabilities=EDIT_CAPS) as s:
        answers = Answers(s)
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next([patch_call(P("*** Add File: direct.txt\n+disk\n"))])
        await run_turn(s, thread["id"], "write")
    assert answers.edits == [] and (workspace / "direct.txt").read_text() == "disk\n"


async def test_patch_progress_while_streaming(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    patch = P("*** Add File: a.txt\n+a\n*** Add File: b.txt\n+b\n")
    async with await _session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, cwd=str(workspace), sandbox="workspace-write"))["thread"]
        backend.script_next([patch_call(patch, call_id="call_s", chunk_chars=8)])
        _, received = await run_turn(s, thread["id"], "stream")
    updates = [p for m, p in received if m == "item/fileChange/patchUpdated"]
    assert updates and all(u["itemId"] == "call_s" for u in updates)
    assert [c["path"] for c in updates[-1]["changes"]] == [
        str(workspace / "a.txt"),
        str(workspace / "b.txt"),
    ]
    names = methods(received)
    assert names.index("item/fileChange/patchUpdated") < names.index(
        "item/started", names.index("item/fileChange/patchUpdated")
    )
    assert json.dumps(updates)  # plain JSON


async def test_interrupt_while_waiting_for_approval_writes_nothing(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with await _session(codex_home, backend, workspace) as s:
        asked = asyncio.Event()

        async def hold(params: Any) -> Any:
            asked.set()
            await asyncio.sleep(30)
            return {"decision": "accept"}

        s.on_request(FILE_APPROVAL, hold)
        thread = (await start_thread(s, cwd=str(workspace), approvalPolicy="untrusted"))["thread"]
        backend.script_next([patch_call(P("*** Add File: late.txt\n+x\n"))])
        since = s.mark()
        turn = await s.call(
            "turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "w"}]}
        )
        await asyncio.wait_for(asked.wait(), 15)
        await s.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["turn"]["id"]})
        done = await s.wait_for("turn/completed", since=since, timeout=15)
    assert done["turn"]["status"] == "interrupted" and not (workspace / "late.txt").exists()
