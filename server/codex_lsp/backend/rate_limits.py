"""Rate-limit snapshots: from response headers, the ``codex.rate_limits`` SSE event and the
usage endpoint, all mapped to the app-server wire ``RateLimitSnapshot`` (camelCase, every key
present, nulls as null). Also the ``/status`` lines rendered from a snapshot.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from codex_lsp.auth.errors import NotLoggedIn
from codex_lsp.auth.model import plan_type_from_claim
from codex_lsp.backend.http import (
    credentials_from_auth,
    parsed_url,
    read_error_body,
    send_authorized,
)
from codex_lsp.backend.provider import Credentials, ModelProvider
from codex_lsp.errors import InternalError, InvalidRequest

if TYPE_CHECKING:
    from codex_lsp.auth.manager import AuthManager

log = logging.getLogger(__name__)

DEFAULT_LIMIT_ID = "codex"
USAGE_TIMEOUT_S = 10.0
NO_SNAPSHOT_TEXT = "send a message to load usage data"
NO_WINDOWS_TEXT = "data not available yet"
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 10080

Snapshot = dict[str, Any]
Window = dict[str, Any]


def _round_percent(value: float) -> int:
    # Rust's f64::round rounds half away from zero; Python's round() would round half to even.
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def make_window(
    used_percent: float | None, window_minutes: int | None, resets_at: int | None
) -> Window | None:
    """A wire ``RateLimitWindow``; None when the backend sent nothing meaningful."""
    used = used_percent or 0.0
    if used == 0 and not window_minutes and resets_at is None:
        return None
    return {
        "usedPercent": _round_percent(used),
        "windowDurationMins": window_minutes or None,
        "resetsAt": resets_at,
    }


def make_snapshot(
    *,
    primary: Window | None = None,
    secondary: Window | None = None,
    credits: dict[str, Any] | None = None,
    plan_type: str | None = None,
    limit_id: str | None = DEFAULT_LIMIT_ID,
) -> Snapshot:
    return {
        "limitId": limit_id,
        "limitName": None,
        "primary": primary,
        "secondary": secondary,
        "credits": credits,
        "individualLimit": None,
        "planType": plan_type,
        "rateLimitReachedType": None,
    }


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return None


def _header_window(headers: Mapping[str, str], which: str) -> Window | None:
    prefix = f"x-codex-{which}-"
    return make_window(
        _float(headers.get(prefix + "used-percent")),
        _int(headers.get(prefix + "window-minutes")),
        _int(headers.get(prefix + "reset-at")),
    )


def _header_credits(headers: Mapping[str, str]) -> dict[str, Any] | None:
    has_credits = _bool(headers.get("x-codex-credits-has-credits"))
    unlimited = _bool(headers.get("x-codex-credits-unlimited"))
    if has_credits is None or unlimited is None:
        return None
    balance = headers.get("x-codex-credits-balance")
    return {"hasCredits": has_credits, "unlimited": unlimited, "balance": balance or None}


def parse_rate_limit_headers(headers: Mapping[str, str]) -> Snapshot | None:
    """Snapshot from ``x-codex-primary-*``, ``x-codex-secondary-*`` and ``x-codex-credits-*``
    headers (an ``httpx.Headers`` or any mapping with lower-case keys); None if absent."""
    primary = _header_window(headers, "primary")
    secondary = _header_window(headers, "secondary")
    credits = _header_credits(headers)
    if primary is None and secondary is None and credits is None:
        return None
    return make_snapshot(primary=primary, secondary=secondary, credits=credits)


_FAMILY_HEADER = re.compile(
    r"^x-codex-(?P<id>[a-z0-9][a-z0-9_.-]*?)-(?:(?:primary|secondary)-"
    r"(?:used-percent|window-minutes|reset-at)|limit-name)$"
)


def parse_rate_limit_header_families(headers: Mapping[str, str]) -> dict[str, Snapshot]:
    """Every limit in the headers, keyed by limit id: the plain ``x-codex-primary-*`` family is
    ``codex``; ``x-codex-<limitId>-primary-*``/``-secondary-*``/``-limit-name`` add the others."""
    found: dict[str, Snapshot] = {}
    default = parse_rate_limit_headers(headers)
    if default is not None:
        found[DEFAULT_LIMIT_ID] = default
    ids = []
    for header in headers.keys():
        match = _FAMILY_HEADER.match(header.lower())
        if match and match["id"] not in ids and match["id"] not in ("primary", "secondary"):
            ids.append(match["id"])
    for limit_id in ids:
        primary = _header_window(headers, f"{limit_id}-primary")
        secondary = _header_window(headers, f"{limit_id}-secondary")
        name = headers.get(f"x-codex-{limit_id}-limit-name") or None
        if primary is None and secondary is None and name is None:
            continue
        snapshot = found.get(limit_id) or make_snapshot(limit_id=limit_id)
        snapshot.update(
            primary=primary or snapshot["primary"],
            secondary=secondary or snapshot["secondary"],
            limitName=name or snapshot["limitName"],
        )
        found[limit_id] = snapshot
    return found


def _event_window(raw: Any) -> Window | None:
    if not isinstance(raw, Mapping):
        return None
    return make_window(
        _float(raw.get("used_percent")), _int(raw.get("window_minutes")), _int(raw.get("reset_at"))
    )


def _json_credits(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    has_credits = _bool(raw.get("has_credits"))
    unlimited = _bool(raw.get("unlimited"))
    if has_credits is None or unlimited is None:
        return None
    balance = raw.get("balance")
    return {
        "hasCredits": has_credits,
        "unlimited": unlimited,
        "balance": None if balance is None else str(balance),
    }


def _plan_type(raw: Any) -> str | None:
    return plan_type_from_claim(raw) if isinstance(raw, str) and raw else None


def parse_rate_limit_event(data: Mapping[str, Any]) -> Snapshot:
    """Snapshot from a ``codex.rate_limits`` stream event payload."""
    limits = data.get("rate_limits")
    limits = limits if isinstance(limits, Mapping) else {}
    return make_snapshot(
        primary=_event_window(limits.get("primary")),
        secondary=_event_window(limits.get("secondary")),
        credits=_json_credits(data.get("credits")),
        plan_type=_plan_type(data.get("plan_type")),
    )


def _usage_window(raw: Any) -> Window | None:
    if not isinstance(raw, Mapping):
        return None
    seconds = _int(raw.get("limit_window_seconds"))
    return make_window(
        _float(raw.get("used_percent")),
        seconds // 60 if seconds else None,
        _int(raw.get("reset_at")),
    )


def parse_usage_payload(payload: Mapping[str, Any]) -> Snapshot:
    """Snapshot from the ``/wham/usage`` JSON body; either window may be null or missing."""
    rate_limit = payload.get("rate_limit")
    rate_limit = rate_limit if isinstance(rate_limit, Mapping) else {}
    return make_snapshot(
        primary=_usage_window(rate_limit.get("primary_window")),
        secondary=_usage_window(rate_limit.get("secondary_window")),
        credits=_json_credits(payload.get("credits")),
        plan_type=_plan_type(payload.get("plan_type")),
    )


def parse_usage_snapshots(payload: Mapping[str, Any]) -> dict[str, Snapshot]:
    """Every limit the usage endpoint reports, keyed by limit id: the main one (``codex``) first,
    then each of ``additional_rate_limits`` (id = ``metered_feature``, name = ``limit_name``)."""
    main = parse_usage_payload(payload)
    found = {main["limitId"] or DEFAULT_LIMIT_ID: main}
    extra = payload.get("additional_rate_limits")
    for entry in extra if isinstance(extra, list) else []:
        if not isinstance(entry, Mapping):
            continue
        limit_id = entry.get("metered_feature") or entry.get("limit_id")
        if not isinstance(limit_id, str) or not limit_id or limit_id in found:
            continue
        rate_limit = entry.get("rate_limit")
        rate_limit = rate_limit if isinstance(rate_limit, Mapping) else {}
        snapshot = make_snapshot(
            primary=_usage_window(rate_limit.get("primary_window")),
            secondary=_usage_window(rate_limit.get("secondary_window")),
            plan_type=main["planType"],
            limit_id=limit_id,
        )
        name = entry.get("limit_name")
        snapshot["limitName"] = name if isinstance(name, str) and name else None
        found[limit_id] = snapshot
    return found


def rate_limits_read_result(
    snapshot: Snapshot, by_limit_id: Mapping[str, Snapshot] | None = None
) -> dict[str, Any]:
    """The ``account/rateLimits/read`` result: the main snapshot and every limit by id."""
    limit_id = snapshot.get("limitId") or DEFAULT_LIMIT_ID
    every = dict(by_limit_id) if by_limit_id else {}
    every.setdefault(limit_id, snapshot)
    return {"rateLimits": snapshot, "rateLimitsByLimitId": every}


def usage_url(chatgpt_base_url: str) -> str:
    base = chatgpt_base_url.rstrip("/")
    if "/backend-api" in base:
        return f"{base}/wham/usage"
    return f"{base}/api/codex/usage"


async def fetch_usage(
    http_client: httpx.AsyncClient,
    provider: ModelProvider,
    auth_manager: AuthManager | None,
    *,
    timeout_s: float = USAGE_TIMEOUT_S,
) -> Snapshot:
    """The main (``codex``) snapshot of :func:`fetch_usage_snapshots`."""
    snapshots = await fetch_usage_snapshots(
        http_client, provider, auth_manager, timeout_s=timeout_s
    )
    return next(iter(snapshots.values()))


async def fetch_usage_snapshots(
    http_client: httpx.AsyncClient,
    provider: ModelProvider,
    auth_manager: AuthManager | None,
    *,
    timeout_s: float = USAGE_TIMEOUT_S,
) -> dict[str, Snapshot]:
    """``GET {chatgpt_base_url}/wham/usage`` with ChatGPT auth (through the 401 recovery loop),
    mapped to wire snapshots by limit id, the main one first. Errors follow
    ``account/rateLimits/read``."""
    auth = await auth_manager.cached_auth() if auth_manager is not None else None
    if auth_manager is None or auth is None:
        raise InvalidRequest("codex account authentication required to read rate limits")
    if not credentials_from_auth(auth).is_chatgpt:
        raise InvalidRequest("chatgpt authentication required to read rate limits")
    url = parsed_url(usage_url(provider.chatgpt_base_url))
    # Usage is a ChatGPT backend call even when a custom provider with an env_key is active.
    chatgpt_only = attrs.evolve(
        provider, env_key=None, env_key_value=None, requires_openai_auth=True
    )

    def build(credentials: Credentials) -> httpx.Request:
        headers = provider.headers_for(credentials, http_client.headers["User-Agent"])
        return http_client.build_request("GET", url, headers=headers, timeout=timeout_s)

    try:
        response = await send_authorized(http_client, chatgpt_only, auth_manager, build)
    except NotLoggedIn:
        raise InvalidRequest("codex account authentication required to read rate limits") from None
    except httpx.TimeoutException:
        raise InternalError(
            f"failed to fetch codex rate limits: no answer within {timeout_s:g}s; try again later"
        ) from None
    except httpx.HTTPError as exc:
        raise InternalError(
            f"failed to fetch codex rate limits: {exc.__class__.__name__}; check the network "
            "connection and try again"
        ) from None
    return await _usage_snapshot(response)


async def _usage_snapshot(response: httpx.Response) -> dict[str, Snapshot]:
    if response.status_code != 200:
        await read_error_body(response)
        advice = "sign in again" if response.status_code == 401 else "try again later"
        raise InternalError(
            f"failed to fetch codex rate limits: HTTP {response.status_code}; {advice}"
        )
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, Mapping):
        raise InternalError(
            "failed to fetch codex rate limits: the usage endpoint returned an unexpected body; "
            "try again later"
        )
    return parse_usage_snapshots(payload)


def _window_label(window: Window, fallback: str) -> str:
    minutes = window.get("windowDurationMins")
    if not minutes:
        label = fallback
    elif minutes == MINUTES_PER_WEEK:
        label = "weekly"
    elif minutes % MINUTES_PER_DAY == 0:
        label = f"{minutes // MINUTES_PER_DAY}d"
    elif minutes >= 60:
        label = f"{_round_percent(minutes / 60)}h"
    else:
        label = f"{minutes}m"
    return f"{label[0].upper()}{label[1:]} limit"


def render_status_lines(snapshot: Snapshot | None) -> list[str]:
    """``/status`` lines, e.g. ``["5h limit: 23% used", "Weekly limit: 61% used"]``."""
    if snapshot is None:
        return [f"Limits: {NO_SNAPSHOT_TEXT}"]
    lines = []
    for key, fallback in (("primary", "5h"), ("secondary", "weekly")):
        window = snapshot.get(key)
        if window:
            lines.append(f"{_window_label(window, fallback)}: {window['usedPercent']}% used")
    if not lines:
        lines.append(f"Limits: {NO_WINDOWS_TEXT}")
    credits = snapshot.get("credits")
    if credits and credits.get("unlimited"):
        lines.append("Credits: unlimited")
    elif credits and credits.get("hasCredits") and credits.get("balance") is not None:
        lines.append(f"Credits: {credits['balance']}")
    return lines
