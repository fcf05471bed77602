"""Stored threads end to end: the real server, restarted between steps, over real LSP framing,
against the fake Responses backend on loopback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "turns"))

from turns_support import (  # noqa: E402
    API_KEY,
    login_editor_tokens,
    run_turn,
    start_thread,
    turn_session,
)

from codex_lsp.fakes.backend import FakeBackend, reasoning, shell_call, text  # noqa: E402
from codex_lsp.fakes.issuer import FakeIssuer  # noqa: E402
from codex_lsp.fakes.rollouts import write_upstream_rollout  # noqa: E402

REQUIRED = {
    "id",
    "sessionId",
    "preview",
    "ephemeral",
    "modelProvider",
    "createdAt",
    "updatedAt",
    "status",
    "path",
    "cwd",
    "cliVersion",
    "source",
    "turns",
    "projectId",
}


def rollouts(codex_home: Path) -> list[Path]:
    return (
        sorted((codex_home / "sessions").rglob("rollout-*.jsonl"))
        if (codex_home / "sessions").exists()
        else []
    )


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def input_texts(body: dict[str, Any]) -> list[str]:
    out = []
    for item in body["input"]:
        if item.get("type") == "message":
            out.append("".join(part.get("text", "") for part in item.get("content", [])))
    return out


async def test_start_turn_restart_list_read_resume_turn(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        started = await start_thread(s, approvalPolicy="never", model="gpt-test")
        thread = started["thread"]
        assert REQUIRED <= set(thread) and thread["ephemeral"] is False and thread["path"] is None
        backend.script_next([reasoning("Thinking hard"), text("The answer is 42")])
        completed, _ = await run_turn(s, thread["id"], "What is the answer?")
        assert completed["turn"]["status"] == "completed"
        files = rollouts(codex_home)
        assert len(files) == 1 and thread["id"] in files[0].name
        first_turn_id = completed["turn"]["id"]
    # --- restart ---
    async with turn_session(codex_home, backend, workspace) as s:
        listed = await s.call("thread/list", {})
        assert [t["id"] for t in listed["data"]] == [thread["id"]] and listed["nextCursor"] is None
        entry = listed["data"][0]
        assert REQUIRED <= set(entry)
        assert entry["preview"] == "What is the answer?" and entry["status"] == {
            "type": "notLoaded"
        }
        assert (
            entry["source"] == "vscode"
            and entry["modelProvider"] == "fake"
            and entry["model"] == "gpt-test"
        )
        assert entry["path"] == str(rollouts(codex_home)[0]) and entry["turns"] == []
        read = (await s.call("thread/read", {"threadId": thread["id"], "includeTurns": True}))[
            "thread"
        ]
        (turn,) = read["turns"]
        assert turn["id"] == first_turn_id and turn["status"] == "completed"
        kinds = [i["type"] for i in turn["items"]]
        assert kinds == ["userMessage", "reasoning", "agentMessage"]
        assert (
            turn["items"][1]["summary"] == ["Thinking hard"]
            and turn["items"][2]["text"] == "The answer is 42"
        )
        assert (await s.call("thread/read", {"threadId": thread["id"]}))["thread"]["turns"] == []
        resumed = await s.call("thread/resume", {"threadId": thread["id"]})
        assert resumed["thread"]["id"] == thread["id"] and resumed["model"] == "gpt-test"
        assert resumed["approvalPolicy"] == "never" and resumed["cwd"] == str(workspace)
        assert (
            resumed["thread"]["status"] == {"type": "idle"} and len(resumed["thread"]["turns"]) == 1
        )
        again = await s.call("thread/resume", {"threadId": thread["id"], "model": "other"})
        assert again["model"] == "gpt-test", "a loaded thread is returned as is"
        backend.script_next([text("Still 42")])
        completed, _ = await run_turn(s, thread["id"], "Are you sure?")
        assert completed["turn"]["status"] == "completed"
        body = backend.requests_to("/responses")[-1].body
        texts = input_texts(body)
        assert "What is the answer?" in texts and "The answer is 42" in texts
        assert (
            texts.index("What is the answer?")
            < texts.index("The answer is 42")
            < texts.index("Are you sure?")
        )
        assert body["model"] == "gpt-test"
    assert len(rollouts(codex_home)) == 1, "resume appends to the same rollout"
    async with turn_session(codex_home, backend, workspace) as s:
        read = (await s.call("thread/read", {"threadId": thread["id"], "includeTurns": True}))[
            "thread"
        ]
        assert [t["status"] for t in read["turns"]] == ["completed", "completed"]


async def test_fork_archive_unarchive_and_name(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never"))["thread"]
        backend.script_next([text("first answer")])
        await run_turn(s, thread["id"], "first question")
        since = s.mark()
        fork = await s.call("thread/fork", {"threadId": thread["id"]})
        forked = fork["thread"]
        (source_file,) = [p for p in rollouts(codex_home) if thread["id"] in p.name]
        source_bytes = source_file.read_bytes()  # flushed by the fork
        assert forked["id"] != thread["id"] and forked["forkedFromId"] == thread["id"]
        assert [t["status"] for t in forked["turns"]] == ["completed"]
        started = await s.wait_for("thread/started", since=since)
        assert started["thread"]["id"] == forked["id"]
        backend.script_next([text("fork answer")])
        await run_turn(s, forked["id"], "fork question")
        texts = input_texts(backend.requests_to("/responses")[-1].body)
        assert "first question" in texts and "first answer" in texts
        assert (
            rollouts(codex_home)[0].read_bytes() == source_bytes
            or thread["id"] not in rollouts(codex_home)[0].name
        )

        since = s.mark()
        assert (
            await s.call("thread/name/set", {"threadId": thread["id"], "name": "Important"}) == {}
        )
        note = await s.wait_for("thread/name/updated", since=since)
        assert note == {"threadId": thread["id"], "threadName": "Important"}

        since = s.mark()
        assert await s.call("thread/archive", {"threadId": forked["id"]}) == {}
        assert (await s.wait_for("thread/archived", since=since)) == {"threadId": forked["id"]}
        assert (codex_home / "archived_sessions").is_dir()
        ids = [t["id"] for t in (await s.call("thread/list", {}))["data"]]
        assert ids == [thread["id"]]
        archived = (await s.call("thread/list", {"archived": True}))["data"]
        assert [t["id"] for t in archived] == [forked["id"]] and archived[0][
            "forkedFromId"
        ] == thread["id"]
        with pytest.raises(JsonRpcException) as info:
            await s.call(
                "turn/start", {"threadId": forked["id"], "input": [{"type": "text", "text": "x"}]}
            )
        assert info.value.code == -32600
    async with turn_session(codex_home, backend, workspace) as s:
        listed = (await s.call("thread/list", {}))["data"]
        assert [(t["id"], t["name"]) for t in listed] == [(thread["id"], "Important")]
        found = await s.call("thread/list", {"searchTerm": "importANT"})
        assert [t["id"] for t in found["data"]] == [thread["id"]]
        since = s.mark()
        unarchived = await s.call("thread/unarchive", {"threadId": forked["id"]})
        assert unarchived["thread"]["id"] == forked["id"]
        assert (await s.wait_for("thread/unarchived", since=since)) == {"threadId": forked["id"]}
        ids = [t["id"] for t in (await s.call("thread/list", {}))["data"]]
        assert sorted(ids) == sorted([thread["id"], forked["id"]])


async def test_paging_over_120_threads(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    made = [
        write_upstream_rollout(
            codex_home,
            created=1_764_000_000 + n * 10,
            exchanges=[(f"task {n}", "ok")],
            source="vscode" if n % 2 else "cli",
            cwd=str(workspace),
        ).name[-42:-6]
        for n in range(118)
    ]
    async with turn_session(codex_home, backend, workspace) as s:
        for n in range(2):  # and two of our own, newest
            thread = (await start_thread(s, approvalPolicy="never"))["thread"]
            backend.script_next([text("ok")])
            await run_turn(s, thread["id"], f"ours {n}")
            made.append(thread["id"])
        seen: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10):
            page = await s.call("thread/list", {"limit": 25, "cursor": cursor})
            assert len(page["data"]) <= 25
            seen += page["data"]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert [t["id"] for t in seen] == list(reversed(made))
        asc = await s.call("thread/list", {"limit": 5, "sortDirection": "asc"})
        assert [t["id"] for t in asc["data"]] == made[:5]
        by_cwd = await s.call("thread/list", {"limit": 200, "cwd": str(workspace)})
        assert len(by_cwd["data"]) == 120
        assert (await s.call("thread/list", {"cwd": "/elsewhere"}))["data"] == []
        with pytest.raises(JsonRpcException) as info:
            await s.call("thread/list", {"cursor": "garbage"})
        assert info.value.code == -32602 and "params.cursor" in info.value.message


async def test_corrupt_and_truncated_lines_are_skipped(
    codex_home: Path, backend: FakeBackend, workspace: Path, tmp_path: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never"))["thread"]
        backend.script_next([text("one")])
        await run_turn(s, thread["id"], "q1")
        backend.script_next([text("two")])
        await run_turn(s, thread["id"], "q2")
    (path,) = rollouts(codex_home)
    lines = path.read_text().splitlines()
    lines.insert(4, '{"timestamp": "x", "type": "event_msg", "payload": {broken')
    path.write_text(
        "\n".join(lines) + "\n" + lines[-1][: len(lines[-1]) // 2]
    )  # truncated last line
    stderr = tmp_path / "stderr.log"
    async with turn_session(codex_home, backend, workspace, stderr_file=stderr) as s:
        read = (await s.call("thread/read", {"threadId": thread["id"], "includeTurns": True}))[
            "thread"
        ]
        assert [
            i["text"] for t in read["turns"] for i in t["items"] if i["type"] == "agentMessage"
        ] == ["one", "two"]
        await s.call("thread/resume", {"threadId": thread["id"]})
        backend.script_next([text("three")])
        completed, _ = await run_turn(s, thread["id"], "q3")
        assert completed["turn"]["status"] == "completed"
        assert "q1" in input_texts(backend.requests_to("/responses")[-1].body)
    log = stderr.read_text()
    assert log.count("unreadable line(s)") >= 1 and path.name in log and str(path.parent) not in log


async def test_ephemeral_thread_leaves_no_file(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(codex_home, backend, workspace) as s:
        thread = (await start_thread(s, approvalPolicy="never", ephemeral=True))["thread"]
        assert thread["ephemeral"] is True
        backend.script_next([text("ok")])
        completed, _ = await run_turn(s, thread["id"], "hi")
        assert completed["turn"]["status"] == "completed"
        assert (await s.call("thread/list", {}))["data"] == []
        read = (await s.call("thread/read", {"threadId": thread["id"], "includeTurns": True}))[
            "thread"
        ]
        assert (
            read["ephemeral"] is True
            and read["path"] is None
            and read["status"] == {"type": "idle"}
        )
        with pytest.raises(JsonRpcException) as info:
            await s.call("thread/archive", {"threadId": thread["id"]})
        assert info.value.code == -32600 and "nothing stored" in info.value.message
        fork = await s.call("thread/fork", {"threadId": thread["id"], "ephemeral": True})
        assert (
            fork["thread"]["ephemeral"] is True and fork["thread"]["forkedFromId"] == thread["id"]
        )
        backend.script_next([text("again")])
        await run_turn(s, fork["thread"]["id"], "more")
        assert "hi" in input_texts(backend.requests_to("/responses")[-1].body)
    assert rollouts(codex_home) == []


async def test_upstream_rollout_is_listed_read_and_resumed(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    path = write_upstream_rollout(
        codex_home,
        cwd=str(workspace),
        exchanges=[("Explain the build", "It uses make."), ("And tests?", "pytest.")],
    )
    old = write_upstream_rollout(
        codex_home,
        cwd=str(workspace),
        shape="0.4x",
        created=1_700_000_000,
        exchanges=[("legacy question", "legacy answer")],
    )
    thread_id = path.name[-42:-6]
    async with turn_session(codex_home, backend, workspace) as s:
        listed = (await s.call("thread/list", {}))["data"]
        assert [t["id"] for t in listed] == [thread_id, old.name[-42:-6]]
        assert listed[0]["cliVersion"] == "0.169.0" and listed[0]["source"] == "cli"
        assert listed[0]["gitInfo"] == {
            "sha": "abc123",
            "branch": "main",
            "originUrl": "https://example.com/r.git",
        }
        read = (await s.call("thread/read", {"threadId": thread_id, "includeTurns": True}))[
            "thread"
        ]
        assert [t["status"] for t in read["turns"]] == ["completed", "completed"]
        assert read["turns"][1]["items"][0]["content"][0]["text"] == "And tests?"
        legacy = (
            await s.call("thread/read", {"threadId": old.name[-42:-6], "includeTurns": True})
        )["thread"]
        assert legacy["preview"] == "legacy question" and len(legacy["turns"]) == 1
        resumed = await s.call("thread/resume", {"threadId": thread_id, "approvalPolicy": "never"})
        assert resumed["model"] == "gpt-5.1-codex" and resumed["reasoningEffort"] == "high"
        assert resumed["approvalPolicy"] == "never"
        backend.script_next([text("Run pytest -q.")])
        completed, _ = await run_turn(s, thread_id, "How do I run them?")
        assert completed["turn"]["status"] == "completed"
        body = backend.requests_to("/responses")[-1].body
        texts = input_texts(body)
        assert (
            texts.index("Explain the build")
            < texts.index("It uses make.")
            < texts.index("How do I run them?")
        )
        kinds = [item["type"] for item in body["input"]]
        assert "function_call" in kinds and "function_call_output" in kinds
    appended = lines_of(path)
    assert (
        appended[0]["type"] == "session_meta" and appended[0]["payload"]["cli_version"] == "0.169.0"
    )
    assert any(
        r["type"] == "turn_context" and r["payload"].get("model") == "gpt-5.1-codex"
        for r in appended[-12:]
    )
    assert (
        appended[-1]["type"] == "event_msg" and appended[-1]["payload"]["type"] == "task_complete"
    )


async def test_errors_name_the_id_or_the_file(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    bad = (
        codex_home
        / "sessions/2026/01/02/rollout-2026-01-02T10-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl"
    )
    bad.parent.mkdir(parents=True)
    bad.write_text("this is not json\n")
    async with turn_session(codex_home, backend, workspace) as s:
        for method in (
            "thread/read",
            "thread/resume",
            "thread/fork",
            "thread/archive",
            "thread/name/set",
        ):
            params: dict[str, Any] = {"threadId": "0199a213-0000-7000-8000-000000000000"}
            if method == "thread/name/set":
                params["name"] = "x"
            with pytest.raises(JsonRpcException) as info:
                await s.call(method, params)
            assert (
                info.value.code == -32600
                and "0199a213-0000-7000-8000-000000000000" in info.value.message
            )
        with pytest.raises(JsonRpcException) as info:
            await s.call("thread/resume", {"threadId": "0199a213-81c0-7800-8aa1-bbab2a035a53"})
        assert info.value.code == -32600 and bad.name in info.value.message
        assert str(bad.parent) not in info.value.message
        assert (await s.call("thread/list", {}))["data"] == []
        with pytest.raises(JsonRpcException) as info:
            await s.call("thread/read", {})
        assert info.value.code == -32602 and "threadId" in info.value.message
    assert bad.exists(), "an unreadable rollout is left in place"


async def test_a_second_server_cannot_append_to_an_open_thread(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    path = write_upstream_rollout(codex_home, cwd=str(workspace))
    thread_id = path.name[-42:-6]
    async with turn_session(codex_home, backend, workspace) as first:
        await first.call("thread/resume", {"threadId": thread_id})
        async with turn_session(codex_home, backend, workspace) as second:
            with pytest.raises(JsonRpcException) as info:
                await second.call("thread/resume", {"threadId": thread_id})
            assert info.value.code == -32600 and "another codex-lsp server" in info.value.message
            fork = await second.call("thread/fork", {"threadId": thread_id})  # forking is fine
            assert fork["thread"]["forkedFromId"] == thread_id
            with pytest.raises(
                JsonRpcException
            ) as info:  # archiving it from under the first is not
                await second.call("thread/archive", {"threadId": thread_id})
            assert info.value.code == -32600 and "another codex-lsp server" in info.value.message
            assert path.exists()


def _all_rollout_bytes(codex_home: Path) -> bytes:
    files = [p for p in codex_home.rglob("*.jsonl")]
    assert files, "no rollout was written; the scan would prove nothing"
    return b"".join(p.read_bytes() for p in files)


async def _secret_turns(s: Any, backend: FakeBackend, secrets: list[str]) -> None:
    thread = (await start_thread(s, approvalPolicy="never"))["thread"]
    joined = " ".join(secrets)
    backend.script_next([shell_call(["echo", joined])])
    backend.script_next([text(f"I saw {joined}")])
    completed, _ = await run_turn(s, thread["id"], f"my credentials are {joined}")
    assert completed["turn"]["status"] == "completed", completed["turn"]["error"]


def _assert_absent(data: bytes, secrets: list[str]) -> None:
    assert b"my credentials are [REDACTED]" in data, (
        "the secrets reached the rollout path and were scrubbed"
    )
    for secret in secrets:
        assert secret.encode() not in data
        if secret.count(".") == 2:
            assert secret.split(".")[1].encode() not in data


async def test_no_secret_in_any_rollout_api_key(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with turn_session(
        codex_home, backend, workspace
    ) as s:  # the key comes from CODEX_API_KEY
        await _secret_turns(s, backend, [API_KEY])
    _assert_absent(_all_rollout_bytes(codex_home), [API_KEY])


async def test_no_secret_in_any_rollout_editor_tokens(
    codex_home: Path, backend: FakeBackend, workspace: Path, issuer: FakeIssuer
) -> None:
    async with turn_session(codex_home, backend, workspace, chatgpt=True) as s:
        token = await login_editor_tokens(s, issuer)
        backend.accepted_tokens = {token}
        await _secret_turns(s, backend, [token])
    _assert_absent(_all_rollout_bytes(codex_home), [token])


async def test_no_secret_in_any_rollout_managed_chatgpt(
    codex_home: Path, backend: FakeBackend, workspace: Path, issuer: FakeIssuer
) -> None:
    tokens = issuer.issue_tokens("acct-1", email="dev@example.com")
    record = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {**tokens, "account_id": "acct-1"},
        "last_refresh": "2030-01-01T00:00:00Z",
    }
    (codex_home / "auth.json").write_text(json.dumps(record))
    (codex_home / "auth.json").chmod(0o600)
    secrets = [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
    backend.accepted_tokens = {tokens["access_token"]}
    env = {"CODEX_REFRESH_TOKEN_URL_OVERRIDE": issuer.token_url}
    async with turn_session(codex_home, backend, workspace, chatgpt=True, env=env) as s:
        await _secret_turns(s, backend, secrets)
    data = b"".join(p.read_bytes() for p in (codex_home / "sessions").rglob("*.jsonl"))
    assert data
    _assert_absent(data, secrets)
