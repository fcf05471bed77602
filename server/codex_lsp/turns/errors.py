"""How a turn ends badly: the exceptions that stop it, and the one place that turns any failure
into the `turn/completed` error (message + `codexErrorInfo`)."""

from __future__ import annotations

from codex_lsp import logs
from codex_lsp.auth.errors import AuthRecoveryFailed, NotLoggedIn
from codex_lsp.backend.responses import StreamError
from codex_lsp.errors import CodexError
from codex_lsp.protocol.threads import TurnError


class TurnCancelled(Exception):
    """The editor answered an approval with `cancel`: the turn ends as interrupted."""


class TooManyToolRounds(CodexError):
    """The model kept calling tools without answering."""


def turn_error(exc: BaseException) -> TurnError:
    """The `turn/completed` error for a failure, with its codexErrorInfo."""
    if isinstance(exc, StreamError):
        return TurnError(logs.redact(exc.message), exc.codex_error_info, None)
    if isinstance(exc, AuthRecoveryFailed | NotLoggedIn):
        return TurnError(logs.redact(exc.message), "unauthorized", None)
    if isinstance(exc, CodexError):
        return TurnError(logs.redact(exc.message), "other", None)
    return TurnError(
        f"internal error while running the turn ({type(exc).__name__}); see the server log "
        "and send the message again",
        "other",
        None,
    )
