"""The clients' method tables are generated from the schema and stay in step with the server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from client_support import GENERATOR, NVIM_DIR, VSCODE_DIR, require_tool

from codex_lsp.protocol import METHODS

TS_FILE = VSCODE_DIR / "src" / "protocol.ts"
LUA_FILE = NVIM_DIR / "lua" / "codex_lsp" / "protocol.lua"
SCHEMA = VSCODE_DIR.parent.parent / "protocol-docs" / "schema" / "codex-lsp.schema.json"


def run_generator(*args: str, cwd: Path = VSCODE_DIR) -> subprocess.CompletedProcess[str]:
    require_tool("node")
    return subprocess.run(
        ["node", str(GENERATOR), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_committed_tables_match_the_schema() -> None:
    result = run_generator("--check")
    assert result.returncode == 0, result.stderr
    assert f"({len(METHODS)} methods)" in result.stdout


def test_check_fails_and_names_the_file_when_the_ts_module_is_stale(tmp_path: Path) -> None:
    stale_ts = tmp_path / "protocol.ts"
    stale_ts.write_text(TS_FILE.read_text().replace('"account/read"', '"account/readOld"'))
    result = run_generator("--check", "--ts-out", str(stale_ts), cwd=tmp_path)
    assert result.returncode == 1
    assert "stale generated protocol files: protocol.ts" in result.stderr
    assert "protocol.lua" not in result.stderr


def test_check_fails_when_the_schema_gained_a_method(tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    text = SCHEMA.read_text()
    schema.write_text(
        text.replace(
            '"methods": {',
            '"methods": {\n    "codex/new": {"direction": "client->server", '
            '"kind": "request", "group": "status", "description": "x", '
            '"params": {"$ref": "#/$defs/Empty"}, "result": {"$ref": "#/$defs/Empty"}},',
            1,
        )
    )
    result = run_generator("--check", "--schema", str(schema))
    assert result.returncode == 1
    assert "src/protocol.ts" in result.stderr and "protocol.lua" in result.stderr
    # Regenerating into a scratch copy adds the method to both tables.
    ts_out, lua_out = tmp_path / "p.ts", tmp_path / "p.lua"
    assert (
        run_generator(
            "--schema", str(schema), "--ts-out", str(ts_out), "--lua-out", str(lua_out)
        ).returncode
        == 0
    )
    assert 'CODEX_NEW: "codex/new"' in ts_out.read_text()
    assert 'CODEX_NEW = "codex/new"' in lua_out.read_text()


def test_tables_name_every_method_of_the_protocol_module_with_its_constant() -> None:
    import codex_lsp.protocol as protocol_pkg

    constants = {}
    for module in (
        protocol_pkg.account,
        protocol_pkg.commands,
        protocol_pkg.edits,
        protocol_pkg.handshake,
        protocol_pkg.history,
        protocol_pkg.models,
        protocol_pkg.status,
        protocol_pkg.threads,
        protocol_pkg.context,
        protocol_pkg.turn_errors,
    ):
        for attr, value in vars(module).items():
            if isinstance(value, protocol_pkg.Method):
                constants[attr] = value.name
    assert set(constants.values()) == set(METHODS)
    lua = dict(re.findall(r'^  ([A-Z_]+) = "([^"]+)",$', LUA_FILE.read_text(), re.M))
    ts = dict(re.findall(r'^  ([A-Z_]+): "([^"]+)",$', TS_FILE.read_text(), re.M))
    assert lua == constants
    assert ts == constants


def test_lua_table_loads_in_neovim(tmp_path: Path) -> None:
    require_tool("nvim")
    out = tmp_path / "names.txt"
    script = (
        f"vim.opt.rtp:prepend({str(NVIM_DIR)!r}); local p = require('codex_lsp.protocol'); "
        f"local f = io.open({str(out)!r}, 'w'); "
        "for k, v in pairs(p.methods) do f:write(v, ' ', p.info[v].direction, ' ', p.info[v].kind, '\\n') end; "
        "f:close(); vim.cmd('qa!')"
    )
    subprocess.run(
        ["nvim", "--headless", "-u", "NONE", "-c", f"lua {script}"],
        timeout=30,
        check=True,
        capture_output=True,
    )
    rows = {line.split()[0]: line.split()[1:] for line in out.read_text().splitlines()}
    assert set(rows) == set(METHODS)
    for name, method in METHODS.items():
        assert rows[name] == [method.direction, method.kind]


def test_core_modules_do_not_import_vscode() -> None:
    core = sorted((VSCODE_DIR / "src" / "core").glob("*.ts"))
    assert core, "src/core is empty"
    for path in core:
        text = path.read_text()
        assert not re.search(r'from\s+"vscode"|require\("vscode"\)', text), (
            f"{path.name} imports vscode"
        )
        assert not re.search(r'from\s+"vscode-languageclient', text), (
            f"{path.name} imports vscode-languageclient"
        )


def test_generator_output_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for target in (first, second):
        assert (
            run_generator(
                "--ts-out", str(target / "p.ts"), "--lua-out", str(target / "p.lua")
            ).returncode
            == 0
        )
    assert (first / "p.ts").read_bytes() == (second / "p.ts").read_bytes() == TS_FILE.read_bytes()
