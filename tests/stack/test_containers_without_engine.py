"""The container backend without an engine: the backend's choice, container labels, orphans,
the error when no engine answers, and the images the CI workflow pulls."""

import os
import socket
from pathlib import Path

import pytest

from stack.backend import backend_of
from stack.containers import labels
from stack.containers.engine import docker_client
from stack.containers.images import IMAGES
from stack.errors import StackStartError


def test_the_embedded_backend_is_the_default_and_the_environment_can_choose():
    assert backend_of({}) == "embedded"
    assert backend_of({"MELTPROOF_BACKEND": ""}) == "embedded"
    assert backend_of({"MELTPROOF_BACKEND": "containers"}) == "containers"


def test_an_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(StackStartError) as info:
        backend_of({"MELTPROOF_BACKEND": "docker"})
    assert "embedded, containers" in info.value.fix


def test_a_container_is_labelled_with_its_stack_service_harness_and_host():
    assert labels.stack_labels("abc123", "redis") == {
        "meltproof.stack": "abc123",
        "meltproof.service": "redis",
        "meltproof.harness-pid": str(os.getpid()),
        "meltproof.host": socket.gethostname(),
    }


def _labels(pid: str, host: str = "here") -> dict[str, str]:
    return {labels.STACK: "s", labels.SERVICE: "redis", labels.HARNESS_PID: pid, labels.HOST: host}


def test_a_container_whose_harness_is_gone_is_an_orphan():
    assert labels.is_orphan(_labels("42"), host="here", alive=lambda _pid: False)


def test_a_container_whose_harness_runs_is_not_an_orphan():
    assert not labels.is_orphan(_labels("42"), host="here", alive=lambda pid: pid == 42)


def test_a_harness_of_another_host_is_never_judged_by_pids_here():
    assert not labels.is_orphan(_labels("42", host="there"), host="here", alive=lambda _: False)


def test_a_container_not_started_by_meltproof_or_without_a_pid_is_left_alone():
    assert not labels.is_orphan({"other": "label"}, host="here", alive=lambda _: False)
    broken = _labels("not-a-pid")
    assert not labels.is_orphan(broken, host="here", alive=lambda _: False)


def test_the_container_workflow_pulls_every_image_the_stack_runs():
    workflow = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "containers.yml"
    text = workflow.read_text()
    for image in IMAGES.values():
        assert f" {image}" in text, image


def test_without_an_engine_the_error_names_the_socket_and_the_embedded_backend(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    with pytest.raises(StackStartError) as info:
        docker_client()
    assert (
        info.value.cause
        == f"no Docker engine answers: {tmp_path / 'docker.sock'}: No such file or directory"
    )
    assert "--backend embedded" in info.value.fix
