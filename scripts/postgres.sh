#!/usr/bin/env bash
# A private PostgreSQL cluster for the Prefect server (docs/prefect-postgres.md).
#
#   scripts/postgres.sh start DIR PORT   init (first time) and start a cluster in DIR on 127.0.0.1:PORT,
#                                        create role + database "prefect", print the connection URL
#   scripts/postgres.sh stop DIR         stop it (pg_ctl stop -m fast); a stopped cluster is a no-op
#   scripts/postgres.sh url DIR PORT     print the connection URL (postgresql+asyncpg://...)
#   scripts/postgres.sh status DIR       exit 0 when the cluster in DIR is running
#
# Everything lives in DIR: the cluster (DIR/data), its log (DIR/postgres.log), the unix socket and
# the generated password of role "prefect" (DIR/prefect.password). It listens on 127.0.0.1 only.
# `start` installs Debian's postgresql when no initdb exists. PostgreSQL refuses to run as root: as
# root the cluster belongs to the `postgres` system user the package creates (so DIR's parents must
# be searchable by that user: /tmp and /work/... are, a 0700 directory such as /root is not).
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

ensure_installed() {
    [ -n "$(pg_bindir)" ] && return 0
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "postgres.sh: installing Debian's postgresql (apt-get)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    # The package creates and starts a system-wide cluster on 5432; we never use it. Leave it as
    # the package set it up (the admin's business), our cluster is the one in DIR.
    [ -n "$(pg_bindir)" ] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb"
}

abspath() { mkdir -p "$1" && (cd "$1" && pwd -P); }

# Run a PostgreSQL binary as the cluster owner: ourselves, or `postgres` when we are root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

owner_name() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

running() {  # running DIR -> 0 when the postmaster of DIR/data is alive
    local dir=$1 bin
    [ -f "$dir/data/postmaster.pid" ] || return 1
    bin=$(pg_bindir) || return 1
    as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

running_port() { sed -n 4p "$1/data/postmaster.pid"; }

password() {
    local dir=$1
    if [ ! -s "$dir/prefect.password" ]; then
        (umask 077; head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/prefect.password")
    fi
    cat "$dir/prefect.password"
}

url() { echo "postgresql+asyncpg://prefect:$(password "$1")@127.0.0.1:$2/prefect"; }

cmd_start() {
    local dir port bin owner
    [ $# = 2 ] || usage
    port=$2
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    dir=$(abspath "$1")
    ensure_installed
    bin=$(pg_bindir)
    owner=$(owner_name)

    if running "$dir"; then
        echo "postgres.sh: already running in $dir on port $(running_port "$dir")" >&2
        url "$dir" "$(running_port "$dir")"
        return 0
    fi

    # unix socket path is limited to 107 bytes (".s.PGSQL.PORT" included)
    [ $(( ${#dir} + 14 + ${#port} )) -lt 107 ] || die "DIR path too long for a unix socket: $dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        chmod 700 "$dir"
        runuser -u postgres -- test -w "$dir" \
            || die "user postgres cannot reach $dir (a parent directory is not searchable by it); use a directory under /tmp, /var/lib or the repo"
    fi

    if [ ! -f "$dir/data/PG_VERSION" ]; then
        echo "postgres.sh: initdb $dir/data (owner $owner)" >&2
        as_owner "$bin/initdb" -D "$dir/data" -U "$owner" -E UTF8 --locale=C \
            --auth-local=peer --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
        # Only 127.0.0.1 and the socket in DIR; connections sized for a server + its services.
        as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF

# --- scripts/postgres.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
EOF
    fi

    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $dir" start >/dev/null \
        || { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start (log: $dir/postgres.log)"; }

    # Role and database "prefect" (idempotent); the password is re-set from DIR/prefect.password.
    local pw
    pw=$(password "$dir")
    as_owner "$bin/psql" -h "$dir" -p "$port" -U "$owner" -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null <<EOF
SELECT 'CREATE ROLE prefect LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prefect')\gexec
ALTER ROLE prefect WITH LOGIN PASSWORD '$pw';
SELECT 'CREATE DATABASE prefect OWNER prefect' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'prefect')\gexec
EOF
    echo "postgres.sh: running in $dir on 127.0.0.1:$port (log: $dir/postgres.log)" >&2
    url "$dir" "$port"
}

cmd_stop() {
    local dir bin
    [ $# = 1 ] || usage
    [ -d "$1" ] || { echo "postgres.sh: no cluster in $1" >&2; return 0; }
    dir=$(cd "$1" && pwd -P)
    if ! running "$dir"; then
        echo "postgres.sh: not running in $dir" >&2
        return 0
    fi
    bin=$(pg_bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    echo "postgres.sh: stopped $dir" >&2
}

cmd_url() {
    [ $# = 2 ] || usage
    [ -d "$1" ] || die "no cluster in $1"
    url "$(cd "$1" && pwd -P)" "$2"
}

cmd_status() {
    [ $# = 1 ] || usage
    [ -d "$1" ] && running "$(cd "$1" && pwd -P)"
}

[ $# -ge 1 ] || usage
sub=$1; shift
case "$sub" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    url) cmd_url "$@" ;;
    status) cmd_status "$@" ;;
    *) usage ;;
esac
