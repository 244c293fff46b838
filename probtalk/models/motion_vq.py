"""Stage 1: the motion VQ-VAE (transformer encoder -> codebook -> transformer decoder).

Time resolution: a 1-D convolutional front end halves the frame rate
``quant_factor`` times, so one code covers ``2**quant_factor`` frames (the
paper's ``quant_factor``). The default is 0 (one code per 25 fps frame):
lip closures last 2-4 frames and survive quantisation best at the full rate;
``quant_factor=2`` (one code per 4 frames) gives a 4x shorter code sequence
for faster stage-2 training. A clip whose length is not a multiple of
``2**quant_factor`` gets one extra code for the partial group and the decoder
output is cropped back to exactly ``T`` frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from probtalk.layout import MOTION_DIM, MOTION_EXPRESSION, MOTION_JAW
from probtalk.models.blocks import Downsample, MaskedTransformer, Upsample, downsample_mask
from probtalk.models.quantizer import Quantized, VectorQuantizer

if TYPE_CHECKING:
    from probtalk.models.talker import Normalizer


@dataclass(frozen=True)
class MotionVQConfig:
    """Stage-1 model dimensions and loss weights.

    Attributes:
        motion_dim: features per frame (53: expression 0-49 | jaw pose).
        hidden: transformer width.
        layers: transformer layers in the encoder and (again) in the decoder.
        heads: attention heads.
        ff_dim: feed-forward width.
        dropout: dropout in the transformer layers.
        latent_dim: code vector size D (paper: 128).
        num_codes: codebook size K (paper: 256).
        quant_factor: the code rate is the frame rate / 2**quant_factor.
        commitment: weight of ||z - sg(q)||^2 inside the quantisation loss.
        ema_decay: decay of the EMA codebook statistics.
        weight_expression: L1 reconstruction weight on expression 0-49 (paper 1.5).
        weight_jaw: L1 reconstruction weight on the jaw pose (paper 0.5).
        weight_quant: weight of the quantisation (commitment) loss (paper 0.1).
        weight_lip: weight of a lip-contact term (mm of lip gap above the truth's where the truth
            is closed), given by the trainer as ``lip_fn`` (0 = off; training only).
    """

    motion_dim: int = MOTION_DIM
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    ff_dim: int = 512
    dropout: float = 0.1
    latent_dim: int = 128
    num_codes: int = 256
    quant_factor: int = 0
    commitment: float = 0.25
    ema_decay: float = 0.99
    weight_expression: float = 1.5
    weight_jaw: float = 0.5
    weight_quant: float = 0.1
    weight_lip: float = 0.0


@dataclass
class VQOutput:
    """Result of :meth:`MotionVQ.forward`: reconstruction [B, T, 53] plus the quantiser result."""

    motion: torch.Tensor
    quantized: Quantized
    latent_mask: torch.Tensor


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over valid frames: pred/target [B, T, F], mask [B, T] -> scalar."""
    valid = mask[..., None].to(pred.dtype)
    return ((pred - target).abs() * valid).sum() / (valid.sum() * pred.shape[-1]).clamp_min(1.0)


