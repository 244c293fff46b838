"""Stage 2: the style predictor, audio features + style -> VQ latents.

Audio features at the motion frame rate are projected, the style embedding is
added to every frame, the sequence is downsampled to the VQ latent rate
(``quant_factor``, the same strided convolutions as the motion encoder) and a
transformer maps it to latents that the frozen stage-1 quantiser and decoder
turn into motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from probtalk.models.blocks import Downsample, MaskedTransformer
from probtalk.models.style import Style, StyleEmbedding


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


class StylePredictor(nn.Module):
    """Audio features [B, T, A] + :class:`Style` -> latents [B, T', D] at the VQ latent rate."""

    def __init__(self, config: StylePredictorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.audio_in = nn.Linear(c.audio_dim, c.hidden)
        self.style = StyleEmbedding(c.num_speakers, c.hidden)
        self.down = Downsample(c.hidden, c.quant_factor)
        self.transformer = MaskedTransformer(c.hidden, c.layers, c.heads, c.ff_dim, c.dropout)
        self.out = nn.Linear(c.hidden, c.latent_dim)

    def forward(self, features: torch.Tensor, mask: torch.Tensor, style: Style) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict latents.

        Args:
            features: [B, T, A] audio features at the motion frame rate.
            mask: [B, T] bool, True = valid frame.
            style: conditioning with batch B.

        Returns:
            latents: [B, T', D] (padding zero), latent mask [B, T'].
        """
        if self.training and self.config.speaker_dropout > 0:
            drop = torch.rand(style.speaker.shape, device=style.speaker.device) < self.config.speaker_dropout
            style = Style(style.speaker.masked_fill(drop, -1), style.emotion, style.intensity)
        x = self.audio_in(features) + self.style(style)[:, None, :]
        x = x * mask[..., None].to(x.dtype)
        x, lmask = self.down(x, mask)
        x = self.transformer(x, lmask)
        return self.out(x) * lmask[..., None].to(x.dtype), lmask
