"""The code-sampling rule, in numpy, written so that a game engine can reproduce it bit for bit.

Every take picks one codebook entry per latent position from squared
distances ``d[k]`` (position-wise, K codes of size D):

* deterministic takes: ``argmin_k d[k]`` (the lowest index on ties);
* sampled takes: ``logits = -d / (temperature * D)``; with ``top_k`` only the
  k largest logits are kept (every code whose logit is >= the k-th largest);
  ``p = exp(logits - max(logits))`` over the kept codes, 0 elsewhere;
  ``c = cumsum(p) / sum(p)`` in code-index order; the code is the first index
  with ``c[k] > u`` (K-1 if none), where ``u`` is the uniform number below.

``u`` is counter based, so it depends only on (seed, take, position) and not
on how the audio was chunked or windowed: the same seed gives the same take
offline, streamed, through torch or through ONNX. With ``M = 2**64`` and all
arithmetic on unsigned 64-bit integers (wrapping)::

    x = seed * 0x9E3779B97F4A7C15 + take * 0xD1B54A32D192ED03 + position   (mod M)
    z = x + 0x9E3779B97F4A7C15
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z = z ^ (z >> 31)                      # splitmix64's finaliser
    u = (z >> 11) * 2**-53                 # a double in [0, 1)

``position`` is the latent index counted from the start of the audio (one
latent covers ``2**quant_factor`` frames). docs/realtime.md restates this rule.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TAKE = np.uint64(0xD1B54A32D192ED03)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def uniforms(seed: int, take: int, positions: np.ndarray) -> np.ndarray:
    """Counter-based uniforms in [0, 1): float64 [T] for int positions [T] (see the module docstring)."""
    pos = np.asarray(positions, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        base = np.uint64(int(seed) % 2**64) * _GOLDEN + np.uint64(int(take) % 2**64) * _TAKE
        z = pos + base + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def select_codes(
    distances: np.ndarray,
    *,
    latent_dim: int,
    temperature: float | None,
    top_k: int | None = None,
    seed: int = 0,
    take: int = 0,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """Code indices int64 [T] for squared distances [T, K] following the rule above.

    Args:
        distances: [T, K] squared L2 distances from each latent to every code.
        latent_dim: code size D (the temperature is per dimension).
        temperature: None for the nearest code (deterministic), else > 0.
        top_k: sample among the k nearest codes only.
        seed: the take sampler's seed.
        take: take index (0-based).
        positions: [T] absolute latent positions (default 0..T-1).
    """
    d = np.asarray(distances, dtype=np.float64)
    if temperature is None:
        return d.argmin(axis=-1).astype(np.int64)
    t, k = d.shape
    pos = np.arange(t) if positions is None else np.asarray(positions)
    logits = -d / (float(temperature) * latent_dim)
    if top_k is not None and top_k < k:
        kth = -np.partition(-logits, int(top_k) - 1, axis=-1)[:, int(top_k) - 1 : int(top_k)]
        logits = np.where(logits >= kth, logits, -np.inf)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    c = np.cumsum(p, axis=-1)
    c /= c[:, -1:]
    u = uniforms(seed, take, pos)[:, None]
    return np.minimum((c <= u).sum(axis=-1), k - 1).astype(np.int64)
