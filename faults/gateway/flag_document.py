"""Edits of a flags file in flagd's format: serve one variant, or split traffic by weight.

A file is written whole through a temporary file and a rename, so a reader (the gateway,
which polls the file) sees the old document or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class FlagDocumentError(ValueError):
    """The file is not a flags document, or has no such flag or variant."""


def read_flags(path: Path) -> dict[str, Any]:
    """The document in ``path``; ``FlagDocumentError`` when it has no ``flags`` object."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise FlagDocumentError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("flags"), dict):
        raise FlagDocumentError(f"{path} has no 'flags' object")
    return document


def write_flags(path: Path, document: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``document`` at once (a rename)."""
    text = json.dumps(document, indent=2) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def flag_of(document: Mapping[str, Any], flag: str) -> dict[str, Any]:
    """The definition of ``flag``; ``FlagDocumentError`` when absent."""
    definition = document["flags"].get(flag)
    if not isinstance(definition, dict):
        raise FlagDocumentError(f"the flags file has no flag {flag!r}")
    return definition


def serving(definition: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """``definition`` serving ``variant`` to every request (no targeting)."""
    _known(definition, [variant])
    return {**definition, "state": "ENABLED", "defaultVariant": variant, "targeting": {}}


def splitting(definition: Mapping[str, Any], weights: Mapping[str, int]) -> dict[str, Any]:
    """``definition`` splitting requests by ``weights`` (variant -> weight, e.g. percent)."""
    _known(definition, list(weights))
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise FlagDocumentError(f"weights must be >= 0 and add up to more than 0: {weights}")
    buckets = [[variant, weight] for variant, weight in weights.items()]
    return {**definition, "state": "ENABLED", "targeting": {"fractional": buckets}}


def _known(definition: Mapping[str, Any], variants: list[str]) -> None:
    known = definition.get("variants")
    missing = [v for v in variants if not isinstance(known, dict) or v not in known]
    if missing:
        names = ", ".join(sorted(known)) if isinstance(known, dict) else "none"
        raise FlagDocumentError(f"no variant {missing[0]!r} (the flag has: {names})")
