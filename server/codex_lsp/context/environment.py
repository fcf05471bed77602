"""The `<environment_context>` user message: where the agent runs and what it may do.

Upstream sends it at the start of a thread and, on later turns, only the fields that changed
(nothing when nothing did). What was already said is read back from the history itself (every
environment message folded in order), so a resumed thread needs no extra state.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from codex_lsp.sandbox.policy import DangerFullAccess, ReadOnly, SandboxPolicy, WorkspaceWrite

OPEN_TAG = "<environment_context>"
CLOSE_TAG = "</environment_context>"
SCALAR_FIELDS = (
    "cwd",
    "approval_policy",
    "sandbox_mode",
    "network_access",
    "shell",
    "current_date",
    "timezone",
)


@attrs.frozen
class EnvironmentContext:
    """The fields of one message; None means "not said in this message"."""

    cwd: str | None = None
    approval_policy: str | None = None
    sandbox_mode: str | None = None
    network_access: str | None = None  # "enabled" | "restricted"
    writable_roots: tuple[str, ...] | None = None
    shell: str | None = None
    current_date: str | None = None
    timezone: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in attrs.fields(EnvironmentContext))

    def render(self) -> str:
        lines = [OPEN_TAG]
        for name in ("cwd", "approval_policy", "sandbox_mode", "network_access"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"  <{name}>{_escape(value)}</{name}>")
        if self.writable_roots is not None:
            lines.append("  <writable_roots>")
            lines.extend(f"    <root>{_escape(root)}</root>" for root in self.writable_roots)
            lines.append("  </writable_roots>")
        for name in ("shell", "current_date", "timezone"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"  <{name}>{_escape(value)}</{name}>")
        lines.append(CLOSE_TAG)
        return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def sandbox_fields(policy: SandboxPolicy, cwd: Path) -> dict[str, Any]:
    """sandbox_mode, network_access and writable_roots as upstream words them."""
    if isinstance(policy, DangerFullAccess):
        return {
            "sandbox_mode": "danger-full-access",
            "network_access": "enabled",
            "writable_roots": None,
        }
    if isinstance(policy, ReadOnly):
        network = "enabled" if policy.network_access else "restricted"
        return {"sandbox_mode": "read-only", "network_access": network, "writable_roots": None}
    assert isinstance(policy, WorkspaceWrite)
    roots = [str(cwd), *(str(r) for r in policy.writable_roots)]
    return {
        "sandbox_mode": "workspace-write",
        "network_access": "enabled" if policy.network_access else "restricted",
        "writable_roots": tuple(dict.fromkeys(roots)),
    }


def user_shell(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return Path(env.get("SHELL") or "bash").name or "bash"


def local_timezone(env: Mapping[str, str] | None = None) -> str:
    """The IANA zone name when it can be found (TZ, /etc/timezone, /etc/localtime), else the
    abbreviation Python knows (e.g. ``UTC``)."""
    env = os.environ if env is None else env
    tz = (env.get("TZ") or "").lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    return _system_timezone()


@functools.cache
def _system_timezone() -> str:
    """The machine's zone, read once per process (every turn asks; it changes with a reboot)."""
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return dt.datetime.now().astimezone().tzname() or "UTC"


def current(
    cwd: Path,
    approval_policy: str,
    sandbox: SandboxPolicy,
    *,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> EnvironmentContext:
    """The full context as of now."""
    today = (now or dt.datetime.now().astimezone()).date().isoformat()
    return EnvironmentContext(
        cwd=str(cwd),
        approval_policy=approval_policy,
        shell=user_shell(env),
        current_date=today,
        timezone=local_timezone(env),
        **sandbox_fields(sandbox, cwd),
    )


_SCALAR = re.compile(r"<(" + "|".join(SCALAR_FIELDS) + r")>(.*?)</\1>", re.DOTALL)
_ROOTS = re.compile(r"<writable_roots>(.*?)</writable_roots>", re.DOTALL)
_ROOT = re.compile(r"<root>(.*?)</root>", re.DOTALL)


def parse(text: str) -> EnvironmentContext | None:
    """The fields of an environment message's text; None if it is not one."""
    stripped = text.strip()
    if not (stripped.startswith(OPEN_TAG) and stripped.endswith(CLOSE_TAG)):
        return None
    values: dict[str, Any] = {m.group(1): _unescape(m.group(2)) for m in _SCALAR.finditer(stripped)}
    roots = _ROOTS.search(stripped)
    if roots is not None:
        values["writable_roots"] = tuple(_unescape(r) for r in _ROOT.findall(roots.group(1)))
    return EnvironmentContext(**values)


def _user_text(item: Mapping[str, Any]) -> str | None:
    if item.get("type") != "message" or item.get("role") != "user":
        return None
    content = item.get("content")
    if not isinstance(content, list) or len(content) != 1 or not isinstance(content[0], dict):
        return None
    text = content[0].get("text")
    return text if isinstance(text, str) else None


def known_from_history(history: Sequence[Mapping[str, Any]]) -> EnvironmentContext | None:
    """What the model was told so far: every environment message folded in order."""
    known: dict[str, Any] = {}
    seen = False
    for item in history:
        text = _user_text(item)
        if text is None or not text.lstrip().startswith(OPEN_TAG):
            continue
        parsed = parse(text)
        if parsed is None:
            continue
        seen = True
        for f in attrs.fields(EnvironmentContext):
            value = getattr(parsed, f.name)
            if value is not None:
                known[f.name] = value
            elif f.name == "writable_roots" and parsed.sandbox_mode is not None:
                known.pop(f.name, None)  # a sandbox change without roots clears them
    return EnvironmentContext(**known) if seen else None


def diff(known: EnvironmentContext | None, now: EnvironmentContext) -> EnvironmentContext | None:
    """What to send: everything on first contact, then only the changed fields (None: nothing)."""
    if known is None:
        return now
    changed = {
        f.name: getattr(now, f.name)
        for f in attrs.fields(EnvironmentContext)
        if getattr(now, f.name) is not None and getattr(now, f.name) != getattr(known, f.name)
    }
    if not changed:
        return None
    if "sandbox_mode" in changed or "writable_roots" in changed:
        # The sandbox is described as a whole: mode, network and roots together.
        for name in ("sandbox_mode", "network_access", "writable_roots"):
            changed[name] = getattr(now, name)
    return EnvironmentContext(**changed)


def environment_item(context: EnvironmentContext) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": context.render()}],
    }


def next_environment_item(
    history: Sequence[Mapping[str, Any]], now: EnvironmentContext
) -> dict[str, Any] | None:
    """The environment message this turn must add to the history, if any."""
    update = diff(known_from_history(history), now)
    return environment_item(update) if update is not None else None
