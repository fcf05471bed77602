"""Shared fixtures for the auth tests: a real loopback issuer, temp CODEX_HOMEs, keyring backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from auth_helpers import TESTS_DIR, BrokenKeyring, SleepyKeyring
from keyrings.alt.file import PlaintextKeyring

from codex_lsp.auth.manager import AuthManager
from codex_lsp.fakes.issuer import FakeIssuer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every auth test finishes by itself: a hang becomes a failure after 60 s.
    for item in items:
        if (
            TESTS_DIR in Path(str(item.fspath)).parents
            and item.get_closest_marker("timeout") is None
        ):
            item.add_marker(pytest.mark.timeout(60))


@pytest.fixture
def make_manager(codex_home: Path, issuer: FakeIssuer) -> Callable[..., AuthManager]:
    """AuthManager on the temp CODEX_HOME, refreshing against the fake issuer, with a clean env."""

    def build(**overrides: Any) -> AuthManager:
        options: dict[str, Any] = {
            "refresh_token_url": issuer.token_url,
            "env": {},
            "http_timeout": 5.0,
        }
        options.update(overrides)
        home = options.pop("codex_home", codex_home)
        return AuthManager(home, **options)

    return build


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def file_keyring(tmp_path: Path, restore_keyring: None) -> PlaintextKeyring:
    """keyrings.alt's plaintext file backend, stored under the test's tmp dir."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def sleepy_keyring(restore_keyring: None) -> SleepyKeyring:
    backend = SleepyKeyring(delay=5.0)
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def broken_keyring(restore_keyring: None) -> BrokenKeyring:
    backend = BrokenKeyring()
    keyring.set_keyring(backend)
    return backend
