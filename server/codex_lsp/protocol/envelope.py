"""JSON-RPC 2.0 envelope validation, independent of the transport that parsed the message.

The reader hands every top-level JSON value to :func:`check_envelope` before pygls structures
it. A value that is not a valid request, notification or response gets an
:class:`InvalidEnvelope` saying whether and how to answer: requests and notifications with a
broken envelope are answered `-32600 Invalid Request` (with their id when it is a string or a
finite number, else `null`); a broken *response* is only logged, because answering a response
could ping-pong with a confused client. Batches (arrays) are not part of LSP and are answered
with one `-32600` and id `null`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

JSONRPC_VERSION = "2.0"
_ENVELOPE_KEYS = ("method", "id", "result", "error")


@dataclass(frozen=True)
class InvalidEnvelope:
    """Why a top-level message is not valid JSON-RPC 2.0, and the id to answer with."""

    reason: str
    answer_id: int | float | str | None
    answer: bool = True  # False for broken responses: log only


def looks_like_envelope(data: dict[str, Any]) -> bool:
    """True for objects that may be a whole message (nested params objects usually are not)."""
    return any(key in data for key in _ENVELOPE_KEYS)


def answer_id(raw: Any) -> int | float | str | None:
    """The id to echo in an error answer: strings and finite numbers as sent, anything else null."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str | int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw):
        return raw
    return None


def is_valid_id(raw: Any) -> bool:
    """LSP ids are integers or strings (floats, booleans, null, arrays and objects are not)."""
    return isinstance(raw, str) or (isinstance(raw, int) and not isinstance(raw, bool))


def check_envelope(message: Any) -> InvalidEnvelope | None:
    """Return None for a valid message, else what is wrong with it (never raises)."""
    if isinstance(message, list):
        reason = "empty batch" if not message else "batch requests are not supported"
        return InvalidEnvelope(reason, None)
    if not isinstance(message, dict):
        return InvalidEnvelope("a message must be a JSON object", None)
    is_response = "method" not in message and ("result" in message or "error" in message)
    raw_id = message.get("id")
    echo = answer_id(raw_id)
    if is_response:
        problem = _response_problem(message)
        return InvalidEnvelope(problem, echo, answer=False) if problem else None
    if message.get("jsonrpc") != JSONRPC_VERSION:
        return InvalidEnvelope('"jsonrpc" must be "2.0"', echo)
    if "method" not in message:
        return InvalidEnvelope('"method" is missing', echo)
    if not isinstance(message["method"], str):
        return InvalidEnvelope('"method" must be a string', echo)
    if "id" in message and not is_valid_id(raw_id):
        return InvalidEnvelope('"id" must be an integer or a string', echo)
    if "result" in message or "error" in message:
        return InvalidEnvelope('a request cannot carry "result" or "error"', echo)
    return None


def _response_problem(message: dict[str, Any]) -> str | None:
    if message.get("jsonrpc") != JSONRPC_VERSION:
        return 'response: "jsonrpc" must be "2.0"'
    if "result" in message and "error" in message:
        return 'response: both "result" and "error"'
    if "id" not in message or not (is_valid_id(message["id"]) or message["id"] is None):
        return 'response: "id" must be an integer, a string or null'
    if "error" in message:
        error = message["error"]
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("code"), int)
            or isinstance(error.get("code"), bool)
        ):
            return 'response: "error" must be an object with an integer "code"'
    return None
