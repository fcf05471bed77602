"""Helpers shared by the auth tests (imported by conftest.py and test modules)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from keyring.backend import KeyringBackend
from keyring.compat import properties

TESTS_DIR = Path(__file__).parent
WORKER_SCRIPT = TESTS_DIR / "proc_worker.py"


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
class _TestOnlyBackend(KeyringBackend):
    """Installed explicitly with keyring.set_keyring; never picked by keyring's auto-discovery."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test-only keyring backend")


class SleepyKeyring(_TestOnlyBackend):
    """Simulates a locked Secret Service: every call blocks for `delay` seconds."""

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


class BrokenKeyring(_TestOnlyBackend):
    """A backend whose every call raises (its message carries a fake secret we must not echo)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("dbus exploded near sk-secret-in-backend-message")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("dbus exploded near sk-secret-in-backend-message")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("dbus exploded near sk-secret-in-backend-message")


def entry_names(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir())


def file_exists(path: Path) -> bool:
    return path.exists()


def ready_files(directory: Path, prefix: str) -> list[Path]:
    return [entry for entry in directory.iterdir() if entry.name.startswith(prefix + ".ready.")]


async def wait_until(predicate: Any, limit: float = 20.0) -> None:
    """Poll a sync predicate until true; bounded in time."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)
