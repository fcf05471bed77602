"""Generate `protocol-docs/schema/codex-lsp.schema.json` from the protocol module.

    python -m codex_lsp.protocol.schema            # write the file
    python -m codex_lsp.protocol.schema --check    # exit 1 if the committed file is stale

The file holds every method (name, direction, kind, group, doc) with JSON Schemas of its params
and result, and all payload classes under `$defs`. The editor clients' method tables mirror it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from codex_lsp.protocol import METHODS
from codex_lsp.protocol.wire import json_schema

SCHEMA_FILE = "codex-lsp.schema.json"


def build_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    methods: dict[str, Any] = {}
    for name in sorted(METHODS):
        method = METHODS[name]
        entry: dict[str, Any] = {
            "direction": method.direction,
            "kind": method.kind,
            "group": method.group,
            "description": method.doc,
            "params": json_schema(method.params, defs) if method.params is not None else None,
        }
        if method.kind == "request":
            entry["result"] = (
                json_schema(method.result, defs) if method.result is not None else None
            )
        methods[name] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "codex-lsp protocol",
        "description": "Generated from codex_lsp.protocol; do not edit by hand.",
        "methods": methods,
        "$defs": dict(sorted(defs.items())),
    }


def render() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def default_out_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "protocol-docs" / "schema"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=default_out_dir())
    parser.add_argument(
        "--check", action="store_true", help="fail if the file differs from the protocol module"
    )
    args = parser.parse_args(argv)
    target = args.out / SCHEMA_FILE
    text = render()
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is stale: run `python -m codex_lsp.protocol.schema`", file=sys.stderr)
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} ({len(METHODS)} methods)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
