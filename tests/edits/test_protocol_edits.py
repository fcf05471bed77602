"""The fileChange item and the edits payloads match upstream's app-server schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from codex_lsp.protocol import edits as e
from codex_lsp.protocol import threads as t
from codex_lsp.protocol.handshake import InitializationOptions
from codex_lsp.protocol.wire import ParamsError, from_wire, to_wire
from harness import ROOT

UPSTREAM = Path(
    os.environ.get(
        "CODEX_LSP_UPSTREAM_SCHEMA", ROOT.parent / "shared" / "reference" / "app-server-schema"
    )
)

ITEM = e.FileChangeItem(
    type="fileChange",
    id="call_1",
    changes=[
        e.FileUpdateChange(path="/w/a.txt", kind=e.AddPatchChangeKind(type="add"), diff="hi\n"),
        e.FileUpdateChange(
            path="/w/b.txt", kind=e.DeletePatchChangeKind(type="delete"), diff="x\n"
        ),
        e.FileUpdateChange(
            path="/w/c.txt",
            kind=e.UpdatePatchChangeKind(type="update", move_path="/w/d.txt"),
            diff="@@ -1 +1 @@\n-a\n+b\n",
        ),
    ],
    status="completed",
)


def test_file_change_item_wire_shape() -> None:
    wire = to_wire(ITEM)
    assert wire["changes"][2]["kind"] == {"type": "update", "move_path": "/w/d.txt"}
    assert from_wire(e.FileChangeItem, wire) == ITEM


@pytest.mark.skipif(not UPSTREAM.exists(), reason=f"no upstream schema at {UPSTREAM}")
@pytest.mark.parametrize("name", ["ItemStartedNotification", "ItemCompletedNotification"])
def test_file_change_item_validates_against_upstream(name: str) -> None:
    schema = json.loads((UPSTREAM / "v2" / f"{name}.json").read_text())
    payload = {"threadId": "t", "turnId": "u", "item": to_wire(ITEM)}
    payload["startedAtMs" if "Started" in name else "completedAtMs"] = 1
    jsonschema.Draft7Validator(schema).validate(payload)


def test_file_edits_option() -> None:
    assert from_wire(InitializationOptions, {}).file_edits == "disk"
    assert (
        from_wire(InitializationOptions, {"fileEdits": "workspaceEdit"}).file_edits
        == "workspaceEdit"
    )
    with pytest.raises(ParamsError, match="initializationOptions.fileEdits"):
        from_wire(InitializationOptions, {"fileEdits": "buffer"}, "initializationOptions")


def test_item_union_parses_file_change() -> None:
    parsed = from_wire(
        t.ItemCompleted, {"threadId": "t", "turnId": "u", "item": to_wire(ITEM), "completedAtMs": 1}
    )
    assert isinstance(parsed.item, e.FileChangeItem)
