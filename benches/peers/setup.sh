#!/usr/bin/env bash
# Installs the non-Rust peers of `compare` (run by it; idempotent):
# - a virtualenv at $EXPORT_CORE_BENCH_VENV (default $HOME/.cache/export-core/bench-venv) with
#   polars, pandas, pyarrow, XlsxWriter, openpyxl and psycopg (benches/pg/compare.py) from PyPI;
# - exceljs, csv-stringify and apache-arrow in $EXPORT_CORE_BENCH_NODE (default
#   $HOME/.cache/export-core/bench-node)/node_modules, with npm.
# Prints `python=PATH` and `node_modules=PATH` for what is ready; a peer that cannot be installed
# is reported and skipped, never fatal.
set -u
# With EXPORT_CORE_BENCH_NO_INSTALL=1, nothing is installed: only what exists is reported.
no_install="${EXPORT_CORE_BENCH_NO_INSTALL:-}"
venv="${EXPORT_CORE_BENCH_VENV:-$HOME/.cache/export-core/bench-venv}"
node_dir="${EXPORT_CORE_BENCH_NODE:-$HOME/.cache/export-core/bench-node}"
py_pkgs=(polars pandas pyarrow xlsxwriter openpyxl "psycopg[binary]")
node_pkgs=(exceljs csv-stringify apache-arrow)

if [ -z "$no_install" ] && [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2 || echo "note: python3 -m venv failed" >&2
fi
if [ -x "$venv/bin/python" ]; then
  if [ -z "$no_install" ] && ! "$venv/bin/python" -c "import polars, pandas, pyarrow, xlsxwriter, openpyxl, psycopg" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${py_pkgs[@]}" >&2 \
      || echo "note: pip install ${py_pkgs[*]} failed" >&2
  fi
  echo "python=$venv/bin/python"
fi

if command -v npm >/dev/null && command -v node >/dev/null; then
  mkdir -p "$node_dir"
  if [ -z "$no_install" ] && { [ ! -d "$node_dir/node_modules/exceljs" ] || [ ! -d "$node_dir/node_modules/csv-stringify" ] \
     || [ ! -d "$node_dir/node_modules/apache-arrow" ]; }; then
    (cd "$node_dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
      && npm install --silent --no-audit --no-fund "${node_pkgs[@]}" >&2) \
      || echo "note: npm install ${node_pkgs[*]} failed" >&2
  fi
  [ -d "$node_dir/node_modules/exceljs" ] && echo "node_modules=$node_dir/node_modules"
fi
exit 0
