"""The fake backend in its own process for the apply_patch benchmark. Prints its base URL.

Each stdin line `patch <path>` sets the patch of the next turn (read from the file); the model
answers a turn with that patch as an apply_patch call (freeform), then with a short text once the
tool output comes back. `dump` prints the (perf_counter, call_id) log of the finished output items
it wrote, as JSON; `quit` stops it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from codex_lsp.fakes.backend import FakeBackend, Script, patch_call, text


def main() -> None:
    state: dict[str, Any] = {"patch": None, "n": 0}

    def script(body: Any) -> Script:
        last = body["input"][-1] if body.get("input") else {}
        if last.get("type") in ("custom_tool_call_output", "function_call_output"):
            return [text("done")]
        state["n"] += 1
        return [patch_call(state["patch"], call_id=f"call_{state['n']}", chunk_chars=4096)]

    with FakeBackend() as backend:
        backend.script_for = script
        backend.sent_items = []
        print(backend.base_url, flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "patch":
                state["patch"] = Path(arg).read_text()
                print("ok", flush=True)
            elif command == "dump":
                print(json.dumps(backend.sent_items), flush=True)
                backend.sent_items = []
            elif command == "quit":
                break


if __name__ == "__main__":
    main()
