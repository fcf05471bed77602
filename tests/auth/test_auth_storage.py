from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import stat
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest
from auth_helpers import BrokenKeyring, SleepyKeyring, entry_names, run_worker
from keyrings.alt.file import PlaintextKeyring

from codex_lsp.auth.errors import KeyringUnavailable, StorageError
from codex_lsp.auth.storage import (
    KEYRING_SERVICE,
    AuthDotJson,
    AutoStore,
    EphemeralStore,
    FileStore,
    KeyringStore,
    TokenData,
    create_store,
    keyring_account,
    run_in_daemon_thread,
)
from codex_lsp.errors import InvalidParams

RECORD = AuthDotJson(
    auth_mode="chatgpt",
    openai_api_key=None,
    tokens=TokenData("id.jwt.value", "access-secret", "refresh-secret", "acct-1"),
    last_refresh=datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
)


# -- file store --------------------------------------------------------------------------
async def test_file_store_writes_upstream_layout_with_mode_0600(codex_home: Path) -> None:
    store = FileStore(codex_home)
    await store.save(RECORD)
    path = codex_home / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    on_disk = json.loads(path.read_text())
    assert on_disk == {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": "id.jwt.value",
            "access_token": "access-secret",
            "refresh_token": "refresh-secret",
            "account_id": "acct-1",
        },
        "last_refresh": "2030-05-06T07:08:09.123456Z",
    }
    assert await store.load() == RECORD
    # No temp files are left behind next to it.
    assert entry_names(codex_home) == ["auth.json", "auth.json.lock"]


async def test_file_store_reads_upstream_file_and_keeps_unknown_fields(codex_home: Path) -> None:
    upstream = {
        "OPENAI_API_KEY": "sk-from-upstream",
        "last_refresh": "2025-01-01T12:34:56.123456789Z",
        "agent_identity": "kept-as-is",
    }
    (codex_home / "auth.json").write_text(json.dumps(upstream))
    store = FileStore(codex_home)
    record = await store.load()
    assert record is not None
    assert record.auth_mode is None
    assert record.openai_api_key == "sk-from-upstream"
    assert record.last_refresh == datetime(2025, 1, 1, 12, 34, 56, 123456, tzinfo=UTC)
    await store.save(record)
    assert json.loads((codex_home / "auth.json").read_text())["agent_identity"] == "kept-as-is"


async def test_missing_file_loads_as_none_and_delete_is_idempotent(codex_home: Path) -> None:
    store = FileStore(codex_home)
    assert await store.load() is None
    await store.delete()
    await store.save(RECORD)
    await store.delete()
    assert not (codex_home / "auth.json").exists()
    assert await store.load() is None


async def test_file_store_creates_missing_codex_home(tmp_path: Path) -> None:
    home = tmp_path / "does" / "not" / "exist"
    await FileStore(home).save(RECORD)
    assert (home / "auth.json").exists()


async def test_corrupt_file_gives_clear_error_and_a_save_moves_it_aside(codex_home: Path) -> None:
    corrupt = '{\n  "auth_mode": "chatgpt",\n  "tokens": {oops}\n}\n'
    path = codex_home / "auth.json"
    path.write_text(corrupt)
    path.chmod(0o644)
    store = FileStore(codex_home)
    with pytest.raises(StorageError) as caught:
        await store.load()
    assert str(path) in caught.value.message
    assert "not valid JSON at line 3" in caught.value.message
    await store.save(RECORD)
    assert await store.load() == RECORD
    [aside] = codex_home.glob("auth.json.corrupt-*")
    assert aside.read_text() == corrupt and stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert store.moved_aside is not None and store.moved_aside[0] == aside
    # A second corrupt file in the same second keeps the first one too; logout never deletes.
    path.write_text("{also corrupt")
    await store.delete()
    assert not path.exists() and len(list(codex_home.glob("auth.json.corrupt-*"))) == 2


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('["a", "list"]', "the top level must be a JSON object"),
        ('{"tokens": "sk-should-not-be-echoed"}', "field 'tokens' must be an object"),
        (
            '{"tokens": {"id_token": "x", "access_token": 5, "refresh_token": "r"}}',
            "field 'tokens.access_token' must be a string",
        ),
        ('{"OPENAI_API_KEY": 12}', "field 'OPENAI_API_KEY' must be a string or null"),
        ('{"last_refresh": "yesterday"}', "field 'last_refresh' is not an RFC 3339 timestamp"),
    ],
)
async def test_layout_errors_name_the_field_not_the_value(
    codex_home: Path, content: str, fragment: str
) -> None:
    (codex_home / "auth.json").write_text(content)
    with pytest.raises(StorageError) as caught:
        await FileStore(codex_home).load()
    assert fragment in caught.value.message
    assert "auth.json" in caught.value.message
    assert "sk-should-not-be-echoed" not in caught.value.message


