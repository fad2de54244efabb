"""The canary search finds the marker wherever it is stored, and only there."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import fakeredis
import psycopg
import pytest
from fuzz_leaks import in_files, in_postgres, in_redis, in_text
from psycopg import sql

from stack import Stack


CANARY = "canary-0123456789abcdef"


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def _client_of(server: fakeredis.FakeServer) -> Callable[[int], fakeredis.FakeRedis]:
    return lambda db: fakeredis.FakeRedis(server=server, db=db)


@pytest.fixture
def client(server: fakeredis.FakeServer) -> Iterator[fakeredis.FakeRedis]:
    with fakeredis.FakeRedis(server=server) as redis_client:
        yield redis_client


def test_redis_keys_and_values_of_every_type_are_searched(
    server: fakeredis.FakeServer, client: fakeredis.FakeRedis
) -> None:
    client.set("clean", "nothing here")
    client.set("string", f"a {CANARY} b")
    client.set(f"key-{CANARY}", "1")
    client.rpush("list", "x", CANARY)
    client.sadd("set", CANARY)
    client.zadd("zset", {CANARY: 1.0})
    client.hset("hash-value", "field", CANARY)
    client.hset("hash-field", CANARY, "v")
    client.xadd("stream", {"field": CANARY})
    with fakeredis.FakeRedis(server=server, db=15) as last:
        last.set("elsewhere", CANARY)

    hits = in_redis(_client_of(server), CANARY)

    assert sorted(hits) == sorted(
        [
            "0/string",
            f"0/key-{CANARY}",
            "0/list",
            "0/set",
            "0/zset",
            "0/hash-value",
            "0/hash-field",
            "0/stream",
            "15/elsewhere",
        ]
    )


def test_redis_without_the_canary_has_no_hits(
    server: fakeredis.FakeServer, client: fakeredis.FakeRedis
) -> None:
    client.set("a", "canary-other")
    assert in_redis(_client_of(server), CANARY) == []


def test_log_lines_and_text_are_searched(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    log.write_bytes(b"line one\nbad request: b'" + CANARY.encode() + b"'\n\xff third\n")
    assert in_files([log], CANARY) == ["gateway.log:2"]
    assert in_text("/metrics", f'x{{v="{CANARY}"}} 1', CANARY) == ["/metrics"]
    assert in_text("/metrics", "x 1", CANARY) == []


def test_postgres_rows_are_searched_as_text_and_bytes(meltproof_stack: Stack) -> None:
    dsn = meltproof_stack.endpoints.postgres
    schema = f"fuzz_leaks_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            for table, column, value in (
                ("texts", "text", f"prompt: {CANARY}"),
                ("blobs", "bytea", CANARY.encode()),
                ("clean", "text", "nothing"),
            ):
                name = sql.Identifier(schema, table)
                conn.execute(sql.SQL("CREATE TABLE {} (v {})").format(name, sql.SQL(column)))
                conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(name), (value,))

            hits = in_postgres(dsn, CANARY)
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    database = dsn.rsplit("/", 1)[-1]
    assert sorted(hit for hit in hits if schema in hit) == [
        f"{database}.{schema}.blobs",
        f"{database}.{schema}.texts",
    ]
