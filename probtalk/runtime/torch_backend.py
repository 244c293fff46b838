"""The torch side of the runtime: a backend over a loaded Talker, and the two graphs ONNX export traces.

``EncoderGraph`` and ``DecoderGraph`` restate the Talker's inference path for
one unpadded clip without Python branches on sizes (so a trace holds for every
length): no padding masks (every frame is valid), the odd-length pad of the
downsampling convolutions done always (one zero frame, which the convolution's
own padding would have added anyway), frame crops as index gathers. The parity
tests check them against the Talker itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from probtalk.layout import DATASET_FPS
from probtalk.models.blocks import MaskedTransformer
from probtalk.models.phone_tokens import NUM_PHONE_TOKENS
from probtalk.models.style import Style
from probtalk.models.style_predictor import interpolate_knots
from probtalk.models.talker import Talker
from probtalk.runtime.backend import StyleInputs, latent_count


def _positions(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The sinusoidal table of :class:`~probtalk.models.blocks.SinusoidalPosition` for x [B, T, dim]."""
    t = torch.arange(x.shape[1], device=x.device).float()[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=x.device).float() * (-math.log(10000.0) / dim))
    ang = t * freq
    return torch.stack([torch.sin(ang), torch.cos(ang)], dim=-1).reshape(x.shape[1], dim)


