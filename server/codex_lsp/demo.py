"""`codex-lsp demo`: an offline end-to-end run with a readable transcript.

The server runs as a real subprocess over stdio (LSP framing). This process plays the editor
(a pygls ``LanguageClient`` that owns ChatGPT tokens minted by the FakeIssuer and answers token
refreshes, command and patch approvals) and hosts the FakeBackend as the model; the last step
stops the server and starts a new one to resume the thread from disk. Every step is checked;
the exit code is 0 only if all of them behaved as expected.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient
from pygls.protocol import LanguageServerProtocol

from codex_lsp.backend.rate_limits import render_status_lines
from codex_lsp.config import Config
from codex_lsp.fakes.backend import (
    FakeBackend,
    Step,
    function_call,
    patch_call,
    reasoning,
    shell_call,
    text,
)
from codex_lsp.fakes.issuer import FakeIssuer
from codex_lsp.sandbox.detect import NONE, detect
from codex_lsp.server import converter_factory

STEP_TIMEOUT_S = 30.0
ACCOUNT_ID = "acct-demo"
NOTES_TEXT = "notes written by the agent"
AGENTS_RULE = "Record every user-visible change in CHANGELOG.md."
README_BEFORE = "# demo project\n"
README_AFTER = "# demo project\n\nRun `make demo` to try it.\n"
CHANGELOG_TEXT = "# Changelog\n\n- README: how to run the demo\n"
DEMO_PATCH = """*** Begin Patch
*** Update File: README.md
@@
 # demo project
+
+Run `make demo` to try it.
*** Add File: CHANGELOG.md
+# Changelog
+
+- README: how to run the demo
*** End Patch"""
FIRST_PROMPT = "Write a notes file in the project."
EDIT_PROMPT = "Document how to run the demo."
REFRESH_PROMPT = "What did you write?"
EARLIER_PROMPTS = (FIRST_PROMPT, EDIT_PROMPT, REFRESH_PROMPT)


class DemoFailure(Exception):
    """A step did not behave as expected; the message says what was seen."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailure(message)


