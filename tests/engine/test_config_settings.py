"""Every setting comes from `Config`: `[lsp]` keys, env vars overriding them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from codex_lsp.config import ConfigError, load_config


def test_lsp_timeouts_default_and_come_from_the_file(tmp_path: Path) -> None:
    defaults = load_config(tmp_path, env={}).lsp
    assert (defaults.stream_idle_timeout_s, defaults.approval_timeout_s) == (30.0, 600.0)
    (tmp_path / "config.toml").write_text(
        "[lsp]\nstream_idle_timeout_s = 5\napproval_timeout_s = 42.5\n"
    )
    lsp = load_config(tmp_path, env={}).lsp
    assert (lsp.stream_idle_timeout_s, lsp.approval_timeout_s) == (5.0, 42.5)


def test_env_vars_override_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[lsp]\nstream_idle_timeout_s = 5\n")
    env = {"CODEX_LSP_STREAM_IDLE_TIMEOUT_S": "0.5", "CODEX_LSP_APPROVAL_TIMEOUT_S": "3"}
    lsp = load_config(tmp_path, env=env).lsp
    assert (lsp.stream_idle_timeout_s, lsp.approval_timeout_s) == (0.5, 3.0)


def test_a_bad_env_value_keeps_the_configured_one_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "config.toml").write_text("[lsp]\napproval_timeout_s = 7\n")
    with caplog.at_level(logging.WARNING):
        lsp = load_config(tmp_path, env={"CODEX_LSP_APPROVAL_TIMEOUT_S": "soon"}).lsp
    assert lsp.approval_timeout_s == 7.0
    assert "CODEX_LSP_APPROVAL_TIMEOUT_S='soon'" in caplog.text


def test_a_bad_file_value_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[lsp]\napproval_timeout_s = "long"\n')
    with pytest.raises(ConfigError, match="'lsp.approval_timeout_s' must be a non-negative number"):
        load_config(tmp_path, env={})


def test_login_env_is_read_once_into_config(tmp_path: Path) -> None:
    env = {"CODEX_LOGIN_CALLBACK_PORTS": "0", "HOME": "/root", "CODEX_LOGIN_TIMEOUT_S": ""}
    assert load_config(tmp_path, env=env).login_env == {"CODEX_LOGIN_CALLBACK_PORTS": "0"}