def _attention(attn: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """Self-attention of ``attn`` (batch first, no mask) on x [B, T, D], written out so every size stays symbolic."""
    b, d, h = x.shape[0], attn.embed_dim, attn.num_heads
    q, k, v = nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (y.reshape(b, -1, h, d // h).transpose(1, 2) for y in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // h), dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(b, -1, d)
    return attn.out_proj(out)


def _transformer(block: MaskedTransformer, x: torch.Tensor,
                 noise_at: tuple[int, torch.Tensor] | None = None) -> torch.Tensor:
    """A :class:`MaskedTransformer` (pre-norm, eval mode) over an unpadded sequence, layer by layer.

    ``noise_at = (i, noise [R, T, D])`` adds the noise before layer i, the one row of x
    broadcast to the R rows of the noise (the layers before run once).
    """
    x = x + _positions(x, block.position.dim)[None].to(x.dtype)
    for i, layer in enumerate(block.stack.layers):
        if noise_at is not None and i == noise_at[0]:
            x = x + noise_at[1].to(x.dtype)
        x = x + _attention(layer.self_attn, layer.norm1(x))
        x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
    return block.norm(x)


def _downsample(down: nn.Module, x: torch.Tensor) -> torch.Tensor:
    for conv in down.convs:
        x = nn.functional.pad(x, (0, 0, 0, 1))  # ceil(T / 2) outputs for any T (see module docstring)
        x = down.act(conv(x.transpose(1, 2)).transpose(1, 2))
    return x


class EncoderGraph(nn.Module):
    """Speech + style -> latents and code distances, for one clip at 25 fps.

    Inputs: audio float32 [1, N] (16 kHz), num_frames int64 [] (motion frames
    wanted), speaker int64 [1] (-1 = average), emotion float32 [1, E] (weights
    summing to 1), intensity float32 [1] (0..2), then the model's optional
    inputs (:attr:`input_names`): phones int64 [1, num_frames] (transcript
    phone tokens, 0 = unknown) when the predictor has ``phone_input``, and
    noise float32 [R, num_frames, C] (per-frame noise, one row per take) when
    it has a noise input. Outputs: latents float32 [R, T', D] and squared
    distances to every code float32 [R, T', K], T' = ceil(num_frames /
    2**quant_factor), R = the noise rows (1 without noise): the audio is
    encoded once for all rows.
    """

    BASE_INPUTS = ("audio", "num_frames", "speaker", "emotion", "intensity")

    def __init__(self, talker: Talker) -> None:
        super().__init__()
        self.hubert = talker.audio_encoder.hubert
        self.normalize_audio = talker.audio_encoder.config.normalize_audio
        self.predictor = talker.predictor
        self.phone_input = talker.predictor.phone_in is not None
        self.noise_dim = talker.predictor.config.noise_dim if talker.predictor.noise_in is not None else 0
        self.register_buffer("codebook", talker.vq.quantizer.codebook.detach().float().clone())

    @property
    def input_names(self) -> tuple[str, ...]:
        """The graph's inputs in order: the five base inputs, then "phones" and "noise" when the model has them."""
        return self.BASE_INPUTS + (("phones",) if self.phone_input else ()) + (("noise",) if self.noise_dim else ())

    def forward(
        self,
        audio: torch.Tensor,
        num_frames: torch.Tensor,
        speaker: torch.Tensor,
        emotion: torch.Tensor,
        intensity: torch.Tensor,
        *optional: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if len(optional) != len(self.input_names) - len(self.BASE_INPUTS):
            raise ValueError(f"the encoder graph takes {', '.join(self.input_names)}")
        phones = optional[0] if self.phone_input else None
        noise = optional[-1] if self.noise_dim else None
        x = audio.float()
        if self.normalize_audio:
            mean = x.mean(1, keepdim=True)
            var = (x - mean).pow(2).mean(1, keepdim=True)
            x = (x - mean) / (var + 1e-7).sqrt()
        hidden = self.hubert(x).last_hidden_state  # [1, F, H] at 50 Hz
        # Frame t = feature frames 2t and 2t+1, the last one repeated past the end (align_features).
        idx = torch.arange(2 * num_frames, device=x.device).clamp(max=hidden.shape[1] - 1)
        features = hidden.index_select(1, idx).reshape(1, -1, 2 * hidden.shape[2])
        p = self.predictor
        style = Style(speaker.long(), emotion.float(), intensity.float())
        h = p.audio_in(features) + p.style(style)[:, None, :]
        if phones is not None:
            h = h + p.phone_in(phones.long().clamp(0, NUM_PHONE_TOKENS - 1))
        after = p.config.noise_after
        if noise is not None and after == 0:
            h = h + p.noise_in(noise.float())  # [R, T, H]: one row per take
        h = _downsample(p.down, h)
        noise_at = None
        if noise is not None and after > 0:  # the per-frame noise at the latent rate, as the predictor does
            rows = noise.float() if p.config.quant_factor == 0 else interpolate_knots(noise.float(), h.shape[1])
            noise_at = (after, p.noise_in(rows))
        h = _transformer(p.transformer, h, noise_at)
        latents = p.out(h)
        distances = latents.pow(2).sum(-1, keepdim=True) - 2 * latents @ self.codebook.T + self.codebook.pow(2).sum(1)
        return latents, distances


class DecoderGraph(nn.Module):
    """Code indices -> raw motion: codes int64 [B, T'], num_frames int64 [] -> motion float32 [B, num_frames, 53]."""

    def __init__(self, talker: Talker) -> None:
        super().__init__()
        self.vq = talker.vq
        self.levels = talker.vq.config.quant_factor
        self.register_buffer("mean", talker.normalizer.mean.detach().float().clone())
        self.register_buffer("std", talker.normalizer.std.detach().float().clone())

    def forward(self, codes: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
        vq = self.vq
        x = vq.dec_in(nn.functional.embedding(codes, vq.quantizer.codebook.float()))
        x = _transformer(vq.decoder, x)
        for i, conv in enumerate(vq.dec_up.convs):
            x = vq.dec_up.act(conv(x.transpose(1, 2)).transpose(1, 2))
            # Frames past the valid length at this level are zeroed, as the masked decoder crops them.
            scale = 2 ** (self.levels - i - 1)
            valid = torch.div(num_frames + scale - 1, scale, rounding_mode="floor")
            keep = torch.arange(x.shape[1], device=x.device) < valid
            x = x * keep[None, :, None].to(x.dtype)
        x = x.index_select(1, torch.arange(num_frames, device=x.device))
        return vq.dec_out(x) * self.std + self.mean


class TorchBackend:
    """:class:`~probtalk.runtime.backend.Backend` over a loaded Talker (the reference path)."""

    def __init__(self, talker: Talker, fps: float = DATASET_FPS, device: torch.device | str = "cpu") -> None:
        self.talker = talker.eval()
        self.device = torch.device(device)
        self.fps = float(fps)
        self.frames_per_code = 2 ** talker.vq.config.quant_factor
        self.num_codes = talker.vq.config.num_codes
        self.latent_dim = talker.vq.config.latent_dim
        self.phone_input = talker.uses_phones
        self.noise_dim = talker.predictor.config.noise_dim if talker.uses_noise else 0
        self.noise_rate = float(talker.predictor.config.noise_rate)
        self.noise_memory = float(talker.predictor.config.noise_memory) if talker.uses_noise else 0.0
        self.take_channels = talker.predictor.take_channels if talker.uses_noise else 0
        self.performance_habits = tuple(talker.predictor.config.performance_habits)[: self.take_channels]
        self.habit_spread = talker.predictor.habit_spread[: self.take_channels]

    @torch.inference_mode()
    def encode(
        self, audio: np.ndarray, num_frames: int, style: StyleInputs, extra: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`probtalk.runtime.backend.Backend.encode` (inputs the model lacks are ignored)."""
        t = self.talker
        extra = extra or {}
        wav = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(self.device)
        lengths = torch.tensor([wav.shape[1]], device=self.device)
        frames = torch.tensor([int(num_frames)], device=self.device)
        noise = extra.get("noise") if self.noise_dim else None
        arrays = {k: torch.from_numpy(v).to(self.device) for k, v in style.arrays().items()}
        s = Style(arrays["speaker"], arrays["emotion"], arrays["intensity"])
        # The audio is encoded once; the predictor's layers after its noise input run once per noise row.
        features, mask = t.audio_encoder(wav, lengths, frames, self.fps)
        phones = None
        if self.phone_input and extra.get("phones") is not None:
            phones = torch.from_numpy(np.ascontiguousarray(extra["phones"], dtype=np.int64)).to(self.device)
        knots = None if noise is None else torch.from_numpy(np.ascontiguousarray(noise, dtype=np.float32)).to(self.device)
        # Per-frame noise is the predictor's knots at one knot per frame (its interpolation is then the identity).
        latents, _ = t.predictor(features, mask, s, phones, knots)
        distances = t.vq.quantizer.distances(latents)
        return latents.float().cpu().numpy(), distances.float().cpu().numpy()

    @torch.inference_mode()
    def decode(self, codes: np.ndarray, num_frames: int) -> np.ndarray:
        """See :meth:`probtalk.runtime.backend.Backend.decode`."""
        t = self.talker
        idx = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.int64)).to(self.device)
        if idx.shape[1] != latent_count(num_frames, self.frames_per_code):
            raise ValueError(f"{idx.shape[1]} codes do not cover {num_frames} frames")
        mask = torch.ones(idx.shape[0], int(num_frames), dtype=torch.bool, device=self.device)
        motion = t.normalizer.denormalize(t.vq.decode_indices(idx, mask))
        return motion.float().cpu().numpy()
