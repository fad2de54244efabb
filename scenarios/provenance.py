"""Which code a run's gateway ran: the folder it was imported from and, where that folder is
in a git work tree, the commit checked out there and whether it had uncommitted changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .git import commit_of


def code_provenance(code_path: str | None) -> dict[str, Any]:
    """``code_path``, ``commit`` and ``dirty`` (commit and dirty None outside a work tree)."""
    found = commit_of(Path(code_path)) if code_path and Path(code_path).is_dir() else None
    commit, dirty = found or (None, None)
    return {"code_path": code_path, "commit": commit, "dirty": dirty}
