"""The stack configuration read from the environment."""

from pathlib import Path

from stack.config import Ports, StackConfig


def test_from_env_reads_existing_servers_and_binaries(tmp_path):
    environ = {
        "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "TOXIPROXY_URL": "http://127.0.0.1:8474",
        "MELTPROOF_REDIS_SERVER": "/opt/redis/bin/redis-server",
        "MELTPROOF_CACHE_DIR": str(tmp_path / "cache"),
    }
    config = StackConfig.from_env(tmp_path, environ=environ)
    assert config.database_url == environ["DATABASE_URL"]
    assert config.redis_url == environ["REDIS_URL"]
    assert config.toxiproxy_url == environ["TOXIPROXY_URL"]
    assert config.redis_server == Path("/opt/redis/bin/redis-server")
    assert config.cache_dir == tmp_path / "cache"
    assert config.postgres_bindir is None


def test_overrides_win_over_the_environment(tmp_path):
    config = StackConfig.from_env(
        tmp_path,
        environ={"REDIS_URL": "redis://127.0.0.1:1/0"},
        redis_url=None,
        ports=Ports(redis=7),
    )
    assert config.redis_url is None
    assert config.ports.redis == 7
