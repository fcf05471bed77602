"""`UserInput`: what the editor sends as a user message (`turn/start`, `turn/steer`).

Kept in its own module (no other protocol imports) so both the thread and the context protocol
modules can use it.
"""

from __future__ import annotations

from typing import Literal

import attrs

from codex_lsp.protocol.wire import JsonValue, field

ImageDetail = Literal["auto", "low", "high", "original"]


@attrs.define
class TextInput:
    """User text."""

    type: Literal["text"] = field("Discriminator.")
    text: str = field("The text.")
    text_elements: list[JsonValue] = field(
        "UI-defined spans within `text` (`{byteRange:{start,end}, placeholder?}`); kept, not sent "
        "to the model.",
        default=attrs.Factory(list),
        wire="text_elements",
    )


@attrs.define
class ImageInput:
    """An image by URL (`https://…` or a `data:image/…;base64,…` URL), sent to the model as is."""

    type: Literal["image"] = field("Discriminator.")
    url: str = field("Image URL: `http(s)://` or `data:image/<type>;base64,...`.")
    detail: ImageDetail | None = field("Resolution hint for the model.", default=None)


@attrs.define
class LocalImageInput:
    """An image file on the server's machine: read, checked (PNG, JPEG, GIF or WebP, at most
    20 MiB) and sent to the model as a data URL. A missing or non-image file is -32602."""

    type: Literal["localImage"] = field("Discriminator.")
    path: str = field("Absolute path of the image file.")
    detail: ImageDetail | None = field("Resolution hint for the model.", default=None)


@attrs.define
class MentionInput:
    """A file or resource the user mentioned (`@file`): the model is told its name and path."""

    type: Literal["mention"] = field("Discriminator.")
    name: str = field("Display name.")
    path: str = field("Path (absolute, or relative to the thread's cwd) or URI.")


@attrs.define
class SkillInput:
    """A skill the user selected: the model is told its name and where its SKILL.md is."""

    type: Literal["skill"] = field("Discriminator.")
    name: str = field("Skill name.")
    path: str = field("Path of the skill's SKILL.md.")


UserInput = TextInput | ImageInput | LocalImageInput | MentionInput | SkillInput
