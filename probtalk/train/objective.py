"""The stage-2 training objective: best-of-K hypotheses or a noise posterior, phone supervision and lip contact.

On top of :meth:`Talker.loss` (latent L1 to the stage-1 codes, left out with ``weight_latent = 0``;
expression/jaw L1 of the decoded motion), :class:`StageTwoObjective` adds what the lip-sync and retake issues need:

* **best-of-K** (``predictor.hypotheses = K``): each clip is predicted with K noise
  draws (the first one zero: the deterministic take); the clip's loss is that of its
  closest hypothesis plus a small share of the mean (so every noise stays trained).
  With one-to-many data (several performances per utterance) different noises learn
  different valid performances, which is what the closest-of-N error (CE) rewards.
* **performance** (``predictor.performance_habits``): the first noise channels hold the
  take's habits; for clips whose corpus records them every hypothesis gets the clip's
  scores there (the other channels still differ), for the rest they are drawn.
* **noise posterior** (``predictor.noise_posterior = beta``, instead of best-of-K): a
  conditional VAE over the free noise channels. A small network sees the take's motion and
  the audio features and proposes a Gaussian for each noise knot; the clip is predicted with
  one draw from it (and once with zero noise, the deterministic take, at a small share), and
  ``beta`` times its KL divergence from the standard normal keeps the proposals near what
  sampling draws. Where best-of-K trains only the noise that lands closest, every timing in
  the corpus (which syllables a take stresses, when its gestures fall) gets a noise that
  explains it, so standard-normal noise at run time covers them.
* **phone supervision** (``weight_phone``): a linear phone classifier on the audio
  encoder's per-frame features (training only) against the corpus' exact phone timings.
* **lip contact** (``weight_lip``): the upper-to-lower-lip vector is (nearly) linear in
  the motion parameters; a map fitted through the rig turns decoded motion into a lip
  gap in mm, and gaps above the ground truth's are penalised where the truth is closed.

Everything here is training-only: none of it is saved with the model.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from probtalk.layout import DATASET_FPS, MOTION_EXPRESSION, MOTION_JAW
from probtalk.models.phone_tokens import NUM_PHONE_TOKENS
from probtalk.models.style import Style
from probtalk.models.talker import Talker

log = logging.getLogger(__name__)

WTA_MEAN_SHARE = 0.05  # relaxed winner-takes-all: the mean over hypotheses keeps every noise trained
ZERO_NOISE_SHARE = 0.1  # with the noise posterior: the deterministic take's (zero noise) share of the loss
POSTERIOR_HIDDEN = 128
POSTERIOR_GAIN = 10.0  # the posterior's output layer learns this much faster than the lr (it starts at zero)
CLOSED_MM = 2.0  # the lip-sync metric's closure threshold
LIP_MARGIN_MM = 0.3  # gaps within this much of the truth's are not penalised
LIP_CAP_MM = 10.0  # per-frame cap: one wild frame cannot dominate the batch


def fit_lip_map(motion: np.ndarray, rig: Any, eps: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Linear map of raw motion [N, 53] to the upper-minus-lower lip vector in mm, from the rig itself.

    The map is the rig's Jacobian at the mean of ``motion``'s nearly closed frames (central
    differences through :class:`FlameLayer`): exact for the expression coefficients (FLAME is
    linear in them) and linearised for the jaw around a closed mouth, where the contact term
    acts. Unlike a regression on the data it stays right for motion off the data (a model's
    early predictions), where a least-squares fit can put huge weights on features that barely
    vary in the corpus.

    Returns (W [53, 3], c [3]) with ``lip_vector ~= motion @ W + c``.
    """
    from probtalk.flame.layer import FlameLayer

    layer = FlameLayer(rig)
    up, low = rig.keypoints["upper_lip"], rig.keypoints["lower_lip"]

    def lip_vector(m: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            v = layer(expression=m[:, MOTION_EXPRESSION], jaw_pose=m[:, MOTION_JAW]).double()
        return (v[:, up] - v[:, low]) * 1000.0

    m = torch.as_tensor(np.asarray(motion, np.float32))
    gaps = lip_vector(m).norm(dim=-1)
    near = gaps < 4.0
    m0 = (m[near] if int(near.sum()) >= 10 else m).mean(0)
    dim = m.shape[1]
    steps = torch.eye(dim) * eps
    jac = (lip_vector(m0 + steps) - lip_vector(m0 - steps)) / (2 * eps)  # [53, 3]
    c = lip_vector(m0[None])[0] - m0.double() @ jac
    approx = (m.double() @ jac + c).norm(dim=-1)
    err = (approx - gaps)[gaps < 4.0]
    log.info("lip map: Jacobian at %d closed frames; gap RMS error %.3f mm where closed",
             int(near.sum()), float(err.pow(2).mean().sqrt()) if len(err) else float("nan"))
    return jac.float().numpy(), c.float().numpy()


class LipContact(nn.Module):
    """Lip-contact penalty per clip from the fitted map: mm of gap above the truth's where the truth is closed."""

    def __init__(self, normalizer: Any, lip_map: tuple[np.ndarray, np.ndarray]) -> None:
        super().__init__()
        self.normalizer = normalizer
        self.register_buffer("lip_w", torch.as_tensor(lip_map[0], dtype=torch.float32))
        self.register_buffer("lip_b", torch.as_tensor(lip_map[1], dtype=torch.float32))

    def gap_mm(self, normalized: torch.Tensor) -> torch.Tensor:
        """Lip gap in mm of normalised motion [..., 53]."""
        return (self.normalizer.denormalize(normalized) @ self.lip_w + self.lip_b).norm(dim=-1)

    def forward(self, recon: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised motion [B, T, 53] x2, mask [B, T] -> [B] mean excess gap (mm) over closed frames."""
        gap, gt_gap = self.gap_mm(recon), self.gap_mm(target)
        closed = (gt_gap < CLOSED_MM) & mask
        excess = torch.relu(gap - gt_gap - LIP_MARGIN_MM).clamp(max=LIP_CAP_MM) * closed
        return excess.sum(1) / closed.sum(1).clamp_min(1)


def _per_clip_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per clip: [B, T, F] x2, mask [B, T] -> [B]."""
    valid = mask[..., None].to(pred.dtype)
    return ((pred - target).abs() * valid).sum((1, 2)) / (valid.sum((1, 2)) * pred.shape[-1]).clamp_min(1.0)


def performance_scores(performance: list[dict[str, float] | None] | None, habits: tuple[str, ...],
                       batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The clips' scores of ``habits`` [B, P] and whether each clip has all of them [B] (bool)."""
    scores = torch.zeros(batch, len(habits))
    known = torch.zeros(batch, dtype=torch.bool)
    if not habits or performance is None:
        return scores, known
    for i, perf in enumerate(performance):
        if perf is not None and all(h in perf for h in habits):
            scores[i] = torch.tensor([float(perf[h]) for h in habits])
            known[i] = True
    return scores, known


class NoisePosterior(nn.Module):
    """q(free noise knots | the take's motion, audio features): a Gaussian per knot and free channel.

    Dilated 1-D convolutions over the normalised motion and the (detached) audio features, pooled
    onto the knots with the hat weights :func:`~probtalk.models.style_predictor.interpolate_knots`
    spreads them back with. The output layer starts at zero: the first proposals are the standard
    normal the noise was drawn from before.
    """

    def __init__(self, motion_dim: int, audio_dim: int, channels: int, hidden: int = POSTERIOR_HIDDEN) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = motion_dim + audio_dim
        for dilation in (1, 2, 4, 8):
            layers += [nn.Conv1d(width, hidden, 5, padding=2 * dilation, dilation=dilation), nn.GELU()]
            width = hidden
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, 2 * channels)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, motion: torch.Tensor, features: torch.Tensor, mask: torch.Tensor,
                knots: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised motion [B, T, M], features [B, T, A], mask [B, T] -> mean, log-variance [B, K, C]
        and the knots that touch a valid frame [B, K] (bool)."""
        t = min(motion.shape[1], features.shape[1], mask.shape[1])
        valid = mask[:, :t, None].to(motion.dtype)
        x = torch.cat([motion[:, :t], features[:, :t].detach()], -1) * valid
        h = self.net(x.transpose(1, 2)).transpose(1, 2) * valid  # [B, T, H]
        # Hat weights of knot j over frame f (knots spread evenly over the padded length, as interpolate_knots).
        pos = torch.arange(features.shape[1], device=h.device, dtype=h.dtype)[:t] * (knots - 1) / max(1, features.shape[1] - 1)
        hat = (1.0 - (pos[None, :] - torch.arange(knots, device=h.device, dtype=h.dtype)[:, None]).abs()).clamp_min(0.0)
        weight = hat[None] * valid[..., 0][:, None, :]  # [B, K, T]
        total = weight.sum(-1, keepdim=True)
        pooled = (weight @ h) / total.clamp_min(1e-6)
        mean, logvar = (POSTERIOR_GAIN * self.head(pooled)).chunk(2, dim=-1)
        return mean, logvar.clamp(-8.0, 4.0), total[..., 0] > 0


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean KL divergence (nats per knot and channel) of N(mean, exp(logvar)) from N(0, 1) over ``valid`` knots [B, K]."""
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
    v = valid[..., None].to(kl.dtype)
    return (kl * v).sum() / (v.sum() * kl.shape[-1]).clamp_min(1.0)


class StageTwoObjective(nn.Module):
    """Stage-2 loss around a :class:`Talker` (the module the trainer optimises).

    Args:
        talker: the model being trained (its stage-1 VQ frozen).
        lip_map: (W [53, 3], c [3]) from :func:`fit_lip_map`, or None to leave the contact term out.
        fps: motion frame rate.
    """

    def __init__(self, talker: Talker, lip_map: tuple[np.ndarray, np.ndarray] | None = None,
                 fps: float = DATASET_FPS) -> None:
        super().__init__()
        self.talker, self.fps = talker, fps
        c = talker.predictor.config
        self.phone_head = nn.Linear(talker.audio_encoder.out_dim, NUM_PHONE_TOKENS) if c.weight_phone > 0 else None
        self.lip = LipContact(talker.normalizer, lip_map) if lip_map is not None and c.weight_lip > 0 else None
        free = c.noise_dim - len(c.performance_habits) if talker.uses_noise else 0
        self.posterior = (NoisePosterior(talker.vq.config.motion_dim, talker.audio_encoder.out_dim, free)
                          if c.noise_posterior > 0 and free > 0 else None)

    def forward(self, audio: torch.Tensor, audio_lengths: torch.Tensor, motion: torch.Tensor, mask: torch.Tensor,
                speaker: torch.Tensor, emotion: torch.Tensor, intensity: torch.Tensor,
                phones: torch.Tensor | None = None,
                performance: list[dict[str, float] | None] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted loss and its terms for a batch.

        Raw motion [B, T, 53], phone tokens [B, T] or None, per clip the take's habit scores
        (:attr:`probtalk.data.dataset.Sample.performance`) or None.
        """
        t = self.talker
        c = t.predictor.config
        style = Style.from_indices(speaker, emotion, intensity)
        target = t.normalizer.normalize(motion) * mask[..., None].to(motion.dtype)
        lengths = mask.sum(1)
        gt_latents = None
        if c.weight_latent > 0:  # the stage-1 encoder's codes of the truth (without it, only the decoded motion counts)
            with torch.no_grad():
                gt_latents = t.vq.quantize(t.vq.encode(target, mask), t.vq.latent_mask(mask)).quantized
        features, fmask = t.audio_encoder(audio, audio_lengths, lengths, self.fps)
        terms: dict[str, torch.Tensor] = {}
        total = features.new_zeros(())
        if self.phone_head is not None and phones is not None and bool((phones > 0).any()):
            logits = self.phone_head(features)
            labels = phones[:, : logits.shape[1]].masked_fill(~fmask[:, : phones.shape[1]], 0)
            terms["phone"] = nn.functional.cross_entropy(logits[:, : labels.shape[1]].reshape(-1, logits.shape[-1]),
                                                         labels.reshape(-1), ignore_index=0)
            total = total + c.weight_phone * terms["phone"]
        k = (2 if self.posterior is not None else max(1, c.hypotheses)) if t.uses_noise else 1
        b = features.shape[0]
        rep = (lambda x: x.repeat_interleave(k, 0)) if k > 1 else (lambda x: x)
        noise = None
        if t.uses_noise:
            noise = t.predictor.draw_noise(b * k, features.shape[1], self.fps, None, features.device)
            rows = noise.view(b, k, *noise.shape[1:])
            rows[:, 0] = 0.0  # hypothesis 0 is the deterministic take
            scores, known = performance_scores(performance, c.performance_habits, b)
            p = len(c.performance_habits)
            if known.any():  # the clip's own performance, in every hypothesis
                rows[known, :, :, :p] = scores[known][:, None, None, :].to(noise)
            if self.posterior is not None:  # row 1: the free channels drawn from the posterior
                mean, logvar, valid = self.posterior(target, features, fmask, rows.shape[2])
                drawn = mean + (0.5 * logvar).exp() * rows[:, 1, :, p:]
                rows = torch.cat([rows[:, :1], torch.cat([rows[:, 1:, :, :p], drawn[:, None]], -1)], 1)
                noise = rows.reshape(b * k, *rows.shape[2:])
                terms["kl"] = gaussian_kl(mean, logvar, valid)
                total = total + c.noise_posterior * terms["kl"]
        # One row per clip in, k rows (hypotheses) out: the layers before the noise run once per clip.
        latents, lmask = t.predictor(features, fmask, style, phones, noise)
        mask_k, target_k = rep(mask), rep(target)
        per = {} if gt_latents is None else {"latent": _per_clip_l1(latents, rep(gt_latents), lmask)}
        recon = t.vq.decode(t.vq.quantize(latents, lmask).quantized, mask_k)
        per["expression"] = _per_clip_l1(recon[..., MOTION_EXPRESSION], target_k[..., MOTION_EXPRESSION], mask_k)
        per["jaw"] = _per_clip_l1(recon[..., MOTION_JAW], target_k[..., MOTION_JAW], mask_k)
        clip = c.weight_expression * per["expression"] + c.weight_jaw * per["jaw"]
        if gt_latents is not None:
            clip = clip + c.weight_latent * per["latent"]
        if self.lip is not None:
            per["lip"] = self.lip(recon, target_k, mask_k)
            clip = clip + c.weight_lip * per["lip"]
        clip = clip.view(b, k)
        if self.posterior is not None:  # the posterior's draw counts; the deterministic take a share
            best = torch.ones(b, dtype=torch.long, device=clip.device)
            total = total + clip[:, 1].mean() + ZERO_NOISE_SHARE * clip[:, 0].mean()
        else:
            best = clip.argmin(1)
            total = total + clip.min(1).values.mean() + (WTA_MEAN_SHARE * clip.mean() if k > 1 else 0.0)
        pick = best + torch.arange(b, device=best.device) * k
        for name, value in per.items():  # report the winning hypothesis' terms
            terms[name] = value[pick].mean()
        if k > 1:
            terms["spread"] = (clip.max(1).values - clip.min(1).values).mean().detach()
        return total, terms
