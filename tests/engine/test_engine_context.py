"""Agent-context behaviour of the turn state machine, in process: auto-compaction happens at most
once per model request, steered input arriving while the model answers gets one more request,
and a failed turn sends `error` before `turn/completed`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_support import RecordingSink, ScriptedModel, make_thread, run_turn, text_round

from codex_lsp.backend.responses import StreamError
from codex_lsp.context.compaction import SUMMARY_PROMPT, user_message
from codex_lsp.protocol.methods import Method
from codex_lsp.protocol.threads import TextInput
from codex_lsp.turns.store import SteeredInput


def _last_text(request: Any) -> str:
    return str(request.input[-1]["content"][0]["text"])


async def test_a_summary_that_still_does_not_fit_is_not_summarised_again(tmp_path: Path) -> None:
    model = ScriptedModel([text_round("SUMMARY", item_id="s1"), text_round("answer", item_id="m2")])
    thread = make_thread(tmp_path, model)
    thread.auto_compact_limit = 1  # everything is "too big"
    sink = RecordingSink()
    await run_turn(thread, sink, "hello")
    assert sink.completed()["status"] == "completed"
    assert [i["type"] for i in sink.completed()["items"]] == [
        "userMessage",
        "contextCompaction",
        "agentMessage",
    ]
    assert len(model.requests) == 2
    assert _last_text(model.requests[0]) == SUMMARY_PROMPT and model.requests[0].tools == []
    assert "SUMMARY" in str(model.requests[1].input)


async def test_input_steered_while_the_model_answers_gets_one_more_request(tmp_path: Path) -> None:
    model = ScriptedModel([text_round("first", item_id="m1"), text_round("second", item_id="m2")])
    thread = make_thread(tmp_path, model)

    class SteeringSink(RecordingSink):
        def notify(self, method: Method, payload: Any) -> None:
            super().notify(method, payload)
            item = getattr(payload, "item", None)
            if (
                method.name == "item/completed"
                and getattr(item, "type", "") == "agentMessage"
                and len(model.requests) == 1
            ):
                thread.steered.append(
                    SteeredInput(
                        [TextInput(type="text", text="and more")], user_message("and more")
                    )
                )

    sink = SteeringSink()
    await run_turn(thread, sink, "hello")
    assert len(model.requests) == 2 and _last_text(model.requests[1]) == "and more"
    users = [p["item"] for p in sink.of("item/completed") if p["item"]["type"] == "userMessage"]
    assert [u["content"][0]["text"] for u in users] == ["hello", "and more"]
    assert thread.steered == []


async def test_failed_turn_sends_error_then_turn_completed(tmp_path: Path) -> None:
    model = ScriptedModel([StreamError("over the limit", "usageLimitExceeded")])
    thread = make_thread(tmp_path, model)
    sink = RecordingSink()
    await run_turn(thread, sink)
    assert sink.methods()[-2:] == ["error", "turn/completed"]
    (error,) = sink.of("error")
    assert error == {
        "error": sink.completed()["error"],
        "willRetry": False,
        "threadId": "thread-1",
        "turnId": "turn-1",
    }
    assert error["error"]["codexErrorInfo"] == "usageLimitExceeded"
