#!/usr/bin/env bash
# Start vLLM for an Azure ML managed online deployment: the base model ($BASE_MODEL, a hub id or a
# path) with the registered LoRA adapter (mounted under $AZUREML_MODEL_DIR) served under the name
# $LORA_NAME, OpenAI-compatible on port 8000 (/v1/chat/completions, /health).
set -euo pipefail
: "${BASE_MODEL:?BASE_MODEL is not set}"
: "${LORA_NAME:?LORA_NAME is not set}"
adapter_config="$(find "${AZUREML_MODEL_DIR:?AZUREML_MODEL_DIR is not set}" -name adapter_config.json -print -quit)"
if [[ -z "$adapter_config" ]]; then
  echo "no adapter_config.json under $AZUREML_MODEL_DIR" >&2
  exit 1
fi
# shellcheck disable=SC2086  # VLLM_ARGS holds several arguments
exec vllm serve "$BASE_MODEL" --host 0.0.0.0 --port 8000 \
  --enable-lora --lora-modules "$LORA_NAME=$(dirname "$adapter_config")" \
  ${VLLM_ARGS:-}
