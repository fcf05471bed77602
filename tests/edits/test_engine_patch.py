"""The engine with the apply_patch tool, in process (no server): a streamed custom tool call
becomes progress notifications, a fileChange item, and a custom_tool_call_output in history."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from engine_support import RecordingSink, ScriptedModel, make_thread, run_turn, text_round  # noqa: E402

from codex_lsp.backend.responses import (  # noqa: E402
    CustomToolCallInputDelta,
    FunctionCallDone,
    OutputItemAdded,
    ResponseCompleted,
)

PATCH = "*** Begin Patch\n*** Add File: one.txt\n+1\n*** Add File: two.txt\n+2\n*** End Patch\n"


def patch_round(call_id: str = "call_p") -> list:
    item = {"type": "custom_tool_call", "id": "ctc_1", "call_id": call_id, "name": "apply_patch"}
    events: list = [OutputItemAdded(0, {**item, "input": ""})]
    events += [
        CustomToolCallInputDelta("ctc_1", 0, PATCH[i : i + 7]) for i in range(0, len(PATCH), 7)
    ]
    events.append(FunctionCallDone(0, "ctc_1", call_id, "apply_patch", PATCH, item, kind="custom"))
    events.append(ResponseCompleted("resp", None))
    return events


async def test_custom_patch_call_through_the_engine(tmp_path: Path) -> None:
    model = ScriptedModel([patch_round(), text_round("done")])
    thread = make_thread(tmp_path, model, approval_policy="on-request")
    sink = RecordingSink()
    await run_turn(thread, sink, "add two files")
    assert (tmp_path / "one.txt").read_text() == "1\n" and (
        tmp_path / "two.txt"
    ).read_text() == "2\n"
    progress = sink.of("item/fileChange/patchUpdated")
    assert [len(p["changes"]) for p in progress] == [1, 2]
    methods = sink.methods()
    first_progress = methods.index("item/fileChange/patchUpdated")
    assert methods.index("turn/diff/updated") > methods.index("item/completed", first_progress)
    (item,) = [p["item"] for p in sink.of("item/completed") if p["item"]["type"] == "fileChange"]
    assert item["id"] == "call_p" and item["status"] == "completed"
    sent = model.requests[1].input
    call = next(i for i in sent if i.get("type") == "custom_tool_call")
    output = next(i for i in sent if i.get("type") == "custom_tool_call_output")
    assert call["input"] == PATCH and output["call_id"] == "call_p"
    assert output["output"] == "Success. Updated the following files:\nA one.txt\nA two.txt\n"
