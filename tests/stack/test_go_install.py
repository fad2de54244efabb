"""Go programs built once into the cache: the binary's name, the build, its errors."""

import stat
from pathlib import Path

import pytest

from stack.errors import StackStartError
from stack.go_install import GoProgram, go_install_cached


PROGRAM = GoProgram(
    service="tool",
    title="Tool",
    package="example.com/tool/v3",
    version="v3.1.0",
    command="tool",
    instead=", or set TOOL_URL",
)


def _fake_go(tmp_path: Path, script: str) -> str:
    go = tmp_path / "go"
    go.write_text(f"#!/bin/sh\n{script}\n")
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    return str(go)


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("github.com/tsenart/vegeta/v12", "vegeta"),
        ("github.com/Shopify/toxiproxy/v2/cmd/server", "server"),
        ("example.com/v2", "example.com"),
        ("example.com/tool/v1", "v1"),
    ],
)
def test_the_installed_name_skips_a_major_version_suffix(package, name):
    program = GoProgram(service="x", title="x", package=package, version="v1.0.0", command="x")
    assert program.installed_name == name


def test_a_build_lands_in_the_cache_once(tmp_path):
    go = _fake_go(tmp_path, 'echo "$@" > "$GOBIN/tool"')
    told: list[str] = []
    built = go_install_cached(PROGRAM, tmp_path / "cache", go=go, on_build=told.append)
    assert built == tmp_path / "cache" / "tool-v3.1.0" / "bin" / "tool"
    assert built.read_text() == "install example.com/tool/v3@v3.1.0\n"
    assert told == ["building Tool v3.1.0 with go install (once; cached after)"]
    again = go_install_cached(
        PROGRAM, tmp_path / "cache", go="/nonexistent/go", on_build=told.append
    )
    assert again == built
    assert len(told) == 1
    assert sorted(p.name for p in built.parent.parent.iterdir()) == [".lock", "bin"]


def test_a_failed_build_shows_the_go_output_and_caches_nothing(tmp_path):
    go = _fake_go(tmp_path, 'echo "no route to the module proxy" >&2; exit 1')
    with pytest.raises(StackStartError) as info:
        go_install_cached(PROGRAM, tmp_path / "cache", go=go)
    assert info.value.service == "tool"
    assert "go install failed" in info.value.cause
    assert "no route to the module proxy" in info.value.cause
    assert "put tool on PATH" in info.value.fix
    assert not PROGRAM.cached_path(tmp_path / "cache").exists()


def test_without_go_the_fix_names_every_way_out(tmp_path):
    with pytest.raises(StackStartError) as info:
        go_install_cached(PROGRAM, tmp_path / "cache", go=str(tmp_path / "no-go"))
    assert info.value.cause == "tool is not on PATH and Go is not installed to build it"
    assert (
        info.value.fix == "install Go 1.22 or later and retry, or put tool on PATH, or set TOOL_URL"
    )
