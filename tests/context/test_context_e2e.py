"""Agent context end to end, over real LSP framing against the fake backend, asserting on the
request bodies the backend recorded: AGENTS.md, the environment context, carried reasoning,
update_plan, steering, every input variant, compaction, the `error` notification."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from context_support import bodies, context_session, of, run_turn, start_thread, texts
from pygls.exceptions import JsonRpcException

from codex_lsp.context.compaction import SUMMARY_PREFIX, SUMMARY_PROMPT
from codex_lsp.fakes.backend import FakeBackend, failure, function_call, reasoning, shell_call, text

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


# ---- AGENTS.md and the environment context ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "global\n\n--- project-doc ---\n\nroot override\n\nnested"),
        (
            ("-c", "project_doc_max_bytes=16"),
            "global\n\n--- project-doc ---\n\nroot override\n\nnes",
        ),
        (("-c", "project_doc_max_bytes=0"), "global"),
    ],
)
async def test_agents_md_hierarchy_is_sent_first_as_upstream(
    codex_home: Path, backend: FakeBackend, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    write(codex_home / "AGENTS.md", "global")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "AGENTS.md", "root plain")
    write(repo / "AGENTS.override.md", "root override")
    write(repo / "pkg" / "AGENTS.md", "nested")
    cwd = repo / "pkg"
    async with context_session(codex_home, backend, cwd, *args) as s:
        thread = await start_thread(s, developerInstructions="Be brief.")
        await run_turn(s, thread, "hello")
        body = bodies(backend)[-1]
        kinds = texts(body["input"])
        assert kinds[0] == "Be brief."  # the developer message comes first
        assert (
            kinds[1]
            == f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n{expected}\n</INSTRUCTIONS>"
        )
        assert kinds[2].startswith("<environment_context>") and kinds[3] == "hello"


async def test_environment_context_first_then_only_on_change_and_agents_md_once_per_cwd(
    codex_home: Path, backend: FakeBackend, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "AGENTS.md", "rules")
    (repo / "sub").mkdir()
    async with context_session(codex_home, backend, repo) as s:
        thread = await start_thread(s, sandbox="workspace-write")
        await run_turn(s, thread, "one")
        first = texts(bodies(backend)[-1]["input"])
        env = first[1]
        assert first[0].startswith(f"# AGENTS.md instructions for {repo}")
        for tag in (
            f"<cwd>{repo}</cwd>",
            "<approval_policy>never</approval_policy>",
            "<sandbox_mode>workspace-write</sandbox_mode>",
            "<network_access>restricted</network_access>",
            f"<root>{repo}</root>",
            "<shell>",
            "<current_date>",
            "<timezone>",
        ):
            assert tag in env, tag
        await run_turn(s, thread, "two")
        second = texts(bodies(backend)[-1]["input"])
        assert (
            # the fake's default answer: a reasoning item (carried, encrypted), then a message
            second == [*first, "reasoning", "Hello from the fake backend. You said: one", "two"]
        )
        assert sum(t.startswith("<environment_context>") for t in second) == 1  # nothing changed
        await run_turn(s, thread, "three", cwd=str(repo / "sub"))
        third = texts(bodies(backend)[-1]["input"])
        assert third[-3].startswith(f"# AGENTS.md instructions for {repo / 'sub'}")
        sub = repo / "sub"
        # Only what changed: the cwd, and the sandbox as a whole (its writable root is the cwd).
        assert third[-2] == (
            f"<environment_context>\n  <cwd>{sub}</cwd>\n"
            "  <sandbox_mode>workspace-write</sandbox_mode>\n"
            "  <network_access>restricted</network_access>\n"
            f"  <writable_roots>\n    <root>{sub}</root>\n  </writable_roots>\n"
            "</environment_context>"
        )
        assert "<approval_policy>" not in third[-2] and third[-1] == "three"


# ---- reasoning ------------------------------------------------------------------------------


async def test_encrypted_reasoning_is_requested_and_sent_back_exactly_over_three_requests(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with context_session(codex_home, backend, workspace) as s:
        thread = await start_thread(s)
        backend.script_next(
            [
                reasoning("Plan the listing", encrypted_content="enc-1"),
                shell_call(["true"], call_id="c1"),
            ]
        )
        backend.script_next([reasoning("Summarise", encrypted_content="enc-2"), text("done")])
        await run_turn(s, thread, "list", effort="high")
        backend.script_next([reasoning("Again"), text("again")])
        await run_turn(s, thread, "and again")
        sent = bodies(backend)
        assert len(sent) == 3 and all(b["include"] == ["reasoning.encrypted_content"] for b in sent)
        second = [
            i
            for i in sent[1]["input"]
            if i["type"] in ("reasoning", "function_call", "function_call_output")
        ]
        assert [i["type"] for i in second] == ["reasoning", "function_call", "function_call_output"]
        assert second[0] == {
            "type": "reasoning",
            "id": second[0]["id"],
            "summary": [{"type": "summary_text", "text": "Plan the listing"}],
            "encrypted_content": "enc-1",
        }
        third = [i for i in sent[2]["input"] if i["type"] == "reasoning"]
        assert [r["encrypted_content"] for r in third] == ["enc-1", "enc-2"]
        assert third[0] == second[0]  # exactly as received


async def test_model_base_instructions_from_models_are_used_unless_the_thread_has_its_own(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    models = backend.models
    models[0] = {**models[0], "slug": "gpt-family", "base_instructions": "Family prompt."}
    backend.models = models
    async with context_session(codex_home, backend, workspace, "-c", 'model="gpt-family"') as s:
        await run_turn(s, await start_thread(s), "hi")
        assert bodies(backend)[-1]["instructions"] == "Family prompt."
        await run_turn(s, await start_thread(s, baseInstructions="Mine."), "hi")
        assert bodies(backend)[-1]["instructions"] == "Mine."


# ---- update_plan ----------------------------------------------------------------------------


async def test_update_plan_sends_turn_plan_updated_and_tells_the_model(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with context_session(codex_home, backend, workspace) as s:
        thread = await start_thread(s)
        plan = {
            "explanation": "start",
            "plan": [
                {"step": "read", "status": "completed"},
                {"step": "fix", "status": "in_progress"},
                {"step": "test", "status": "pending"},
            ],
        }
        backend.script_next([function_call("update_plan", plan, call_id="p1")])
        backend.script_next(
            [
                function_call(
                    "update_plan",
                    {
                        "plan": [
                            {"step": "a", "status": "in_progress"},
                            {"step": "b", "status": "in_progress"},
                        ]
                    },
                    call_id="p2",
                )
            ]
        )
        backend.script_next([text("ok")])
        completed, received = await run_turn(s, thread, "plan it")
        assert completed["turn"]["status"] == "completed"
        updates = of(received, "turn/plan/updated")
        assert updates == [
            {
                "threadId": thread,
                "turnId": completed["turn"]["id"],
                "explanation": "start",
                "plan": [
                    {"step": "read", "status": "completed"},
                    {"step": "fix", "status": "inProgress"},
                    {"step": "test", "status": "pending"},
                ],
            }
        ]
        assert "update_plan" in [t["name"] for t in bodies(backend)[0]["tools"]]
        outputs = {
            i["call_id"]: i["output"]
            for i in bodies(backend)[-1]["input"]
            if i["type"] == "function_call_output"
        }
        assert outputs["p1"] == "Plan updated"
        assert "at most one step can be in_progress" in outputs["p2"]


# ---- steering -------------------------------------------------------------------------------


async def test_steering_joins_the_running_turn_after_the_current_tool_call(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with context_session(codex_home, backend, workspace) as s:
        thread = await start_thread(s, sandbox="workspace-write")
        with pytest.raises(JsonRpcException) as err:
            await s.call(
                "turn/steer",
                {
                    "threadId": thread,
                    "expectedTurnId": "nope",
                    "input": [{"type": "text", "text": "x"}],
                },
            )
        assert err.value.code == -32600 and "no active turn" in err.value.message
        backend.script_next([shell_call(["sleep", "1"], call_id="slow")])
        since = s.mark()
        started = await s.call(
            "turn/start", {"threadId": thread, "input": [{"type": "text", "text": "work"}]}
        )
        turn_id = started["turn"]["id"]
        await s.wait_for(
            "item/started", since=since, where=lambda p: p["item"]["type"] == "commandExecution"
        )
        with pytest.raises(JsonRpcException) as err:
            await s.call(
                "turn/steer",
                {
                    "threadId": thread,
                    "expectedTurnId": "other",
                    "input": [{"type": "text", "text": "x"}],
                },
            )
        assert err.value.code == -32600 and turn_id in err.value.message
        answer = await s.call(
            "turn/steer",
            {
                "threadId": thread,
                "expectedTurnId": turn_id,
                "input": [{"type": "text", "text": "also check the README"}],
            },
        )
        assert answer == {"turnId": turn_id}
        completed = await s.wait_for("turn/completed", since=since, timeout=30)
        assert completed["turn"]["status"] == "completed"
        second = texts(bodies(backend)[1]["input"])
        assert second[-2:] == ["function_call_output", "also check the README"]
        users = [
            p["item"]
            for m, p in s.notifications[since:]
            if m == "item/completed" and p["item"]["type"] == "userMessage"
        ]
        assert [u["content"][0]["text"] for u in users] == ["work", "also check the README"]


# ---- richer input ---------------------------------------------------------------------------


async def test_every_input_variant_reaches_the_model(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    (workspace / "pixel.png").write_bytes(PNG_1PX)
    write(workspace / "skills" / "SKILL.md", "Deploy with care.")
    async with context_session(codex_home, backend, workspace) as s:
        thread = await start_thread(s)
        inputs = [
            {"type": "text", "text": "look at these"},
            {"type": "image", "url": "https://example.com/cat.png"},
            {"type": "localImage", "path": str(workspace / "pixel.png")},
            {"type": "mention", "name": "hello.txt", "path": "hello.txt"},
            {"type": "skill", "name": "deploy", "path": str(workspace / "skills" / "SKILL.md")},
        ]
        completed, _ = await run_turn(s, thread, inputs)
        assert completed["turn"]["items"][0] == {
            "type": "userMessage",
            "id": completed["turn"]["items"][0]["id"],
            "content": [
                {
                    **i,
                    **({"text_elements": []} if i["type"] == "text" else {}),
                    **({"detail": None} if "image" in i["type"].lower() else {}),
                }
                for i in inputs
            ],
        }
        message = bodies(backend)[-1]["input"][-1]
        parts = message["content"]
        assert message["role"] == "user" and [p["type"] for p in parts] == [
            "input_text",
            "input_image",
            "input_image",
            "input_text",
            "input_text",
        ]
        assert parts[1]["image_url"] == "https://example.com/cat.png"
        assert (
            parts[2]["image_url"] == "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
        )
        assert str(workspace / "hello.txt") in parts[3]["text"]
        assert "Deploy with care." in parts[4]["text"]


async def test_a_missing_or_non_image_local_image_is_invalid_params_naming_it(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with context_session(codex_home, backend, workspace) as s:
        thread = await start_thread(s)
        for path, words in (
            (workspace / "nope.png", "does not exist"),
            (workspace / "hello.txt", "not a PNG"),
        ):
            with pytest.raises(JsonRpcException) as err:
                await s.call(
                    "turn/start",
                    {
                        "threadId": thread,
                        "input": [
                            {"type": "text", "text": "see"},
                            {"type": "localImage", "path": str(path)},
                        ],
                    },
                )
            assert err.value.code == -32602
            assert (
                err.value.message.startswith("params.input[1].path:") and words in err.value.message
            )
        assert bodies(backend) == []  # nothing was sent


# ---- compaction -----------------------------------------------------------------------------


async def test_manual_compaction_replaces_the_history_with_the_summary(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with context_session(codex_home, backend, workspace) as s:
        thread = await start_thread(s)
        backend.script_next(
            [shell_call(["bash", "-lc", "head -c 6000 /dev/zero | tr '\\0' x"], call_id="big")]
        )
        backend.script_next([text("a long answer " * 50)])
        await run_turn(s, thread, "first task")
        before = bodies(backend)[-1]
        backend.script_next([text("SUMMARY: the user asked for the first task; it is done.")])
        since = s.mark()
        assert await s.call("thread/compact/start", {"threadId": thread}) == {}
        done = await s.wait_for("turn/completed", since=since, timeout=30)
        received = s.notifications[since:]
        assert done["turn"]["status"] == "completed"
        assert [p["item"]["type"] for p in of(received, "item/completed")] == ["contextCompaction"]
        assert of(received, "item/started")[0]["item"] == {
            "type": "contextCompaction",
            "id": done["turn"]["items"][0]["id"],
        }
        summarize = bodies(backend)[-1]
        assert summarize["tools"] == [] and texts(summarize["input"])[-1] == SUMMARY_PROMPT
        await run_turn(s, thread, "next task")
        after = bodies(backend)[-1]
        assert len(json.dumps(after["input"])) < len(json.dumps(before["input"]))
        after_texts = texts(after["input"])
        assert any(
            t.startswith(SUMMARY_PREFIX) and "SUMMARY: the user asked" in t for t in after_texts
        )
        assert "first task" in after_texts and after_texts[-1] == "next task"
        assert "function_call_output" not in after_texts
        assert after_texts[0].startswith("<environment_context>")


async def test_auto_compaction_before_a_request_that_would_overflow(
    codex_home: Path, backend: FakeBackend, workspace: Path
) -> None:
    async with context_session(
        codex_home, backend, workspace, "-c", "model_auto_compact_token_limit=3000"
    ) as s:
        thread = await start_thread(s)
        backend.script_next(
            [shell_call(["bash", "-lc", "head -c 14000 /dev/zero | tr '\\0' y"], call_id="big")]
        )
        backend.script_next([text("SUMMARY: output was many y characters")])  # the summarisation
        backend.script_next([text("finished")])
        completed, received = await run_turn(s, thread, "make output")
        assert completed["turn"]["status"] == "completed"
        kinds = [p["item"]["type"] for p in of(received, "item/completed")]
        assert kinds == ["userMessage", "commandExecution", "contextCompaction", "agentMessage"]
        sent = bodies(backend)
        assert texts(sent[1]["input"])[-1] == SUMMARY_PROMPT
        final = sent[2]
        assert len(json.dumps(final["input"])) < len(json.dumps(sent[1]["input"]))
        assert any(t.startswith(SUMMARY_PREFIX) for t in texts(final["input"]))
        usage = of(received, "thread/tokenUsage/updated")[-1]["tokenUsage"]
        assert usage["modelContextWindow"] == 272000


# ---- the error notification ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "info"),
    [
        ("usage", "usageLimitExceeded"),
        ("context", "contextWindowExceeded"),
        ("auth", "unauthorized"),
    ],
)
async def test_failed_turns_send_the_error_notification_first(
    codex_home: Path, backend: FakeBackend, workspace: Path, fault: str, info: str
) -> None:
    async with context_session(codex_home, backend, workspace) as s:
        thread = await start_thread(s)
        if fault == "usage":
            backend.faults.usage_limit = True
            backend.faults.rate_limited = 1
        elif fault == "context":
            backend.script_next(
                [failure("context_length_exceeded", "Your input exceeds the context window")]
            )
        else:
            backend.accepted_tokens = {"someone-else"}
        completed, received = await run_turn(s, thread, "go")
        assert completed["turn"]["status"] == "failed"
        errors = of(received, "error")
        assert len(errors) == 1 and errors[0]["error"]["codexErrorInfo"] == info
        assert errors[0]["willRetry"] is False and errors[0]["turnId"] == completed["turn"]["id"]
        assert errors[0]["error"] == completed["turn"]["error"]
        methods = [m for m, _ in received]
        assert methods.index("error") < methods.index("turn/completed")
