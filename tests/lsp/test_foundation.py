"""Foundation: handshake, params edge cases, error mapping, server→client helper, config errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from harness import server_env, start_session


async def test_initialize_reports_server_info_and_codex_capabilities(codex_home: Path) -> None:
    async with start_session(codex_home) as s:
        result = s.init_result
        assert result.server_info.name == "codex-lsp"
        assert result.server_info.version
        codex = result.capabilities.experimental["codex"]
        assert codex["codexHome"] == str(codex_home.resolve())
        assert codex["platformFamily"] == "unix" and codex["platformOs"] == "linux"
        assert codex["userAgent"].startswith("codex_lsp/")
        assert codex["protocolVersion"] == "2"


@pytest.mark.parametrize("how", ["missing", "null", "empty-list", "empty-object"])
async def test_missing_null_and_empty_list_params_mean_empty_object(
    codex_home: Path, how: str
) -> None:
    async with start_session(codex_home) as s:
        if how == "missing":
            with pytest.raises(JsonRpcException) as exc:
                await s.call_raw("codexTest/echo", omit_params=True)
        else:
            params = {"null": None, "empty-list": [], "empty-object": {}}[how]
            with pytest.raises(JsonRpcException) as exc:
                await s.call_raw("codexTest/echo", params=params)
        # `{}` lacks the required `text`: the answer names it, proving params were read as `{}`.
        assert exc.value.code == -32602
        assert "params.text" in exc.value.message


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"text": 3}, "params.text"),
        ({"text": "a", "count": "2"}, "params.count"),
        ({"text": "a", "count": True}, "params.count"),
        ("a string", "params"),
    ],
)
async def test_wrong_types_answer_invalid_params_naming_the_field(
    codex_home: Path, params, field
) -> None:
    async with start_session(codex_home) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call_raw("codexTest/echo", params=params)
        assert exc.value.code == -32602
        assert exc.value.message.startswith(field + ":")


async def test_unknown_method_is_method_not_found(codex_home: Path) -> None:
    async with start_session(codex_home) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call("no/such/method", {})
        assert exc.value.code == -32601


async def test_raising_handler_gives_clean_internal_error_and_server_keeps_running(
    codex_home: Path,
) -> None:
    async with start_session(codex_home) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call("codexTest/raise", {})
        assert exc.value.code == -32603
        assert "RuntimeError" in exc.value.message
        assert exc.value.data is None
        assert (
            ".py" not in exc.value.message and "kaboom" not in exc.value.message
        )  # no paths, no internals
        assert await s.call("codexTest/echo", {"text": "still here"}) == {
            "text": "still here",
            "nothing": None,
        }
        assert not any(m == "window/showMessage" for m, _ in s.notifications)


async def test_custom_request_before_initialize_is_refused(codex_home: Path) -> None:
    async with start_session(codex_home, initialize=False) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call_raw("codexTest/echo", params={"text": "x"})
        assert exc.value.code == -32002
        assert exc.value.message == "Server not initialized"


async def test_opted_out_notifications_are_never_sent(codex_home: Path) -> None:
    async with start_session(codex_home) as s:
        await s.call("codexTest/notify", {})
        await s.wait_for("account/updated")
    async with start_session(
        codex_home, init_options={"optOutNotificationMethods": ["account/updated"]}
    ) as s:
        await s.call("codexTest/notify", {})
        await s.call(
            "codexTest/echo", {"text": "sync"}
        )  # the notification would precede this answer
        assert "account/updated" not in [m for m, _ in s.notifications]


async def test_null_fields_are_sent_as_null_not_dropped(codex_home: Path) -> None:
    async with start_session(codex_home) as s:
        await s.call("codexTest/notify", {})
        params = await s.wait_for("account/updated")
        assert params == {
            "authMode": None,
            "planType": None,
            "chatgptAccountId": None,
            "email": None,
        }


async def test_client_request_answer_and_error_answer(codex_home: Path) -> None:
    async with start_session(codex_home) as s:

        async def answer(params):
            if params.get("fail"):
                raise JsonRpcException("user said no", code=-32001)
            return {"echo": params["value"]}

        s.on_request("test/ask", answer)
        assert await s.call(
            "codexTest/clientRequest", {"method": "test/ask", "params": {"value": 7}}
        ) == {"answer": {"echo": 7}}
        with pytest.raises(JsonRpcException) as exc:
            await s.call(
                "codexTest/clientRequest", {"method": "test/ask", "params": {"fail": True}}
            )
        assert "user said no" in exc.value.message and "-32001" in exc.value.message


async def test_client_request_timeout_then_late_answer_surfaces_no_error(
    codex_home: Path, tmp_path: Path
) -> None:
    stderr = tmp_path / "stderr.log"
    async with start_session(codex_home, stderr_file=stderr) as s:

        async def slow(params):
            await asyncio.sleep(1.0)
            return {"late": True}

        s.on_request("test/slow", slow)
        with pytest.raises(JsonRpcException) as exc:
            await s.call("codexTest/clientRequest", {"method": "test/slow", "timeout": 0.3})
        assert "did not answer within 0.3s" in exc.value.message
        await asyncio.sleep(1.2)  # the late answer arrives now
        assert await s.call("codexTest/echo", {"text": "ok"}) == {"text": "ok", "nothing": None}
        assert not any(m == "window/showMessage" for m, _ in s.notifications)
    assert "CANCELLED" not in stderr.read_text()
    assert "Traceback" not in stderr.read_text()


def _run_cli(codex_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codex_lsp", *args],
        env=server_env(codex_home),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            'sandbox_mode = "yolo"',
            'key \'sandbox_mode\' must be one of "read-only", "workspace-write", "danger-full-access"',
        ),
        ("approval_policy = 3", "key 'approval_policy' must be one of"),
        ("model = [", "not valid TOML"),
        (
            'cli_auth_credentials_store = "cloud"',
            'key \'cli_auth_credentials_store\' must be one of "file", "keyring", "auto", "ephemeral"',
        ),
        (
            '[sandbox_workspace_write]\nnetwork_access = "yes"',
            "key 'sandbox_workspace_write.network_access' must be true or false",
        ),
        ('model_provider = "nope"', "key 'model_provider' must be one of"),
    ],
)
def test_bad_config_stops_startup_with_one_clear_message(
    codex_home: Path, toml: str, expected: str
) -> None:
    (codex_home / "config.toml").write_text(toml + "\n")
    proc = _run_cli(codex_home)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert str(codex_home.resolve() / "config.toml") in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # stdout carries only protocol


def test_cli_override_is_validated_too(codex_home: Path) -> None:
    proc = _run_cli(codex_home, "-c", 'forced_login_method="sso"')
    assert (
        proc.returncode == 2
        and 'key \'forced_login_method\' must be one of "chatgpt", "api"' in proc.stderr
    )


def test_tcp_refuses_non_loopback(codex_home: Path) -> None:
    proc = _run_cli(codex_home, "--tcp", "0.0.0.0:2087")
    assert proc.returncode == 2 and "only loopback" in proc.stderr


async def test_stdio_flag_is_accepted_and_stdout_is_pure_protocol(codex_home: Path) -> None:
    async with start_session(codex_home, args=["--stdio"]) as s:
        assert (await s.call("codexTest/echo", {"text": "x"}))["text"] == "x"


async def test_tcp_transport_on_loopback(codex_home: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codex_lsp",
        "--tcp",
        f"127.0.0.1:{port}",
        env=server_env(codex_home),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # bounded: up to 10 s for the listener
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("server did not listen")
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        )
        writer.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        await writer.drain()
        header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        reply = json.loads(await asyncio.wait_for(reader.readexactly(length), 10))
        assert reply["result"]["serverInfo"]["name"] == "codex-lsp"
        writer.close()
    finally:
        proc.kill()
        await proc.wait()


@pytest.mark.parametrize("preset", ["neovim@v0.7.0", "visual-studio-code"])
async def test_real_editor_capability_presets_initialize(codex_home: Path, preset: str) -> None:
    from pytest_lsp import client_capabilities

    caps = client_capabilities(preset)
    async with start_session(codex_home, capabilities=caps) as s:
        assert s.init_result.capabilities.experimental["codex"]["platformOs"] == "linux"


async def test_second_initialize_is_refused_and_bad_lsp_params_are_answered(
    codex_home: Path,
) -> None:
    async with start_session(codex_home) as s:
        with pytest.raises(JsonRpcException) as exc:
            await s.call_raw(
                "initialize", params={"processId": None, "rootUri": None, "capabilities": {}}
            )
        assert exc.value.code == -32600 and exc.value.message == "Already initialized"
        with pytest.raises(JsonRpcException) as exc:
            await s.call_raw("initialize", params=None)
        assert exc.value.code == -32602
        with pytest.raises(JsonRpcException) as exc:
            await s.call_raw("textDocument/hover", params={"textDocument": 3})
        assert exc.value.code in (-32602, -32601)
        assert await s.call("codexTest/echo", {"text": "alive"}) == {
            "text": "alive",
            "nothing": None,
        }
