"""Talker: AudioEncoder + StylePredictor + frozen MotionVQ + Normalizer, end to end.

``Talker.sample`` is the inference entry point used by ``probtalk.api``;
``Talker.loss`` is the stage-2 training objective.
"""

from __future__ import annotations

import torch
from torch import nn

from probtalk.layout import DATASET_FPS, MOTION_DIM
from probtalk.models.audio_encoder import AudioEncoder
from probtalk.models.motion_vq import MotionVQ, masked_l1, reconstruction_losses
from probtalk.models.style import Style, StyleVocabulary
from probtalk.models.style_predictor import StylePredictor
from probtalk.options import DEFAULT_TEMPERATURE, DEFAULT_VARIATION


class Normalizer(nn.Module):
    """Per-feature mean/std of the 53 motion features (buffers, saved in checkpoints)."""

    def __init__(self, mean: torch.Tensor | None = None, std: torch.Tensor | None = None, dim: int = MOTION_DIM) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim) if mean is None else mean.detach().float().clone())
        self.register_buffer("std", torch.ones(dim) if std is None else std.detach().float().clone())

    @classmethod
    def fit(cls, motion: torch.Tensor, mask: torch.Tensor | None = None, min_std: float = 1e-3) -> Normalizer:
        """Statistics of motion [..., T, 53] over valid frames (mask [..., T]); tiny stds are floored."""
        flat = motion.reshape(-1, motion.shape[-1]).double()
        if mask is not None:
            flat = flat[mask.reshape(-1)]
        mean = flat.mean(0)
        std = flat.std(0, unbiased=False).clamp_min(min_std) if len(flat) > 1 else torch.ones_like(mean)
        return cls(mean.float(), std.float(), dim=motion.shape[-1])

    def normalize(self, motion: torch.Tensor) -> torch.Tensor:
        """Raw motion [..., 53] -> normalised."""
        return (motion - self.mean) / self.std

    def denormalize(self, motion: torch.Tensor) -> torch.Tensor:
        """Normalised motion [..., 53] -> raw FLAME expression | jaw."""
        return motion * self.std + self.mean


