"""Building blocks shared by the motion VQ-VAE and the style predictor.

Every block takes a ``mask`` (True = valid frame) and keeps padded frames at
zero, so that a padded batch gives exactly the per-item results.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Boolean mask [B, T] (True = valid) from lengths [B]."""
    max_len = int(lengths.max().item()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def downsampled_lengths(lengths: torch.Tensor, levels: int) -> torch.Tensor:
    """Lengths after ``levels`` halvings, rounding up: a partial group still gets a latent."""
    out = lengths
    for _ in range(levels):
        out = torch.div(out + 1, 2, rounding_mode="floor")
    return out


def downsample_mask(mask: torch.Tensor, levels: int) -> torch.Tensor:
    """Mask [B, T] at the frame rate -> mask [B, ceil(T / 2**levels)] at the latent rate."""
    lengths = downsampled_lengths(mask.sum(dim=1), levels)
    size = mask.shape[1]
    for _ in range(levels):
        size = (size + 1) // 2
    return lengths_to_mask(lengths, size)


class SinusoidalPosition(nn.Module):
    """Adds fixed sinusoidal positions to [B, T, D] (any length, no learned table to outgrow)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, T, D] -> [B, T, D]."""
        t = torch.arange(x.shape[1], device=x.device, dtype=torch.float32)[:, None]
        freq = torch.exp(
            torch.arange(0, self.dim, 2, device=x.device, dtype=torch.float32) * (-math.log(10000.0) / self.dim)
        )
        pe = torch.zeros(x.shape[1], self.dim, device=x.device)
        pe[:, 0::2] = torch.sin(t * freq)
        pe[:, 1::2] = torch.cos(t * freq[: self.dim // 2])
        return x + pe.to(x.dtype)[None]


class MaskedTransformer(nn.Module):
    """Pre-norm transformer encoder stack with a key-padding mask."""

    def __init__(self, dim: int, layers: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.position = SinusoidalPosition(dim)
        layer = nn.TransformerEncoderLayer(
            dim, heads, ff_dim, dropout=dropout, batch_first=True, norm_first=True, activation="gelu"
        )
        # enable_nested_tensor=False: the nested fast path changes padded outputs and numerics.
        self.stack = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, T, D], mask: [B, T] bool (True = valid) -> [B, T, D] with padded frames zeroed."""
        x = self.position(x)
        x = self.stack(x, src_key_padding_mask=~mask)
        return self.norm(x) * mask[..., None].to(x.dtype)

    def run(self, x: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Layers ``start .. stop - 1`` only (the position added before layer 0, the norm after the last),
        so a caller can change the sequence between two parts; ``run(x, m, 0, k)`` then ``run(y, m, k)``
        is :meth:`forward` when nothing changes in between."""
        layers = self.stack.layers
        stop = len(layers) if stop is None else stop
        if start == 0:
            x = self.position(x)
        pad = torch.zeros(mask.shape, dtype=x.dtype, device=x.device).masked_fill(~mask, float("-inf"))
        for layer in layers[start:stop]:
            x = layer(x, src_key_padding_mask=pad)
        return self.norm(x) * mask[..., None].to(x.dtype) if stop == len(layers) else x


class Downsample(nn.Module):
    """Strided 1-D convolutions halving the time axis ``levels`` times: [B, T, D] -> [B, ceil(T/2**L), D]."""

    def __init__(self, dim: int, levels: int) -> None:
        super().__init__()
        self.levels = levels
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, kernel_size=4, stride=2, padding=1) for _ in range(levels))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, T, D], mask [B, T] -> (x' [B, T', D], mask' [B, T'])."""
        for conv in self.convs:
            x = x * mask[..., None].to(x.dtype)
            if x.shape[1] % 2:  # pad to even so ceil(T/2) outputs come out
                x = nn.functional.pad(x, (0, 0, 0, 1))
            x = self.act(conv(x.transpose(1, 2)).transpose(1, 2))
            mask = downsample_mask(mask, 1)
            x = x[:, : mask.shape[1]]
        return x * mask[..., None].to(x.dtype), mask


class Upsample(nn.Module):
    """Transposed 1-D convolutions doubling the time axis ``levels`` times, cropped to ``mask``'s length."""

    def __init__(self, dim: int, levels: int) -> None:
        super().__init__()
        self.levels = levels
        self.convs = nn.ModuleList(
            nn.ConvTranspose1d(dim, dim, kernel_size=4, stride=2, padding=1) for _ in range(levels)
        )
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, T', D] at the latent rate, mask: [B, T] at the frame rate -> [B, T, D]."""
        masks = [mask]
        for _ in range(self.levels):
            masks.append(downsample_mask(masks[-1], 1))
        for i, conv in enumerate(self.convs):
            coarse, fine = masks[self.levels - i], masks[self.levels - i - 1]
            x = x * coarse[..., None].to(x.dtype)
            x = self.act(conv(x.transpose(1, 2)).transpose(1, 2))[:, : fine.shape[1]]
        return x * mask[..., None].to(x.dtype)