class _RecordingProtocol(LanguageServerProtocol):
    """Records every notification from the server, in arrival order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, Any]] = []
        self.arrived = asyncio.Event()

    def _handle_notification(self, method_name: str, params: Any) -> None:
        self.received.append((method_name, params))
        self.arrived.set()
        if method_name.startswith(("$/", "window/")):
            super()._handle_notification(method_name, params)


class Demo:
    """The editor side of the demo, the fakes, and the transcript."""

    def __init__(self, backend: FakeBackend, issuer: FakeIssuer, root: Path) -> None:
        self.backend = backend
        self.issuer = issuer
        self.codex_home = root / "codex-home"
        self.workspace = root / "workspace"
        self.client = self._new_client()
        self.refreshes: list[dict[str, Any]] = []
        self.approvals: list[dict[str, Any]] = []
        self.file_approvals: list[dict[str, Any]] = []
        self.sandboxed = True
        self.git_protected = True
        self.thread_id = ""
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)

    def _new_client(self) -> LanguageClient:
        client = LanguageClient(
            "codex-lsp-demo",
            "0.1",
            converter_factory=converter_factory,
            protocol_cls=_RecordingProtocol,
        )
        self._install_editor_handlers(client)
        return client

    @property
    def protocol(self) -> _RecordingProtocol:
        return self.client.protocol  # type: ignore[return-value]

    # ---- the editor's answers to server->client requests --------------------------------------

    def _install_editor_handlers(self, client: LanguageClient) -> None:
        @client.feature("account/chatgptAuthTokens/refresh")
        async def refresh(params: Any) -> dict[str, Any]:
            self.refreshes.append(params)
            token = self.issuer.make_jwt(
                account_id=ACCOUNT_ID, email="dev@example.com", plan_type="pro"
            )
            self.backend.accepted_tokens = {token}  # the backend now trusts the new token only
            say(f"    server -> account/chatgptAuthTokens/refresh (reason={params.get('reason')})")
            say("    editor -> fresh access token from the editor's own sign-in")
            return {"accessToken": token, "chatgptAccountId": ACCOUNT_ID, "chatgptPlanType": "pro"}

        @client.feature("item/commandExecution/requestApproval")
        async def approve(params: Any) -> dict[str, Any]:
            self.approvals.append(params)
            say(f"    server -> approval request: `{params.get('command')}`")
            if ".git" in str(params.get("command")) and not self.git_protected:
                # On a backend that cannot protect .git, the approval is the only protection.
                say(
                    "    editor -> decline (it would write into .git, which this sandbox cannot protect)"
                )
                return {"decision": "decline"}
            say("    editor -> accept")
            return {"decision": "accept"}

        @client.feature("item/fileChange/requestApproval")
        async def approve_patch(params: Any) -> dict[str, Any]:
            self.file_approvals.append(params)  # shown in order by plan_and_edit
            return {"decision": "accept"}

    # ---- plumbing ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self.codex_home.mkdir()
        self.workspace.mkdir()
        (self.workspace / "README.md").write_text(README_BEFORE)
        (self.workspace / ".git").mkdir()  # workspace-write keeps .git read-only
        (self.workspace / "AGENTS.md").write_text(f"# Project rules\n\n{AGENTS_RULE}\n")
        await self._start_server()

    async def _start_server(self) -> None:
        # A clean server environment: no credentials or CODEX_HOME of the user's own setup.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEX_", "OPENAI_"))}
        if "CODEX_SANDBOX_BACKEND" in os.environ:  # keep the sandbox choice consistent with ours
            env["CODEX_SANDBOX_BACKEND"] = os.environ["CODEX_SANDBOX_BACKEND"]
        env["CODEX_HOME"] = str(self.codex_home)
        args = [
            "-m",
            "codex_lsp",
            "--log-level",
            "WARNING",
            "-c",
            f'chatgpt_base_url="{self.backend.base_url}/backend-api"',
        ]
        await self.client.start_io(sys.executable, *args, env=env)
        server = self.client._server
        if server is not None and server.stderr is not None:
            asyncio.create_task(self._drain(server.stderr))
        await asyncio.wait_for(
            self.client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(),
                    client_info=types.ClientInfo(name="codex-lsp-demo", version="0.1"),
                    workspace_folders=[
                        types.WorkspaceFolder(uri=self.workspace.as_uri(), name="demo")
                    ],
                    root_uri=self.workspace.as_uri(),
                )
            ),
            STEP_TIMEOUT_S,
        )
        self.client.initialized(types.InitializedParams())

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    async def restart(self) -> None:
        """Stop the server process and start a fresh one (a new client, as an editor reload)."""
        await self.stop()
        self.client = self._new_client()
        await self._start_server()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.shutdown_async(None), 10)
            self.client.exit(None)
        server = self.client._server
        if server is not None and server.returncode is None:
            try:
                await asyncio.wait_for(server.wait(), 5)
            except TimeoutError:
                server.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 5)

    def server_log_tail(self) -> list[str]:
        return list(self._stderr)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        return await asyncio.wait_for(
            self.protocol.send_request_async(method, params), STEP_TIMEOUT_S
        )

    def mark(self) -> int:
        return len(self.protocol.received)

    def since(self, mark: int, method: str) -> list[Any]:
        return [p for m, p in self.protocol.received[mark:] if m == method]

    async def wait_for(
        self, method: str, mark: int, where: Callable[[Any], bool] = lambda _: True
    ) -> Any:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            for name, params in self.protocol.received[mark:]:
                if name == method and where(params):
                    return params
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DemoFailure(f"no {method} from the server within {STEP_TIMEOUT_S:g}s")
            self.protocol.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.protocol.arrived.wait(), remaining)

    async def run_turn(self, prompt: str) -> tuple[dict[str, Any], int]:
        mark = self.mark()
        say(f"    editor -> turn/start: {prompt!r}")
        started = await self.call(
            "turn/start", {"threadId": self.thread_id, "input": [{"type": "text", "text": prompt}]}
        )
        turn_id = started["turn"]["id"]
        completed = await self.wait_for(
            "turn/completed", mark, lambda p: p["turn"]["id"] == turn_id
        )
        return completed, mark

    def describe_turn(self, mark: int) -> None:
        for method, params in self.protocol.received[mark:]:
            item = params.get("item", {}) if isinstance(params, dict) else {}
            if method == "item/completed" and item.get("type") == "reasoning":
                say(f"    server -> reasoning: {' '.join(item.get('summary', []))}")
            elif method == "item/completed" and item.get("type") == "agentMessage":
                agent_text = item.get("text", "").strip().replace("\n", "\n      ")
                say(f"    server -> agent: {agent_text}")
            elif method == "item/completed" and item.get("type") == "commandExecution":
                output = (item.get("aggregatedOutput") or "").strip().replace("\n", " | ")
                say(
                    f"    server -> command `{item.get('command')}` {item.get('status')} "
                    f"(exit {item.get('exitCode')}): {output[:160]}"
                )
        deltas = len(self.since(mark, "item/agentMessage/delta"))
        say(f"    ({deltas} item/agentMessage/delta notifications streamed)")

    # ---- the steps --------------------------------------------------------------------------------

    async def login(self) -> None:
        token = self.issuer.make_jwt(
            account_id=ACCOUNT_ID, email="dev@example.com", plan_type="pro"
        )
        self.backend.accepted_tokens = {token}
        mark = self.mark()
        say("    editor -> account/login/start {type: chatgptAuthTokens, accessToken: <hidden>}")
        result = await self.call(
            "account/login/start",
            {"type": "chatgptAuthTokens", "accessToken": token, "chatgptAccountId": ACCOUNT_ID},
        )
        check(result.get("type") == "chatgptAuthTokens", f"unexpected login result {result}")
        completed = await self.wait_for("account/login/completed", mark)
        check(completed.get("success") is True, f"login failed: {completed.get('error')}")
        updated = await self.wait_for("account/updated", mark)
        say(
            f"    server -> account/login/completed, account/updated (authMode={updated.get('authMode')})"
        )
        check(
            updated.get("authMode") == "chatgptAuthTokens", f"unexpected account/updated {updated}"
        )
        account = (await self.call("account/read", {}))["account"]
        check(
            account is not None and account.get("type") == "chatgpt", f"account/read says {account}"
        )
        say(f"    account/read: {account.get('email')} ({account.get('planType')})")

    async def sandboxed_turn(self) -> None:
        detection = await asyncio.to_thread(detect)
        self.sandboxed = detection.backend != NONE
        mode = "workspace-write" if self.sandboxed else "danger-full-access"
        if self.sandboxed:
            say(f"    sandbox backend: {detection.backend}")
            status = await self.call("codex/status", {})
            gaps = status.get("sandboxGaps", [])
            for gap in gaps:
                say(f"    sandbox gap: {gap}")
            self.git_protected = not any(".git" in gap for gap in gaps)
        else:
            say("    NOTE: no sandbox backend is available here; using danger-full-access instead")
        mark = self.mark()
        result = await self.call("thread/start", {"approvalPolicy": "untrusted", "sandbox": mode})
        self.thread_id = result["thread"]["id"]
        await self.wait_for("thread/started", mark)
        say(
            f"    thread/start -> model {result['model']}, cwd {result['cwd']}, sandbox {result['sandbox']['type']}"
        )
        check(result["cwd"] == str(self.workspace), f"thread cwd is {result['cwd']}")
        write = f"echo '{NOTES_TEXT}' > notes.txt && cat notes.txt"
        steps: list[Step] = [
            reasoning("The user wants notes in the workspace; write the file and read it back."),
            text("I'll write the notes file."),
            shell_call(["bash", "-c", write], call_id="call-write"),
        ]
        if self.sandboxed:
            steps.append(shell_call(["touch", ".git/injected-hook"], call_id="call-git"))
        self.backend.script_next(steps)
        completed, mark = await self.run_turn(FIRST_PROMPT)
        self.describe_turn(mark)
        turn = completed["turn"]
        check(turn["status"] == "completed", f"turn ended {turn['status']}: {turn.get('error')}")
        commands = [i for i in turn["items"] if i["type"] == "commandExecution"]
        check(
            len(self.approvals) == len(commands),
            "every command should have been approved by the editor",
        )
        check(
            commands[0]["exitCode"] == 0 and NOTES_TEXT in (commands[0]["aggregatedOutput"] or ""),
            f"the write command did not work: {commands[0]}",
        )
        check(
            (self.workspace / "notes.txt").read_text().strip() == NOTES_TEXT, "notes.txt is missing"
        )
        if self.sandboxed:
            check(
                commands[1]["status"] != "completed"
                and not (self.workspace / ".git" / "injected-hook").exists(),
                "the sandbox let a command write into .git",
            )
            if self.git_protected:
                say("    the sandbox refused the write into .git, as it should")
            else:
                say(
                    "    NOTE: this sandbox cannot protect .git; the server asked first and the editor declined"
                )
        check(
            len(self.since(mark, "item/commandExecution/outputDelta")) > 0,
            "no command output was streamed",
        )
        check(len(self.since(mark, "item/agentMessage/delta")) > 0, "no model text was streamed")

    async def plan_and_edit(self) -> None:
        plan_start = {
            "explanation": "Document how to run the demo, as AGENTS.md asks",
            "plan": [
                {"step": "Add a usage line to README.md", "status": "in_progress"},
                {"step": "Record the change in CHANGELOG.md", "status": "pending"},
            ],
        }
        plan_done = {
            "plan": [
                {"step": "Add a usage line to README.md", "status": "completed"},
                {"step": "Record the change in CHANGELOG.md", "status": "completed"},
            ]
        }
        self.backend.script_next(
            [
                reasoning(
                    "AGENTS.md wants a changelog entry; plan, then one patch for both files."
                ),
                function_call("update_plan", plan_start, call_id="call-plan-1"),
                patch_call(DEMO_PATCH, call_id="call-patch"),
            ]
        )
        self.backend.script_next([function_call("update_plan", plan_done, call_id="call-plan-2")])
        self.backend.script_next([text("README.md explains the demo; CHANGELOG.md records it.")])
        approvals_before = len(self.file_approvals)
        requests_before = len(self.backend.requests_to("/responses"))
        completed, mark = await self.run_turn(EDIT_PROMPT)
        turn = completed["turn"]
        for method, params in self.protocol.received[mark:]:
            item = params.get("item", {}) if isinstance(params, dict) else {}
            if method == "turn/plan/updated":
                if params.get("explanation"):
                    say(f"    server -> turn/plan/updated: {params['explanation']}")
                else:
                    say("    server -> turn/plan/updated")
                for step in params.get("plan", []):
                    say(f"      [{step['status']}] {step['step']}")
            elif method == "item/started" and item.get("type") == "fileChange":
                say(f"    server -> item/started fileChange {item.get('id')}:")
                for change in item.get("changes", []):
                    rel = Path(change["path"]).relative_to(self.workspace)
                    say(f"      {change['kind']['type']} {rel}")
                    for line in change.get("diff", "").splitlines():
                        say(f"        {line}".rstrip())
                for asked in self.file_approvals:
                    if asked.get("itemId") == item.get("id"):
                        say(
                            f"    server -> item/fileChange/requestApproval (item {item.get('id')})"
                        )
                        say("    editor -> accept")
            elif method == "item/completed" and item.get("type") == "fileChange":
                say(f"    server -> item/completed fileChange: {item.get('status')}")
            elif method == "turn/diff/updated":
                say("    server -> turn/diff/updated (the turn's diff so far):")
                for line in params.get("diff", "").splitlines():
                    say(f"        {line}".rstrip())
            elif method == "item/completed" and item.get("type") == "agentMessage":
                say(f"    server -> agent: {item.get('text', '').strip()}")
        check(turn["status"] == "completed", f"turn ended {turn['status']}: {turn.get('error')}")
        plans = self.since(mark, "turn/plan/updated")
        check(len(plans) == 2, f"expected two turn/plan/updated, saw {len(plans)}")
        check(
            [s["status"] for s in plans[0]["plan"]] == ["inProgress", "pending"]
            and [s["status"] for s in plans[1]["plan"]] == ["completed", "completed"],
            f"unexpected plans {plans}",
        )
        changes = [i for i in turn["items"] if i["type"] == "fileChange"]
        check(len(changes) == 1, f"expected one fileChange item, saw {len(changes)}")
        check(changes[0]["status"] == "completed", f"the patch ended {changes[0]['status']}")
        kinds = {os.path.basename(c["path"]): c["kind"]["type"] for c in changes[0]["changes"]}
        check(
            kinds == {"README.md": "update", "CHANGELOG.md": "add"}, f"the item's changes: {kinds}"
        )
        # untrusted asks before every patch; the demo editor accepted it
        check(
            len(self.file_approvals) - approvals_before == 1,
            "the editor was not asked to approve the patch",
        )
        diffs = self.since(mark, "turn/diff/updated")
        check(bool(diffs), "no turn/diff/updated was sent")
        diff = diffs[-1]["diff"]
        check(
            "+++ b/README.md" in diff and "+Run `make demo` to try it." in diff,
            "turn/diff/updated lacks the README change",
        )
        check("+++ b/CHANGELOG.md" in diff, "turn/diff/updated lacks the new CHANGELOG.md")
        readme = (self.workspace / "README.md").read_text()
        check(readme == README_AFTER, f"README.md on disk is {readme!r}")
        changelog = (self.workspace / "CHANGELOG.md").read_text()
        check(changelog == CHANGELOG_TEXT, f"CHANGELOG.md on disk is {changelog!r}")
        say("    on disk: README.md and CHANGELOG.md now read exactly as the patch says")
        bodies = [r.body for r in self.backend.requests_to("/responses")[requests_before:]]
        check(bool(bodies), "the turn sent no request to the model")
        agents = [
            t
            for t in _input_texts(bodies[0])
            if t.startswith("# AGENTS.md instructions for ") and AGENTS_RULE in t
        ]
        check(bool(agents), "the request to the model does not carry the AGENTS.md instructions")
        say(f"    request to the model carries: {agents[0].splitlines()[0]!r} ({AGENTS_RULE!r})")

    async def restart_and_resume(self) -> None:
        say("    (stopping the server; starting a new server process)")
        old = self.client._server
        await self.restart()
        new = self.client._server
        if old is None or new is None:
            raise DemoFailure("the server process is unknown")
        check(old.returncode is not None, "the first server process did not exit")
        check(new.pid != old.pid, "no new server process was started")
        say(f"    server process {old.pid} exited; server process {new.pid} started")
        say("    (editor-owned tokens live in server memory only: the editor signs in again)")
        await self.login()
        listed = await self.call("thread/list", {})
        ids = [t["id"] for t in listed["data"]]
        check(self.thread_id in ids, f"thread/list on the new server shows {ids}")
        entry = next(t for t in listed["data"] if t["id"] == self.thread_id)
        say(f"    thread/list -> {self.thread_id} (preview {entry.get('preview')!r})")
        rollout = Path(entry.get("path") or "")
        check(
            await asyncio.to_thread(rollout.is_file),
            f"the thread's rollout file is missing: {entry.get('path')}",
        )
        say(f"    rollout on disk: $CODEX_HOME/{rollout.relative_to(self.codex_home)}")
        check(
            entry.get("preview") == FIRST_PROMPT,
            f"the thread's preview is {entry.get('preview')!r}",
        )
        resumed = await self.call("thread/resume", {"threadId": self.thread_id})
        turns = resumed["thread"].get("turns") or []
        say(f"    thread/resume -> {len(turns)} earlier turns restored")
        check(resumed["thread"]["id"] == self.thread_id, f"resumed {resumed['thread']['id']}")
        check(len(turns) == 3, f"the resumed thread has {len(turns)} turns, not 3")
        self.backend.script_next([text("Earlier I wrote notes.txt and documented the demo.")])
        requests_before = len(self.backend.requests_to("/responses"))
        completed, mark = await self.run_turn("Remind me what you did so far.")
        self.describe_turn(mark)
        check(
            completed["turn"]["status"] == "completed",
            f"turn ended {completed['turn']['status']}: {completed['turn'].get('error')}",
        )
        bodies = [r.body for r in self.backend.requests_to("/responses")[requests_before:]]
        check(bool(bodies), "the resumed turn sent no request to the model")
        items = bodies[0].get("input", [])
        texts = _input_texts(bodies[0])
        for prompt in EARLIER_PROMPTS:
            check(prompt in texts, f"the resumed request lacks the earlier prompt {prompt!r}")
        patch_items = {
            i.get("type") for i in items if isinstance(i, dict) and i.get("call_id") == "call-patch"
        }
        check(
            patch_items == {"custom_tool_call", "custom_tool_call_output"},
            f"the resumed request lacks the earlier apply_patch call or its output: {patch_items}",
        )
        say(f"    the resumed request carries the earlier conversation ({len(items)} input items):")
        say(f"      prompts {', '.join(repr(p) for p in EARLIER_PROMPTS)}")
        say("      and the apply_patch call call-patch with its output")

    async def refresh_on_401(self) -> None:
        self.backend.accepted_tokens = {"the-old-token-was-revoked"}
        say("    (the backend now rejects the current access token with HTTP 401)")
        before = len(self.refreshes)
        completed, mark = await self.run_turn(REFRESH_PROMPT)
        self.describe_turn(mark)
        turn = completed["turn"]
        check(turn["status"] == "completed", f"turn ended {turn['status']}: {turn.get('error')}")
        check(
            len(self.refreshes) - before == 1,
            f"expected one refresh, saw {len(self.refreshes) - before}",
        )
        bearers = [r.bearer for r in self.backend.requests_to("/responses")[-2:]]
        check(bearers[0] != bearers[1], "the retry did not use the refreshed token")
        say("    the request was retried once with the refreshed token")

    async def rate_limits(self) -> None:
        updates = [
            p["rateLimits"] for m, p in self.protocol.received if m == "account/rateLimits/updated"
        ]
        check(bool(updates), "no account/rateLimits/updated was sent during the turns")
        say(f"    server -> account/rateLimits/updated x{len(updates)}")
        for line in render_status_lines(updates[-1]):
            say(f"      {line}")
        read = await self.call("account/rateLimits/read", {})
        primary = read["rateLimits"]["primary"]
        check(
            primary is not None and primary["usedPercent"] == 23,
            f"account/rateLimits/read says {read}",
        )
        say(
            f"    account/rateLimits/read: primary {primary['usedPercent']}% of {primary['windowDurationMins']} min"
        )

    async def status(self) -> None:
        try:
            status = await self.call("codex/status", {})
        except JsonRpcException as exc:
            if exc.code == -32601:
                say("    NOTE: codex/status is not available in this build; skipped")
                return
            raise
        for line in status.get("lines", []):
            say(f"      {line}")
        check(
            status.get("authMode") == "chatgptAuthTokens",
            f"codex/status says {status.get('authMode')}",
        )


def _input_texts(body: Any) -> list[str]:
    """The text of every message in a Responses request's ``input``."""
    texts: list[str] = []
    for item in body.get("input", []) if isinstance(body, dict) else []:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            texts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        elif isinstance(content, str):
            texts.append(content)
    return texts


