#!/bin/sh
# The `llmops` CLI of this checkout without activating its virtual environment, from any directory:
#   /path/to/repo/llmops.sh keys list --tenant contoso
# (or link it onto the PATH: ln -s "$PWD/llmops.sh" ~/.local/bin/llmops). It finds the repository through
# symlinks, so the data directory and the local stack's settings are the checkout's own.
self=$(readlink -f -- "$0" 2>/dev/null || printf '%s' "$0")
root=$(CDPATH='' cd -- "$(dirname -- "$self")" && pwd -P)
if [ ! -x "$root/.venv/bin/llmops" ]; then
  echo "llmops: $root/.venv is not set up yet: run \`make install\` (or \`make run\`) in $root" >&2
  exit 2
fi
exec "$root/.venv/bin/llmops" "$@"
