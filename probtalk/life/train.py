"""Train the head motion net on a corpus's ``neck/`` files (torch; minutes on a CPU).

``probtalk train head --data datasets/synth3 --out runs/head`` writes
``runs/head/head.npz`` (plain arrays, read by :meth:`probtalk.life.HeadNet.load`)
and ``runs/head/metrics.json``. The input of each clip is what inference
computes (:func:`probtalk.life.prosody.prosody_features` of its speech, its
emotion and intensity from the keyid); the target is ``neck/<keyid>.npy``
(float32 [1, T, 3] FLAME neck axis-angle at 25 fps). The loss is the mean
squared error of the angles plus that of their frame-to-frame change (so the
net follows the timing of nods, not only the mean pose).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from probtalk.emotions import EMOTIONS
from probtalk.errors import DatasetError
from probtalk.life.head import OUTPUT_SCALE, HeadNet, HeadNetConfig, style_channels
from probtalk.life.prosody import prosody_features
from probtalk.train.frameconv import FrameConv, start_run

logger = logging.getLogger(__name__)


class HeadConv(FrameConv):
    """The torch twin of :class:`probtalk.life.HeadNet` (same layers, padding and masking)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Inputs [B, T, C] and valid frames bool [B, T] -> neck [B, T, 3] in radians (zeros on padding)."""
        return self.raw(x, mask) * OUTPUT_SCALE

    def to_numpy(self, provenance: dict[str, Any] | None = None) -> HeadNet:  # type: ignore[override]
        """The numpy net with these weights."""
        return super().to_numpy(HeadNet, provenance)


@dataclass
class HeadClip:
    """One clip's net input [T, C] and target neck [T, 3]."""

    keyid: str
    inputs: np.ndarray
    neck: np.ndarray


def load_clips(root: str | os.PathLike[str], split: str, fps: float = 25.0) -> list[HeadClip]:
    """Every clip of ``split`` that has a ``neck/`` file.

    Raises:
        DatasetError: no split file, or no clip with a ``neck/`` file (a corpus from before v3).
    """
    from probtalk.audio import load_audio
    from probtalk.data.dataset import parse_keyid

    root = Path(root)
    path = root / "splits" / split
    if not path.is_file():
        raise DatasetError(f"split file {path} not found; give a corpus folder in the dataset layout")
    clips = []
    for keyid in (line.strip() for line in path.read_text(encoding="utf-8").splitlines()):
        neck_path = root / "neck" / f"{keyid}.npy"
        if not keyid or not neck_path.is_file():
            continue
        key = parse_keyid(keyid)
        wav_path = root / "wav" / f"{keyid}.wav"
        if not wav_path.is_file():
            wav_path = root / "wav" / f"{key.utterance}.wav"
        neck = np.load(neck_path, allow_pickle=False).reshape(-1, 3).astype(np.float32)
        feats = prosody_features(load_audio(wav_path), fps, neck.shape[0])
        style = style_channels({EMOTIONS[key.emotion]: 1.0}, float(key.intensity))
        clips.append(HeadClip(keyid, np.concatenate([feats, np.broadcast_to(style, (feats.shape[0], style.size))], 1), neck))
    if not clips:
        raise DatasetError(f"{root} has no neck/<keyid>.npy files for split {split}; build a corpus v3 (probtalk data synth)")
    return clips


