"""`update_plan` validation and `UserInput` → model message (pure)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from codex_lsp.context.user_input import image_mime, preview_text, to_model_message
from codex_lsp.errors import InvalidParams
from codex_lsp.protocol.inputs import (
    ImageInput,
    LocalImageInput,
    MentionInput,
    SkillInput,
    TextInput,
)
from codex_lsp.protocol.wire import to_wire
from codex_lsp.turns.plan import InvalidPlan, parse_plan, update_plan_tool

# The smallest valid PNG: 1x1 pixel.
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_plan_maps_statuses_to_camel_case() -> None:
    plan = parse_plan(
        json.dumps(
            {
                "explanation": "start",
                "plan": [
                    {"step": "read", "status": "completed"},
                    {"step": "write", "status": "in_progress"},
                    {"step": "test", "status": "pending"},
                ],
            }
        )
    )
    wire = to_wire(plan.to_notification("t1", "u1"))
    assert wire == {
        "threadId": "t1",
        "turnId": "u1",
        "explanation": "start",
        "plan": [
            {"step": "read", "status": "completed"},
            {"step": "write", "status": "inProgress"},
            {"step": "test", "status": "pending"},
        ],
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("not json", "failed to parse"),
        ("{}", "`plan` must be an array"),
        ('{"plan": [{"step": "a", "status": "doing"}]}', "plan[0].status must be one of"),
        ('{"plan": [{"step": "", "status": "pending"}]}', "plan[0].step"),
        (
            '{"plan": [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]}',
            "at most one step can be in_progress",
        ),
        ('{"explanation": 3, "plan": []}', "`explanation` must be a string"),
    ],
)
def test_invalid_plans_say_what_is_wrong(arguments: str, message: str) -> None:
    with pytest.raises(InvalidPlan, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_plan(arguments)


def test_tool_spec_shape() -> None:
    spec = update_plan_tool()
    assert spec["type"] == "function" and spec["name"] == "update_plan"
    assert spec["parameters"]["required"] == ["plan"]


def test_every_input_variant_becomes_message_content(tmp_path: Path) -> None:
    image = tmp_path / "pixel.png"
    image.write_bytes(PNG_1PX)
    skill = tmp_path / "SKILL.md"
    skill.write_text("Do the thing.")
    message = to_model_message(
        [
            TextInput(type="text", text="look"),
            ImageInput(type="image", url="https://example.com/a.png", detail="low"),
            LocalImageInput(type="localImage", path="pixel.png"),
            MentionInput(type="mention", name="main.py", path="src/main.py"),
            SkillInput(type="skill", name="deploy", path=str(skill)),
        ],
        tmp_path,
    )
    parts = message["content"]
    assert message["role"] == "user"
    assert parts[0] == {"type": "input_text", "text": "look"}
    assert parts[1] == {
        "type": "input_image",
        "image_url": "https://example.com/a.png",
        "detail": "low",
    }
    assert parts[2] == {
        "type": "input_image",
        "image_url": "data:image/png;base64," + base64.b64encode(PNG_1PX).decode(),
    }
    assert parts[3]["text"] == f"[mentioned: main.py]({tmp_path / 'src/main.py'})"
    assert "<name>deploy</name>" in parts[4]["text"] and "Do the thing." in parts[4]["text"]


def test_bad_local_images_and_urls_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(
        InvalidParams, match=r"params.input\[1\].path: .*missing.png.* does not exist"
    ):
        to_model_message(
            [
                TextInput(type="text", text="x"),
                LocalImageInput(type="localImage", path=str(tmp_path / "missing.png")),
            ],
            tmp_path,
        )
    with pytest.raises(InvalidParams, match=r"params.input\[0\].path: .*notes.txt.* not a PNG"):
        to_model_message([LocalImageInput(type="localImage", path="notes.txt")], tmp_path)
    with pytest.raises(InvalidParams, match=r"params.input\[0\].url: must be an http"):
        to_model_message([ImageInput(type="image", url="file:///etc/passwd")], tmp_path)
    with pytest.raises(InvalidParams, match=r"params.input: must contain at least one item"):
        to_model_message([], tmp_path)


def test_image_types_are_recognised_by_their_bytes() -> None:
    assert image_mime(PNG_1PX[:16]) == "image/png"
    assert image_mime(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert image_mime(b"GIF89a...") == "image/gif"
    assert image_mime(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert image_mime(b"WEBP in a text file") is None
    assert (
        preview_text(
            [
                TextInput(type="text", text="hi"),
                MentionInput(type="mention", name="a.py", path="a.py"),
            ]
        )
        == "hi\n@a.py"
    )