async def test_non_utf8_and_directory_errors_are_clear(codex_home: Path) -> None:
    path = codex_home / "auth.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(StorageError, match="not UTF-8 text"):
        await FileStore(codex_home).load()
    path.unlink()
    path.mkdir()
    with pytest.raises(StorageError, match="is a directory"):
        await FileStore(codex_home).load()


async def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    path = home / "auth.json"
    path.write_text(RECORD.to_json())
    path.chmod(0o600)
    code = (
        "import asyncio, sys\nfrom pathlib import Path\nfrom codex_lsp.auth.storage import FileStore\n"
        "try:\n    asyncio.run(FileStore(Path(sys.argv[1])).load())\n"
        "except Exception as exc:\n    print(type(exc).__name__ + ': ' + str(exc))\n"
    )
    if os.geteuid() == 0:
        # root bypasses file modes; drop the capabilities that let it, in a separate process.
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, "util-linux setpriv is needed to test unreadable files as root"
        os.chown(path, 65534, 65534)
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", sys.executable]
    else:
        path.chmod(0o000)
        command = [sys.executable]
    process = await asyncio.create_subprocess_exec(
        *command, "-c", code, str(home), stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 30)
    output = stdout.decode()
    assert output.startswith("StorageError: cannot read ")
    assert str(path) in output
    assert "permission denied" in output
    assert "refresh-secret" not in output


# -- concurrency across processes -----------------------------------------------------------
async def _read_continuously(path: Path, stop: asyncio.Event) -> int:
    """Parse the file over and over until told to stop; every read must be complete JSON."""
    reads = 0
    deadline = time.monotonic() + 90
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            text = await asyncio.to_thread(path.read_text)
        except FileNotFoundError:
            await asyncio.sleep(0.001)
            continue
        record = json.loads(text)  # raises on a torn write
        assert record["OPENAI_API_KEY"].startswith("sk-")
        reads += 1
    return reads


async def test_two_processes_writing_200_times_never_tear_the_file(codex_home: Path) -> None:
    stop = asyncio.Event()
    reader = asyncio.create_task(_read_continuously(codex_home / "auth.json", stop))
    results = await asyncio.gather(
        run_worker("write", str(codex_home), "A", "200"),
        run_worker("write", str(codex_home), "B", "200"),
    )
    stop.set()
    reads = await reader
    for returncode, stdout, stderr in results:
        assert returncode == 0, stderr
        assert json.loads(stdout) == {"done": 200}
    assert reads > 0
    final = json.loads((codex_home / "auth.json").read_text())
    # Last write wins: the file holds one writer's final record, intact.
    assert final["OPENAI_API_KEY"] in ("sk-A-200", "sk-B-200")
    tag = final["OPENAI_API_KEY"].split("-")[1]
    assert final["tokens"]["refresh_token"] == f"refresh-{tag}-200"
    assert stat.S_IMODE((codex_home / "auth.json").stat().st_mode) == 0o600


async def test_two_processes_read_modify_write_under_the_lock_lose_nothing(
    codex_home: Path,
) -> None:
    stop = asyncio.Event()
    reader = asyncio.create_task(_read_continuously(codex_home / "auth.json", stop))
    results = await asyncio.gather(
        run_worker("increment", str(codex_home), "A", "200"),
        run_worker("increment", str(codex_home), "B", "200"),
    )
    stop.set()
    assert await reader > 0
    written: list[int] = []
    for returncode, stdout, stderr in results:
        assert returncode == 0, stderr
        written.extend(json.loads(stdout)["written"])
    # Every increment saw the previous one: 400 distinct values, none lost or duplicated.
    assert sorted(written) == list(range(1, 401))
    final = json.loads((codex_home / "auth.json").read_text())
    assert final["counter"] == 400
    assert final["OPENAI_API_KEY"] == f"sk-{final['writer']}-400"


async def test_lock_is_reentrant_within_a_task_and_exclusive_across_tasks(codex_home: Path) -> None:
    store = FileStore(codex_home)
    order: list[str] = []

    async def holder() -> None:
        async with store.lock():
            order.append("holder-in")
            await store.save(RECORD)  # nested: must not deadlock on our own lock
            await asyncio.sleep(0.2)
            order.append("holder-out")

    async def contender() -> None:
        await asyncio.sleep(0.05)
        async with store.lock():
            order.append("contender-in")

    await asyncio.wait_for(asyncio.gather(holder(), contender()), 10)
    assert order == ["holder-in", "holder-out", "contender-in"]


