"""Errors raised by the auth core. Every message is safe to show: no token, key or traceback."""

from __future__ import annotations

from codex_lsp.errors import INTERNAL_ERROR, INVALID_REQUEST, CodexError, InvalidRequest


class MalformedTokenError(InvalidRequest):
    """A JWT could not be parsed; `reason` says which part is wrong (never the token itself)."""

    def __init__(self, reason: str, *, what: str = "token") -> None:
        super().__init__(f"invalid {what}: {reason}; sign in again or supply a complete JWT")
        self.reason = reason


class NotLoggedIn(InvalidRequest):
    def __init__(self, message: str = "not logged in; sign in with account/login/start") -> None:
        super().__init__(message)


class AuthRecoveryFailed(CodexError):
    """Recovering from an HTTP 401 failed; `reason` says why and what to do."""

    code = INVALID_REQUEST

    def __init__(self, reason: str) -> None:
        super().__init__(f"authentication failed and could not be recovered: {reason}")
        self.reason = reason


class RefreshTokenFailed(CodexError):
    """The OAuth refresh failed. Permanent failures need a new sign-in; transient ones may be retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message, code=INVALID_REQUEST if permanent else INTERNAL_ERROR)
        self.permanent = permanent


class StorageError(CodexError):
    """Reading or writing stored credentials failed; the message names the store and the problem."""

    code = INTERNAL_ERROR


class CorruptCredentials(StorageError):
    """A credentials file exists but its content is unusable (not JSON, not UTF-8, bad layout).

    A new login moves such a file aside (never deletes it) instead of refusing to sign in."""


class KeyringUnavailable(StorageError):
    """The OS keyring errored or did not answer in time."""