def say(line: str) -> None:
    print(line, flush=True)


async def _run_steps(demo: Demo) -> int:
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("log in with editor-owned ChatGPT tokens", demo.login),
        (
            "a turn in which the model runs sandboxed commands (approved by the editor)",
            demo.sandboxed_turn,
        ),
        (
            "a planned edit: update_plan and apply_patch (AGENTS.md sent to the model)",
            demo.plan_and_edit,
        ),
        ("a 401 answered by an editor token refresh", demo.refresh_on_401),
        ("rate limits", demo.rate_limits),
        ("status", demo.status),
        (
            "the thread survives a server restart: thread/list, thread/resume",
            demo.restart_and_resume,
        ),
    ]
    failures = 0
    for number, (title, step) in enumerate(steps, 1):
        say(f"[{number}] {title}")
        try:
            await asyncio.wait_for(step(), STEP_TIMEOUT_S * 2)
        except (DemoFailure, JsonRpcException, TimeoutError, RuntimeError, OSError) as exc:
            failures += 1
            reason = str(exc) or type(exc).__name__
            say(f"    FAIL: step {number} ({title}): {reason}")
            if number <= 2:
                break  # later steps need a signed-in thread
            continue
        say("    ok")
    if failures:
        tail = demo.server_log_tail()
        if tail:
            say("server log (last lines):")
            for line in tail:
                say(f"    {line}")
        say(f"FAIL: {failures} step(s) failed")
        return 1
    say(f"PASS: all {len(steps)} steps behaved as expected")
    return 0


async def _demo() -> int:
    started = time.monotonic()
    with (
        FakeBackend() as backend,
        FakeIssuer() as issuer,
        tempfile.TemporaryDirectory(prefix="codex-lsp-demo-") as tmp,
    ):
        demo = Demo(backend, issuer, Path(tmp))
        say("codex-lsp demo (offline)")
        say(f"  fake model backend: {backend.base_url}/backend-api   workspace: {demo.workspace}")
        try:
            await demo.start()
        except (OSError, TimeoutError, JsonRpcException, RuntimeError) as exc:
            say(f"FAIL: the server did not start: {exc or type(exc).__name__}")
            await demo.stop()
            return 1
        try:
            code = await _run_steps(demo)
        finally:
            await demo.stop()
    say(f"  finished in {time.monotonic() - started:.1f}s")
    return code


def run_demo(config: Config) -> int:
    """Run the demo; the user's config is not used (the demo has its own temp CODEX_HOME)."""
    del config
    return asyncio.run(_demo())
