"""Stage 2: the style predictor, audio features + style -> VQ latents.

Audio features at the motion frame rate are projected, the style embedding is
added to every frame, the sequence is downsampled to the VQ latent rate
(``quant_factor``, the same strided convolutions as the motion encoder) and a
transformer maps it to latents that the frozen stage-1 quantiser and decoder
turn into motion.

Two optional inputs (both off in older checkpoints, whose configs lack them):

* **Phones** (``phone_input``): per-frame phone indices from a transcript
  aligned to the speech (``0`` = unknown / no transcript, ``1 + PHONE_INDEX``
  otherwise). Their embedding is added to the audio features. While training,
  whole clips lose their phones with probability ``phone_dropout``, so the
  model keeps working from audio alone.
* **Noise** (``noise_dim``): one random vector per knot, knots every
  ``1 / noise_rate`` seconds, linearly interpolated to the frame rate and
  projected onto the features. Different noise gives a different valid
  performance (trained with a best-of-K loss); zero noise is the
  deterministic take. With ``noise_after = n`` the noise enters after the
  first n transformer layers: those run once per clip, only the rest once
  per take (several takes cost little more than one).

  With ``performance_habits`` the first of the noise channels, one per named
  habit, hold a single value for the whole take (every knot the same): the
  take's performance. While training on a corpus that records each take's
  habits (``performance/<keyid>.json``: articulation, jaw range, lips shut or
  parted in pauses, brow use, smiles, ...) those channels get the take's
  standard-normal scores, so the model learns what each one does; at run time
  they are drawn standard normal per take like the rest of the noise, and the
  takes differ the way the corpus's retakes differ. Zero is the median
  performance (the deterministic take).

  With ``timing_tracks`` the next channels, one per named track, are trained on each
  take's own timing (``timing/<keyid>.npy``: when its syllables are stressed and how
  much, which gesture rides on them, when smiles come and go) as standard-normal scores
  per knot (``timing_quantiles`` holds the map); at run time they are drawn like the
  rest of the noise, so each take falls with a timing of its own.

  With ``noise_memory`` m > 0 a sampled take draws the channels after the performance
  channels (the free ones, and the timing channels of a model that has them) with
  knot-to-knot memory: each knot is a fixed filter of independent normals
  (:func:`probtalk.runtime.sampling.memory_weights`), still standard normal, correlated
  about m with its neighbours, so a take's drifts last seconds, as a performance's
  energy and expression do. With ``habit_spread`` a sampled take draws each habit that
  many of the corpus's standard deviations wide. Both are sampling settings: training
  draws independent knots and uses the corpus's habit scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from probtalk.models.blocks import Downsample, MaskedTransformer
from probtalk.models.phone_tokens import NUM_PHONE_TOKENS
from probtalk.models.style import Style, StyleEmbedding
from probtalk.options import MAX_PERFORMANCE_SCORE
from probtalk.runtime.sampling import MEMORY_TAPS, check_memory, memory_weights


@dataclass(frozen=True)
class StylePredictorConfig:
    """Stage-2 model dimensions and loss weights.

    Attributes:
        audio_dim: width of the audio features (``AudioEncoder.out_dim``).
        latent_dim: VQ code size D (must match the stage-1 model).
        quant_factor: VQ latent rate = frame rate / 2**quant_factor (must match stage 1).
        num_speakers: trained speakers (plus one learned average speaker).
        hidden: transformer width (paper 256).
        layers: transformer layers (paper 12).
        heads: attention heads.
        ff_dim: feed-forward width.
        dropout: dropout in the transformer.
        speaker_dropout: probability, while training, of replacing the speaker by the average speaker.
        weight_latent: L1 between predicted latents and the stage-1 quantised latents (paper 1).
        weight_expression: L1 on expression 0-49 of the motion decoded by the frozen decoder (paper 0.15).
        weight_jaw: L1 on the jaw pose of that decoded motion (paper 0.1).
        phone_input: add an embedding of per-frame transcript phones to the audio features.
        phone_dropout: probability, while training, of hiding a clip's phones (audio-only).
        noise_dim: width of the per-take noise input (0 = none: takes differ only in sampled codes).
        noise_rate: noise knots per second (interpolated to the frame rate).
        noise_after: transformer layers run before the noise is added (0 = added to the input);
            they run once per clip, the remaining layers once per noise row (take / hypothesis).
        hypotheses: best-of-K training: K noise draws per clip, the loss of the closest one counts.
        performance_habits: habits (names from ``performance/<keyid>.json``) held by the first
            noise channels, one value per take; the remaining channels stay per-knot noise.
        weight_phone: cross-entropy of a per-frame phone classifier on the audio features (training only).
        weight_lip: lip-contact term, mm of lip gap where the ground truth is closed (training only).
        noise_posterior: weight of the KL term of a posterior over the free noise channels (training
            only; 0 = best-of-K). Above 0 each clip is predicted twice, with zero noise and with free
            channels drawn from a posterior that sees the take's motion (a conditional VAE), instead of
            ``hypotheses`` draws; sampling is unchanged (standard-normal noise).
        timing_tracks: timing tracks (names from ``timing/<keyid>.npy``,
            :data:`probtalk.corpus.animator.TIMING_TRACKS`) held by the noise channels after the
            performance channels, one value per knot; training gives them the take's own tracks.
        timing_quantiles: per timing track, the corpus's knot values at 101 evenly spaced quantiles
            (0, 1, ..., 100 %): the map from a track's knot to the standard-normal score the channel
            holds (filled at the start of training; saved so the checkpoint says what its channels mean).
        noise_memory: correlation of neighbouring knots of the channels after the performance channels in
            sampled takes (0 = independent knots; training draws are independent either way). The corpus's
            own performances: about 0.88 between the articulation-energy knots of a take, 2 a second.
        habit_spread: per performance habit, how widely sampled takes draw it, in the corpus's standard
            deviations (empty = 1 for each; the ``variation`` option multiplies it). A model whose takes
            vary a habit's effect less than the corpus's retakes do can be drawn wider (sampling only).
    """

    audio_dim: int = 512
    latent_dim: int = 128
    quant_factor: int = 0
    num_speakers: int = 0
    hidden: int = 256
    layers: int = 12
    heads: int = 4
    ff_dim: int = 512
    dropout: float = 0.1
    speaker_dropout: float = 0.1
    weight_latent: float = 1.0
    weight_expression: float = 0.15
    weight_jaw: float = 0.1
    phone_input: bool = False
    phone_dropout: float = 0.5
    noise_dim: int = 0
    noise_rate: float = 2.0
    noise_after: int = 0
    hypotheses: int = 1
    performance_habits: tuple[str, ...] = ()
    weight_phone: float = 0.0
    weight_lip: float = 0.0
    noise_posterior: float = 0.0
    timing_tracks: tuple[str, ...] = ()
    timing_quantiles: tuple[tuple[float, ...], ...] = ()
    noise_memory: float = 0.0
    habit_spread: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_memory(self.noise_memory)
        if self.habit_spread and (len(self.habit_spread) != len(self.performance_habits)
                                  or not all(0.0 <= s <= MAX_PERFORMANCE_SCORE for s in self.habit_spread)):
            raise ValueError(f"habit_spread {list(self.habit_spread)} must give one width in 0..{MAX_PERFORMANCE_SCORE} "
                             f"per performance habit ({len(self.performance_habits)})")
        habits = self.performance_habits
        if len(habits) > self.noise_dim or len(set(habits)) != len(habits):
            raise ValueError(f"performance_habits {list(habits)} must be distinct and at most "
                             f"noise_dim = {self.noise_dim} (they are noise channels)")
        tracks = self.timing_tracks
        if len(habits) + len(tracks) > self.noise_dim or len(set(tracks)) != len(tracks):
            raise ValueError(f"timing_tracks {list(tracks)} must be distinct and, with the performance habits, at "
                             f"most noise_dim = {self.noise_dim} (they are noise channels)")
        if self.timing_quantiles and len(self.timing_quantiles) != len(tracks):
            raise ValueError(f"timing_quantiles holds {len(self.timing_quantiles)} tracks, timing_tracks {len(tracks)}")


class StylePredictor(nn.Module):
    """Audio features [B, T, A] + :class:`Style` -> latents [B, T', D] at the VQ latent rate."""

    def __init__(self, config: StylePredictorConfig) -> None:
        super().__init__()
        self.config = c = config
        if not 0 <= c.noise_after < max(1, c.layers):
            raise ValueError(f"noise_after must be in 0..{c.layers - 1} (the layers before the noise), got {c.noise_after}")
        self.audio_in = nn.Linear(c.audio_dim, c.hidden)
        self.style = StyleEmbedding(c.num_speakers, c.hidden)
        self.down = Downsample(c.hidden, c.quant_factor)
        self.transformer = MaskedTransformer(c.hidden, c.layers, c.heads, c.ff_dim, c.dropout)
        self.out = nn.Linear(c.hidden, c.latent_dim)
        # Row 0 = no phone (no transcript, or dropped): kept at zero so audio-only input is unchanged.
        self.phone_in = nn.Embedding(NUM_PHONE_TOKENS, c.hidden, padding_idx=0) if c.phone_input else None
        if c.noise_dim > 0:
            self.noise_in = nn.Linear(c.noise_dim, c.hidden, bias=False)
            nn.init.normal_(self.noise_in.weight, std=0.5 / c.noise_dim**0.5)
        else:
            self.noise_in = None

    @property
    def take_channels(self) -> int:
        """Leading noise channels that hold one value per take (the performance), 0 without."""
        return len(self.config.performance_habits) if self.noise_in is not None else 0

    @property
    def habit_spread(self) -> tuple[float, ...]:
        """How widely sampled takes draw each performance channel (1 for each unless the config says)."""
        return tuple(self.config.habit_spread) or (1.0,) * self.take_channels

    def noise_knots(self, num_frames: int, fps: float) -> int:
        """Number of noise knots for ``num_frames`` frames (at least 2)."""
        return max(2, math.ceil(num_frames / fps * self.config.noise_rate) + 1)

    def draw_noise(self, batch: int, num_frames: int, fps: float, generator: torch.Generator | None = None,
                   device: torch.device | str = "cpu", variation: float | None = None) -> torch.Tensor:
        """Standard-normal noise knots [batch, K, noise_dim] for clips of ``num_frames`` frames.

        The first :attr:`take_channels` channels are the same at every knot (one draw per row). With
        ``variation`` (sampling takes; None while training) those are multiplied by it and clipped to
        +-:data:`~probtalk.options.MAX_PERFORMANCE_SCORE` (each habit's ``habit_spread`` too), and
        the others get the knot memory ``noise_memory``, as :mod:`probtalk.runtime.sampling` does.
        """
        shape = (batch, self.noise_knots(num_frames, fps), self.config.noise_dim)
        noise = torch.randn(shape, generator=generator)
        p = self.take_channels
        if variation is not None and self.config.noise_memory and p < shape[2]:
            before = torch.randn((batch, MEMORY_TAPS - 1, shape[2] - p), generator=generator)
            g = torch.cat([before, noise[:, :, p:]], 1)
            a = memory_weights(self.config.noise_memory)
            noise[:, :, p:] = sum(float(a[lag]) * g[:, MEMORY_TAPS - 1 - lag : g.shape[1] - lag] for lag in range(MEMORY_TAPS))
        if p:
            if variation is not None:
                width = float(variation) * torch.tensor(self.habit_spread, dtype=noise.dtype)
                noise[:, :1, :p] = (width * noise[:, :1, :p]).clamp(-MAX_PERFORMANCE_SCORE, MAX_PERFORMANCE_SCORE)
            noise[:, 1:, :p] = noise[:, :1, :p]
        return noise.to(device)

    def forward(
        self,
        features: torch.Tensor,
        mask: torch.Tensor,
        style: Style,
        phones: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict latents.

        Args:
            features: [B, T, A] audio features at the motion frame rate.
            mask: [B, T] bool, True = valid frame.
            style: conditioning with batch B.
            phones: optional [B, T] int64 phone tokens (0 = unknown); ignored without ``phone_input``.
            noise: optional [B * R, K, noise_dim] noise knots spread evenly over the T frames
                (None = zero noise, the deterministic take); ignored without ``noise_dim``.
                R > 1 rows per clip (rows b*R ... b*R + R - 1 belong to clip b) give R takes of
                each clip: the layers before the noise run once per clip.

        Returns:
            latents: [B * R, T', D] (padding zero), latent mask [B * R, T'].
        """
        if self.training and self.config.speaker_dropout > 0:
            drop = torch.rand(style.speaker.shape, device=style.speaker.device) < self.config.speaker_dropout
            style = Style(style.speaker.masked_fill(drop, -1), style.emotion, style.intensity)
        x = self.audio_in(features) + self.style(style)[:, None, :]
        if self.phone_in is not None and phones is not None:
            phones = phones[:, : x.shape[1]].clamp(0, NUM_PHONE_TOKENS - 1)
            if phones.shape[1] < x.shape[1]:
                phones = nn.functional.pad(phones, (0, x.shape[1] - phones.shape[1]))
            if self.training and self.config.phone_dropout > 0:
                keep = torch.rand(phones.shape[0], 1, device=phones.device) >= self.config.phone_dropout
                phones = phones * keep
            x = x + self.phone_in(phones)
        if self.noise_in is None:
            noise = None
        if noise is not None and noise.shape[0] % x.shape[0]:
            raise ValueError(f"noise has {noise.shape[0]} rows, not a multiple of the batch {x.shape[0]}")
        after = self.config.noise_after
        if noise is not None and after == 0:  # at the input, before the downsampling
            x, mask = _rows(noise.shape[0] // x.shape[0], x, mask)
            x = x + self.noise_in(interpolate_knots(noise, x.shape[1]))
        x = x * mask[..., None].to(x.dtype)
        x, lmask = self.down(x, mask)
        if noise is not None and after > 0:  # the first layers once per clip, the rest once per noise row
            x = self.transformer.run(x, lmask, 0, after)
            x, lmask = _rows(noise.shape[0] // x.shape[0], x, lmask)
            x = x + self.noise_in(interpolate_knots(noise, x.shape[1])) * lmask[..., None].to(x.dtype)
            x = self.transformer.run(x, lmask, after)
        else:
            x = self.transformer.run(x, lmask)
        return self.out(x) * lmask[..., None].to(x.dtype), lmask


def _rows(rows: int, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each tensor's batch rows repeated ``rows`` times in place (b -> b, b, ..., b+1, ...)."""
    return tensors if rows == 1 else tuple(t.repeat_interleave(rows, 0) for t in tensors)


def interpolate_knots(knots: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Noise knots [B, K, C] spread evenly over ``num_frames`` -> [B, num_frames, C] (linear)."""
    if knots.shape[1] == 1:
        return knots.expand(-1, num_frames, -1)
    out = nn.functional.interpolate(knots.transpose(1, 2), size=num_frames, mode="linear", align_corners=True)
    return out.transpose(1, 2)
