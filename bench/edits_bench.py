"""File edits benchmark: a 10-file, 500-line patch from the model's completed call to
`item/completed`.

Figures (same run, side by side):
- in-process, disk: ``TurnEdits.apply_patch`` (parse, plan, decide, atomic writes, turn diff) until
  the item completes; the baseline is writing the same 10 new contents with ``Path.write_text``;
- in-process, applyEdit: the same with ``fileEdits = "workspaceEdit"`` and an editor that answers
  `applied: true` at once (builds the WorkspaceEdit, then makes the disk agree);
- end to end over LSP (when the turn loop offers apply_patch): see ``lsp_patch_figures``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from scenarios import scenario
from stats import figure

from codex_lsp.edits.session import EditorAnswer, EditSettings, TurnEdits
from codex_lsp.edits.workspace_edit import EditCapabilities
from codex_lsp.protocol.methods import Method
from codex_lsp.sandbox.policy import WorkspaceWrite

SHM = Path("/dev/shm")
FILES = 10
FILE_LINES = 300
CHUNKS_PER_FILE = 10  # 5 patch lines each: 10 files x 10 chunks x 5 = 500 lines


def make_workload(root: Path, generation: int = 0) -> str:
    """Write the files (fresh content per generation) and return the patch that edits them."""
    parts = ["*** Begin Patch"]
    for f in range(FILES):
        lines = [f"line {i} of file {f} gen {generation}" for i in range(FILE_LINES)]
        (root / f"file{f}.py").write_text("\n".join(lines) + "\n")
        parts.append(f"*** Update File: file{f}.py")
        for c in range(CHUNKS_PER_FILE):
            at = 5 + c * (FILE_LINES // CHUNKS_PER_FILE)
            parts += [
                "@@",
                f" {lines[at - 2]}",
                f" {lines[at - 1]}",
                f"-{lines[at]}",
                f"+{lines[at]} edited",
            ]
    parts.append("*** End Patch")
    os.sync()  # the files an agent edits were usually written long before: no dirty pages
    return "\n".join(parts) + "\n"


class InstantHost:
    thread_id = "bench-thread"
    turn_id = "bench-turn"

    def __init__(self) -> None:
        self.completed_at = 0.0

    def start_item(self, item: Any) -> None:
        pass

    def complete_item(self, item: Any) -> None:
        self.completed_at = time.perf_counter()
        assert item.status == "completed", item

    def notify(self, method: Method, payload: Any) -> None:
        pass

    async def ask(self, method: Method, params: Any) -> Any:
        return "accept"

    async def apply_edit(self, label: str, edit: lsp.WorkspaceEdit) -> EditorAnswer:
        return EditorAnswer(True)


async def _measure(root: Path, mode: str, runs: int) -> list[float]:
    settings = EditSettings(
        cwd=root,
        approval_policy="on-request",
        sandbox=WorkspaceWrite(exclude_slash_tmp=True, exclude_tmpdir_env_var=True),
        mode=mode,  # type: ignore[arg-type]
        capabilities=EditCapabilities(True, True, True, True),
        buffers=lambda: {},
    )
    values = []
    for run in range(runs + 2):
        patch = make_workload(root, run)
        host = InstantHost()
        start = time.perf_counter()
        out = await TurnEdits(host, settings).apply_patch("call", patch)
        assert out.startswith("Success."), out
        if run >= 2:  # two warm-up runs
            values.append((host.completed_at - start) * 1000)
    return values


def _baseline(root: Path, runs: int) -> list[float]:
    values = []
    for run in range(runs):
        make_workload(root, run)
        contents = [(root / f"file{f}.py").read_text().replace("gen", "GEN") for f in range(FILES)]
        start = time.perf_counter()
        for f, text in enumerate(contents):
            (root / f"file{f}.py").write_text(text)
        values.append((time.perf_counter() - start) * 1000)
    return values


@scenario("edits")
async def edits(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    runs = 15 if quick else 60
    disk_root, edit_root, base_root = tmp / "disk", tmp / "edit", tmp / "base"
    for root in (disk_root, edit_root, base_root):
        root.mkdir()
    disk = await _measure(disk_root, "disk", runs)
    via_editor = await _measure(edit_root, "workspaceEdit", runs)
    baseline = _baseline(base_root, runs)
    memory: list[dict[str, Any]] = []
    if SHM.is_dir():  # noqa: ASYNC240 - the same on tmpfs: our CPU cost without the disk's
        with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
            shm_root = Path(shm)
            in_memory = await _measure(shm_root, "disk", runs)
            shm_baseline = _baseline(shm_root, runs)
        memory = [
            figure(
                "apply_patch 10 files/500 lines -> item/completed, tmpfs (in-process)",
                "ms",
                in_memory,
                target="report",
                meets=None,
            ),
            figure(
                "baseline: write_text of the same 10 files, tmpfs",
                "ms",
                shm_baseline,
                target="baseline",
                meets=None,
            ),
        ]
    return memory + [
        figure(
            "apply_patch 10 files/500 lines -> item/completed, disk (in-process)",
            "ms",
            disk,
            target="median <= 20 ms",
            rule=["median", 20],
        ),
        figure(
            "apply_patch 10 files/500 lines -> item/completed, applyEdit (in-process, instant editor)",
            "ms",
            via_editor,
            target="report",
            meets=None,
        ),
        figure(
            "baseline: write_text of the same 10 files",
            "ms",
            baseline,
            target="baseline",
            meets=None,
        ),
    ]


async def _lsp_patch_runs(tmp: Path, mode: str, runs: int) -> list[float]:
    """Real server over stdio, fake backend in its own process: the backend logs when it wrote
    the patch call's `response.output_item.done`, the editor when it parsed the fileChange's
    `item/completed` (CLOCK_MONOTONIC is shared by the processes)."""
    import asyncio
    import json
    import sys

    from lspclient import LspClient

    backend = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("patch_backend_proc.py")),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert backend.stdout is not None and backend.stdin is not None
    base_url = (await backend.stdout.readline()).decode().strip()
    home, ws = tmp / f"home-{mode}", tmp / f"ws-{mode}"
    home.mkdir()
    ws.mkdir()
    client = await LspClient.spawn(
        home,
        [
            "-c",
            'model_provider="fake"',
            "-c",
            f'model_providers.fake.base_url="{base_url}/v1"',
            "-c",
            "model_providers.fake.requires_openai_auth=true",
        ],
        env={"CODEX_API_KEY": "sk-bench-not-a-real-key"},
    )
    completed_at: dict[str, float] = {}
    values: list[float] = []
    try:
        caps = {
            "workspace": {
                "applyEdit": True,
                "workspaceEdit": {
                    "documentChanges": True,
                    "resourceOperations": ["create", "rename", "delete"],
                },
            }
        }
        await client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": ws.as_uri(),
                "capabilities": caps,
                "workspaceFolders": [{"uri": ws.as_uri(), "name": "ws"}],
                "initializationOptions": {"fileEdits": mode},
            },
        )
        client.notify("initialized", {})
        client.handlers["workspace/applyEdit"] = lambda params: {"applied": True}
        thread = await client.request(
            "thread/start", {"cwd": str(ws), "sandbox": "workspace-write"}
        )
        thread_id = thread["thread"]["id"]
        turn_done = asyncio.Event()

        def listen(now: float, method: str, params: Any) -> None:
            if method == "item/completed" and params["item"]["type"] == "fileChange":
                if params["item"]["status"] == "completed":
                    completed_at[params["item"]["id"]] = now
            elif method == "turn/completed":
                turn_done.set()

        client.listeners.append(listen)
        for run in range(runs + 2):
            patch_file = tmp / f"patch-{mode}.txt"
            patch_file.write_text(make_workload(ws, run))
            backend.stdin.write(f"patch {patch_file}\n".encode())
            await backend.stdin.drain()
            await backend.stdout.readline()
            turn_done.clear()
            await client.request(
                "turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "edit"}]}
            )
            await asyncio.wait_for(turn_done.wait(), 60)
        backend.stdin.write(b"dump\n")
        await backend.stdin.drain()
        sent = json.loads(await backend.stdout.readline())
    finally:
        await client.close()
        backend.stdin.write(b"quit\n")
        await backend.stdin.drain()
        await asyncio.wait_for(backend.wait(), 10)
    for at, call_id in sent:
        if call_id in completed_at:
            values.append((completed_at[call_id] - at) * 1000)
    if len(values) != runs + 2:
        raise RuntimeError(f"matched {len(values)} of {runs + 2} patches")
    return values[2:]


@scenario("edits-lsp")
async def edits_lsp(tmp: Path, quick: bool) -> list[dict[str, Any]]:
    runs = 10 if quick else 40
    disk = await _lsp_patch_runs(tmp, "disk", runs)
    via_editor = await _lsp_patch_runs(tmp, "workspaceEdit", runs)
    note = (
        "includes the backend->server SSE hop, the end of the model response, the server's "
        "work and the server->editor hop; the editor answers workspace/applyEdit at once"
    )
    return [
        figure(
            "patch call done (backend) -> fileChange item/completed (editor), disk",
            "ms",
            disk,
            target="median <= 20 ms",
            rule=["median", 20],
            note=note,
        ),
        figure(
            "patch call done (backend) -> fileChange item/completed (editor), applyEdit",
            "ms",
            via_editor,
            target="report",
            meets=None,
            note=note,
        ),
    ]
