"""Keyring backends standing in for a broken Secret Service, loaded by the server through
PYTHON_KEYRING_BACKEND (real keyring machinery, not a mock of our storage layer)."""

from __future__ import annotations

import time

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked


class SlowKeyring(KeyringBackend):
    """A locked Secret Service that never answers (each call blocks for a minute)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(60)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(60)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(60)


class LockedKeyring(KeyringBackend):
    """A locked keyring that refuses at once."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("the collection is locked")
