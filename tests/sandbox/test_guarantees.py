"""What codex/status says each backend enforces: the table in protocol-docs/sandbox.md."""

from __future__ import annotations

from codex_lsp.sandbox.detect import Detection
from codex_lsp.sandbox.guarantees import guarantees_for


def test_bwrap_protects_git_and_kills_everything() -> None:
    found = guarantees_for(Detection("bwrap", bwrap_path="/usr/bin/bwrap"), is_root=True)
    assert found.protects_git
    assert any("pid namespaces" in line for line in found.enforced)
    assert any("unix sockets" in line for line in found.enforced)


def test_landlock_as_root_protects_git_but_not_against_daemons() -> None:
    found = guarantees_for(Detection("landlock", landlock_abi=7), is_root=True)
    assert found.protects_git
    assert any("chmod/chown/utime/xattr" in line for line in found.enforced)
    assert any("daemonised" in gap for gap in found.gaps)
    with_cgroup = guarantees_for(
        Detection("landlock", landlock_abi=7), is_root=True, cgroup_kill=True
    )
    assert not any("daemonised" in gap for gap in with_cgroup.gaps)
    assert any("cgroup" in line for line in with_cgroup.enforced)


def test_unprivileged_landlock_names_the_git_gap_and_the_approval() -> None:
    found = guarantees_for(Detection("landlock", landlock_abi=5), is_root=False)
    assert not found.protects_git
    assert any(".git" in gap and "need approval" in gap for gap in found.gaps)
    assert any("signals are not scoped" in gap for gap in found.gaps)
    newer = guarantees_for(Detection("landlock", landlock_abi=6), is_root=False)
    assert not any("signals are not scoped" in gap for gap in newer.gaps)


def test_no_backend_says_nothing_runs() -> None:
    found = guarantees_for(Detection("none"), is_root=False)
    assert found.enforced == () and "nothing runs unsandboxed" in found.gaps[0]