# -- keyring store ---------------------------------------------------------------------------
def test_keyring_account_is_cli_and_sha256_prefix_of_canonical_home(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    expected = "cli|" + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    assert keyring_account(home) == expected
    assert keyring_account(home / ".." / "h") == expected


async def test_keyring_store_round_trip_in_a_real_backend(
    codex_home: Path, file_keyring: PlaintextKeyring
) -> None:
    store = KeyringStore(codex_home)
    assert await store.load() is None
    await store.save(RECORD)
    secret = keyring.get_password(KEYRING_SERVICE, keyring_account(codex_home))
    assert secret is not None
    assert json.loads(secret)["tokens"]["refresh_token"] == "refresh-secret"
    assert await store.load() == RECORD
    assert not (codex_home / "auth.json").exists()
    await store.delete()
    assert keyring.get_password(KEYRING_SERVICE, keyring_account(codex_home)) is None
    await store.delete()  # deleting nothing is fine


async def test_keyring_mode_times_out_with_a_clear_error(
    codex_home: Path, sleepy_keyring: SleepyKeyring
) -> None:
    store = create_store("keyring", codex_home, keyring_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(KeyringUnavailable) as caught:
        await store.load()
    assert time.monotonic() - started < 2.0
    assert "did not answer" in caught.value.message
    assert 'cli_auth_credentials_store = "file"' in caught.value.message
    with pytest.raises(KeyringUnavailable):
        await store.save(RECORD)
    assert not (codex_home / "auth.json").exists()


async def test_keyring_errors_do_not_echo_backend_text(
    codex_home: Path, broken_keyring: BrokenKeyring
) -> None:
    with pytest.raises(KeyringUnavailable) as caught:
        await KeyringStore(codex_home).load()
    assert "RuntimeError" in caught.value.message
    assert "sk-secret-in-backend-message" not in caught.value.message


async def test_event_loop_keeps_running_while_keyring_hangs(
    codex_home: Path, sleepy_keyring: SleepyKeyring
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    with pytest.raises(KeyringUnavailable):
        await KeyringStore(codex_home, timeout=0.5).load()
    await tick_task
    assert ticks == 20


async def test_auto_falls_back_to_file_with_warning_when_keyring_times_out(
    codex_home: Path, sleepy_keyring: SleepyKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    store = create_store("auto", codex_home, keyring_timeout=0.2)
    assert isinstance(store, AutoStore)
    with caplog.at_level(logging.WARNING, logger="codex_lsp.auth.storage"):
        await store.save(RECORD)
        assert await store.load() == RECORD
    assert json.loads((codex_home / "auth.json").read_text())["tokens"]["account_id"] == "acct-1"
    assert "keyring unavailable" in caplog.text
    assert "refresh-secret" not in caplog.text


async def test_auto_falls_back_to_file_when_keyring_errors(
    codex_home: Path, broken_keyring: BrokenKeyring
) -> None:
    store = create_store("auto", codex_home)
    await store.save(RECORD)
    assert (codex_home / "auth.json").exists()
    assert await store.load() == RECORD
    await store.delete()  # keyring delete fails, the file still goes
    assert not (codex_home / "auth.json").exists()


async def test_auto_prefers_working_keyring_and_removes_stale_file(
    codex_home: Path, file_keyring: PlaintextKeyring
) -> None:
    await FileStore(codex_home).save(RECORD)
    store = create_store("auto", codex_home)
    assert await store.load() == RECORD  # keyring empty: file is read
    newer = AuthDotJson("apikey", "sk-newer", None, None)
    await store.save(newer)
    assert not (codex_home / "auth.json").exists()
    assert await store.load() == newer
    await store.delete()
    assert await store.load() is None


async def test_ephemeral_store_stays_in_memory(codex_home: Path) -> None:
    store = create_store("ephemeral", codex_home)
    assert isinstance(store, EphemeralStore)
    await store.save(RECORD)
    async with store.lock():
        assert await store.load() == RECORD
    assert entry_names(codex_home) == []
    await store.delete()
    assert await store.load() is None


def test_unknown_store_mode_is_rejected(codex_home: Path) -> None:
    with pytest.raises(InvalidParams, match="cli_auth_credentials_store must be one of"):
        create_store("vault", codex_home)


async def test_daemon_thread_runner_returns_values_and_exceptions() -> None:
    assert await run_in_daemon_thread(lambda: 41 + 1, 5) == 42

    def boom() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await run_in_daemon_thread(boom, 5)
    with pytest.raises(TimeoutError):
        await run_in_daemon_thread(lambda: time.sleep(2), 0.1)
