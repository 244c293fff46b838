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
* **timing channels** (``predictor.timing_tracks``, instead of best-of-K): the noise channels
  after the performance channels are told the take's own timing tracks (``timing/<keyid>.npy``:
  articulation energy, brow gestures by kind, smiles, the emotion's envelope) as standard-normal
  scores at the knots (:func:`timing_scores`); the clip is predicted with them and with zero noise
  (the deterministic take, at a small share). The scores follow the corpus's distribution, so the
  standard-normal noise drawn at run time falls as the corpus's timings do.
* **phone supervision** (``weight_phone``): a linear phone classifier on the audio
  encoder's per-frame features (training only) against the corpus' exact phone timings.
* **lip contact** (``weight_lip``): the upper-to-lower-lip vector is (nearly) linear in
  the motion parameters; a map fitted through the rig turns decoded motion into a lip
  gap in mm, and gaps above the ground truth's are penalised where the truth is closed.

Everything here is training-only: none of it is saved with the model but the timing channels' map
(``predictor.timing_quantiles``, filled from the corpus at the start of a run).
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
ZERO_NOISE_SHARE = 0.1  # with the noise posterior or timing tracks: the deterministic take's share of the loss
TIMING_TIE = 1e-3  # knot values this close to a quantile count as equal to it (a gesture track's many zeros)
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


