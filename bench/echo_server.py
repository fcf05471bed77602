"""The floor for round trips: a do-nothing LSP server in plain Python over the same stdio pipes.

It frames and parses each message like any server must (asyncio pipe reader, json) and answers
every request with a small constant result, so the bench client's round trip against it is what
the machine, the pipes and the client cost before any server logic. `shutdown` → null, `exit` ends.
"""

from __future__ import annotations

import asyncio
import json
import sys

ANSWER = {"account": None, "requiresOpenaiAuth": True}


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    out = sys.stdout.buffer
    while True:
        try:
            header = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        length = 0
        for line in header.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        message = json.loads(await reader.readexactly(length))
        if message.get("method") == "exit":
            return
        if "id" in message and "method" in message:
            result = None if message["method"] == "shutdown" else ANSWER
            body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
            out.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            out.flush()


if __name__ == "__main__":
    asyncio.run(serve())
