"""The floor for the 401 figures: the least a Python server can do between the backend and the
editor, over the same loopback socket and stdio pipes as codex-lsp.

Driven by the bench like a server (LSP framing on stdio). For each `floor/usage` request
(params: {"url": ..., "token": ...}) it sends a GET over one kept-alive raw socket; as soon as
the response's status line says 401 it writes `account/chatgptAuthTokens/refresh` to the editor;
when the editor answers it re-sends the GET with the new token on the same socket, then answers
`floor/usage`. No HTTP library, no validation, no logging: only framing, parsing and the hops.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any
from urllib.parse import urlsplit


class Floor:
    def __init__(self) -> None:
        self.out = sys.stdout.buffer
        self.pending: dict[Any, asyncio.Future[Any]] = {}
        self.ids = itertools.count(1)
        self.http: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self.out.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.out.flush()

    async def get(self, url: str, token: str) -> tuple[int, asyncio.StreamReader]:
        parts = urlsplit(url)
        if self.http is None:
            self.http = await asyncio.open_connection(parts.hostname, parts.port)
        reader, writer = self.http
        writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     f"Authorization: Bearer {token}\r\n\r\n".encode())
        status = int((await reader.readline()).split()[1])
        return status, reader

    async def read_rest(self, reader: asyncio.StreamReader) -> None:
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)

    async def usage(self, params: dict[str, Any]) -> dict[str, Any]:
        status, reader = await self.get(params["url"], params["token"])
        if status == 401:
            msg_id = f"floor-{next(self.ids)}"
            answer = asyncio.get_running_loop().create_future()
            self.pending[msg_id] = answer
            self.send({"jsonrpc": "2.0", "id": msg_id, "method": "account/chatgptAuthTokens/refresh",
                       "params": {"reason": "unauthorized", "previousAccountId": None}})
            await self.read_rest(reader)
            tokens = await answer
            status, reader = await self.get(params["url"], tokens["accessToken"])
        await self.read_rest(reader)
        return {"status": status}

    async def answer(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "floor/usage":
            result = await self.usage(message["params"])
        self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin.buffer)
        tasks = set()
        while True:
            try:
                header = await stdin.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            length = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            message = json.loads(await stdin.readexactly(length))
            if message.get("method") == "exit":
                return
            if "method" not in message:  # the editor's answer to a refresh request
                self.pending.pop(message["id"]).set_result(message.get("result"))
            elif "id" in message:
                task = asyncio.ensure_future(self.answer(message))
                tasks.add(task)
                task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    asyncio.run(Floor().serve())
