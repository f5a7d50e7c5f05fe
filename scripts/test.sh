#!/usr/bin/env bash
# `npm test`: setup → build → package the .vsix → every vitest project
# (unit, browser, vscode). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
echo "test: build"
node scripts/build.mjs
echo "test: npm run package"
pkglog=$(mktemp)
trap 'rm -f "$pkglog"' EXIT
if ! npm run --silent package >"$pkglog" 2>&1; then
  cat "$pkglog" >&2
  echo "test: npm run package failed" >&2
  exit 1
fi
echo "test: vitest"
npx vitest run "$@"
