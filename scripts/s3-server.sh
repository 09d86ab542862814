#!/usr/bin/env bash
# A throw-away S3-compatible server on loopback for the storage tests (moto in server mode).
#
#   eval "$(scripts/s3-server.sh start)"   # starts it (installing moto if needed), prints exports
#   cargo test -p export-core --test storage
#   scripts/s3-server.sh stop
#
#   scripts/s3-server.sh run cargo test -p export-core   # start, run the command, stop
#
# `start` prints `export EXPORT_CORE_S3_ENDPOINT=http://127.0.0.1:PORT` and dummy AWS_* credentials
# for `eval`; everything else goes to stderr. It creates no bucket: each test makes its own with a
# plain PUT. moto comes from PyPI (`moto[server]`), installed into a virtualenv under
# $HOME/.cache/export-core/venv when no working `moto_server` is on the PATH.
set -euo pipefail

CACHE="${HOME}/.cache/export-core"
VENV="${CACHE}/venv"
STATE="${EXPORT_CORE_S3_STATE:-${CACHE}/s3-server}"
PYTHON="${PYTHON:-python3}"

log() { echo "s3-server: $*" >&2; }

moto_bin() {
    if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
        command -v moto_server
        return
    fi
    if [ -x "${VENV}/bin/moto_server" ] && "${VENV}/bin/moto_server" --help >/dev/null 2>&1; then
        echo "${VENV}/bin/moto_server"
        return
    fi
    log "installing moto[server] into ${VENV}"
    mkdir -p "${CACHE}"
    "${PYTHON}" -m venv "${VENV}" >&2
    "${VENV}/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' >&2
    echo "${VENV}/bin/moto_server"
}

running_pid() {
    if [ -f "${STATE}/pid" ]; then
        local pid
        pid="$(cat "${STATE}/pid")"
        if kill -0 "${pid}" 2>/dev/null; then
            echo "${pid}"
            return
        fi
    fi
    return 1
}

print_env() {
    local port
    port="$(cat "${STATE}/port")"
    echo "export EXPORT_CORE_S3_ENDPOINT=http://127.0.0.1:${port}"
    echo "export AWS_ACCESS_KEY_ID=testing"
    echo "export AWS_SECRET_ACCESS_KEY=testing"
    echo "export AWS_REGION=us-east-1"
}

free_port() {
    "${PYTHON}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

answers() {
    "${PYTHON}" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=1).read()
EOF
}

start() {
    if running_pid >/dev/null; then
        log "already running (pid $(running_pid))"
        print_env
        return
    fi
    local bin port pid
    bin="$(moto_bin)"
    port="$(free_port)"
    mkdir -p "${STATE}"
    nohup "${bin}" -H 127.0.0.1 -p "${port}" >"${STATE}/moto.log" 2>&1 &
    pid=$!
    echo "${pid}" >"${STATE}/pid"
    echo "${port}" >"${STATE}/port"
    for _ in $(seq 1 100); do
        if answers "${port}"; then
            log "moto listening on 127.0.0.1:${port} (pid ${pid}, log ${STATE}/moto.log)"
            print_env
            return
        fi
        if ! kill -0 "${pid}" 2>/dev/null; then
            log "moto exited; its log:"
            cat "${STATE}/moto.log" >&2
            rm -f "${STATE}/pid"
            exit 1
        fi
        sleep 0.2
    done
    log "moto did not answer on port ${port} within 20 seconds"
    stop
    exit 1
}

stop() {
    local pid
    if pid="$(running_pid)"; then
        kill "${pid}" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "${pid}" 2>/dev/null || break
            sleep 0.1
        done
        log "stopped (pid ${pid})"
    fi
    rm -f "${STATE}/pid" "${STATE}/port"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) running_pid >/dev/null && print_env ;;
run)
    shift
    eval "$(start)"
    trap stop EXIT
    "$@"
    ;;
*)
    echo "usage: $0 start|stop|env|run COMMAND..." >&2
    exit 2
    ;;
esac
