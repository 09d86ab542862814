#!/usr/bin/env bash
# Builds the Python package (maturin, release, abi3 wheel), installs it into a virtualenv with
# the test requirements, and runs its tests: pytest, the guide's examples (docs/python.md) and
# the package's doctests, stubtest against the native module, and mypy --strict on the examples.
# Called by scripts/test; needs EXPORT_CORE_REDIS_URL (the Celery tests' broker), which
# scripts/test starts. Usage: scripts/python-test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/export-core/target}"
venv="${EXPORT_CORE_VENV:-$HOME/.cache/export-core/venv}"
wheels="$CARGO_TARGET_DIR/wheels"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
# Pinned, and a no-op once installed.
pip install -q --disable-pip-version-check -r bindings-python/requirements-dev.txt

rm -rf "$wheels"
(cd bindings-python && maturin build --release --quiet -o "$wheels")
pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheels"/export_core-*.whl

# The CLI the tests compare trip exports with, built once.
cargo build -q --release -p export-core --features cli
export EXPORT_CORE_CLI="$CARGO_TARGET_DIR/release/export-core"

if [ -z "${EXPORT_CORE_REDIS_URL:-}" ]; then
  echo "EXPORT_CORE_REDIS_URL is not set: the Celery tests need Redis (scripts/redis-server.sh start)" >&2
  exit 1
fi

# From outside the source tree, so `import export_core` is the installed wheel.
cd "$root/bindings-python/tests"
python -m pytest -q -p no:cacheprovider "$@" .
# The guide's examples and the package's own docstrings.
python -m pytest -q -p no:cacheprovider --doctest-glob='*.md' \
  -o doctest_optionflags="ELLIPSIS NORMALIZE_WHITESPACE" "$root/docs/python.md"
python -m pytest -q -p no:cacheprovider --doctest-modules --pyargs export_core
python -m mypy.stubtest export_core --allowlist "$root/bindings-python/stubtest-allowlist.txt"
python -m mypy --strict --no-incremental "$root/bindings-python/examples"
