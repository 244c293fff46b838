"""Models: stage-1 motion VQ-VAE, HuBERT audio encoder, style, stage-2 style predictor, Talker, checkpoints.

Import from the submodules (``probtalk.models.motion_vq`` ...) or from here;
everything here is imported lazily so ``import probtalk.models`` stays cheap.
"""

from __future__ import annotations

from probtalk.lazy import lazy_exports

_EXPORTS = {
    "MotionVQ": "motion_vq",
    "MotionVQConfig": "motion_vq",
    "VQOutput": "motion_vq",
    "Quantized": "quantizer",
    "VectorQuantizer": "quantizer",
    "AudioEncoder": "audio_encoder",
    "AudioEncoderConfig": "audio_encoder",
    "Style": "style",
    "StyleVocabulary": "style",
    "StylePredictor": "style_predictor",
    "StylePredictorConfig": "style_predictor",
    "Talker": "talker",
    "Normalizer": "talker",
    "CheckpointInfo": "checkpoint",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
