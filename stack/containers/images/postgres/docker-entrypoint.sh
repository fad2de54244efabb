#!/bin/sh
# The official image's start-up, as far as meltproof needs it: on the first start (an empty
# $PGDATA) a cluster is created for POSTGRES_USER (default postgres) with POSTGRES_PASSWORD, or
# none with POSTGRES_HOST_AUTH_METHOD=trust, and the database POSTGRES_DB (default the user's
# name); it listens on every address of the container. Later starts (a restarted container)
# keep the cluster, which goes through crash recovery after a kill.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  password="${POSTGRES_PASSWORD:-}"
  method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$password" ] && [ "$method" != trust ]; then
    echo "error: set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow every" \
      "connection without one" >&2
    exit 1
  fi
  if [ -n "$password" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$password" > "$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C \
      --auth-local=trust --auth-host="$method" --no-sync
    rm -f "$pwfile"
  else
    initdb -D "$PGDATA" -U "$user" -E UTF8 --locale=C \
      --auth-local=trust --auth-host="$method" --no-sync
  fi
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all $method" >> "$PGDATA/pg_hba.conf"
  if [ "$database" != postgres ]; then
    printf 'CREATE DATABASE "%s";\n' "$database" \
      | postgres --single -D "$PGDATA" postgres > /dev/null
  fi
fi

exec "$@"
