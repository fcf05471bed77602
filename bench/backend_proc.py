"""The fake backend in its own process (for the delta-forwarding benchmark: no GIL shared with the
measuring client). Prints its base URL, streams a long answer 5 ms per delta for any prompt, and on
a `dump` line from stdin prints the (perf_counter, delta) log of everything it sent as JSON."""

from __future__ import annotations

import json
import sys

from codex_lsp.fakes.backend import FakeBackend, text


def main() -> None:
    words = " ".join(f"w{i}" for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
    with FakeBackend() as backend:
        backend.script_for = lambda body: [text(words)]
        backend.event_delay_s = 0.005
        backend.sent_deltas = []
        print(backend.base_url, flush=True)
        for line in sys.stdin:
            if line.strip() == "dump":
                print(json.dumps(backend.sent_deltas), flush=True)
                backend.sent_deltas = []
            elif line.strip() == "quit":
                break


if __name__ == "__main__":
    main()
