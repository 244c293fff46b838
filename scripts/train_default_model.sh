#!/usr/bin/env bash
# Reproduce the embedded default model (probtalk/assets/default_model.pt) on CPU.
# Every step is deterministic for its seed; see docs/default_model.md for the figures.
# Stage 2 warm-starts from the previous default model (init_from = "default" in the recipe):
# run it before replacing probtalk/assets/default_model.pt, or point init_from at a copy.
# All three long steps resume where they stopped when run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PT=.venv/bin/probtalk
RUNS=${RUNS:-runs/default}
DATA=${DATA:-datasets/synth2}

# 1. the corpus: 24 training/validation/test voices (2 held out), 5 flite voices held out as an unseen
#    engine, 3 performances per training utterance (~3.3 h of speech, 8346 motion clips)
$PT data synth --out "$DATA" --seed 0
# 2. stage 1: motion VQ-VAE, one code per frame, lip-contact term
$PT train vq --data "$DATA" --out "$RUNS/vq" --config probtalk/assets/recipes/default_vq.toml --resume
# 3. stage 2: audio encoder + style predictor (transcript phones, per-take noise, best-of-3) against the frozen VQ
$PT train predictor --data "$DATA" --out "$RUNS/predictor" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor.toml --resume
# 4. ship it: fp16, inference-only weights
.venv/bin/python scripts/ship_model.py "$RUNS/predictor/best.pt" probtalk/assets/default_model.pt
