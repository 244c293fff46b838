"""A small motion classifier that recognises the emotion of FLAME motion.

It scores whether generated motion shows the requested emotion: trained on
the corpus train split, its accuracy on ground-truth test motion is the
ceiling, and its accuracy on generated motion says how recognisable the
requested emotion is. A 1-D convolution over normalised [T, 53] motion with a
masked mean pool over time, so any length works.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from probtalk.emotions import EMOTIONS, NUM_EMOTIONS
from probtalk.errors import CheckpointError, DatasetError
from probtalk.io import atomic_path
from probtalk.layout import MOTION_DIM

logger = logging.getLogger(__name__)

CLASSIFIER_FORMAT = "probtalk-emotion-classifier"
CLASSIFIER_VERSION = 1


class LabelledMotion(Protocol):
    """Anything with a ``motion`` [T, 53] array and an integer ``emotion`` label (e.g. a dataset Sample)."""

    motion: np.ndarray
    emotion: int


@dataclass(frozen=True)
class EmotionClassifierConfig:
    """Architecture of :class:`EmotionClassifier`."""

    input_dim: int = MOTION_DIM
    hidden: int = 64
    layers: int = 3
    kernel: int = 5
    num_classes: int = NUM_EMOTIONS
    dropout: float = 0.1


class EmotionClassifier(nn.Module):
    """Conv1d stack + masked mean pool + linear head over normalised motion."""

    def __init__(self, config: EmotionClassifierConfig, mean: np.ndarray | None = None, std: np.ndarray | None = None):
        super().__init__()
        self.config = config
        dim = config.input_dim
        self.register_buffer("mean", torch.zeros(dim) if mean is None else torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.ones(dim) if std is None else torch.as_tensor(std, dtype=torch.float32))
        blocks: list[nn.Module] = []
        width = dim
        for _ in range(config.layers):
            blocks += [
                nn.Conv1d(width, config.hidden, config.kernel, padding=config.kernel // 2),
                nn.GELU(),
                nn.Dropout(config.dropout),
            ]
            width = config.hidden
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(config.hidden, config.num_classes)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Classify motion.

        Args:
            motion: [B, T, D] raw (not normalised) motion features.
            mask: optional [B, T] bool, True on valid frames.

        Returns:
            logits: [B, C].
        """
        x = (motion - self.mean) / self.std
        h = self.body(x.transpose(1, 2)).transpose(1, 2)  # [B, T, H]
        if mask is None:
            pooled = h.mean(dim=1)
        else:
            m = mask.to(h.dtype).unsqueeze(-1)
            pooled = (h * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
        return self.head(pooled)

    @torch.no_grad()
    def predict(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Predict the emotion index of each motion.

        Args:
            motions: N arrays [T_i, D] (lengths may differ).

        Returns:
            int64 [N] emotion indices.
        """
        was_training = self.training
        self.eval()
        out = []
        for motion in motions:
            x = torch.as_tensor(np.asarray(motion, dtype=np.float32)).unsqueeze(0)
            if x.ndim != 3 or x.shape[-1] != self.config.input_dim:
                raise ValueError(f"motion must be [T, {self.config.input_dim}], got {list(x.shape[1:])}")
            out.append(int(self(x).argmax(dim=-1)))
        self.train(was_training)
        return np.asarray(out, dtype=np.int64)


def emotion_accuracy(classifier: EmotionClassifier, motions: Sequence[np.ndarray], labels: Sequence[int]) -> float:
    """Fraction of motions whose predicted emotion equals the label.

    Args:
        classifier: a trained classifier.
        motions: N arrays [T_i, 53].
        labels: N emotion indices.

    Returns:
        Accuracy in [0, 1] (NaN for no motions).
    """
    if len(motions) != len(labels):
        raise ValueError(f"{len(motions)} motions but {len(labels)} labels")
    if len(motions) == 0:
        return float("nan")
    pred = classifier.predict(motions)
    return float(np.mean(pred == np.asarray(labels, dtype=np.int64)))


def _normaliser(motions: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    frames = np.concatenate(motions, axis=0).astype(np.float64)
    mean = frames.mean(axis=0)
    std = frames.std(axis=0)
    # Features that never move in training (unused coefficients) would explode when
    # a generator moves them slightly; floor their scale at a fraction of the largest.
    std = np.maximum(std, max(1e-3 * float(std.max()), 1e-6))
    return mean.astype(np.float32), std.astype(np.float32)


def _batch(
    motions: Sequence[np.ndarray], labels: np.ndarray, idx: np.ndarray, crop: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    dim = motions[0].shape[1]
    x = np.zeros((len(idx), crop, dim), np.float32)
    mask = np.zeros((len(idx), crop), bool)
    for row, i in enumerate(idx):
        m = motions[i]
        start = int(rng.integers(0, max(1, len(m) - crop + 1)))
        piece = m[start : start + crop]
        x[row, : len(piece)] = piece
        mask[row, : len(piece)] = True
    return torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(labels[idx])


def train_emotion_classifier(
    dataset: Iterable[LabelledMotion],
    *,
    config: EmotionClassifierConfig | None = None,
    steps: int = 200,
    batch_size: int = 32,
    crop_frames: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> EmotionClassifier:
    """Train an emotion classifier on labelled motion (e.g. ``MotionDataset(root, "train")``).

    Args:
        dataset: items with ``motion`` [T, 53] and integer ``emotion``.
        config: architecture (default :class:`EmotionClassifierConfig`).
        steps: optimiser steps (random crops of ``crop_frames`` frames).
        batch_size: crops per step.
        crop_frames: crop length; shorter sequences are padded and masked.
        lr: AdamW learning rate (cosine-decayed).
        seed: seeds crops, initialisation and dropout.

    Returns:
        The trained classifier in eval mode.

    Raises:
        DatasetError: the dataset is empty or its motion has the wrong width.
    """
    config = config or EmotionClassifierConfig()
    motions: list[np.ndarray] = []
    label_list: list[int] = []
    for item in dataset:  # one pass: dataset items may load audio too
        motions.append(np.asarray(item.motion, dtype=np.float32))
        label_list.append(int(item.emotion))
    labels = np.asarray(label_list, dtype=np.int64)
    if not motions:
        raise DatasetError("cannot train the emotion classifier on an empty dataset; check the train split")
    bad = [m.shape for m in motions if m.ndim != 2 or m.shape[1] != config.input_dim or len(m) == 0]
    if bad:
        raise DatasetError(f"motion must be [T, {config.input_dim}] with T > 0, got {list(bad[0])}")
    if labels.min() < 0 or labels.max() >= config.num_classes:
        raise DatasetError(f"emotion labels must lie in 0..{config.num_classes - 1}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean, std = _normaliser(motions)
    model = EmotionClassifier(config, mean, std)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.integers(0, len(motions), size=min(batch_size, max(len(motions), 1)))
        x, mask, y = _batch(motions, labels, idx, crop_frames, rng)
        loss = loss_fn(model(x, mask), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            logger.info("emotion classifier step %d/%d loss %.4f", step + 1, steps, loss.item())
    logger.info("emotion classifier trained on %d sequences in %.1fs", len(motions), time.perf_counter() - t0)
    return model.eval()


def save_emotion_classifier(classifier: EmotionClassifier, path: str | os.PathLike[str]) -> Path:
    """Write the classifier (config, normaliser, weights, vocabulary) to ``path`` atomically."""
    payload: dict[str, Any] = {
        "format": CLASSIFIER_FORMAT,
        "version": CLASSIFIER_VERSION,
        "config": asdict(classifier.config),
        "emotions": list(EMOTIONS),
        "state_dict": {k: v.detach().cpu() for k, v in classifier.state_dict().items()},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_emotion_classifier(path: str | os.PathLike[str]) -> EmotionClassifier:
    """Load a classifier written by :func:`save_emotion_classifier` (``weights_only=True``).

    Raises:
        CheckpointError: the file is missing, corrupt or not an emotion classifier.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"emotion classifier {path} not found; omit --classifier to train one")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (torch raises many types for corrupt files)
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}); retrain it") from None
    if not isinstance(payload, dict) or payload.get("format") != CLASSIFIER_FORMAT:
        raise CheckpointError(f"{path} is not a probtalk emotion classifier; omit --classifier to train one")
    if payload.get("version") != CLASSIFIER_VERSION or tuple(payload.get("emotions", ())) != EMOTIONS:
        raise CheckpointError(f"{path} was written by another probtalk version; retrain it")
    model = EmotionClassifier(EmotionClassifierConfig(**payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval()
