#!/bin/bash
# Entrypoint for the lab's local/postgres:15 image (built from Debian packages by
# deploy/lab/lab). Mimics the official image: on first start (empty PGDATA) it
# runs initdb as postgres from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB,
# trusts local socket + loopback connections, requires scram-sha-256 over the
# network and listens on '*'. Then it execs postgres as the postgres user.
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
export PATH="$PGBIN:$PATH"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

# Not our server: run the given command (e.g. the lab's HTTP stand-in).
if [ "${1:-}" != "postgres" ]; then
    exec "$@"
fi
shift

mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
chmod 2777 /var/run/postgresql

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set on first start}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    chmod 600 "$pwfile"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    chown postgres "$pwfile"
    as_postgres initdb --username="$user" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    {
        echo "host all all 127.0.0.1/32 trust"
        echo "host all all ::1/128 trust"
        echo "host all all all scram-sha-256"
    } > "$PGDATA/pg_hba.conf.new"
    grep -E '^local' "$PGDATA/pg_hba.conf" >> "$PGDATA/pg_hba.conf.new" || true
    mv "$PGDATA/pg_hba.conf.new" "$PGDATA/pg_hba.conf"
    chown postgres:postgres "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    if [ "$db" != "postgres" ]; then
        as_postgres postgres --single -D "$PGDATA" -c listen_addresses='' postgres \
            <<<"CREATE DATABASE \"$db\" OWNER \"$user\";" >/dev/null
    fi
    echo "entrypoint: initialised cluster (user=$user db=$db)"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups -- postgres -D "$PGDATA" "$@"
