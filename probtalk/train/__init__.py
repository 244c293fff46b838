"""Training: one loop for both stages (``train_vq``, ``train_predictor``), configs, augmentation."""

from __future__ import annotations

from probtalk.train.config import AugmentConfig, TrainConfig, load_train_config
from probtalk.train.stages import build_talker, fit_normalizer, train_predictor, train_vq
from probtalk.train.trainer import Trainer

__all__ = ["AugmentConfig", "TrainConfig", "Trainer", "build_talker", "fit_normalizer", "load_train_config",
           "train_predictor", "train_vq"]
