"""Where the stack keeps what it builds or prepares once and reuses across runs."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_cache_dir() -> Path:
    """``$MELTPROOF_CACHE_DIR``, else the user's cache directory for meltproof."""
    configured = os.environ.get("MELTPROOF_CACHE_DIR")
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("meltproof"))
