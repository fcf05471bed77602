"""Pure rules: shell argument parsing, the known-safe list, output shaping, approval decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codex_lsp.errors import InvalidParams
from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, WorkspaceWrite
from codex_lsp.turns.approvals import ask_after_failure, ask_before_running, parse_decision
from codex_lsp.turns.tools.shell import (
    MAX_TIMEOUT_MS,
    OutputCollector,
    display_command,
    is_known_safe,
    model_output,
    parse_shell_args,
    shell_tool,
)

CWD = Path("/work/project")


def test_parse_shell_args_defaults_and_relative_workdir() -> None:
    args = parse_shell_args(json.dumps({"command": ["ls", "-la"], "workdir": "src"}), CWD)
    assert (
        args.command == ("ls", "-la") and args.workdir == CWD / "src" and args.timeout_ms == 10_000
    )
    absolute = parse_shell_args(
        json.dumps({"command": ["ls"], "workdir": "/tmp", "timeout_ms": 10**9}), CWD
    )
    assert absolute.workdir == Path("/tmp") and absolute.timeout_ms == MAX_TIMEOUT_MS


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"command": []}', "non-empty array"),
        ('{"command": "ls"}', "non-empty array"),
        ('{"command": ["ls", 3]}', "non-empty array"),
        ('{"command": [""]}', "non-empty array"),
        ('{"command": ["ls"], "workdir": 3}', "workdir"),
        ('{"command": ["ls"], "timeout_ms": -1}', "timeout_ms"),
        ('{"command": ["ls"], "timeout_ms": true}', "timeout_ms"),
    ],
)
def test_parse_shell_args_rejects_bad_arguments(arguments: str, message: str) -> None:
    with pytest.raises(InvalidParams) as exc:
        parse_shell_args(arguments, CWD)
    assert message in exc.value.message


@pytest.mark.parametrize(
    ("argv", "safe"),
    [
        (["ls", "-la"], True),
        (["/bin/cat", "x"], True),
        (["git", "status"], True),
        (["git", "push"], False),
        (["git"], False),
        (["rm", "-rf", "x"], False),
        (["bash", "-lc", "ls -la"], True),
        (["bash", "-lc", "ls; rm -rf x"], False),
        (["bash", "-lc", "cat a > b"], False),
        (["bash", "-lc", "echo $(rm x)"], False),
        (["bash", "-lc", "ls | sh"], False),
        (["python3", "-c", "1"], False),
        ([], False),
    ],
)
def test_known_safe_list(argv: list[str], safe: bool) -> None:
    assert is_known_safe(argv) is safe


def test_display_command() -> None:
    assert display_command(["bash", "-lc", "ls -la | head"]) == "ls -la | head"
    assert display_command(["echo", "a b"]) == "echo 'a b'"


def test_output_collector_caps_and_decodes_across_chunks() -> None:
    collector = OutputCollector(cap=5)
    euro = "€".encode()
    assert collector.add("stdout", euro[:2]) == ""
    assert collector.add("stdout", euro[2:]) == "€"
    assert collector.add("stderr", b"abcdef") == "abcd"
    assert collector.add("stdout", b"more") == ""
    assert collector.text == "€abcd\n[... output truncated]"
    collector.reset()
    assert collector.text == ""


def test_model_output_keeps_head_and_tail() -> None:
    text = model_output(0, 1500, "a" * 20_000 + "TAIL")
    assert text.startswith("Exit code: 0\nWall time: 1.5 seconds\nOutput:\n")
    assert text.endswith("TAIL") and "characters omitted" in text and len(text) < 17_000


def test_escalation_fields_only_for_on_request() -> None:
    assert (
        "with_escalated_permissions"
        in shell_tool(allow_escalation=True)["parameters"]["properties"]
    )
    assert (
        "with_escalated_permissions"
        not in shell_tool(allow_escalation=False)["parameters"]["properties"]
    )


def test_ask_before_running() -> None:
    approved = {("touch", "a")}
    assert ask_before_running("untrusted", ["touch", "b"], escalate=False, approved=approved)
    assert (
        ask_before_running("untrusted", ["touch", "a"], escalate=False, approved=approved) is None
    )
    assert ask_before_running("untrusted", ["ls"], escalate=False, approved=set()) is None
    assert ask_before_running("on-request", ["touch", "b"], escalate=False, approved=set()) is None
    assert ask_before_running("on-request", ["touch", "b"], escalate=True, approved=set())
    assert ask_before_running("on-failure", ["touch", "b"], escalate=False, approved=set()) is None
    assert ask_before_running("never", ["rm", "-rf", "/"], escalate=True, approved=set()) is None


def test_ask_after_failure() -> None:
    assert ask_after_failure("on-failure", ReadOnly(), 1, timed_out=False)
    assert ask_after_failure("on-failure", WorkspaceWrite(), 0, timed_out=False) is None
    assert ask_after_failure("on-failure", WorkspaceWrite(), 124, timed_out=True) is None
    assert ask_after_failure("on-failure", DangerFullAccess(), 1, timed_out=False) is None
    assert ask_after_failure("untrusted", ReadOnly(), 1, timed_out=False) is None


@pytest.mark.parametrize(
    ("answer", "decision"),
    [
        ({"decision": "accept"}, "accept"),
        ({"decision": "acceptForSession"}, "acceptForSession"),
        ({"decision": "cancel"}, "cancel"),
        ({"decision": "yes"}, "decline"),
        (None, "decline"),
        ("accept", "decline"),
    ],
)
def test_parse_decision(answer: object, decision: str) -> None:
    assert parse_decision(answer) == decision
