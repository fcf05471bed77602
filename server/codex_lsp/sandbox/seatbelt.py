"""macOS backend: a generated Seatbelt (SBPL) profile run with /usr/bin/sandbox-exec.

Deny by default; reads allowed; writes only beneath the writable roots, minus their protected
paths (`.git`, `.codex`, gitdir targets, including ones that do not exist yet). Paths never go
into the profile text: they are `(param "...")` references filled with `-D KEY=VALUE`, so a
path containing quotes or parentheses cannot change the policy. Only unit-tested as text on
this project's Linux CI (see protocol-docs/sandbox.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from codex_lsp.sandbox.layout import FilesystemLayout

SANDBOX_EXEC = "/usr/bin/sandbox-exec"  # absolute, so PATH cannot substitute it

_BASE_PROFILE = """\
(version 1)
(deny default)
(allow process-exec)
(allow process-fork)
(allow signal (target same-sandbox))
(allow process-info* (target same-sandbox))
(allow file-read*)
(allow file-write-data (require-all (path "/dev/null") (vnode-type CHARACTER-DEVICE)))
(allow sysctl-read)
(allow ipc-posix-sem)
(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))
(allow pseudo-tty)
(allow file-ioctl (literal "/dev/tty"))
"""

_NETWORK_RULES = """\
(allow network-outbound)
(allow network-inbound)
(allow system-socket)
(allow mach-lookup (global-name "com.apple.SystemConfiguration.configd"))
"""


def build_profile(layout: FilesystemLayout) -> tuple[str, dict[str, str]]:
    """The SBPL text and the `-D` parameters it references."""
    params: dict[str, str] = {}
    # Every root excludes every protected path: a gitdir target may sit in another root.
    exclusions: list[str] = []
    protected = [
        path
        for root in layout.writable_roots
        for path in (*root.read_only_paths, *root.blocked_paths)
    ]
    for index, path in enumerate(dict.fromkeys(protected)):
        params[f"PROTECTED_{index}"] = str(path)
        exclusions.append(f'(require-not (subpath (param "PROTECTED_{index}")))')
    write_rules: list[str] = []
    for index, root in enumerate(layout.writable_roots):
        params[f"WRITABLE_ROOT_{index}"] = str(root.path)
        condition = f'(subpath (param "WRITABLE_ROOT_{index}"))'
        if exclusions:
            condition = f"(require-all {condition} {' '.join(exclusions)})"
        write_rules.append(f"(allow file-write* {condition})\n")
    profile = _BASE_PROFILE + "".join(write_rules)
    if layout.network_access:
        profile += _NETWORK_RULES
    return profile, params


def build_seatbelt_command(argv: Sequence[str], layout: FilesystemLayout) -> list[str]:
    """`sandbox-exec -p PROFILE -DKEY=VALUE ... -- argv`."""
    profile, params = build_profile(layout)
    definitions = [f"-D{key}={value}" for key, value in params.items()]
    return [SANDBOX_EXEC, "-p", profile, *definitions, "--", *argv]