def _batch(clips: list[HeadClip]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    t = max(c.neck.shape[0] for c in clips)
    x = torch.zeros(len(clips), t, clips[0].inputs.shape[1])
    y = torch.zeros(len(clips), t, 3)
    mask = torch.zeros(len(clips), t, dtype=torch.bool)
    for i, c in enumerate(clips):
        n = c.neck.shape[0]
        x[i, :n], y[i, :n], mask[i, :n] = torch.from_numpy(c.inputs), torch.from_numpy(c.neck), True
    return x, y, mask


def _loss(net: HeadConv, batch: tuple[torch.Tensor, ...], velocity_weight: float = 10.0) -> torch.Tensor:
    x, y, mask = batch
    pred = net(x, mask)
    m = mask[..., None].float()
    scale = OUTPUT_SCALE**2
    pose = ((pred - y) ** 2 * m).sum() / (m.sum() * 3) / scale
    mv = m[:, 1:] * m[:, :-1]
    vel = (((pred[:, 1:] - pred[:, :-1]) - (y[:, 1:] - y[:, :-1])) ** 2 * mv).sum() / (mv.sum() * 3) / scale
    return pose + velocity_weight * vel


def train_head(
    data: str | os.PathLike[str], out: str | os.PathLike[str], *, steps: int = 1500, batch_size: int = 16,
    lr: float = 3e-3, seed: int = 0, max_clips: int | None = None, velocity_weight: float = 10.0,
) -> tuple[Path, dict[str, Any]]:
    """Train the head net and write ``out/head.npz`` and ``out/metrics.json``.

    Args:
        data: corpus folder with ``neck/`` files (corpus v3).
        out: run folder (created).
        steps: optimiser steps.
        batch_size: clips per step.
        lr: AdamW learning rate (cosine decay to 5 %).
        seed: seed of the initialisation and the batch order.
        max_clips: use at most this many training clips (a quick run).
        velocity_weight: weight of the frame-to-frame change error against the angle error.

    Returns:
        the head file and the validation metrics (loss, correlation of angular speed, std in degrees).
    """
    out, rng = start_run(out, seed)
    started = time.time()
    clips = load_clips(data, "train")
    if max_clips is not None and len(clips) > max_clips:
        clips = [clips[i] for i in sorted(rng.choice(len(clips), max_clips, replace=False))]
    try:
        val = load_clips(data, "val")
    except DatasetError:
        val = clips[: max(1, len(clips) // 10)]
    logger.info("head net: %d training clips, %d validation clips (%.0f s to read)", len(clips), len(val), time.time() - started)
    net = HeadConv(HeadNetConfig())
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(s / steps, 1.0))))
    for step in range(steps):
        pick = rng.choice(len(clips), min(batch_size, len(clips)), replace=False)
        loss = _loss(net, _batch([clips[i] for i in pick]), velocity_weight)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0 or step == steps - 1:
            logger.info("step %d loss %.4f", step, loss.item())
    metrics = evaluate_head(net, val)
    metrics["train_seconds"] = round(time.time() - started, 1)
    provenance = {"data": str(data), "steps": steps, "clips": len(clips), "velocity_weight": velocity_weight,
                  "metrics": metrics}
    head = net.to_numpy(provenance)
    path = out / "head.npz"
    head.save(path)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return path, metrics


@torch.no_grad()
def evaluate_head(net: HeadConv, clips: list[HeadClip]) -> dict[str, Any]:
    """Validation loss, Pearson r of predicted vs true angular speed, and std (degrees) of both."""
    net.eval()
    batch = _batch(clips)
    loss = float(_loss(net, batch))
    pred = net(batch[0], batch[2]).numpy()
    speeds_p, speeds_t, preds, trues = [], [], [], []
    for i, c in enumerate(clips):
        n = c.neck.shape[0]
        p, t = pred[i, :n], c.neck
        speeds_p.append(np.linalg.norm(np.diff(p, axis=0), axis=1))
        speeds_t.append(np.linalg.norm(np.diff(t, axis=0), axis=1))
        preds.append(p)
        trues.append(t)
    sp, st = np.concatenate(speeds_p), np.concatenate(speeds_t)
    r = float(np.corrcoef(sp, st)[0, 1]) if sp.std() > 0 and st.std() > 0 else 0.0
    pose_r = [float(np.corrcoef(np.concatenate(preds)[:, a], np.concatenate(trues)[:, a])[0, 1]) for a in range(3)]
    net.train()
    return {
        "val_loss": round(loss, 5),
        "speed_r": round(r, 3),
        "pose_r_pitch_yaw_roll": [round(v, 3) for v in pose_r],
        "pred_std_deg": [round(float(v), 3) for v in np.degrees(np.concatenate(preds).std(0))],
        "true_std_deg": [round(float(v), 3) for v in np.degrees(np.concatenate(trues).std(0))],
    }
