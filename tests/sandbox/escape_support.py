"""Drive the real server for the escape suite: `command/exec`, and agent turns whose `shell`
calls come from the loopback FakeBackend (the model is the attacker here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from codex_lsp.fakes.backend import FakeBackend, Step
from harness import Session, start_session

API_KEY = "sk-test-escapes"
APPROVAL = "item/commandExecution/requestApproval"


@asynccontextmanager
async def server_session(
    codex_home: Path,
    workspace: Path,
    *,
    backend: str,
    model: FakeBackend | None = None,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> AsyncIterator[Session]:
    """The real server with the sandbox backend forced to ``backend`` (bwrap or landlock)."""
    all_env = {"CODEX_SANDBOX_BACKEND": backend, "CODEX_API_KEY": API_KEY}
    all_env.update(env or {})
    all_args = list(args)
    if model is not None:
        all_args += [
            "-c",
            'model_provider="fake"',
            "-c",
            f'model_providers.fake.base_url="{model.base_url}/v1"',
            "-c",
            "model_providers.fake.requires_openai_auth=true",
        ]
    async with start_session(
        codex_home, args=all_args, env=all_env, workspace=workspace
    ) as session:
        yield session


class Approvals:
    """Answers every approval request with ``decision`` and records it."""

    def __init__(self, session: Session, decision: str = "decline") -> None:
        self.calls: list[Any] = []
        self.decision = decision

        def answer(params: Any) -> dict[str, Any]:
            self.calls.append(params)
            return {"decision": self.decision}

        session.on_request(APPROVAL, answer)


async def exec_(session: Session, script: str, cwd: Path, policy: dict[str, Any]) -> dict[str, Any]:
    """`command/exec` of ``sh -c script``."""
    params = {"command": ["sh", "-c", script], "cwd": str(cwd), "sandboxPolicy": policy}
    result: dict[str, Any] = await session.call("command/exec", params, timeout=30)
    return result


async def agent_turn(
    session: Session,
    model: FakeBackend,
    steps: list[Step],
    *,
    sandbox: str = "workspace-write",
    approval_policy: str = "on-request",
    cwd: Path | None = None,
    sandbox_policy: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A new thread; one turn in which the model makes ``steps``; the completed command items."""
    params: dict[str, Any] = {"approvalPolicy": approval_policy, "sandbox": sandbox}
    if cwd is not None:
        params["cwd"] = str(cwd)
    thread = (await session.call("thread/start", params, timeout=30))["thread"]
    model.script_next(steps)
    since = session.mark()
    turn: dict[str, Any] = {"threadId": thread["id"], "input": [{"type": "text", "text": "go"}]}
    if sandbox_policy is not None:  # a turn/start override, e.g. extra writable roots
        turn["sandboxPolicy"] = sandbox_policy
    started = await session.call("turn/start", turn)
    turn_id = started["turn"]["id"]
    completed = await session.wait_for(
        "turn/completed", since=since, timeout=60, where=lambda p: p["turn"]["id"] == turn_id
    )
    assert completed["turn"]["status"] == "completed", completed["turn"]
    return [i for i in completed["turn"]["items"] if i["type"] == "commandExecution"]
