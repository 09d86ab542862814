#!/usr/bin/env bash
# Builds the Node addon (napi-rs, release) and runs its tests: node --test over
# bindings-node/test, then tsc --noEmit on the declarations in use (test/types.test-d.ts) and
# the examples.
# The trip test compares with the CLI's export: EXPORT_CORE_CLI names the binary (built here
# when unset). Usage: scripts/node-test.sh [node --test args...]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/export-core/target}"

if [ -z "${EXPORT_CORE_CLI:-}" ]; then
  cargo build -q --release -p export-core --features cli
  export EXPORT_CORE_CLI="$CARGO_TARGET_DIR/release/export-core"
fi

cd bindings-node
# The pinned devDependencies of package-lock.json; a no-op once installed.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# The addon as `npm run build` (napi build) makes it, built by cargo itself: napi passes an
# explicit --target, which would build every dependency a second time beside the Python
# wheel's and the CLI's release builds.
cargo build -q --release -p export-core-node
cp "$CARGO_TARGET_DIR/release/libexport_core_node.so" export-core.linux-x64-gnu.node
# The package ships the addon without its line tables (about 140 MB of them).
strip --strip-debug export-core.linux-x64-gnu.node
# No Rust backtraces for the panic test's expected panic.
RUST_BACKTRACE=0 node --test "$@" test/
npx tsc --noEmit -p tsconfig.json