def reconstruction_losses(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """L1 losses on expression and jaw of normalised motion [B, T, 53] (valid frames only)."""
    return {
        "expression": masked_l1(pred[..., MOTION_EXPRESSION], target[..., MOTION_EXPRESSION], mask),
        "jaw": masked_l1(pred[..., MOTION_JAW], target[..., MOTION_JAW], mask),
    }


class MotionVQ(nn.Module):
    """Motion VQ-VAE: normalised motion [B, T, 53] <-> code indices [B, T'] (T' = ceil(T / 2**quant_factor))."""

    def __init__(self, config: MotionVQConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or MotionVQConfig()
        self.enc_in = nn.Linear(c.motion_dim, c.hidden)
        self.enc_down = Downsample(c.hidden, c.quant_factor)
        self.encoder = MaskedTransformer(c.hidden, c.layers, c.heads, c.ff_dim, c.dropout)
        self.enc_out = nn.Linear(c.hidden, c.latent_dim)
        self.quantizer = VectorQuantizer(c.num_codes, c.latent_dim, commitment=c.commitment, decay=c.ema_decay)
        self.dec_in = nn.Linear(c.latent_dim, c.hidden)
        self.decoder = MaskedTransformer(c.hidden, c.layers, c.heads, c.ff_dim, c.dropout)
        self.dec_up = Upsample(c.hidden, c.quant_factor)
        self.dec_out = nn.Linear(c.hidden, c.motion_dim)

    def latent_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """Frame mask [B, T] -> latent mask [B, T']."""
        return downsample_mask(mask, self.config.quant_factor)

    def encode(self, motion: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised motion [B, T, 53], mask [B, T] (True = valid) -> latents [B, T', D] (padding zero)."""
        x = self.enc_in(motion) * mask[..., None].to(motion.dtype)
        x, lmask = self.enc_down(x, mask)
        x = self.encoder(x, lmask)
        return self.enc_out(x) * lmask[..., None].to(x.dtype)

    def quantize(
        self,
        latents: torch.Tensor,
        mask: torch.Tensor | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Quantized:
        """Latents [B, T', D] (mask [B, T'] at the latent rate) -> :class:`Quantized`.

        ``temperature=None`` picks the nearest code (deterministic); a float
        samples from softmax(-distance / (temperature * D)), D the code size
        (a per-dimension temperature), optionally among the ``top_k`` nearest
        codes, drawing from ``generator``.
        """
        return self.quantizer(latents, mask, temperature=temperature, top_k=top_k, generator=generator)

    def decode(self, quantized: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Code vectors [B, T', D] and the frame mask [B, T] -> normalised motion [B, T, 53] (padding zero)."""
        lmask = self.latent_mask(mask)
        x = self.dec_in(quantized) * lmask[..., None].to(quantized.dtype)
        x = self.decoder(x, lmask)
        x = self.dec_up(x, mask)
        return self.dec_out(x) * mask[..., None].to(x.dtype)

    def decode_indices(self, indices: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Code indices [B, T'] and the frame mask [B, T] -> normalised motion [B, T, 53]."""
        return self.decode(self.quantizer.lookup(indices), mask)

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> VQOutput:
        """Autoencode normalised motion [B, T, 53] with mask [B, T] -> :class:`VQOutput`."""
        lmask = self.latent_mask(mask)
        q = self.quantize(self.encode(motion, mask), lmask)
        return VQOutput(self.decode(q.quantized, mask), q, lmask)

    def reconstruct(self, motion: np.ndarray, normalizer: Normalizer) -> np.ndarray:
        """Raw motion [T, 53] -> its reconstruction (normalise, encode, quantise, decode, denormalise), raw [T, 53]."""
        m = torch.as_tensor(motion, dtype=torch.float32)[None]
        mask = torch.ones(1, m.shape[1], dtype=torch.bool)
        with torch.no_grad():
            return normalizer.denormalize(self(normalizer.normalize(m), mask).motion)[0].numpy()

    def loss(
        self, motion: torch.Tensor, mask: torch.Tensor, lip_fn: Callable[..., torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted training loss and its terms for a batch of normalised motion [B, T, 53].

        ``lip_fn(reconstruction, target, mask) -> [B]`` adds the lip-contact term when ``weight_lip > 0``.
        """
        c = self.config
        out = self(motion, mask)
        terms = reconstruction_losses(out.motion, motion, mask)
        terms["quant"] = out.quantized.loss
        total = c.weight_expression * terms["expression"] + c.weight_jaw * terms["jaw"] + c.weight_quant * terms["quant"]
        if lip_fn is not None and c.weight_lip > 0:
            terms["lip"] = lip_fn(out.motion, motion, mask).mean()
            total = total + c.weight_lip * terms["lip"]
        terms["perplexity"] = out.quantized.perplexity.detach()
        return total, terms
