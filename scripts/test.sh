#!/usr/bin/env bash
# `npm test`: setup → layering (import rules, every tsconfig) → format → build → package
# the .vsix → every vitest project (unit, browser, vscode). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
echo "test: layering"
if ! npm run --silent layers; then
  echo 'test: layering: an import breaks the layer rule (above; README "Development", Layers; rules in .dependency-cruiser.cjs)' >&2
  exit 1
fi
if ! node scripts/typecheck.mjs; then
  echo 'test: layering: type errors (above); each tsconfig.*.json gives its part of the code only the globals of its environment (README "Development", Layers)' >&2
  exit 1
fi
echo "test: format"
if ! npx prettier --check .; then
  echo 'test: format: the files above are not formatted as .prettierrc.json says: npm run format' >&2
  exit 1
fi
echo "test: build"
node scripts/build.mjs --no-typecheck
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
