"""The `error` notification: a turn hit an error (upstream's `ErrorNotification`)."""

from __future__ import annotations

import attrs

from codex_lsp.protocol.methods import define
from codex_lsp.protocol.threads import TurnError
from codex_lsp.protocol.wire import field


@attrs.define
class ErrorNotification:
    """A turn hit an error; with `willRetry: false` the turn ends as `failed` right after."""

    error: TurnError = field("What went wrong (the same object as the failed turn's `error`).")
    will_retry: bool = field("Whether the server retries by itself; false when the turn fails.")
    thread_id: str = field("Thread id.")
    turn_id: str = field("Turn id.")


ERROR = define(
    "error",
    direction="server->client",
    kind="notification",
    group="threads",
    params=ErrorNotification,
    doc="Sent when a turn fails (before its `turn/completed` with status `failed`), as upstream.",
)
