"""Where a prompt must never end up: a canary (a random marker put into every prompt text)
is looked for in log files, in every Redis key and value, in the text of every row of every
PostgreSQL table, and in a metrics scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import make_conninfo


MAX_DATABASES = 16
"""Redis's default number of databases."""


def in_files(paths: Iterable[Path], canary: str) -> list[str]:
    """``file:line`` of every line of ``paths`` holding the canary."""
    marker = canary.encode()
    return [
        f"{path.name}:{number}"
        for path in paths
        for number, line in enumerate(path.read_bytes().splitlines(), start=1)
        if marker in line
    ]


def in_text(name: str, text: str, canary: str) -> list[str]:
    """``name`` when ``text`` holds the canary."""
    return [name] if canary in text else []


def in_redis(client_of: Callable[[int], redis.Redis], canary: str) -> list[str]:
    """``db/key`` of every key whose name or value holds the canary, in every database the
    server has (``client_of(db)`` is a client of database ``db``)."""
    marker = canary.encode()
    hits = []
    for db in range(MAX_DATABASES):
        with client_of(db) as client:
            try:
                keys = list(client.scan_iter(count=1_000))
            except redis.ResponseError:  # the server has no database this high
                break
            hits += [
                f"{db}/{key.decode(errors='replace')}"
                for key in keys
                if marker in key or any(marker in part for part in _value_parts(client, key))
            ]
    return hits


def _value_parts(client: redis.Redis, key: bytes) -> Iterator[bytes]:
    """Every byte string stored under ``key``, whatever its type."""
    kind = client.type(key)
    if kind == b"string":
        yield client.get(key) or b""
    elif kind == b"list":
        yield from client.lrange(key, 0, -1)
    elif kind == b"set":
        yield from client.smembers(key)
    elif kind == b"zset":
        yield from client.zrange(key, 0, -1)
    elif kind == b"hash":
        for field, value in client.hgetall(key).items():
            yield field
            yield value
    elif kind == b"stream":
        for entry_id, fields in client.xrange(key):
            yield entry_id
            for field, value in fields.items():
                yield field
                yield value
    else:
        yield client.dump(key) or b""


def in_postgres(dsn: str, canary: str) -> list[str]:
    """``database.schema.table`` of every table one of whose rows, as text, holds the canary
    (or its hex form, as a ``bytea`` column shows it), in every database of the server."""
    patterns = [f"%{canary}%", f"%{canary.encode().hex()}%"]
    hits = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
            )
        ]
    for name in names:
        with psycopg.connect(make_conninfo(dsn, dbname=name), autocommit=True) as conn:
            for schema, table in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE'"
                " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall():
                query = sql.SQL("SELECT count(*) FROM {} AS t WHERE t::text LIKE ANY(%s)").format(
                    sql.Identifier(schema, table)
                )
                row = conn.execute(query, (patterns,)).fetchone()
                if row and row[0]:
                    hits.append(f"{name}.{schema}.{table}")
    return hits
