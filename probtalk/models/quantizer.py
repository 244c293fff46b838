"""Vector quantiser with EMA codebook updates and dead-code restart.

Sampling options (temperature, top-k, generator) are call arguments, never
module state: the same module serves deterministic and stochastic decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Quantized:
    """Result of :meth:`VectorQuantizer.forward`.

    Attributes:
        quantized: [B, T', D] code vectors (straight-through gradient to the input latents).
        indices: [B, T'] int64 code indices (padded positions are 0).
        loss: scalar commitment loss over valid positions.
        perplexity: scalar, exp(entropy) of the code usage in this batch (1 = collapse, K = uniform).
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    perplexity: torch.Tensor


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


class VectorQuantizer(nn.Module):
    """Codebook of ``num_codes`` vectors of size ``dim``, learnt by exponential moving averages.

    EMA updates (rather than a codebook loss) keep codes close to the encoder
    outputs that pick them; codes unused for a while are restarted on random
    encoder outputs of the current batch, so the whole codebook stays in use.
    Under ``torch.distributed`` the statistics are all-reduced so every rank
    holds the same codebook.
    """

    def __init__(
        self,
        num_codes: int,
        dim: int,
        commitment: float = 0.25,
        decay: float = 0.99,
        dead_threshold: float = 1e-3,
    ) -> None:
        super().__init__()
        self.num_codes, self.dim = num_codes, dim
        self.commitment, self.decay, self.dead_threshold = commitment, decay, dead_threshold
        embed = torch.randn(num_codes, dim) / dim**0.5
        self.register_buffer("codebook", embed)
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", embed.clone())
        # 0 until the first training batch replaces the random codebook by encoder outputs
        # (data-dependent init: far fewer dead codes than a random start).
        self.register_buffer("initialized", torch.zeros((), dtype=torch.long))

    def distances(self, latents: torch.Tensor) -> torch.Tensor:
        """Squared L2 distances [B, T', K] from latents [B, T', D] to every code."""
        flat = latents.reshape(-1, self.dim).float()
        code = self.codebook.float()
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ code.T + code.pow(2).sum(1)[None]
        return d.reshape(*latents.shape[:-1], self.num_codes)

    def select(
        self,
        latents: torch.Tensor,
        temperature: float | None = None,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Pick code indices [B, T'] for latents [B, T', D].

        ``temperature=None`` takes the nearest code. Otherwise codes are drawn
        from ``softmax(-distance / (temperature * D))``, restricted to the
        ``top_k`` nearest when given, using ``generator`` for reproducible draws.
        Dividing the squared distance by the code size D makes the temperature
        a per-dimension scale, so one temperature means the same spread for
        any latent size (with raw distances, 0.2 was effectively argmax).
        """
        dist_ = self.distances(latents)
        if temperature is None:
            return dist_.argmin(dim=-1)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0 or None, got {temperature}")
        logits = -dist_ / (temperature * self.dim)
        if top_k is not None:
            k = max(1, min(int(top_k), self.num_codes))
            kth = logits.topk(k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = logits.softmax(dim=-1).reshape(-1, self.num_codes)
        if generator is not None:
            probs = probs.to(generator.device)
        idx = torch.multinomial(probs, 1, generator=generator)
        return idx.to(latents.device).reshape(latents.shape[:-1])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors [B, T', D] for indices [B, T']."""
        return nn.functional.embedding(indices, self.codebook)

    def forward(
        self,
        latents: torch.Tensor,
        mask: torch.Tensor | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Quantized:
        """Quantise latents [B, T', D] (mask [B, T'] True = valid); EMA-update the codebook when training."""
        if mask is None:
            mask = torch.ones(latents.shape[:-1], dtype=torch.bool, device=latents.device)
        learning = self.training and torch.is_grad_enabled()
        if learning and not bool(self.initialized):
            self._init_from(latents.detach(), mask)
        indices = self.select(latents, temperature, top_k, generator) * mask
        quantized = self.lookup(indices).to(latents.dtype)
        valid = mask[..., None].to(latents.dtype)
        n_valid = valid.sum().clamp_min(1.0)
        loss = self.commitment * ((latents - quantized.detach()).pow(2) * valid).sum() / (n_valid * self.dim)
        onehot = nn.functional.one_hot(indices, self.num_codes).float() * mask[..., None].float()
        counts = onehot.reshape(-1, self.num_codes).sum(0)
        if learning:
            self._ema_update(latents.detach().float(), onehot, counts, mask)
        probs = counts / counts.sum().clamp_min(1.0)
        perplexity = torch.exp(-(probs * (probs + 1e-10).log()).sum())
        quantized = latents + (quantized - latents).detach()  # straight-through estimator
        return Quantized(quantized * valid, indices, loss, perplexity)

    @torch.no_grad()
    def _init_from(self, latents: torch.Tensor, mask: torch.Tensor) -> None:
        candidates = latents.reshape(-1, self.dim).float()[mask.reshape(-1)]
        if len(candidates) == 0:
            return
        pick = torch.randint(len(candidates), (self.num_codes,), device=latents.device)
        new = candidates[pick] + 1e-3 * torch.randn(self.num_codes, self.dim, device=latents.device)
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(new, src=0)
        self.codebook.copy_(new)
        self.ema_sum.copy_(new)
        self.ema_count.fill_(1.0)
        self.initialized.fill_(1)

    @torch.no_grad()
    def _ema_update(self, latents: torch.Tensor, onehot: torch.Tensor, counts: torch.Tensor, mask: torch.Tensor) -> None:
        flat = latents.reshape(-1, self.dim)
        sums = onehot.reshape(-1, self.num_codes).T @ flat
        counts, sums = _all_reduce(counts.clone()), _all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum()
        count = (self.ema_count + 1e-5) / (n + self.num_codes * 1e-5) * n  # Laplace smoothing
        self.codebook.copy_(self.ema_sum / count[:, None])
        dead = self.ema_count < self.dead_threshold
        if dead.any():
            candidates = flat[mask.reshape(-1)]
            if len(candidates) == 0:  # keep every rank in the broadcast below
                candidates = self.codebook.float()
            pick = torch.randint(len(candidates), (int(dead.sum()),), device=flat.device)
            new = candidates[pick]
            # Every rank must restart the same codes with the same vectors: take rank 0's.
            if dist.is_available() and dist.is_initialized():
                dist.broadcast(new, src=0)
            self.codebook[dead] = new
            self.ema_sum[dead] = new
            self.ema_count[dead] = 1.0
