"""`UserInput` items → the Responses-API user message the model gets.

`text` → `input_text`; `image` → `input_image` with its URL; `localImage` → the file read,
checked (an image by its magic bytes, at most ``MAX_IMAGE_BYTES``) and sent as a data URL;
`mention` → a line naming the file; `skill` → the skill's SKILL.md wrapped in `<skill>` tags.
A bad item is :class:`InvalidParams` naming it (``params.input[2].path: ...``). Blocking file IO:
call :func:`to_model_message` off the event loop.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codex_lsp.errors import InvalidParams
from codex_lsp.protocol.inputs import (
    ImageInput,
    LocalImageInput,
    MentionInput,
    SkillInput,
    TextInput,
    UserInput,
)

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_SKILL_BYTES = 64 * 1024
# Formats every Responses model accepts, recognised by their first bytes.
IMAGE_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),  # after "RIFF" + 4 size bytes
)


def image_mime(head: bytes) -> str | None:
    """The MIME type of an image from its first bytes; None if it is not one we can send."""
    for magic, offset, mime in IMAGE_SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (
            offset == 0 or head.startswith(b"RIFF")
        ):
            return mime
    return None


def _resolve(raw: str, cwd: Path, where: str) -> Path:
    if not raw or "\x00" in raw:
        raise InvalidParams(f"{where}: must be a file path")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else cwd / path


def local_image_url(raw: str, cwd: Path, where: str) -> str:
    """Read and check a local image; its `data:` URL."""
    path = _resolve(raw, cwd, where)
    try:
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise InvalidParams(f"{where}: {raw!r} {what}; attach an existing image file")
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise InvalidParams(
                f"{where}: {raw!r} is {size} bytes; images larger than "
                f"{MAX_IMAGE_BYTES // (1024 * 1024)} MiB can't be sent"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidParams(
            f"{where}: cannot read {raw!r} ({exc.strerror or 'I/O error'})"
        ) from None
    mime = image_mime(data[:16])
    if mime is None:
        raise InvalidParams(f"{where}: {raw!r} is not a PNG, JPEG, GIF or WebP image")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _check_url(url: str, where: str) -> str:
    lowered = url[:16].lower()
    if lowered.startswith(("https://", "http://")) or lowered.startswith("data:image/"):
        return url
    raise InvalidParams(f"{where}: must be an http(s) URL or a data:image/... URL")


def _image_part(url: str, detail: str | None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "input_image", "image_url": url}
    if detail is not None:
        part["detail"] = detail
    return part


def _skill_text(item: SkillInput, cwd: Path, where: str) -> str:
    path = _resolve(item.path, cwd, f"{where}.path")
    try:
        if not path.is_file():
            raise InvalidParams(f"{where}.path: {item.path!r} is not an existing SKILL.md file")
        with path.open("rb") as handle:
            body = handle.read(MAX_SKILL_BYTES).decode("utf-8", "ignore")
    except OSError as exc:
        raise InvalidParams(
            f"{where}.path: cannot read {item.path!r} ({exc.strerror or 'I/O error'})"
        ) from None
    return f"<skill>\n<name>{item.name}</name>\n<path>{path}</path>\n{body.strip()}\n</skill>"


def to_content(
    inputs: Sequence[UserInput], cwd: Path, field: str = "params.input"
) -> list[dict[str, Any]]:
    """The message content parts for the inputs, in order."""
    parts: list[dict[str, Any]] = []
    for index, item in enumerate(inputs):
        where = f"{field}[{index}]"
        if isinstance(item, TextInput):
            parts.append({"type": "input_text", "text": item.text})
        elif isinstance(item, ImageInput):
            parts.append(_image_part(_check_url(item.url, f"{where}.url"), item.detail))
        elif isinstance(item, LocalImageInput):
            parts.append(_image_part(local_image_url(item.path, cwd, f"{where}.path"), item.detail))
        elif isinstance(item, MentionInput):
            path = (
                item.path if "://" in item.path else str(_resolve(item.path, cwd, f"{where}.path"))
            )
            parts.append({"type": "input_text", "text": f"[mentioned: {item.name}]({path})"})
        elif isinstance(item, SkillInput):
            parts.append({"type": "input_text", "text": _skill_text(item, cwd, where)})
    return parts


def reads_files(inputs: Sequence[UserInput]) -> bool:
    """Whether building the message reads files (local images, skills): then it runs off the
    event loop; plain text and URLs are built on it (a worker hop costs more than they do)."""
    return any(isinstance(item, LocalImageInput | SkillInput) for item in inputs)


def to_model_message(
    inputs: Sequence[UserInput], cwd: Path, field: str = "params.input"
) -> dict[str, Any]:
    """The Responses-API user message for the inputs."""
    if not inputs:
        raise InvalidParams(f"{field}: must contain at least one item")
    return {"type": "message", "role": "user", "content": to_content(inputs, cwd, field)}


def preview_text(inputs: Sequence[UserInput]) -> str:
    """What a thread preview shows for this input: its text, or the names of what was attached."""
    pieces = []
    for item in inputs:
        if isinstance(item, TextInput):
            pieces.append(item.text)
        elif isinstance(item, MentionInput | SkillInput):
            pieces.append(f"@{item.name}")
    return "\n".join(p for p in pieces if p)
