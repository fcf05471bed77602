from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_support import VSCODE_DIR, require_nvim, run_tsc


@pytest.fixture(scope="session")
def vscode_out() -> Iterator[Path]:
    """Compile the whole extension once per session into a private directory under `out/`
    (ignored by git; node still finds `client-stub/vscode/node_modules` from there), so concurrent
    test runs never read each other's half-written files."""
    out = VSCODE_DIR / "out" / f"test-{uuid.uuid4().hex[:12]}"
    result = run_tsc("--outDir", str(out))
    try:
        if result.returncode != 0:
            pytest.fail(
                f"tsc failed to compile client-stub/vscode:\n{result.stdout}\n{result.stderr}"
            )
        assert (out / "core" / "session.js").is_file() and (out / "extension.js").is_file()
        yield out
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(params=["nvim-debian", "nvim-current"])
def nvim(request: pytest.FixtureRequest) -> str:
    """Each Neovim test runs on Debian's 0.7.2 and on the current Neovim from PyPI."""
    return require_nvim(request.param)
