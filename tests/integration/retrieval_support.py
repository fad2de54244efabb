"""A database of its own for a test module, on the stack's PostgreSQL server.

Tests that create tables must not collide with other tests using the same server, so each
module creates a fresh ``t_<uuid>`` database and drops it afterwards (``WITH (FORCE)``: even if
a pool was left open). The stack's user is a superuser, so it may create databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from stack import Stack


@dataclass(frozen=True)
class ScratchDatabase:
    """A database created for one test module: its name, and URLs direct and via Toxiproxy."""

    name: str
    dsn: str
    proxied_dsn: str


def with_database(url: str, name: str) -> str:
    """``url`` (``postgresql://...``) pointing at database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def scratch_database(stack: Stack) -> Iterator[ScratchDatabase]:
    """Create an empty database on the stack's server; drop it on exit."""
    name = f"t_{uuid.uuid4().hex}"
    admin = stack.endpoints.postgres
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield ScratchDatabase(
            name=name,
            dsn=with_database(admin, name),
            proxied_dsn=with_database(stack.endpoints.postgres_proxied, name),
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))
