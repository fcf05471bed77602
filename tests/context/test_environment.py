"""The <environment_context> message (pure): rendering, parsing back, and only-on-change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from codex_lsp.context import environment
from codex_lsp.context.environment import current, known_from_history, next_environment_item
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, WorkspaceWrite

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
ENV = {"SHELL": "/usr/bin/zsh", "TZ": "Europe/Paris"}


def text_of(item: dict) -> str:
    return item["content"][0]["text"]


def test_full_context_is_rendered_first(tmp_path: Path) -> None:
    now = current(
        tmp_path, "on-request", WorkspaceWrite(writable_roots=("/data",)), now=NOW, env=ENV
    )
    item = next_environment_item([], now)
    assert item is not None and item["role"] == "user"
    assert text_of(item) == (
        "<environment_context>\n"
        f"  <cwd>{tmp_path}</cwd>\n"
        "  <approval_policy>on-request</approval_policy>\n"
        "  <sandbox_mode>workspace-write</sandbox_mode>\n"
        "  <network_access>restricted</network_access>\n"
        "  <writable_roots>\n"
        f"    <root>{tmp_path}</root>\n"
        "    <root>/data</root>\n"
        "  </writable_roots>\n"
        "  <shell>zsh</shell>\n"
        "  <current_date>2026-11-29</current_date>\n"
        "  <timezone>Europe/Paris</timezone>\n"
        "</environment_context>"
    )


def test_nothing_is_sent_again_when_nothing_changed_and_only_changes_later(tmp_path: Path) -> None:
    first = current(tmp_path, "on-request", ReadOnly(), now=NOW, env=ENV)
    history = [next_environment_item([], first)]
    assert next_environment_item(history, first) is None
    changed = current(tmp_path / "sub", "never", ReadOnly(), now=NOW, env=ENV)
    update = next_environment_item(history, changed)
    assert update is not None
    assert text_of(update) == (
        "<environment_context>\n"
        f"  <cwd>{tmp_path / 'sub'}</cwd>\n"
        "  <approval_policy>never</approval_policy>\n"
        "</environment_context>"
    )
    history.append(update)
    assert next_environment_item(history, changed) is None
    tomorrow = current(
        tmp_path / "sub", "never", ReadOnly(), now=NOW + dt.timedelta(days=1), env=ENV
    )
    update = next_environment_item(history, tomorrow)
    assert update is not None and "<current_date>2026-11-30</current_date>" in text_of(update)


def test_a_sandbox_change_is_described_whole(tmp_path: Path) -> None:
    first = current(tmp_path, "on-request", WorkspaceWrite(), now=NOW, env=ENV)
    history = [next_environment_item([], first)]
    full = current(tmp_path, "on-request", DangerFullAccess(), now=NOW, env=ENV)
    update = next_environment_item(history, full)
    assert update is not None
    assert "<sandbox_mode>danger-full-access</sandbox_mode>" in text_of(update)
    assert "<network_access>enabled</network_access>" in text_of(update)
    history.append(update)
    known = known_from_history(history)
    assert (
        known is not None
        and known.writable_roots is None
        and known.sandbox_mode == "danger-full-access"
    )


def test_parse_round_trips_and_escapes(tmp_path: Path) -> None:
    odd = tmp_path / "a<b>&c"
    now = current(odd, "untrusted", ReadOnly(network_access=True), now=NOW, env=ENV)
    assert environment.parse(now.render()) == now
    assert environment.parse("just text") is None
