"""Evaluation: the paper's metrics, lip-sync, emotion recognition and ``evaluate()``."""

from probtalk.eval.compare import Comparison, classifier_for, compare_engines
from probtalk.eval.emotion_classifier import (
    EmotionClassifier,
    EmotionClassifierConfig,
    emotion_accuracy,
    load_emotion_classifier,
    save_emotion_classifier,
    train_emotion_classifier,
)
from probtalk.eval.engines import (
    EVAL_ENGINES,
    engine_generate_fn,
    model_generate_fn,
    resample_motion,
    rules_generate_fn,
    truth_generate_fn,
)
from probtalk.eval.evaluate import EvalReport, GenerateFn, SplitMetrics, compare_reports, evaluate
from probtalk.eval.lipsync import LipSyncCounts, lip_gap, lipsync_counts
from probtalk.eval.metrics import FDD, ce, diversity, fdd, lve, mee, mve
from probtalk.eval.rules import animate_rules

__all__ = [
    "EVAL_ENGINES",
    "Comparison",
    "classifier_for",
    "compare_engines",
    "engine_generate_fn",
    "FDD",
    "EmotionClassifier",
    "EmotionClassifierConfig",
    "EvalReport",
    "GenerateFn",
    "LipSyncCounts",
    "SplitMetrics",
    "animate_rules",
    "ce",
    "compare_reports",
    "diversity",
    "emotion_accuracy",
    "evaluate",
    "fdd",
    "lip_gap",
    "lipsync_counts",
    "load_emotion_classifier",
    "lve",
    "mee",
    "model_generate_fn",
    "mve",
    "resample_motion",
    "rules_generate_fn",
    "save_emotion_classifier",
    "train_emotion_classifier",
    "truth_generate_fn",
]
