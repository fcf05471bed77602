"""Approval policies and every decision: accept, acceptForSession, decline, cancel; on-failure
re-runs, on-request escalation, interrupt while waiting, editor errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pygls.exceptions import JsonRpcException
from turns_support import APPROVAL, methods, of, run_turn, start_thread, turn_session

from codex_lsp.fakes.backend import FakeBackend, shell_call
from harness import Session


class Approver:
    """Answers item/commandExecution/requestApproval with scripted decisions; records the
    params and the JSON-RPC id of each request."""

    def __init__(self, session: Session, *decisions: str) -> None:
        self.session = session
        self.decisions = list(decisions)
        self.calls: list[dict[str, Any]] = []
        self.request_ids: list[Any] = []
        self.hold: asyncio.Event | None = None  # set: wait for it before answering
        self.error: JsonRpcException | None = None

        async def answer(params: Any) -> Any:  # pygls can't register bound methods
            return await self._answer(params)

        session.on_request(APPROVAL, answer)

    async def _answer(self, params: Any) -> Any:
        self.calls.append(params)
        self.request_ids.append(self.session.protocol.msg_id)
        if self.hold is not None:
            await asyncio.wait_for(self.hold.wait(), 30)
        if self.error is not None:
            raise self.error
        return {"decision": self.decisions.pop(0) if self.decisions else "decline"}


def _commands(received: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [
        p["item"]
        for m, p in received
        if m == "item/completed" and p["item"]["type"] == "commandExecution"
    ]


def _last_output(backend: FakeBackend) -> str:
    items = [
        i
        for r in backend.requests_to("/responses")
        for i in r.body["input"]
        if i["type"] == "function_call_output"
    ]
    return items[-1]["output"]


async def test_untrusted_runs_known_safe_commands_without_asking(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s)
        thread = (await start_thread(s, approvalPolicy="untrusted", sandbox="read-only"))["thread"]
        backend.script_next(
            [
                shell_call(["ls"]),
                shell_call(["git", "status"]),
                shell_call(["bash", "-lc", "cat hello.txt"]),
            ]
        )
        completed, received = await run_turn(s, thread["id"], "look around")
        assert approver.calls == []
        assert len(_commands(received)) == 3 and completed["turn"]["status"] == "completed"


async def test_untrusted_accept_runs_it_with_request_then_resolved_then_completed(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s, "accept")
        thread = (await start_thread(s, approvalPolicy="untrusted", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["touch", "accepted.txt"])])
        completed, received = await run_turn(s, thread["id"], "make a file")
        assert (workspace / "accepted.txt").exists()
        (request,) = approver.calls
        item = _commands(received)[0]
        assert request["threadId"] == thread["id"] and request["turnId"] == completed["turn"]["id"]
        assert request["itemId"] == item["id"] and request["command"] == "touch accepted.txt"
        assert request["cwd"] == str(workspace) and "untrusted" in request["reason"]
        assert isinstance(request["startedAtMs"], int) and request["approvalId"]
        resolved = of(received, "serverRequest/resolved")
        assert resolved == [{"threadId": thread["id"], "requestId": approver.request_ids[0]}]
        order = [
            (m, p.get("item", {}).get("type"))
            for m, p in received
            if m in ("item/started", "item/completed", "serverRequest/resolved")
        ]
        assert order.index(("item/started", "commandExecution")) < order.index(
            ("serverRequest/resolved", None)
        )
        assert order.index(("serverRequest/resolved", None)) < order.index(
            ("item/completed", "commandExecution")
        )
        assert item["status"] == "completed"


async def test_decline_tells_the_model_and_marks_the_item_declined(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s, "decline")
        thread = (await start_thread(s, approvalPolicy="untrusted", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["touch", "declined.txt"])])
        completed, received = await run_turn(s, thread["id"], "make a file")
        assert len(approver.calls) == 1
        assert not (workspace / "declined.txt").exists()
        item = _commands(received)[0]
        assert item["status"] == "declined" and item["exitCode"] is None
        assert "declined" in _last_output(backend)
        assert completed["turn"]["status"] == "completed"  # the turn goes on after a decline
        assert len(of(received, "serverRequest/resolved")) == 1


async def test_cancel_interrupts_the_turn(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        Approver(s, "cancel")
        thread = (await start_thread(s, approvalPolicy="untrusted", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["touch", "cancelled.txt"])])
        completed, received = await run_turn(s, thread["id"], "make a file")
        assert completed["turn"]["status"] == "interrupted" and completed["turn"]["error"] is None
        assert not (workspace / "cancelled.txt").exists()
        assert _commands(received)[0]["status"] == "declined"
        assert len(backend.requests_to("/responses")) == 1  # the model was not called again
        assert len(of(received, "serverRequest/resolved")) == 1


async def test_accept_for_session_remembers_the_exact_command(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s, "acceptForSession", "decline")
        thread = (await start_thread(s, approvalPolicy="untrusted", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["touch", "a.txt"])])
        await run_turn(s, thread["id"], "first")
        backend.script_next([shell_call(["touch", "a.txt"]), shell_call(["touch", "b.txt"])])
        _, received = await run_turn(s, thread["id"], "second")
        # Same argv: no question. A different one is asked (and declined here).
        assert [c["command"] for c in approver.calls] == ["touch a.txt", "touch b.txt"]
        assert [i["status"] for i in _commands(received)] == ["completed", "declined"]
        # Another thread does not inherit the approval.
        other = (await start_thread(s, approvalPolicy="untrusted", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["touch", "a.txt"])])
        await run_turn(s, other["id"], "third")
        assert len(approver.calls) == 3


async def test_on_failure_offers_an_unsandboxed_rerun(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s, "accept", "decline")
        thread = (await start_thread(s, approvalPolicy="on-failure", sandbox="read-only"))["thread"]
        backend.script_next([shell_call(["touch", "rerun.txt"])])
        _, received = await run_turn(s, thread["id"], "make a file")
        (request,) = approver.calls
        assert "failed in the sandbox" in request["reason"]
        assert (workspace / "rerun.txt").exists()  # the approved re-run had no sandbox
        assert _commands(received)[0]["status"] == "completed"
        # Declining the re-run keeps the sandboxed failure and tells the model.
        backend.script_next([shell_call(["touch", "second.txt"])])
        _, received = await run_turn(s, thread["id"], "another file")
        assert not (workspace / "second.txt").exists()
        assert _commands(received)[0]["status"] == "failed"
        assert "declined to run the command again without the sandbox" in _last_output(backend)
        # A command that succeeds in the sandbox is never asked about.
        backend.script_next([shell_call(["cat", "hello.txt"])])
        await run_turn(s, thread["id"], "read")
        assert len(approver.calls) == 2


async def test_on_failure_asks_when_no_sandbox_is_available(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(
        codex_home, backend, workspace, env={"CODEX_SANDBOX_BACKEND": "none"}
    ) as s:
        approver = Approver(s, "accept")
        thread = (await start_thread(s, approvalPolicy="on-failure", sandbox="read-only"))["thread"]
        backend.script_next([shell_call(["cat", "hello.txt"])])
        _, received = await run_turn(s, thread["id"], "read")
        assert len(approver.calls) == 1 and "sandbox" in approver.calls[0]["reason"]
        assert _commands(received)[0]["aggregatedOutput"] == "hello from the workspace\n"


async def test_on_request_asks_only_for_escalation(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s, "accept")
        thread = (await start_thread(s, approvalPolicy="on-request", sandbox="read-only"))["thread"]
        escalated = json.dumps(
            {
                "command": ["touch", "escalated.txt"],
                "with_escalated_permissions": True,
                "justification": "needs to write a file",
            }
        )
        backend.script_next(
            [shell_call(["touch", "plain.txt"]), shell_call([], raw_arguments=escalated)]
        )
        _, received = await run_turn(s, thread["id"], "write files")
        assert [c["command"] for c in approver.calls] == ["touch escalated.txt"]
        assert "needs to write a file" in approver.calls[0]["reason"]
        assert not (workspace / "plain.txt").exists()  # sandboxed, not asked, failed
        assert (workspace / "escalated.txt").exists()  # approved escalation runs unsandboxed
        assert [i["status"] for i in _commands(received)] == ["failed", "completed"]
        tool = backend.requests_to("/responses")[0].body["tools"][0]
        assert "with_escalated_permissions" in tool["parameters"]["properties"]


async def test_never_policy_never_asks(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s, "accept")
        thread = (await start_thread(s, approvalPolicy="never", sandbox="read-only"))["thread"]
        backend.script_next([shell_call(["touch", "never.txt"])])
        _, received = await run_turn(s, thread["id"], "write")
        assert approver.calls == [] and not (workspace / "never.txt").exists()
        assert _commands(received)[0]["status"] == "failed"
        assert (
            "with_escalated_permissions"
            not in backend.requests_to("/responses")[0].body["tools"][0]["parameters"]["properties"]
        )


async def test_interrupt_while_waiting_for_approval_runs_nothing(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s, "accept")
        approver.hold = asyncio.Event()
        thread = (await start_thread(s, approvalPolicy="untrusted", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["touch", "late.txt"])])
        since = s.mark()
        turn = (
            await s.call(
                "turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "x"}]}
            )
        )["turn"]
        for _ in range(500):
            if approver.calls:
                break
            await asyncio.sleep(0.01)
        assert approver.calls, "no approval request arrived"
        assert (
            await s.call("turn/interrupt", {"threadId": thread["id"], "turnId": turn["id"]}) == {}
        )
        received = s.notifications[since:]
        completed = of(received, "turn/completed")
        assert completed and completed[0]["turn"]["status"] == "interrupted"
        assert approver.request_ids[0] in [p.id for m, p in received if m == "$/cancelRequest"]
        assert of(received, "serverRequest/resolved") == [
            {"threadId": thread["id"], "requestId": approver.request_ids[0]}
        ]
        assert _commands(received)[0]["status"] == "declined"
        approver.hold.set()  # the late "accept" must not run anything
        await asyncio.sleep(0.3)
        assert not (workspace / "late.txt").exists()
        assert methods(s.notifications[since:]).count("turn/completed") == 1


async def test_editor_error_answer_is_a_decline(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        approver = Approver(s)
        approver.error = JsonRpcException("no approval UI", code=-32601)
        thread = (await start_thread(s, approvalPolicy="untrusted", sandbox="workspace-write"))[
            "thread"
        ]
        backend.script_next([shell_call(["touch", "err.txt"])])
        completed, received = await run_turn(s, thread["id"], "x")
        assert not (workspace / "err.txt").exists()
        assert _commands(received)[0]["status"] == "declined"
        assert completed["turn"]["status"] == "completed"
        assert len(of(received, "serverRequest/resolved")) == 1
