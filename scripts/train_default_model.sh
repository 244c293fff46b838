#!/usr/bin/env bash
# Reproduce the embedded default model (probtalk/assets/default_model.pt) on CPU.
# Every step is deterministic for its seed; see docs/default_model.md for the figures and for
# the exact history of the shipped weights (they were trained in resumed pieces across corpus
# versions; this script runs the same recipe in one pass).
# Stage 2 warm-starts from the previous default model (init_from = "default" in the recipe):
# run it before replacing probtalk/assets/default_model.pt, or point init_from at a copy.
# The long steps resume where they stopped when run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PT=.venv/bin/probtalk
RUNS=${RUNS:-runs/default}
DATA=${DATA:-datasets/synth6}

# 1. the corpus (generator version 6): 24 training/validation/test voices (2 held out), 5 flite voices
#    held out as an unseen engine, 3 performances per training utterance that differ like retakes
#    (upper face, emphasis, energy, articulation and jaw, lips shut or parted in pauses; each take's
#    habits recorded in performance/; version 6 varies the upper face, smiles and emotion strength wider),
#    prosody-driven head motion (neck/), ~3.3 h of speech, 8346 motion clips
$PT data synth --out "$DATA" --seed 0
# 2. stage 1: motion VQ-VAE, one code per frame, lip-contact term
$PT train vq --data "$DATA" --out "$RUNS/vq" --config probtalk/assets/recipes/default_vq.toml --resume
# 3. stage 2: audio encoder + style predictor (transcript phones, per-take noise, best-of-3) against the frozen VQ
$PT train predictor --data "$DATA" --out "$RUNS/predictor" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor.toml --resume
# 3b. stage 2b: continue from stage 2 with the encoder's CNN unfrozen and pitch shifts at constant
#     duration (voice height apart from speaking rate)
$PT train predictor --data "$DATA" --out "$RUNS/predictor_refine" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor_refine.toml --set init_from="$RUNS/predictor/best.pt" --resume
# 3c. stage 2c: heavier augmentation (pitch +-5 semitones, reverb, noise at 10-40 dB) for voices and rooms
#     unlike the corpus's
$PT train predictor --data "$DATA" --out "$RUNS/predictor_robust" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor_robust.toml --set init_from="$RUNS/predictor_refine/best.pt" --resume
# 3d. stage 2d: 1500 steps more at a lower learning rate, so the per-take noise learns the retakes' mouth variation
$PT train predictor --data "$DATA" --out "$RUNS/predictor_retakes" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor_retakes.toml --set init_from="$RUNS/predictor_robust/best.pt" --resume
# 3e. stage 2e: best-of-4 hypotheses instead of 3, so the takes spread wider around the truth
$PT train predictor --data "$DATA" --out "$RUNS/predictor_spread" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor_spread.toml --set init_from="$RUNS/predictor_retakes/best.pt" --resume
# 3f. stage 2f: best-of-6 hypotheses on corpus version 5 (wider retakes), so the takes differ more
$PT train predictor --data "$DATA" --out "$RUNS/predictor_takes" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor_takes.toml --set init_from="$RUNS/predictor_spread/best.pt" --resume
# 3g. stage 2g: nine noise channels hold the take's performance (articulation, jaw range, lips shut or parted
#     in pauses, brows, emphasis, smiles, expressiveness), trained on each corpus take's own habit scores
#     (performance/<keyid>.json), best-of-8 for the rest of the noise
$PT train predictor --data "$DATA" --out "$RUNS/predictor_performance" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor_performance.toml --set init_from="$RUNS/predictor_takes/best.pt" --resume
# 3h. stage 2h: 1000 steps more at lr 2e-4 (the shipped weights had a stage 1 of their own on version 6 and a
#     fresh output layer: docs/default_model.md; in one pass on version 6, step 2 already is that stage 1)
$PT train predictor --data "$DATA" --out "$RUNS/predictor_upper" --vq "$RUNS/vq/best.pt" \
    --config probtalk/assets/recipes/default_predictor_upper.toml --set init_from="$RUNS/predictor_performance/best.pt" --resume
# 4. the life stage's head-motion net (prosody + style -> neck), minutes on CPU
$PT train head --data "$DATA" --out "$RUNS/head" --set steps=2000 --set max_clips=3000
# 4b. the lip seal's bilabial detector (log-mel -> p/b/m frames, for audio without a transcript): the corpus
#     plus 600 sentences spoken by a neural voice (Piper, GPL-3, run from its own venv), force-aligned;
#     frames sealed where the shown-frame probability passes 0.4. 10 min of Piper, 20 min of training on CPU
make piper
.venv/bin/python scripts/piper_speech_set.py --out datasets/speech_joe_train --grammar 600 --length-scales 0.8,0.9,1,1.1,1.25
$PT train bilabial --data "$DATA" --out "$RUNS/bilabial" --speech datasets/speech_joe_train --set threshold=0.4
# 4c. the seal's open-vowel detector (the same net on open-vowel frames: the vowels no word heard names), the
#     corpus alone, 3 hearings of each line, 10 min on CPU
$PT train vowel --data "$DATA" --out "$RUNS/vowel" --set steps=2000 --set variants=3 --set positive_weight=1
# 5. ship it: fp16, inference-only weights with the head net and the two detectors, sampled takes drawing their
#    free noise with the knot-to-knot memory of the corpus's articulation energy (0.88) and the upper-face
#    habits twice the corpus's width (the model's takes varied the upper face half as much as the corpus's
#    retakes); then the ONNX copy the fast path loads
.venv/bin/python scripts/ship_model.py "$RUNS/predictor_upper/best.pt" probtalk/assets/default_model.pt \
    --head "$RUNS/head/head.npz" --bilabial "$RUNS/bilabial/bilabial.npz" --vowel "$RUNS/vowel/vowel.npz" \
    --noise-memory 0.88 \
    --habit-spread brow_use=2 --habit-spread brow_tone=2 --habit-spread emphasis_rate=2 \
    --habit-spread smile_bias=2 --habit-spread smile_rate=2 --habit-spread expressiveness=2
.venv/bin/python scripts/export_onnx.py
