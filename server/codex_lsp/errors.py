"""Domain errors that carry their JSON-RPC error code.

Plain modules (auth, models, turns, sandbox) raise these; the LSP layer maps them to a JSON-RPC
error with the same code and message. Messages are shown to users, so they say what to do and
never contain a token, a key or a traceback.
"""

from __future__ import annotations

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
SERVER_OVERLOADED = -32001


class CodexError(Exception):
    """Base class for every error the server reports to the editor."""

    code: int = INTERNAL_ERROR

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidRequest(CodexError):
    """The request is well-formed but not allowed in the current state (-32600)."""

    code = INVALID_REQUEST


class InvalidParams(CodexError):
    """A parameter is missing or has the wrong shape (-32602). The message names the field."""

    code = INVALID_PARAMS


class InternalError(CodexError):
    """Something failed on our side (-32603); the message is short and safe to show."""

    code = INTERNAL_ERROR
