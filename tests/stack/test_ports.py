"""Port selection and the error for a port that is taken."""

import socket

import pytest

from stack.errors import StackStartError
from stack.ports import LOOPBACK, claim_port, ephemeral_port


def test_ephemeral_port_is_bindable():
    port = ephemeral_port()
    with socket.socket() as sock:
        sock.bind((LOOPBACK, port))


def test_a_free_fixed_port_is_kept():
    port = ephemeral_port()
    assert claim_port("redis", port, "--redis-port") == port


def test_a_taken_port_names_service_cause_and_fix():
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        taken = sock.getsockname()[1]
        with pytest.raises(StackStartError) as info:
            claim_port("redis", taken, "--redis-port")
    error = info.value
    assert error.service == "redis"
    assert f"{LOOPBACK}:{taken} is already in use" in error.cause
    assert "--redis-port" in error.fix
    assert str(error).startswith("redis: ")
