"""Handshake payloads: what the client may pass in ``initialize`` and what the server adds."""

from __future__ import annotations

from typing import Literal

import attrs

from codex_lsp.protocol.methods import define
from codex_lsp.protocol.wire import field

PROTOCOL_VERSION = "2"


@attrs.define
class InitializationOptions:
    """``initialize`` → ``params.initializationOptions`` (all optional)."""

    experimental_api: bool = field(
        "Opt in to experimental methods and fields. Fixed for the connection's lifetime.",
        default=False,
    )
    opt_out_notification_methods: list[str] | None = field(
        "Exact notification method names the server must never send to this client "
        "(no wildcards; unknown names are ignored).",
        default=None,
    )
    file_edits: Literal["disk", "workspaceEdit"] = field(
        "How approved patches are applied: `disk` (default) writes files directly; `workspaceEdit` "
        "sends each patch to the editor as one `workspace/applyEdit` (open documents' unsaved text "
        "is what the patch applies to), then makes the disk agree. Needs the client capability "
        "`workspace.applyEdit`; without it the server falls back to `disk`.",
        default="disk",
    )


@attrs.define
class CodexCapabilities:
    """``initialize`` → ``result.capabilities.experimental.codex``."""

    user_agent: str = field(
        "User agent the server sends to the backend, e.g. `codex_lsp/0.1.0 (linux; x86_64)`."
    )
    codex_home: str = field("Absolute path of CODEX_HOME (config, credentials, caches).")
    platform_family: Literal["unix", "windows"] = field("Platform family of the server process.")
    platform_os: Literal["linux", "macos", "windows"] = field(
        "Operating system of the server process."
    )
    protocol_version: str = field("Version of the codex-lsp custom protocol (app-server v2 names).")


INITIALIZE = define(
    "initialize",
    direction="client->server",
    kind="request",
    group="handshake",
    params=InitializationOptions,
    result=CodexCapabilities,
    doc="Standard LSP initialize. The Codex-specific parts are `params.initializationOptions` "
    'and `result.capabilities.experimental.codex`; `result.serverInfo` is `{name: "codex-lsp", version}`.',
)
