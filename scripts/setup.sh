#!/usr/bin/env bash
# Idempotent setup for `npm test` and `npm start` (Debian 12, Node 20, npm 11, as root):
#   1. Debian packages: chromium (tests' browser), libkrb5-dev (code-server's kerberos
#      module builds against it), libvulkan1 (WebGPU), fonts-wqy-zenhei and fonts-noto-color-emoji (CJK and emoji in the
#      screenshots), plus a C++ toolchain if missing;
#      `apt-get update` once and install only what is missing.
#   2. `npm ci` when node_modules is missing or older than package-lock.json.
#   3. code-server 4.139.1 and Node 24 into ${LLM_PLAYGROUND_CACHE:-$HOME/.cache/llm-playground}
#      (scripts/code-server.mjs install), when missing.
# A second run installs nothing and says what it skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "setup: $*"; }
t0=$SECONDS

# --- 1. Debian packages -------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
want=(chromium libkrb5-dev libvulkan1 fonts-wqy-zenhei fonts-noto-color-emoji)
command -v g++ >/dev/null 2>&1 || want+=(g++)
command -v make >/dev/null 2>&1 || want+=(make)
command -v python3 >/dev/null 2>&1 || want+=(python3)
missing=()
for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  say "Debian packages (${want[*]}) already installed: skipped"
fi

# --- 2. npm dependencies ------------------------------------------------------
# The stamp is the SHA-256 of the package-lock.json node_modules was installed from (not file
# times: a git checkout or a second worktree sharing node_modules gives the lock file a new time).
lockhash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.llm-playground-lock.sha256
if [[ ! -f node_modules/.package-lock.json || ! -f $stamp || $(cat "$stamp") != "$lockhash" ]]; then
  say "npm ci"
  cilog=$(mktemp)
  if ! npm ci --no-audit --no-fund --loglevel=error 2>&1 | tee "$cilog"; then
    # npm ci refuses a lock file that lacks an optional dependency the registry does not
    # have (vite 8.4's napi-windows-process-start-time: 404). npm install takes the same
    # locked versions and tolerates it, without changing package-lock.json.
    if grep -q 'from lock file' "$cilog"; then
      say "npm ci rejected package-lock.json (above); falling back to npm install with the same lock file"
      npm install --no-audit --no-fund --loglevel=error
    else
      rm -f "$cilog"
      exit 1
    fi
  fi
  rm -f "$cilog"
  echo "$lockhash" > "$stamp"
else
  say "node_modules up to date with package-lock.json: skipped npm ci"
fi

# --- 3. code-server + Node 24 -------------------------------------------------
node scripts/code-server.mjs install

say "done in $((SECONDS - t0)) s"
