"""A small blocking JSON-RPC client over a server subprocess's stdio (for hypothesis tests).

hypothesis drives synchronous tests, so this client writes frames directly and a reader thread
collects answers by id. Server→client requests are answered with an error (the fuzzer is a rude
editor), notifications are recorded.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from harness import server_env


class BlockingRpc:
    def __init__(
        self,
        codex_home: Path,
        args: list[str],
        env: dict[str, str] | None = None,
        stderr_path: Path | None = None,
    ) -> None:
        self._stderr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "codex_lsp", *args],
            env=server_env(codex_home, env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._ids = itertools.count(1)
        self._answers: dict[Any, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.notifications: list[dict[str, Any]] = []
        self.unmatched: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []  # every answer, in arrival order
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def send(self, message: dict[str, Any] | list[Any] | str) -> None:
        self.send_many([message])

    def send_many(self, messages: list[Any]) -> None:
        """Write several frames in one go (str frames are sent as they are)."""
        frames = []
        for message in messages:
            body = (message if isinstance(message, str) else json.dumps(message)).encode()
            frames.append(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"".join(frames))
        self.proc.stdin.flush()

    def request(
        self,
        method: str,
        params: Any = None,
        *,
        omit_params: bool = False,
        msg_id: Any = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Send a request and return the whole answer message ({id, result} or {id, error})."""
        if msg_id is None:
            msg_id = next(self._ids)
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            self._answers[json.dumps(msg_id)] = box
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if not omit_params:
            message["params"] = params
        self.send(message)
        try:
            return box.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no answer to {method} (id {msg_id!r}) within {timeout}s"
            ) from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length is None:
                continue
            message = json.loads(out.read(length))
            if "method" in message and "id" in message:
                self.send(
                    {
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "error": {"code": -32601, "message": "the fuzzer answers nothing"},
                    }
                )
            elif "method" in message:
                self.notifications.append(message)
            else:
                with self._lock:
                    self.answers.append(message)
                    box = self._answers.pop(json.dumps(message.get("id")), None)
                if box is None:
                    self.unmatched.append(message)
                else:
                    box.put(message)

    def close(self) -> int:
        try:
            self.request("shutdown", None, timeout=10)
            self.send({"jsonrpc": "2.0", "method": "exit"})
            return self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            return self.proc.wait(timeout=10)
        finally:
            if self._stderr is not subprocess.DEVNULL:
                self._stderr.close()
