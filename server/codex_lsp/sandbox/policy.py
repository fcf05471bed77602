"""The sandbox policy model, shaped like upstream Codex's SandboxPolicy.

Three policies: read-only, workspace-write (with extra writable roots and optional network) and
danger-full-access (no sandbox). They come from config (`sandbox_mode` plus the
`[sandbox_workspace_write]` table) or from the wire (`{type: "readOnly" | "workspaceWrite" |
"dangerFullAccess", ...}` on thread/turn/command requests).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from codex_lsp.errors import InvalidParams

if TYPE_CHECKING:
    from codex_lsp.config import Config

READ_ONLY_MODE = "read-only"
WORKSPACE_WRITE_MODE = "workspace-write"
DANGER_FULL_ACCESS_MODE = "danger-full-access"


@attrs.frozen
class ReadOnly:
    """Read everything, write nothing but /dev/null (and a private throw-away /tmp under bwrap).

    `network_access` exists because the upstream wire schema allows it on readOnly; it defaults
    to False and is only sent on the wire when True.
    """

    network_access: bool = False


def _to_path_tuple(roots: Any) -> tuple[Path, ...]:
    return tuple(Path(root) for root in roots)


@attrs.frozen
class WorkspaceWrite:
    """Write inside cwd, the extra writable roots, /tmp and $TMPDIR (unless excluded)."""

    writable_roots: tuple[Path, ...] = attrs.field(default=(), converter=_to_path_tuple)
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False


@attrs.frozen
class DangerFullAccess:
    """No sandbox at all: the command runs as a plain subprocess."""


SandboxPolicy = ReadOnly | WorkspaceWrite | DangerFullAccess

_WIRE_TYPES = ("readOnly", "workspaceWrite", "dangerFullAccess")
_MODES = (READ_ONLY_MODE, WORKSPACE_WRITE_MODE, DANGER_FULL_ACCESS_MODE)


def _bool_field(value: Mapping[str, Any], key: str, where: str) -> bool:
    raw = value.get(key)
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise InvalidParams(f"{where}.{key} must be a boolean (true or false)")
    return raw


def _absolute_paths(raw: Any, where: str) -> tuple[Path, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise InvalidParams(f"{where} must be an array of absolute paths")
    paths: list[Path] = []
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not item or not Path(item).is_absolute():
            raise InvalidParams(f"{where}[{index}] must be an absolute path")
        paths.append(Path(item))
    return tuple(paths)


def policy_from_wire(value: object, *, field: str = "sandboxPolicy") -> SandboxPolicy:
    """Parse the wire shape; raise InvalidParams naming the offending field."""
    if not isinstance(value, Mapping):
        raise InvalidParams(f"{field} must be an object with a 'type' field")
    kind = value.get("type")
    if kind == "readOnly":
        return ReadOnly(network_access=_bool_field(value, "networkAccess", field))
    if kind == "dangerFullAccess":
        return DangerFullAccess()
    if kind == "workspaceWrite":
        return WorkspaceWrite(
            writable_roots=_absolute_paths(value.get("writableRoots"), f"{field}.writableRoots"),
            network_access=_bool_field(value, "networkAccess", field),
            exclude_tmpdir_env_var=_bool_field(value, "excludeTmpdirEnvVar", field),
            exclude_slash_tmp=_bool_field(value, "excludeSlashTmp", field),
        )
    if kind == "externalSandbox":
        raise InvalidParams(
            f"{field}.type 'externalSandbox' is not supported by this server; "
            f"use one of {', '.join(_WIRE_TYPES)}"
        )
    raise InvalidParams(f"{field}.type must be one of {', '.join(_WIRE_TYPES)}")


def policy_to_wire(policy: SandboxPolicy) -> dict[str, Any]:
    """The camelCase wire shape; `policy_from_wire(policy_to_wire(p)) == p`."""
    if isinstance(policy, ReadOnly):
        wire: dict[str, Any] = {"type": "readOnly"}
        if policy.network_access:
            wire["networkAccess"] = True
        return wire
    if isinstance(policy, WorkspaceWrite):
        return {
            "type": "workspaceWrite",
            "writableRoots": [str(root) for root in policy.writable_roots],
            "networkAccess": policy.network_access,
            "excludeTmpdirEnvVar": policy.exclude_tmpdir_env_var,
            "excludeSlashTmp": policy.exclude_slash_tmp,
        }
    return {"type": "dangerFullAccess"}


def _config_bool(table: Mapping[str, Any], key: str) -> bool:
    raw = table.get(key, False)
    if not isinstance(raw, bool):
        raise InvalidParams(f"sandbox_workspace_write.{key} must be true or false")
    return raw


def policy_from_mode(mode: str, workspace_write: Mapping[str, Any] | None = None) -> SandboxPolicy:
    """Build a policy from config `sandbox_mode` and the `[sandbox_workspace_write]` table.

    The table only matters for "workspace-write", as in upstream config.toml.
    """
    if mode == READ_ONLY_MODE:
        return ReadOnly()
    if mode == DANGER_FULL_ACCESS_MODE:
        return DangerFullAccess()
    if mode != WORKSPACE_WRITE_MODE:
        raise InvalidParams(f"sandbox_mode must be one of {', '.join(_MODES)}, got {mode!r}")
    table = workspace_write or {}
    return WorkspaceWrite(
        writable_roots=_absolute_paths(
            table.get("writable_roots"), "sandbox_workspace_write.writable_roots"
        ),
        network_access=_config_bool(table, "network_access"),
        exclude_tmpdir_env_var=_config_bool(table, "exclude_tmpdir_env_var"),
        exclude_slash_tmp=_config_bool(table, "exclude_slash_tmp"),
    )


def policy_from_config(config: Config, mode: str | None = None) -> SandboxPolicy:
    """Policy for ``mode`` (default: the config's ``sandbox_mode``) with its
    ``[sandbox_workspace_write]`` table."""
    return policy_from_mode(
        mode or config.sandbox_mode, attrs.asdict(config.sandbox_workspace_write)
    )


def mode_name(policy: SandboxPolicy) -> str:
    """The config/`thread/start` name of a policy: "read-only" etc."""
    if isinstance(policy, ReadOnly):
        return READ_ONLY_MODE
    if isinstance(policy, WorkspaceWrite):
        return WORKSPACE_WRITE_MODE
    return DANGER_FULL_ACCESS_MODE


def network_allowed(policy: SandboxPolicy) -> bool:
    """Whether the command may reach the network under this policy."""
    if isinstance(policy, DangerFullAccess):
        return True
    return policy.network_access