class Talker(nn.Module):
    """Speech + style -> FLAME motion. The stage-1 ``vq`` stays frozen (eval mode, no gradients)."""

    def __init__(
        self,
        audio_encoder: AudioEncoder,
        predictor: StylePredictor,
        vq: MotionVQ,
        normalizer: Normalizer,
        vocabulary: StyleVocabulary | None = None,
    ) -> None:
        super().__init__()
        if predictor.config.latent_dim != vq.config.latent_dim or predictor.config.quant_factor != vq.config.quant_factor:
            raise ValueError("predictor latent_dim/quant_factor must match the motion VQ's")
        if predictor.config.audio_dim != audio_encoder.out_dim:
            raise ValueError(f"predictor audio_dim {predictor.config.audio_dim} != encoder out_dim {audio_encoder.out_dim}")
        self.audio_encoder = audio_encoder
        self.predictor = predictor
        self.vq = vq
        self.normalizer = normalizer
        self.vocabulary = vocabulary or StyleVocabulary(speakers=tuple(f"speaker{i}" for i in range(predictor.config.num_speakers)))
        for p in self.vq.parameters():
            p.requires_grad_(False)
        self.vq.eval()

    def train(self, mode: bool = True) -> Talker:
        """Set training mode everywhere except the frozen motion VQ."""
        super().train(mode)
        self.vq.eval()
        return self

    @property
    def uses_phones(self) -> bool:
        """Whether the predictor takes per-frame transcript phones."""
        return self.predictor.phone_in is not None

    @property
    def uses_noise(self) -> bool:
        """Whether takes draw a noise input (besides sampling codes)."""
        return self.predictor.noise_in is not None

    def predict_latents(
        self,
        audio: torch.Tensor,
        audio_lengths: torch.Tensor,
        style: Style,
        num_frames: torch.Tensor | None = None,
        fps: float = DATASET_FPS,
        phones: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Audio [B, N] -> (latents [B, T', D], latent mask [B, T'], frame mask [B, T]).

        ``phones`` [B, T] (tokens, 0 = unknown) and ``noise`` [B, K, noise_dim] are
        the predictor's optional inputs (see :class:`StylePredictor`).
        """
        features, mask = self.audio_encoder(audio, audio_lengths, num_frames, fps)
        latents, lmask = self.predictor(features, mask, style, phones, noise)
        return latents, lmask, mask

    def loss(
        self,
        audio: torch.Tensor,
        audio_lengths: torch.Tensor,
        motion: torch.Tensor,
        mask: torch.Tensor,
        style: Style,
        fps: float = DATASET_FPS,
        phones: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Stage-2 loss for raw motion [B, T, 53] with mask [B, T] and its speech [B, N].

        The single-hypothesis objective with zero noise; the training recipe's
        best-of-K, phone and lip-contact terms live in :mod:`probtalk.train.objective`.

        Terms: ``latent`` = L1(predicted latents, stage-1 quantised latents of
        the ground truth), ``expression`` / ``jaw`` = L1 of the motion decoded
        by the frozen decoder from the (straight-through) quantised
        prediction, in normalised units. Weights come from the predictor config.
        """
        c = self.predictor.config
        target = self.normalizer.normalize(motion) * mask[..., None].to(motion.dtype)
        lengths = mask.sum(1)
        with torch.no_grad():
            lmask_gt = self.vq.latent_mask(mask)
            gt_latents = self.vq.quantize(self.vq.encode(target, mask), lmask_gt).quantized
        latents, lmask, _ = self.predict_latents(audio, audio_lengths, style, lengths, fps, phones)
        terms = {"latent": masked_l1(latents, gt_latents, lmask)}
        q = self.vq.quantize(latents, lmask)
        recon = self.vq.decode(q.quantized, mask)
        terms.update(reconstruction_losses(recon, target, mask))
        total = c.weight_latent * terms["latent"] + c.weight_expression * terms["expression"] + c.weight_jaw * terms["jaw"]
        return total, terms

    @torch.no_grad()
    def sample(
        self,
        audio: torch.Tensor,
        audio_lengths: torch.Tensor,
        style: Style,
        num_frames: torch.Tensor | None = None,
        *,
        num_samples: int = 1,
        temperature: float | None = DEFAULT_TEMPERATURE,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        fps: float = DATASET_FPS,
        phones: torch.Tensor | None = None,
        noise_scale: float | None = None,
        variation: float = DEFAULT_VARIATION,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Generate motion takes.

        Args:
            audio: [B, N] 16 kHz speech, zero-padded.
            audio_lengths: [B] valid samples.
            style: batch B (or 1, broadcast to B).
            num_frames: [B] frames per clip (default: audio duration at ``fps``).
            num_samples: takes per clip; the audio is encoded once and repeated.
            temperature: code sampling temperature; None = nearest code (deterministic).
            top_k: sample among the k nearest codes only.
            generator: random source for reproducible takes.
            fps: output frame rate.
            phones: optional [B, T] transcript phone tokens (0 = unknown), used when the model takes them.
            noise_scale: standard deviation of the per-take noise of a model with a noise input;
                default ``min(1, temperature / 0.2)``, and always 0 when ``temperature`` is None,
                so the deterministic take is exactly the same every time.
            variation: how widely the performance channels are drawn (the ``variation`` option of
                :class:`~probtalk.options.AnimateOptions`).

        Returns:
            motion: [B * num_samples, T, 53] raw (denormalised) motion, takes of clip b at rows
                b*num_samples ... b*num_samples + num_samples - 1; padded frames zero.
            mask: [B * num_samples, T] bool.
        """
        b = audio.shape[0]
        if len(style) == 1 and b > 1:
            style = Style(style.speaker.expand(b), style.emotion.expand(b, -1), style.intensity.expand(b))
        if len(style) != b:
            raise ValueError(f"style has batch {len(style)}, audio has {b}; give one style or one per clip")
        style = style.to(audio.device)
        features, mask = self.audio_encoder(audio, audio_lengths, num_frames, fps)
        if phones is not None:
            phones = phones.to(audio.device)
        if noise_scale is None:
            noise_scale = 0.0 if temperature is None else min(1.0, float(temperature) / DEFAULT_TEMPERATURE)
        if self.uses_noise and noise_scale > 0:
            # The audio encoder (and the predictor's layers before the noise) run once per clip,
            # the rest once per take, each take with its own noise.
            n = b * num_samples
            noise = self.predictor.draw_noise(n, features.shape[1], fps, generator, features.device,
                                              variation) * noise_scale
            latents, lmask = self.predictor(features, mask, style, phones, noise)
            mask = mask.repeat_interleave(num_samples, 0)
        else:
            # Without noise, audio encoder and predictor are deterministic given audio and style,
            # so they run once per clip; takes differ only in the sampled codes and their decoding.
            latents, lmask = self.predictor(features, mask, style, phones)
            if num_samples > 1:
                latents = latents.repeat_interleave(num_samples, 0)
                lmask = lmask.repeat_interleave(num_samples, 0)
                mask = mask.repeat_interleave(num_samples, 0)
        q = self.vq.quantize(latents, lmask, temperature=temperature, top_k=top_k, generator=generator)
        motion = self.normalizer.denormalize(self.vq.decode_indices(q.indices, mask))
        return motion * mask[..., None].to(motion.dtype), mask
