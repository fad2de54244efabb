"""The few git questions the harness asks: which work tree, which commit, whether it has
uncommitted changes, and a baseline's worktree for the length of a comparison."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path


class GitError(Exception):
    """git could not do what was asked (the message is git's)."""


def git(*args: str, cwd: Path | None = None) -> str:
    """What ``git ARGS`` prints, stripped; ``GitError`` with git's message if it fails."""
    try:
        done = subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", *args],  # noqa: S607
            cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(str(exc)) from None
    if done.returncode != 0:
        raise GitError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout.strip()


def commit_of(folder: Path) -> tuple[str, bool] | None:
    """The commit checked out in the work tree around ``folder`` and whether ``folder`` has
    uncommitted changes to tracked files; None outside a work tree."""
    try:
        commit = git("rev-parse", "HEAD", cwd=folder)
        changes = git("status", "--porcelain", "--untracked-files=no", "--", ".", cwd=folder)
    except GitError:
        return None
    return commit, bool(changes)


def checkout_root(start: Path) -> Path | None:
    """The git work tree around ``start`` when it holds the gateway's source, else None."""
    try:
        root = Path(git("rev-parse", "--show-toplevel", cwd=start))
    except GitError:
        return None
    return root if (root / "reference_impl").is_dir() else None


@contextlib.contextmanager
def worktree(ref: str, path: Path) -> Iterator[Path]:
    """A detached worktree of ``ref`` at ``path`` for the block (one left there from before
    is replaced), removed afterwards; ``GitError`` naming the ref if it cannot be made."""
    try:
        commit = git("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")
    except GitError as exc:
        raise GitError(f"cannot check out {ref!r} as the baseline: {exc}") from None
    _remove_worktree(path)
    git("worktree", "add", "--detach", str(path), commit)
    try:
        if not (path / "reference_impl").is_dir():
            raise GitError(f"{ref!r} has no reference_impl package to run as the baseline")
        yield path
    finally:
        _remove_worktree(path)


def _remove_worktree(path: Path) -> None:
    with contextlib.suppress(GitError):
        git("worktree", "remove", "--force", str(path))
    with contextlib.suppress(GitError):
        git("worktree", "prune")
