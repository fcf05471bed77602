"""Logging: stderr plus level-filtered `window/logMessage`, with secrets scrubbed from both.

pygls logs every message body at INFO (pygls notes G9), and bodies carry tokens, so its logger is
kept at WARNING. Our own records pass through :class:`SecretRedactor` as a second line of
defence: anything that looks like a JWT, an API key or a bearer header is replaced, as is every
secret registered with :func:`register_secret`.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable

_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"),  # OpenAI-style API key
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
    re.compile(
        r"(?i)(\"?(?:access_token|refresh_token|id_token|api_key|apiKey|accessToken|idToken|refreshToken)\"?\s*[:=]\s*\"?)[^\s\"',}]+"
    ),
]
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret so it is scrubbed from every log line from now on."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Replace anything secret-looking in ``text`` with ``[REDACTED]``."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    return text


class SecretRedactor(logging.Filter):
    """Rewrites each record's message with secrets removed (exceptions are reduced to their type)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks may quote locals or URLs with tokens: keep only the exception type and text.
            message += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            record.exc_info = None
            record.exc_text = None
        # Some libraries (pygls) paste a formatted traceback into the message text itself.
        message = message.split("\nTraceback (most recent call last)", 1)[0]
        record.msg = redact(message)
        record.args = None
        return True


class LogMessageForwarder(logging.Handler):
    """Forwards our own records to the editor as `window/logMessage` (never pygls' records)."""

    def __init__(self, send: Callable[[int, str], None], level: int) -> None:
        super().__init__(level)
        self._send = send
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("codex_lsp") or getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            self._send(record.levelno, self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the server
            pass
        finally:
            self._busy.on = False


def setup_logging(level: str = "INFO") -> None:
    """stderr handler for everything; pygls at WARNING (its INFO lines carry message bodies)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretRedactor())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("codex_lsp").setLevel(level.upper())
    for noisy in ("pygls", "httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pygls logs every JSON-RPC error answer as an ERROR with a traceback; those answers are
    # expected (bad params, refused logins) and already reported to the client.
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_drop_answered_errors)


def _drop_answered_errors(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(
        ("Exception occurred for message", "Failed to handle request")
    )


def attach_forwarder(send: Callable[[int, str], None], level: str = "INFO") -> LogMessageForwarder:
    forwarder = LogMessageForwarder(send, logging.getLevelName(level.upper()))
    forwarder.addFilter(SecretRedactor())
    forwarder.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger("codex_lsp").addHandler(forwarder)
    return forwarder


def known_secrets() -> list[str]:
    """Every registered secret, longest first (for scrubbers outside logging, e.g. rollouts)."""
    with _secrets_lock:
        return sorted(_secrets, key=len, reverse=True)
