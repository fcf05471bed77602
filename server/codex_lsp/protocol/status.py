"""`codex/status`: what upstream's `/status` shows, answered from memory."""

from __future__ import annotations

import attrs

from codex_lsp.protocol.account import Account, Empty, RateLimitSnapshot, WireAuthMode
from codex_lsp.protocol.methods import define
from codex_lsp.protocol.wire import field


@attrs.define
class CodexStatusResult:
    """Result of `codex/status`."""

    account: Account | None = field("Signed-in account, or null.")
    auth_mode: WireAuthMode | None = field("Active auth mode.")
    model: str | None = field("Default model (what a new thread would use).")
    model_provider: str = field("Active model provider id.")
    sandbox_backend: str = field("Sandbox backend available here: `bwrap`, `landlock` or `none`.")
    rate_limits: RateLimitSnapshot | None = field("Latest snapshot seen this session, or null.")
    lines: list[str] = field(
        "Human-readable lines, e.g. `Account: me@example.com (pro)`, `Model: gpt-5.2-codex`, "
        "`5h limit: 23% used`, or `Limits: send a message to load usage data` / `Limits: data not available yet`."
    )

    sandbox_enforced: list[str] = field(
        "What the sandbox backend enforces here, one sentence each (see protocol-docs/sandbox.md).",
        default=attrs.Factory(list),
    )
    sandbox_gaps: list[str] = field(
        "What it cannot enforce here (e.g. `.git` under the unprivileged Landlock fallback).",
        default=attrs.Factory(list),
    )


CODEX_STATUS = define(
    "codex/status",
    direction="client->server",
    kind="request",
    group="status",
    params=Empty,
    result=CodexStatusResult,
    doc="Status report answered from this server's memory (never by re-reading auth.json).",
)
