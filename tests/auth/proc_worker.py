"""Separate-process worker for the auth tests (not collected by pytest).

write <codex_home> <tag> <count>        plain atomic saves
increment <codex_home> <tag> <count>    read-modify-write under the inter-process lock
refresh <codex_home> <token_url> <go>   load, signal ready, wait for <go>, refresh_managed
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from codex_lsp.auth.errors import RefreshTokenFailed
from codex_lsp.auth.manager import AuthManager
from codex_lsp.auth.model import ChatGptAuth
from codex_lsp.auth.storage import AuthDotJson, FileStore, TokenData


def record_for(tag: str, number: int, counter: int | None = None) -> AuthDotJson:
    extra = {} if counter is None else {"counter": counter, "writer": tag}
    return AuthDotJson(
        auth_mode="apikey",
        openai_api_key=f"sk-{tag}-{number}",
        tokens=TokenData("id", "access", f"refresh-{tag}-{number}", "acct"),
        last_refresh=None,
        extra=extra,
    )


async def write(home: Path, tag: str, count: int) -> None:
    store = FileStore(home)
    for number in range(1, count + 1):
        await store.save(record_for(tag, number))
    print(json.dumps({"done": count}))


async def increment(home: Path, tag: str, count: int) -> None:
    store = FileStore(home)
    written: list[int] = []
    for _ in range(count):
        async with store.lock():
            current = await store.load()
            counter = int(current.extra.get("counter", 0)) + 1 if current else 1
            await store.save(record_for(tag, counter, counter))
            written.append(counter)
    print(json.dumps({"written": written}))


def mark_ready(go_file: Path) -> None:
    Path(f"{go_file}.ready.{os.getpid()}").write_text("ready")


def exists(path: Path) -> bool:
    return path.exists()


async def refresh(home: Path, token_url: str, go_file: Path) -> None:
    manager = AuthManager(home, env={}, refresh_token_url=token_url)
    await manager.load()
    mark_ready(go_file)
    deadline = time.monotonic() + 20
    while not exists(go_file):
        if time.monotonic() > deadline:
            raise SystemExit("go file never appeared")
        await asyncio.sleep(0.005)
    try:
        auth = await manager.refresh_managed()
    except RefreshTokenFailed as exc:
        print(json.dumps({"ok": False, "permanent": exc.permanent, "error": exc.message}))
        return
    assert isinstance(auth, ChatGptAuth)
    fingerprint = hashlib.sha256(auth.refresh_token.encode()).hexdigest()
    print(json.dumps({"ok": True, "refresh_token_sha256": fingerprint}))


def main() -> None:
    command, home, *rest = sys.argv[1:]
    if command == "write":
        asyncio.run(write(Path(home), rest[0], int(rest[1])))
    elif command == "increment":
        asyncio.run(increment(Path(home), rest[0], int(rest[1])))
    elif command == "refresh":
        asyncio.run(refresh(Path(home), rest[0], Path(rest[1])))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
