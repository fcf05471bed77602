"""The protocol module, the generated schema, the docs and the registered handlers must agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from codex_lsp.app import build_server, start_services
from codex_lsp.config import load_config
from codex_lsp.handlers import ON_DEMAND
from codex_lsp.protocol import GROUPS, METHODS, client_requests
from codex_lsp.protocol.schema import SCHEMA_FILE, render
from harness import ROOT, start_session

DOCS = ROOT / "protocol-docs"
HEADING = re.compile(r"^## `([^`]+)`", re.MULTILINE)


def test_committed_schema_matches_the_protocol_module() -> None:
    committed = (DOCS / "schema" / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render(), "run `python -m codex_lsp.protocol.schema` and commit the result"


def test_schema_check_command_reports_staleness(tmp_path: Path) -> None:
    stale = tmp_path / SCHEMA_FILE
    stale.write_text("{}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "codex_lsp.protocol.schema", "--check", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "stale" in proc.stderr


@pytest.mark.parametrize("group", GROUPS)
def test_every_method_of_a_group_is_documented_on_its_page_and_nothing_else(group: str) -> None:
    page = DOCS / f"{group}.md"
    assert page.exists(), f"missing {page}"
    documented = set(HEADING.findall(page.read_text(encoding="utf-8")))
    expected = {name for name, m in METHODS.items() if m.group == group}
    assert documented == expected, (
        f"{page.name}: undocumented {sorted(expected - documented)}, unknown {sorted(documented - expected)}"
    )


def test_every_field_has_a_docstring() -> None:
    import attrs

    from codex_lsp.protocol.wire import field_doc, payload_classes

    classes = payload_classes(part for m in METHODS.values() for part in (m.params, m.result))
    assert len(classes) > 50  # the walk reaches nested payloads, not just the top-level ones
    missing = [
        f"{cls.__name__}.{f.name}"
        for cls in classes
        for f in attrs.fields(cls)
        if not field_doc(f).strip()
    ]
    assert not missing, f"fields without docs: {missing}"


async def test_registered_handlers_are_exactly_the_client_requests(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    server = build_server(config)
    await start_services(server, config)
    expected = {m.name for m in client_requests()} - {"initialize"}
    on_demand = {m.name for methods in ON_DEMAND.values() for m in methods}
    assert on_demand and not on_demand & set(server.registered)  # not imported at start-up
    assert set(server.registered) | on_demand == expected
    await server.load_on_demand()  # each module binds exactly what ON_DEMAND says it does
    await server.services.close()
    assert set(server.registered) == expected


async def test_every_client_request_is_routed_by_the_running_server(codex_home: Path) -> None:
    async with start_session(codex_home) as s:
        for method in sorted(m.name for m in client_requests() if m.name != "initialize"):
            try:
                await s.call(method, {"__probe": True}, timeout=30)
            except JsonRpcException as exc:
                assert exc.code != -32601, f"{method} is not registered"


def test_the_routed_names_are_exactly_the_client_requests() -> None:
    """protocol/names.py (routed before the group modules load) lists every client request."""
    from codex_lsp.protocol.names import CLIENT_REQUESTS

    assert len(set(CLIENT_REQUESTS)) == len(CLIENT_REQUESTS)
    assert set(CLIENT_REQUESTS) == {m.name for m in client_requests()}


def test_answering_initialize_does_not_load_the_group_modules() -> None:
    """What the server imports before it answers `initialize` leaves the payload classes of the
    other groups unbuilt (they load in the deferred start-up)."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from codex_lsp.app import build_server\n"
        "from codex_lsp.config import load_config\n"
        "import tempfile, pathlib\n"
        "build_server(load_config(pathlib.Path(tempfile.mkdtemp())))\n"
        "print(sorted(m for m in sys.modules if m.startswith('codex_lsp.protocol.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = done.stdout.strip()
    for group in ("account", "threads", "history", "commands", "context", "edits", "models"):
        assert f"'codex_lsp.protocol.{group}'" not in loaded, loaded
    assert "'codex_lsp.protocol.handshake'" in loaded
