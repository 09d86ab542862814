#!/usr/bin/env bash
# The HTTP API against its own OpenAPI document: starts `export-core serve` on loopback (SQLite
# and local files in a scratch directory, the sample catalogue), runs schemathesis (PyPI,
# pinned, in its own virtualenv) on the served `/openapi.yaml`, and fails on any server error
# or any response the document does not describe (status, content type, headers, body).
# Then stops the server with SIGTERM, which must exit 0. Called by scripts/test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/export-core/target}"
venv="${EXPORT_CORE_HTTP_VENV:-$HOME/.cache/export-core/venv-http}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r scripts/http-requirements.txt

cargo build -q --release -p export-core --features cli
cli="$CARGO_TARGET_DIR/release/export-core"

work=$(mktemp -d)
server=""
stop() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT

cat > "$work/tokens.toml" <<'TOKENS'
["t-fuzz"]
user = "fuzz"
organisation = "shop-1"
scopes = "READ_EXPORTS,WRITE_EXPORTS"
TOKENS

"$cli" serve --listen 127.0.0.1:0 --tokens "$work/tokens.toml" --db "$work/jobs.db" \
  --storage "file://$work/files" --catalog-products 200 > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/serve.out")
if [ -z "$base" ]; then
  echo "export-core serve did not start:" >&2
  cat "$work/serve.err" >&2
  exit 1
fi
echo "server: $base"

(cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.yaml" \
  --url "$base" \
  --header "Authorization: Bearer t-fuzz" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${EXPORT_CORE_FUZZ_EXAMPLES:-50}" \
  --seed 20261203 \
  --workers 1 \
  --suppress-health-check all \
  --warnings off)

kill -TERM "$server"
if ! wait "$server"; then
  echo "export-core serve did not exit cleanly on SIGTERM" >&2
  cat "$work/serve.err" >&2
  exit 1
fi
server=""
grep -q '^stopped$' "$work/serve.out"
echo "schemathesis found no server error and no response outside the document"
