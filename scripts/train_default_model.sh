#!/usr/bin/env bash
# Reproduce the embedded default model (probtalk/assets/default_model.pt) from scratch on CPU.
# Every step is deterministic for its seed; see docs/default_model.md for the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
PT=.venv/bin/probtalk
RUNS=${RUNS:-runs/default}

# 1. the default synthetic corpus (24 speakers, 2 held out; ~2.7 h of speech)
$PT data synth --out datasets/synth --seed 0
# 2. stage 1: motion VQ-VAE
$PT train vq --data datasets/synth --out "$RUNS/vq" --config probtalk/assets/recipes/default_vq.toml
# 3. stage 2: small HuBERT (from scratch) + style predictor against the frozen VQ
$PT train predictor --data datasets/synth --out "$RUNS/predictor" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor.toml
# 4. ship it: fp16, inference-only weights
.venv/bin/python scripts/ship_model.py "$RUNS/predictor/best.pt" probtalk/assets/default_model.pt
