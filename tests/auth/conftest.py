"""Shared fixtures for the auth tests: a real loopback issuer, temp CODEX_HOMEs, keyring backends."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyrings.alt.file import PlaintextKeyring

from codex_lsp.auth.manager import AuthManager
from codex_lsp.fakes.issuer import FakeIssuer

TESTS_DIR = Path(__file__).parent
WORKER_SCRIPT = TESTS_DIR / "proc_worker.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every auth test finishes by itself: a hang becomes a failure after 60 s.
    for item in items:
        if TESTS_DIR in Path(str(item.fspath)).parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(60))


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer() as running:
        yield running


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    return home


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


def write_chatgpt_auth_json(
    codex_home: Path,
    tokens: dict[str, str],
    *,
    account_id: str | None = "acct-1",
    last_refresh: str = "2030-01-01T00:00:00.000000Z",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write an auth.json the way upstream codex does after a ChatGPT login."""
    record: dict[str, Any] = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {**tokens, "account_id": account_id},
        "last_refresh": last_refresh,
    }
    record.update(extra or {})
    path = codex_home / "auth.json"
    path.write_text(json.dumps(record, indent=2))
    path.chmod(0o600)
    return path


def read_auth_json(codex_home: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((codex_home / "auth.json").read_text())
    return result


async def run_worker(*args: str, limit: float = 60.0) -> tuple[int, str, str]:
    """Run tests/auth/proc_worker.py in a separate Python process; bounded in time."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER_SCRIPT),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


# -- keyring backends (real keyring backends, registered with keyring.set_keyring) -------------
class SleepyKeyring(KeyringBackend):
    """Simulates a locked Secret Service: every call blocks for `delay` seconds."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, delay: float = 5.0) -> None:
        super().__init__()
        self.delay = delay
        self.calls = 0

    def _block(self) -> None:
        self.calls += 1
        time.sleep(self.delay)

    def get_password(self, service: str, username: str) -> str | None:
        self._block()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self._block()

    def delete_password(self, service: str, username: str) -> None:
        self._block()


class BrokenKeyring(KeyringBackend):
    """A backend whose every call raises (its message carries a fake secret we must not echo)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("dbus exploded near sk-secret-in-backend-message")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("dbus exploded near sk-secret-in-backend-message")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("dbus exploded near sk-secret-in-backend-message")


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
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")  # type: ignore[misc]
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
