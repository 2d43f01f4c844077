#!/usr/bin/env bash
# The README's closed-loop walkthrough, timed on a private stack: feedback -> curation -> training -> gate ->
# canary -> promotion. Needs `make train-deps`. Usage: bench/walkthrough.sh [PORT]  (prints each step's time)
set -u
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
port=${1:-8371}
work=$(mktemp -d /tmp/llmops-walk.XXXXXX)
export LLMOPS_DATA_DIR=$work/state PATH=$repo/.venv/bin:$PATH
cd "$work"
start=$(date +%s)
elapsed() { echo "$1: $(( $(date +%s) - start )) s"; }
llmops dev --port "$port" --simulator-port $((port + 1)) > "$work/dev.log" 2>&1 &
dev=$!
trap 'kill -INT $dev 2>/dev/null; wait $dev 2>/dev/null' EXIT
until grep -q "Press Ctrl-C" "$work/dev.log"; do kill -0 $dev || { cat "$work/dev.log"; exit 1; }; sleep 0.5; done
elapsed "stack up"
python3 - "$repo/README.md" "$port" "$work" <<'PY'
import re, sys
blocks = re.findall(r"^<!-- docs-test -->\n```bash\n(.*?)^```", open(sys.argv[1]).read(), re.M | re.S)
for name, block in (("feedback", blocks[-2]), ("traffic", blocks[-1])):
    open(f"{sys.argv[3]}/{name}.sh", "w").write(block.replace("127.0.0.1:7071", f"127.0.0.1:{sys.argv[2]}"))
PY
state() { llmops loop status --json | python3 -c "import json, sys; d = json.load(sys.stdin); sys.exit(0 if $1 else 1)"; }
bash "$work/feedback.sh" > "$work/feedback.out" 2>&1
elapsed "30 answers rated"
until state 'd["rollouts"] or any(r["status"] == "failed" for r in d["runs"])'; do sleep 2; done
elapsed "trained, gated, canary deployed"
until state 'any(r["status"] != "canary" for r in d["rollouts"])'; do
  bash "$work/traffic.sh" > "$work/traffic.out" 2>&1
done
elapsed "canary decided"
llmops loop status | sed -n '/TRAINING RUNS/,/POISON/p'
