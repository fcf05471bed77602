from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from client_support import VSCODE_DIR, run_tsc

from codex_lsp.fakes.backend import FakeBackend
from codex_lsp.fakes.issuer import FakeIssuer


@pytest.fixture(scope="session")
def vscode_out() -> Path:
    """Compile the whole extension once per session (tsc writes client-stub/vscode/out)."""
    result = run_tsc()
    if result.returncode != 0:
        pytest.fail(f"tsc failed to compile client-stub/vscode:\n{result.stdout}\n{result.stderr}")
    out = VSCODE_DIR / "out"
    assert (out / "core" / "session.js").is_file() and (out / "extension.js").is_file()
    return out


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer() as fake:
        yield fake


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    with FakeBackend() as fake:
        yield fake


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    (ws / "hello.txt").write_text("hello from the workspace\n")
    return ws
