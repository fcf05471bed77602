"""Credential stores: file (auth.json), keyring, auto (keyring with file fallback) and ephemeral.

Only AuthManager uses these. Every blocking call (file I/O, flock, keyring) runs off the event loop
with a time bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast, get_args

import attrs

from codex_lsp.auth.errors import CorruptCredentials, KeyringUnavailable, StorageError
from codex_lsp.errors import InvalidParams

log = logging.getLogger(__name__)

StoreMode = Literal["file", "keyring", "auto", "ephemeral"]
KEYRING_SERVICE = "Codex Auth"
AUTH_FILE_NAME = "auth.json"
LOCK_FILE_NAME = "auth.json.lock"
DEFAULT_LOCK_TIMEOUT = 10.0

T = TypeVar("T")


@attrs.frozen
class TokenData:
    id_token: str = attrs.field(repr=False)
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    account_id: str | None


@attrs.frozen
class AuthDotJson:
    """The upstream auth.json record (also the keyring secret). Unknown fields are kept as is."""

    auth_mode: str | None
    openai_api_key: str | None = attrs.field(repr=False)
    tokens: TokenData | None
    last_refresh: datetime | None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

    def to_json(self) -> str:
        record: dict[str, Any] = dict(self.extra)
        if self.auth_mode is not None:
            record["auth_mode"] = self.auth_mode
        record["OPENAI_API_KEY"] = self.openai_api_key
        if self.tokens is not None:
            record["tokens"] = {
                "id_token": self.tokens.id_token,
                "access_token": self.tokens.access_token,
                "refresh_token": self.tokens.refresh_token,
                "account_id": self.tokens.account_id,
            }
        if self.last_refresh is not None:
            record["last_refresh"] = format_timestamp(self.last_refresh)
        return json.dumps(record, indent=2) + "\n"


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_auth_json(text: str, source: str) -> AuthDotJson:
    """Parse an auth.json document; errors name `source` and the problem, never a value."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptCredentials(
            f"{source} is not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            "sign in again (the file is moved aside, not deleted)"
        ) from None
    if not isinstance(record, dict):
        raise _layout_error(source, "the top level must be a JSON object")
    known = {"auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"}
    return AuthDotJson(
        auth_mode=_optional_string(record, "auth_mode", source),
        openai_api_key=_optional_string(record, "OPENAI_API_KEY", source),
        tokens=_parse_tokens(record.get("tokens"), source),
        last_refresh=_parse_last_refresh(record.get("last_refresh"), source),
        extra={key: value for key, value in record.items() if key not in known},
    )


def _parse_tokens(value: object, source: str) -> TokenData | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _layout_error(source, "field 'tokens' must be an object")
    return TokenData(
        id_token=_required_string(value, "id_token", source),
        access_token=_required_string(value, "access_token", source),
        refresh_token=_required_string(value, "refresh_token", source),
        account_id=_optional_string(value, "account_id", source, prefix="tokens."),
    )


