#!/usr/bin/env bash
# Fresh clone -> `make run` -> first answered request, timed; then the runtime venv's size.
# Usage: bench/fresh_clone.sh [REPO] [PORT]   (a warm pip cache is the point: run it twice to warm it)
set -euo pipefail
repo=${1:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)}
port=${2:-8171}
dir=$(mktemp -d /tmp/llmops-fresh.XXXXXX)
start=$(date +%s.%N)
git clone -q "$repo" "$dir/clone"
cd "$dir/clone"
make run DEV_ARGS="--port $port --simulator-port $((port + 1))" >"$dir/run.log" 2>&1 &
runner=$!
trap 'kill -INT $(pgrep -P $runner) 2>/dev/null; wait $runner 2>/dev/null; rm -rf "$dir"' EXIT
until [ -s .llmops/dev-api-key ] && curl -sf -o /dev/null "http://127.0.0.1:$port/api/v1/chat/completions" \
    -H "Authorization: Bearer $(cat .llmops/dev-api-key)" -H "Content-Type: application/json" \
    -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}'; do
  kill -0 $runner 2>/dev/null || { cat "$dir/run.log"; exit 1; }
  sleep 0.5
done
end=$(date +%s.%N)
printf 'fresh clone to first answered request: %.1f s\n' "$(echo "$end - $start" | bc)"
printf 'runtime venv: %s MB (%s packages)\n' "$(du -sm .venv | cut -f1)" "$(.venv/bin/python -m pip list --format=freeze 2>/dev/null | wc -l)"
for pkg in torch transformers bitsandbytes pulumi; do
  .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$pkg') is not None)" \
    || echo "unexpected: $pkg is installed"
done
