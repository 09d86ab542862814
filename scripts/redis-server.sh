#!/usr/bin/env bash
# A throw-away Redis server on loopback, the broker of the Celery (and later BullMQ) tests.
#
#   scripts/redis-server.sh start     # start (or reuse) it; prints `export EXPORT_CORE_REDIS_URL=...`
#   scripts/redis-server.sh status    # prints the URL if running, exit 1 otherwise
#   scripts/redis-server.sh stop      # stops it and removes its directory
#
# Installs Debian's redis-server from apt when none is found. Listens on 127.0.0.1 only, on a
# free port, without persistence. Environment: EXPORT_CORE_REDIS_DIR (state directory, default
# ${TMPDIR:-/tmp}/export-core-redis-$UID), EXPORT_CORE_REDIS_PORT (first port tried, 56379).
set -euo pipefail

STATE_DIR="${EXPORT_CORE_REDIS_DIR:-${TMPDIR:-/tmp}/export-core-redis-$(id -u)}"
PORT_FILE="$STATE_DIR/port"
PID_FILE="$STATE_DIR/redis.pid"

log() { echo "redis-server: $*" >&2; }
die() { log "$*"; exit 1; }

install_redis() {
    log "redis-server not found; installing it from apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "apt-get update failed"
    apt-get install -y -qq redis-server >&2 || die "apt-get install redis-server failed"
}

running() {
    [[ -f "$PORT_FILE" ]] && redis-cli -h 127.0.0.1 -p "$(cat "$PORT_FILE")" ping 2>/dev/null | grep -q PONG
}

url() { echo "redis://127.0.0.1:$(cat "$PORT_FILE")/0"; }

start() {
    command -v redis-server >/dev/null 2>&1 || install_redis
    mkdir -p "$STATE_DIR"
    if running; then
        echo "export EXPORT_CORE_REDIS_URL=$(url)"
        return 0
    fi
    local port="${EXPORT_CORE_REDIS_PORT:-56379}"
    for _ in $(seq 1 50); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        port=$((port + 1))
    done
    echo "$port" >"$PORT_FILE"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize yes --pidfile "$PID_FILE" --dir "$STATE_DIR" \
        --logfile "$STATE_DIR/server.log" >&2
    for _ in $(seq 1 100); do
        if running; then
            echo "export EXPORT_CORE_REDIS_URL=$(url)"
            return 0
        fi
        sleep 0.1
    done
    cat "$STATE_DIR/server.log" >&2 || true
    die "redis did not answer on port $port"
}

stop() {
    if [[ -f "$PID_FILE" ]]; then
        kill "$(cat "$PID_FILE")" 2>/dev/null || true
    fi
    rm -rf "$STATE_DIR"
}

case "${1:-start}" in
    start) start ;;
    status) running && url ;;
    stop) stop ;;
    *) die "usage: $0 start|status|stop" ;;
esac
