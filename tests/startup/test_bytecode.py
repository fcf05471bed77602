"""Our own .pyc files are written once after start-up when bytecode writing is off."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import codex_lsp.errors
from codex_lsp import app


def test_missing_pyc_is_written_when_bytecode_writing_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = Path(codex_lsp.errors.__file__)
    pyc = Path(importlib.util.cache_from_source(str(source)))
    pyc.unlink(missing_ok=True)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.delenv("CODEX_LSP_NO_CODE_CACHE", raising=False)
    app.compile_own_bytecode()
    assert pyc.is_file()
    stamp = pyc.stat().st_mtime_ns
    app.compile_own_bytecode()  # up to date: left alone
    assert pyc.stat().st_mtime_ns == stamp


def test_nothing_written_when_python_writes_bytecode_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = Path(codex_lsp.errors.__file__)
    pyc = Path(importlib.util.cache_from_source(str(source)))
    pyc.unlink(missing_ok=True)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    app.compile_own_bytecode()
    assert not pyc.exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    app.compile_own_bytecode()  # restore it for the next spawns
    assert pyc.is_file()
