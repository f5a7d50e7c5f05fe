#!/usr/bin/env bash
# npm run bench — benchmarks, not tests: each prints figures as ratios against a
# peer measured in the same run. Usage: npm run bench [-- <filter>]
#   filter: a substring of the bench file path (e.g. "cli", "matmul").
#   Opt-in (only when named): "llamacpp-kv", the KV what-ifs against llama.cpp's own KV-size log lines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# llama.cpp (node-llama-cpp) is the CPU peer of the decode benchmark and the reference of the KV check. It is large
# (prebuilt binaries), so it lives in a cache folder rather than in devDependencies.
CACHE="${LLM_PLAYGROUND_CACHE:-$HOME/.cache/llm-playground}"
NLC_VERSION=3.21.1
NLC_DIR="$CACHE/bench-node-llama-cpp-$NLC_VERSION"
if [ ! -f "$NLC_DIR/.installed" ]; then
  echo "bench: installing node-llama-cpp@$NLC_VERSION (CPU prebuilt) into $NLC_DIR"
  mkdir -p "$NLC_DIR"
  (cd "$NLC_DIR" && [ -f package.json ] || echo '{"name":"bench-peers","private":true}' > package.json)
  # Only the linux-x64 CPU binaries: skip the CUDA/Vulkan optional packages (hundreds of MB).
  (cd "$NLC_DIR" && npm install --no-audit --no-fund --omit=optional --save-exact "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION" >/dev/null)
  touch "$NLC_DIR/.installed"
fi
export NODE_LLAMA_CPP_DIR="$NLC_DIR/node_modules/node-llama-cpp"
node scripts/build.mjs --no-typecheck >/dev/null
node scripts/run-benches.mjs "$@"