def hat_weights(num_frames: int, knots: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[K, T]: how much knot j weighs in frame f when ``knots`` knots are spread evenly over ``num_frames``
    frames and linearly interpolated (:func:`~probtalk.models.style_predictor.interpolate_knots`)."""
    pos = torch.arange(num_frames, dtype=dtype) * (knots - 1) / max(1, num_frames - 1)
    return (1.0 - (pos[None, :] - torch.arange(knots, dtype=dtype)[:, None]).abs()).clamp_min(0.0)


def fit_knots(values: torch.Tensor, mask: torch.Tensor, knots: int) -> torch.Tensor:
    """Knots [B, K, C] for per-frame ``values`` [B, T, C]: each knot the hat-weighted mean of the valid
    frames (``mask`` [B, T]) it reaches when interpolated (:func:`hat_weights`), so a knot stays within the
    track's range (a least-squares fit rings around a brief gesture); knots over no valid frame come out 0."""
    hat = hat_weights(values.shape[1], knots, values.dtype).to(values.device)  # [K, T]
    w = hat[None] * mask[:, None, :].to(values.dtype)  # [B, K, T]
    return (w @ values) / w.sum(-1, keepdim=True).clamp_min(1e-6)


def timing_scores(timing: torch.Tensor, mask: torch.Tensor, knots: int,
                  quantiles: tuple[tuple[float, ...], ...]) -> torch.Tensor:
    """The takes' timing tracks [B, T, Q] (valid frames ``mask`` [B, T]) as standard-normal scores at the
    noise knots [B, K, Q]: the knots (:func:`fit_knots`) through the corpus's knot distribution
    (``quantiles``, per track the values at 0, 1, ..., 100 %; a value shared by many knots, such as a
    gesture track's zero, gets a random rank among them: a randomised probability integral transform)."""
    fitted = fit_knots(timing, mask, knots)
    table = torch.as_tensor(quantiles, dtype=fitted.dtype, device=fitted.device)  # [Q, 101]
    n = table.shape[1]
    flat = fitted.permute(2, 0, 1).reshape(table.shape[0], -1)  # [Q, B*K]
    lo = torch.searchsorted(table.contiguous(), (flat - TIMING_TIE).contiguous(), side="left").to(fitted.dtype)
    hi = torch.searchsorted(table.contiguous(), (flat + TIMING_TIE).contiguous(), side="right").to(fitted.dtype)
    # position among the quantiles -> cumulative probability (between two quantiles: linear in the value)
    below = table.gather(1, (hi.long() - 1).clamp(0, n - 1))
    above = table.gather(1, hi.long().clamp(0, n - 1))
    frac = ((flat - below) / (above - below).clamp_min(1e-9)).clamp(0.0, 1.0)
    # the value is (within TIMING_TIE) one of the quantiles: a random place in their run, so that a gesture
    # track's many zeros fill the lower scores the way standard-normal draws at run time do
    tied = lo < hi
    step = torch.where(tied, lo + torch.rand_like(flat) * (hi - 1.0 - lo), hi - 1.0 + frac)
    prob = (step / (n - 1)).clamp(0.5 / n, 1.0 - 0.5 / n)
    scores = torch.special.ndtri(prob)
    return scores.reshape(table.shape[0], fitted.shape[0], knots).permute(1, 2, 0)


def timing_quantiles(tracks: list[np.ndarray], knots_per_second: float, fps: float) -> tuple[tuple[float, ...], ...]:
    """Per track, the knot values (:func:`fit_knots`, each clip whole) at 0, 1, ..., 100 % over ``tracks``
    (float [T, Q] per clip), rounded to 5 decimals."""
    fitted = []
    for clip in tracks:
        t = int(clip.shape[0])
        knots = max(2, int(np.ceil(t / fps * knots_per_second)) + 1)
        values = torch.as_tensor(np.asarray(clip, np.float32))[None]
        fitted.append(fit_knots(values, torch.ones(1, t, dtype=torch.bool), knots)[0].numpy())
    every = np.concatenate(fitted, 0)  # [N, Q]
    table = np.quantile(every, np.linspace(0.0, 1.0, 101), axis=0).T
    return tuple(tuple(round(float(v), 5) for v in row) for row in table)


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
        hat = hat_weights(features.shape[1], knots, h.dtype).to(h.device)[:, :t]
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
        self.timing: list[int] = []
        if c.timing_tracks and talker.uses_noise:
            from probtalk.corpus.animator import TIMING_TRACKS

            if self.posterior is not None:
                raise ValueError("predictor.timing_tracks and predictor.noise_posterior both explain the free noise "
                                 "channels; set one of them")
            if len(c.timing_quantiles) != len(c.timing_tracks):
                raise ValueError("predictor.timing_quantiles is not filled; train_predictor fills it from the corpus")
            self.timing = [TIMING_TRACKS.index(name) for name in c.timing_tracks]

    def forward(self, audio: torch.Tensor, audio_lengths: torch.Tensor, motion: torch.Tensor, mask: torch.Tensor,
                speaker: torch.Tensor, emotion: torch.Tensor, intensity: torch.Tensor,
                phones: torch.Tensor | None = None,
                performance: list[dict[str, float] | None] | None = None,
                timing: torch.Tensor | None = None,
                timed: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted loss and its terms for a batch.

        Raw motion [B, T, 53], phone tokens [B, T] or None, per clip the take's habit scores
        (:attr:`probtalk.data.dataset.Sample.performance`) or None, the takes' timing tracks
        [B, T, 7] (:attr:`probtalk.data.dataset.Batch.timing`) and which clips have them [B], or None.
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
        paired = self.posterior is not None or bool(self.timing)  # one drawn take and the deterministic one
        k = (2 if paired else max(1, c.hypotheses)) if t.uses_noise else 1
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
            if self.timing and timing is not None and timed is not None and bool(timed.any()):
                # row 1: the take's own timing, as standard-normal scores at the knots
                q = len(self.timing)
                tracks = timing[..., self.timing][:, : features.shape[1]]
                tracks = nn.functional.pad(tracks, (0, 0, 0, features.shape[1] - tracks.shape[1]))
                z = timing_scores(tracks.float(), fmask[:, : tracks.shape[1]], rows.shape[2], c.timing_quantiles)
                rows[timed, 1, :, p : p + q] = z[timed].to(noise)
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
        if paired:  # the posterior's draw (or the take's own timing) counts; the deterministic take a share
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
