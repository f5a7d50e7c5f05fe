#!/usr/bin/env bash
# `npm start`: set up, build, and run the extension in code-server (VS Code 1.139 in
# the browser) with this repo as the workspace, until Ctrl-C.
#   PORT=8080 npm start      a fixed port (default: a free one), on 127.0.0.1
# The playground opens by itself (a small helper extension, only for this session,
# runs "LLM Playground: Open Playground" once the workbench has started).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
node scripts/build.mjs
exec node scripts/code-server.mjs start --folder "$PWD" "$@"
