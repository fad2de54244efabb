"""URL rewriting for proxied endpoints."""

import pytest

from stack.urls import host_and_port, with_host_port


def test_host_and_port_with_default():
    assert host_and_port("redis://cache.local/0", default_port=6379) == ("cache.local", 6379)
    assert host_and_port("postgresql://u@127.0.0.1:5433/db", default_port=5432) == (
        "127.0.0.1",
        5433,
    )


def test_host_and_port_refuses_a_url_without_host():
    with pytest.raises(ValueError, match="has no host"):
        host_and_port("not a url", default_port=1)


def test_with_host_port_keeps_user_path_and_query():
    url = "postgresql://app:secret@db.local:5432/meltproof?sslmode=disable"
    assert with_host_port(url, "127.0.0.1", 40001) == (
        "postgresql://app:secret@127.0.0.1:40001/meltproof?sslmode=disable"
    )
    assert with_host_port("http://127.0.0.1:8000", "127.0.0.1", 9) == "http://127.0.0.1:9"
