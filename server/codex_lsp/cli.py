"""Command line: `codex-lsp [--stdio | --tcp HOST:PORT] [-c key=value ...]` and `codex-lsp demo`."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from codex_lsp import __version__, codecache
from codex_lsp.errors import CodexError
from codex_lsp.logs import setup_logging

log = logging.getLogger(__name__)


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="codex-lsp", description="Codex app-server protocol over LSP."
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "demo"],
        default="serve",
        help="serve (default): run the language server; demo: offline end-to-end demo",
    )
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="LSP over stdin/stdout (the default)"
    )
    transport.add_argument(
        "--tcp", metavar="HOST:PORT", help="listen on a loopback address (debugging)"
    )
    parser.add_argument(
        "-c",
        "--config",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help='override a config.toml key (TOML value), e.g. -c sandbox_mode="read-only"',
    )
    parser.add_argument(
        "--codex-home", type=Path, help="CODEX_HOME (default: $CODEX_HOME or ~/.codex)"
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("CODEX_LSP_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    parser.add_argument("--version", action="version", version=f"codex-lsp {__version__}")
    return parser.parse_args(argv)


def _loopback_address(value: str) -> tuple[str, int]:
    from codex_lsp.config import ConfigError

    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--tcp {value!r}: expected HOST:PORT, e.g. 127.0.0.1:2087")
    host = host.strip("[]")
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ConfigError(
            f"--tcp {value!r}: only loopback addresses are allowed (127.0.0.1, ::1, localhost)"
        )
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.log_level)
    if args.command == "serve":
        # Before anything builds attrs classes (config, pygls/lsprotocol): see codecache.
        codecache.install()
    from codex_lsp.config import ConfigError, load_config

    try:
        config = load_config(args.codex_home, args.overrides)
        if args.command == "demo":
            from codex_lsp.demo import run_demo

            return run_demo(config)
        from codex_lsp.app import build_server
        from codex_lsp.backend.provider import provider_from_config

        # Validate the provider tables now so a bad base_url stops start-up with its message.
        provider_from_config(config)
        server = build_server(config, log_level=args.log_level)
        if args.tcp:
            host, port = _loopback_address(args.tcp)
            log.info("listening on %s:%d", host, port)
            server.start_tcp(host, port)
        else:
            server.start_io()
    except (ConfigError, CodexError) as exc:
        print(f"codex-lsp: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. a malformed --tcp address
        print(f"codex-lsp: {exc}", file=sys.stderr)
        return 2
    return 0
