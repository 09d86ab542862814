#!/usr/bin/env bash
# A throw-away PostgreSQL server for the job-store tests.
#
#   eval "$(scripts/pg-server.sh)"        # start (or reuse) it and export EXPORT_CORE_PG_URL
#   scripts/pg-server.sh start            # same; prints `export EXPORT_CORE_PG_URL=...`
#   scripts/pg-server.sh status           # prints the URL if running, exit 1 otherwise
#   scripts/pg-server.sh stop             # stops it and removes its data directory
#
# The server listens on 127.0.0.1 only, on a free port, with its unix socket in its own
# directory, trust authentication, and durability off (fsync=off): for tests only.
# It also serves TLS (clients may still connect without it) with a certificate for the IP
# address 127.0.0.1 signed by a throw-away CA made here with openssl: $STATE_DIR/tls/ca.pem,
# printed as EXPORT_CORE_PG_CA. A server already running without TLS gets it switched on.
# Installs PostgreSQL from apt when no `initdb` is found. Runs the server as the `postgres`
# system user when invoked as root (PostgreSQL refuses to run as root).
#
# Environment: EXPORT_CORE_PG_DIR (state directory, default ${TMPDIR:-/tmp}/export-core-pg-$UID),
# EXPORT_CORE_PG_PORT (preferred first port, default 55432).
set -euo pipefail

STATE_DIR="${EXPORT_CORE_PG_DIR:-${TMPDIR:-/tmp}/export-core-pg-$(id -u)}"
DATA_DIR="$STATE_DIR/data"
SOCKET_DIR="$STATE_DIR/socket"
LOG_FILE="$STATE_DIR/server.log"
TLS_DIR="$STATE_DIR/tls"
PORT_FILE="$STATE_DIR/port"
DB_USER="export_core"
DB_NAME="export_core"

log() { echo "pg-server: $*" >&2; }
die() { log "$*"; exit 1; }

find_bindir() {
    local candidate
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    # Newest installed major version first.
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
        if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

install_postgres() {
    log "initdb not found; installing PostgreSQL from apt"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install PostgreSQL first"
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# Runs a command as the user owning the server (postgres when we are root).
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port="${EXPORT_CORE_PG_PORT:-55432}" last
    last=$((port + 200))
    while ((port < last)); do
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    die "no free port in ${EXPORT_CORE_PG_PORT:-55432}..$last"
}

url() {
    echo "postgres://$DB_USER@127.0.0.1:$(cat "$PORT_FILE")/$DB_NAME"
}

# Makes the CA and the server certificate (IP 127.0.0.1 only, no DNS name: the tests connect by
# `localhost` to see a name mismatch), readable by the server's owner only.
make_certs() {
    [[ -f "$TLS_DIR/server.pem" && -f "$TLS_DIR/server.key" && -f "$TLS_DIR/ca.pem" ]] && return 0
    command -v openssl >/dev/null 2>&1 || { log "no openssl: the server will not serve TLS"; return 1; }
    mkdir -p "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=export-core test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" >/dev/null 2>&1 || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=export-core test server" \
        -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" >/dev/null 2>&1 || return 1
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
        >"$TLS_DIR/server.ext"
    openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
        -CAcreateserial -days 3650 -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.pem" \
        >/dev/null 2>&1 || return 1
    chmod 600 "$TLS_DIR"/*.key
    chmod 644 "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem"
    if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$TLS_DIR"; fi
}

# Switches TLS on in a running server that has it off (a reload is enough).
enable_tls() {
    local port sql
    port=$(cat "$PORT_FILE")
    sql() { as_owner "$BINDIR/psql" -h "$SOCKET_DIR" -p "$port" -U "$DB_USER" -d postgres -tAq -c "$1"; }
    [[ "$(sql "SHOW ssl")" == "on" ]] && return 0
    make_certs || return 0
    sql "ALTER SYSTEM SET ssl_cert_file = '$TLS_DIR/server.pem'" >/dev/null
    sql "ALTER SYSTEM SET ssl_key_file = '$TLS_DIR/server.key'" >/dev/null
    sql "ALTER SYSTEM SET ssl = on" >/dev/null
    sql "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    [[ "$(sql "SHOW ssl")" == "on" ]] && log "TLS switched on" || log "could not switch TLS on"
}

print_env() {
    echo "export EXPORT_CORE_PG_URL=$(url)"
    if [[ -f "$TLS_DIR/ca.pem" ]]; then echo "export EXPORT_CORE_PG_CA=$TLS_DIR/ca.pem"; fi
}

is_running() {
    [[ -f "$DATA_DIR/postmaster.pid" && -f "$PORT_FILE" ]] || return 1
    as_owner "$BINDIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

start() {
    if is_running; then
        log "already running on port $(cat "$PORT_FILE")"
        enable_tls
        print_env
        return 0
    fi
    mkdir -p "$STATE_DIR"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no \`postgres\` system user to run the server as"
        chown postgres: "$STATE_DIR"
    fi
    chmod 700 "$STATE_DIR"
    if [[ ! -f "$DATA_DIR/PG_VERSION" ]]; then
        rm -rf "$DATA_DIR"
        as_owner mkdir -p "$DATA_DIR" "$SOCKET_DIR"
        log "initdb in $DATA_DIR"
        as_owner "$BINDIR/initdb" -D "$DATA_DIR" -U "$DB_USER" --auth=trust \
            --encoding=UTF8 --no-locale --no-sync >"$STATE_DIR/initdb.log" 2>&1 ||
            { cat "$STATE_DIR/initdb.log" >&2; die "initdb failed"; }
    fi
    as_owner mkdir -p "$SOCKET_DIR"
    local port tls=()
    if make_certs; then
        tls=(-c ssl=on -c "ssl_cert_file=$TLS_DIR/server.pem" -c "ssl_key_file=$TLS_DIR/server.key")
    fi
    port=$(free_port)
    as_owner sh -c "echo $port > '$PORT_FILE'"
    log "starting PostgreSQL ($BINDIR) on 127.0.0.1:$port"
    as_owner "$BINDIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $SOCKET_DIR -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
            -c shared_buffers=64MB ${tls[*]}" start >&2 ||
        { tail -n 30 "$LOG_FILE" >&2 || true; die "the server did not start"; }
    if ! as_owner "$BINDIR/psql" -h "$SOCKET_DIR" -p "$port" -U "$DB_USER" -d postgres -tAq \
        -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        as_owner "$BINDIR/createdb" -h "$SOCKET_DIR" -p "$port" -U "$DB_USER" "$DB_NAME"
    fi
    print_env
}

stop() {
    if [[ -f "$DATA_DIR/postmaster.pid" ]]; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA_DIR" -m fast -w stop >&2 || true
    fi
    rm -rf "$STATE_DIR"
    log "stopped"
}

status() {
    if is_running; then
        print_env
    else
        log "not running"
        return 1
    fi
}

BINDIR=$(find_bindir) || { install_postgres; BINDIR=$(find_bindir) || die "PostgreSQL binaries not found after install"; }

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac
