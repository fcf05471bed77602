"""The Neovim plugin in a real terminal: the current Neovim runs under tmux, keys are typed with
`tmux send-keys` as a person would, and the screens are kept as artifacts
(tests/clients/artifacts/ or $CODEX_LSP_ARTIFACTS)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from client_support import (
    CLIENT_TESTS,
    NVIM_DIR,
    child_env,
    fake_config,
    jwt_tokens,
    require_nvim,
    require_tool,
    server_command,
)

from codex_lsp.fakes.backend import FakeBackend, shell_call
from codex_lsp.fakes.issuer import FakeIssuer

INIT = CLIENT_TESTS / "tmux_nvim_init.lua"
ARTIFACTS = Path(os.environ.get("CODEX_LSP_ARTIFACTS", CLIENT_TESTS / "artifacts"))


class Terminal:
    """One tmux server on a private socket, one window running nvim."""

    def __init__(self, socket: Path, dump_file: Path, name: str) -> None:
        self.socket = socket
        self.dump_file = dump_file
        self.name = name
        self.shots = 0

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, timeout=10
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def key(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def shot(self, label: str) -> str:
        text = self.screen()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        (ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.txt").write_text(text)
        return text

    def dump(self) -> dict[str, Any]:
        try:
            return json.loads(self.dump_file.read_text())
        except (OSError, ValueError):
            return {}

    def wait(
        self, what: str, check: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.dump()
            if state and check(state):
                return state
            time.sleep(0.1)
        self.shot("timeout")
        pytest.fail(
            f"timed out waiting for {what}; last state {self.dump()}\nscreen:\n{self.screen()}"
        )


@pytest.fixture
def terminal(
    tmp_path: Path,
    codex_home: Path,
    workspace: Path,
    issuer: FakeIssuer,
    backend: FakeBackend,
    request: pytest.FixtureRequest,
) -> Iterator[Terminal]:
    require_tool("tmux")
    nvim = require_nvim("nvim-current")
    tokens = jwt_tokens(issuer, account_id="acct-1", email="me@example.com", plan_type="pro")
    socket = tmp_path / "tmux.sock"
    dump_file = tmp_path / "dump.json"
    (workspace / "notes.txt").write_text("")
    env = child_env(
        codex_home,
        {
            "CODEX_NVIM_DIR": str(NVIM_DIR),
            "CODEX_SERVER_CMD": json.dumps(server_command(*fake_config(backend.base_url))),
            "CODEX_WORKSPACE": str(workspace),
            "CODEX_TOKENS": json.dumps({"login": tokens}),
            "CODEX_DUMP_FILE": str(dump_file),
            "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "TERM": "xterm-256color",
        },
    )
    command = f"{nvim} -u {INIT} -i NONE -n {workspace / 'notes.txt'}"
    subprocess.run(
        [
            "tmux",
            "-S",
            str(socket),
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "40",
            command,
        ],
        env=env,
        cwd=workspace,
        check=True,
        timeout=10,
    )
    term = Terminal(socket, dump_file, request.node.name + "-" + uuid.uuid4().hex[:6])
    try:
        term.wait("nvim to start", lambda s: "mode" in s)
        yield term
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, timeout=10)


def test_typing_when_an_approval_appears_answers_nothing_and_the_chat_window_answers_it(
    terminal: Terminal, workspace: Path, backend: FakeBackend
) -> None:
    backend.script_next([shell_call(["touch", "made-by-agent.txt"])])
    terminal.key(":CodexLogin", "Enter")
    terminal.wait("sign-in", lambda s: s["auth_mode"] == "chatgptAuthTokens")
    terminal.key(":CodexAsk make a file", "Enter")
    # The person goes on writing in their own buffer; the approval request arrives mid-sentence.
    terminal.key("i")
    sentence = "I was saying that a dialog must never eat what I type, as accepting is bad. "
    for start in range(0, len(sentence), 6):
        terminal.type(sentence[start : start + 6])
        time.sleep(0.08)
    state = terminal.wait("the approval request", lambda s: s["pending_approval"] == "command")
    terminal.type("And more.")
    terminal.key("Escape")
    state = terminal.wait(
        "the typing to land", lambda s: s["lines"] and s["lines"][0].endswith("And more.")
    )
    screen = terminal.shot("approval-pending")
    # Every key went to the buffer; none answered the request.
    assert state["lines"] == [sentence + "And more."]
    assert state["pending_approval"] == "command" and state["approvals"] == []
    assert not (workspace / "made-by-agent.txt").exists()
    assert "Run this command?" in screen and "$ touch made-by-agent.txt" in screen
    assert "waiting for your approval" in screen  # the chat window's status line
    # Going to the chat window and pressing `a` answers it.
    terminal.key(":Codex", "Enter")
    terminal.key("a")
    state = terminal.wait(
        "the turn to finish", lambda s: s["turn"] and s["turn"].get("status") == "completed"
    )
    screen = terminal.shot("approved")
    assert [a["decision"] for a in state["approvals"]] == ["accept"]
    assert (workspace / "made-by-agent.txt").exists()
    assert "-- done --" in screen and "The command finished." in screen
    assert state["errors"] == []
    terminal.key(":qa!", "Enter")
