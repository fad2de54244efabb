"""Which code a run's gateway ran: the folder it was imported from and, where that folder is
in a git work tree, the commit checked out there and whether it had uncommitted changes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def code_provenance(code_path: str | None) -> dict[str, Any]:
    """``code_path``, ``commit`` and ``dirty`` (commit and dirty None outside a work tree)."""
    if code_path is None:
        return {"code_path": None, "commit": None, "dirty": None}
    commit = _git(code_path, "rev-parse", "HEAD")
    changes = _git(code_path, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return {
        "code_path": code_path,
        "commit": commit,
        "dirty": None if commit is None else bool(changes),
    }


def _git(folder: str, *args: str) -> str | None:
    """What ``git -C folder ARGS`` prints, or None where git or a work tree is missing."""
    if not Path(folder).is_dir():
        return None
    try:
        done = subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", "-C", folder, *args],  # noqa: S607
            capture_output=True, text=True, check=False, timeout=10,
        )  # fmt: skip
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None
