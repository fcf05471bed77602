"""The sandbox policy model, shaped like upstream Codex's SandboxPolicy.

Three policies: read-only, workspace-write (with extra writable roots and optional network) and
danger-full-access (no sandbox). They come from config (`sandbox_mode` plus the
`[sandbox_workspace_write]` table) or from the wire (`{type: "readOnly" | "workspaceWrite" |
"dangerFullAccess", ...}` on thread/turn/command requests).
"""

from __future__ import annotations

import os
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


WORKDIR_WRITABLE = "writable"
WORKDIR_READ_ONLY = "read-only"
WORKDIR_UNRESTRICTED = "unrestricted"
_SLASH_TMP = Path("/tmp")


def _normalised(path: Path) -> Path:
    return Path(os.path.normpath(path))


def policy_writable_roots(
    policy: SandboxPolicy, policy_cwd: Path, *, tmpdir: str | None = None
) -> tuple[Path, ...]:
    """The directories `policy` lets a command write, anchored at the thread's cwd.

    Writable roots come only from the policy: the cwd given at `thread/start`/`turn/start`
    (``policy_cwd``), the configured `writable_roots`, and the scratch dirs /tmp and $TMPDIR
    unless excluded. A command's own working directory (the model's `workdir`) is never one
    of them, so a model cannot widen the sandbox by choosing where a command runs. Pure (no
    filesystem access); the layout canonicalises these paths before enforcing them.
    """
    if not isinstance(policy, WorkspaceWrite):
        return ()
    roots = [_normalised(policy_cwd), *(_normalised(root) for root in policy.writable_roots)]
    if not policy.exclude_slash_tmp:
        roots.append(_SLASH_TMP)
    if not policy.exclude_tmpdir_env_var and tmpdir and os.path.isabs(tmpdir):
        roots.append(_normalised(Path(tmpdir)))
    return tuple(dict.fromkeys(roots))


def workdir_access(
    policy: SandboxPolicy, policy_cwd: Path, workdir: Path, *, tmpdir: str | None = None
) -> str:
    """How a command running in ``workdir`` may write there: "writable" when it lies inside a
    writable root of the thread's policy, "read-only" otherwise (the sandbox stays as the policy
    says; nothing is widened), "unrestricted" under danger-full-access. Pure, lexical."""
    if isinstance(policy, DangerFullAccess):
        return WORKDIR_UNRESTRICTED
    target = _normalised(workdir)
    for root in policy_writable_roots(policy, policy_cwd, tmpdir=tmpdir):
        if target == root or root in target.parents:
            return WORKDIR_WRITABLE
    return WORKDIR_READ_ONLY


def read_only_workdir_note(policy: SandboxPolicy, policy_cwd: Path, workdir: Path) -> str:
    """What to tell the model when its workdir lies outside the thread's writable roots
    under workspace-write ("" otherwise): the command ran there read-only."""
    if not isinstance(policy, WorkspaceWrite):
        return ""
    if workdir_access(policy, policy_cwd, workdir) != WORKDIR_READ_ONLY:
        return ""
    return (
        f"the workdir {os.path.normpath(workdir)} is outside the writable roots of this thread, "
        "so the command ran read-only there"
    )