def _parse_last_refresh(value: object, source: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _layout_error(source, "field 'last_refresh' must be an RFC 3339 timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _layout_error(source, "field 'last_refresh' is not an RFC 3339 timestamp") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _optional_string(record: dict[str, Any], key: str, source: str, prefix: str = "") -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _layout_error(source, f"field '{prefix}{key}' must be a string or null")


def _required_string(record: dict[str, Any], key: str, source: str) -> str:
    value = record.get(key)
    if isinstance(value, str):
        return value
    raise _layout_error(source, f"field 'tokens.{key}' must be a string")


def _layout_error(source: str, problem: str) -> StorageError:
    return CorruptCredentials(
        f"{source} has an unexpected layout: {problem}; sign in again (the file is moved aside, "
        "not deleted)"
    )


def keyring_account(codex_home: Path) -> str:
    """`cli|<first 16 hex chars of sha256(canonical CODEX_HOME)>`, as upstream."""
    canonical = str(Path(codex_home).expanduser().resolve(strict=False))
    return "cli|" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


# Locks held by the current task (and tasks it spawns), so nested save/load inside a locked
# section (refresh: re-read, call issuer, persist) don't deadlock on our own flock.
_held_locks: ContextVar[frozenset[str]] = ContextVar("codex_auth_held_locks", default=frozenset())


class InterProcessLock:
    """fcntl.flock on a sibling lock file; re-entrant within one task context."""

    def __init__(self, path: Path, timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        key = str(self.path)
        held = _held_locks.get()
        if key in held:
            yield
            return
        fd = await _acquire_off_loop(self._acquire)
        marker = _held_locks.set(held | {key})
        try:
            yield
        finally:
            _held_locks.reset(marker)
            _release(fd)

    def _acquire(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StorageError(
                    f"timed out after {self.timeout:g} s waiting for lock file {self.path}; "
                    "another codex process may be stuck - stop it and try again"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


async def _acquire_off_loop(acquire: Callable[[], int]) -> int:
    future = asyncio.get_running_loop().run_in_executor(None, acquire)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # The worker may still get the lock after we gave up; release it as soon as it does.
        future.add_done_callback(_release_if_acquired)
        raise


def _release_if_acquired(future: asyncio.Future[int]) -> None:
    if not future.cancelled() and future.exception() is None:
        _release(future.result())


def _release(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


async def run_in_daemon_thread(call: Callable[[], T], limit_seconds: float) -> T:
    """Run a blocking call in its own daemon thread, giving up after `limit_seconds` (TimeoutError).

    Not asyncio.to_thread: a call that never returns (a locked Secret Service) would pin a worker of
    the shared executor and make interpreter shutdown wait for it.
    """
    loop = asyncio.get_running_loop()
    result: asyncio.Future[T] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        if not result.done():
            outcome()

    def worker() -> None:
        try:
            value = call()
        except BaseException as exc:  # handed to the awaiting coroutine
            _post(loop, deliver, functools.partial(result.set_exception, exc))
        else:
            _post(loop, deliver, functools.partial(result.set_result, value))

    threading.Thread(target=worker, name="codex-auth-blocking", daemon=True).start()
    return await asyncio.wait_for(result, limit_seconds)


def _post(
    loop: asyncio.AbstractEventLoop,
    deliver: Callable[[Callable[[], None]], None],
    outcome: Callable[[], None],
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed while the call was running
        loop.call_soon_threadsafe(deliver, outcome)


class AuthStore(Protocol):
    description: str

    def lock(self) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def load(self) -> AuthDotJson | None: ...

    async def save(self, record: AuthDotJson) -> None: ...

    async def delete(self) -> None: ...


class FileStore:
    """`$CODEX_HOME/auth.json`: mode 0600, atomic replace, writes under an inter-process lock."""

    def __init__(self, codex_home: Path, *, lock: InterProcessLock | None = None) -> None:
        self.path = Path(codex_home) / AUTH_FILE_NAME
        self._lock = lock or InterProcessLock(Path(codex_home) / LOCK_FILE_NAME)
        self.description = str(self.path)
        self.moved_aside: tuple[Path, str] | None = None  # (where, why) of the last move-aside

    def lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lock.hold()

    async def load(self) -> AuthDotJson | None:
        # No lock needed: writers replace the file atomically, so a read is always complete.
        return await asyncio.to_thread(self._read)

    async def save(self, record: AuthDotJson) -> None:
        async with self.lock():
            await asyncio.to_thread(self._write, record.to_json())

    async def delete(self) -> None:
        async with self.lock():
            await asyncio.to_thread(self._unlink)

    def _read(self) -> AuthDotJson | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except PermissionError:
            raise StorageError(
                f"cannot read {self.path}: permission denied; make it readable by you "
                "(chmod 600, owned by your user) or delete it and sign in again"
            ) from None
        except IsADirectoryError:
            raise StorageError(f"cannot read {self.path}: it is a directory; remove it") from None
        except UnicodeDecodeError:
            raise CorruptCredentials(
                f"{self.path} is not UTF-8 text; sign in again (the file is moved aside, not deleted)"
            ) from None
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {exc.strerror}") from None
        return parse_auth_json(text, str(self.path))

    def _write(self, text: str) -> None:
        # Never overwrite a file we cannot use: it may hold credentials the user wants back.
        # Unreadable (permissions, a directory) -> refuse; unusable content -> move it aside.
        try:
            self._read()
        except CorruptCredentials as exc:
            self.moved_aside = (move_aside(self.path), exc.message)
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp_name = tempfile.mkstemp(prefix=".auth.json.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path}: {exc.strerror}") from None
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise StorageError(f"cannot write {self.path}: {exc.strerror}") from None
        _fsync_directory(directory)

    def _unlink(self) -> None:
        try:
            self._read()
        except CorruptCredentials as exc:
            self.moved_aside = (move_aside(self.path), exc.message)  # never delete it
            return
        except StorageError:
            pass  # unreadable: the unlink below reports what is wrong, if anything
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"failed to remove {self.path}: {exc.strerror}") from None


def move_aside(path: Path) -> Path:
    """Rename an unusable credentials file to `<name>.corrupt-<UTC timestamp>` (0600, never
    deleted; a numeric suffix keeps earlier ones) and return the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    try:
        os.chmod(path, 0o600)
        os.rename(path, target)
    except OSError as exc:
        raise StorageError(f"cannot move the unusable {path} aside: {exc.strerror}") from None
    _fsync_directory(path.parent)
    log.warning("moved the unusable %s aside to %s", path, target.name)
    return target


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # best effort: durability of the rename itself
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _keyring() -> Any:
    """Import keyring on first use: it is only needed in keyring/auto mode and costs start-up time."""
    import keyring
    import keyring.errors

    return keyring


class KeyringStore:
    """OS keyring entry `Codex Auth` / `cli|<hash>` holding the auth.json JSON; every call bounded."""

    def __init__(
        self, codex_home: Path, *, timeout: float = 3.0, lock: InterProcessLock | None = None
    ) -> None:
        self.account = keyring_account(codex_home)
        self.timeout = timeout
        self._lock = lock or InterProcessLock(Path(codex_home) / LOCK_FILE_NAME)
        self.description = f"the keyring entry '{KEYRING_SERVICE}' / '{self.account}'"

    def lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lock.hold()

    async def load(self) -> AuthDotJson | None:
        secret = await self._call(
            "read", lambda: _keyring().get_password(KEYRING_SERVICE, self.account)
        )
        if secret is None:
            return None
        return parse_auth_json(secret, self.description)

    async def save(self, record: AuthDotJson) -> None:
        secret = record.to_json()
        await self._call(
            "write", lambda: _keyring().set_password(KEYRING_SERVICE, self.account, secret)
        )

    async def delete(self) -> None:
        await self._call("delete", self._delete_if_present)

    def _delete_if_present(self) -> None:
        keyring = _keyring()
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(KEYRING_SERVICE, self.account)

    async def _call(self, action: str, call: Callable[[], T]) -> T:
        try:
            return await run_in_daemon_thread(call, self.timeout)
        except TimeoutError:
            raise KeyringUnavailable(
                f"the keyring did not answer a {action} within {self.timeout:g} s (is the Secret "
                'Service locked?); unlock it, or set cli_auth_credentials_store = "file"'
            ) from None
        except Exception as exc:
            # The backend's own text is not shown: it is not ours to vouch for.
            raise KeyringUnavailable(
                f"the keyring failed to {action} {self.description} ({type(exc).__name__}); "
                'fix the keyring, or set cli_auth_credentials_store = "file"'
            ) from None


class AutoStore:
    """Keyring first; on keyring errors or timeouts fall back to the file with a warning."""

    def __init__(self, keyring_store: KeyringStore, file_store: FileStore) -> None:
        self._keyring = keyring_store
        self._file = file_store
        self.description = f"{keyring_store.description} (falling back to {file_store.path})"

    @property
    def moved_aside(self) -> tuple[Path, str] | None:
        return self._file.moved_aside

    def lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._file.lock()

    async def load(self) -> AuthDotJson | None:
        try:
            record = await self._keyring.load()
        except KeyringUnavailable as exc:
            log.warning("keyring unavailable, reading %s instead: %s", self._file.path, exc)
            return await self._file.load()
        return record if record is not None else await self._file.load()

    async def save(self, record: AuthDotJson) -> None:
        async with self.lock():
            try:
                await self._keyring.save(record)
            except KeyringUnavailable as exc:
                log.warning("keyring unavailable, saving to %s instead: %s", self._file.path, exc)
                await self._file.save(record)
                return
            # The keyring now holds the credentials; a stale fallback file must not linger.
            await self._file.delete()

    async def delete(self) -> None:
        async with self.lock():
            try:
                await self._keyring.delete()
            except KeyringUnavailable as exc:
                # Same policy as load/save; the entry may survive, so say so.
                log.warning(
                    "keyring unavailable while logging out; credentials stored there (if any) "
                    "were not removed: %s",
                    exc,
                )
            await self._file.delete()


class EphemeralStore:
    """Process memory only."""

    def __init__(self) -> None:
        self._record: AuthDotJson | None = None
        self.description = "process memory"

    def lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def load(self) -> AuthDotJson | None:
        return self._record

    async def save(self, record: AuthDotJson) -> None:
        self._record = record

    async def delete(self) -> None:
        self._record = None


def create_store(mode: str, codex_home: Path, *, keyring_timeout: float = 3.0) -> AuthStore:
    """The store for `cli_auth_credentials_store`."""
    if mode not in get_args(StoreMode):
        raise InvalidParams(
            f"cli_auth_credentials_store must be one of file, keyring, auto, ephemeral (got {mode!r})"
        )
    store_mode = cast(StoreMode, mode)
    if store_mode == "ephemeral":
        return EphemeralStore()
    lock = InterProcessLock(Path(codex_home) / LOCK_FILE_NAME)
    file_store = FileStore(codex_home, lock=lock)
    if store_mode == "file":
        return file_store
    keyring_store = KeyringStore(codex_home, timeout=keyring_timeout, lock=lock)
    if store_mode == "keyring":
        return keyring_store
    return AutoStore(keyring_store, file_store)
