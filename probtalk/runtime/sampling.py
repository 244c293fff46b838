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
latent covers ``2**quant_factor`` frames).

Noise (models with a per-take noise input of width C, knots every
``1 / noise_rate`` seconds): knot ``j`` of take ``take`` sits at time
``j / noise_rate`` from the start of the audio; channel ``c`` of it is a
standard normal from two uniforms of the same rule, at positions
``n = 2**62 + 2 * (j * C + c)`` and ``n + 1`` (far above any latent index)::

    u1 = u(seed, take, n);  u2 = u(seed, take, n + 1)
    knot[j, c] = sqrt(-2 * ln(1 - u1)) * cos(2 * pi * u2)      # Box-Muller, double precision

The first P channels of a model with performance channels (``take`` in the
ONNX export's noise metadata, P = 0 without) hold one value per take: for
c < P every knot takes knot 0's value times the ``variation`` option (1 by
default) and the habit's spread ``s[c]`` (``spread`` in the metadata, 1 for
every habit without), clipped to the habits' range,
``knot[j, c] = min(3, max(-3, (variation * s[c]) * knot[0, c]))``. A
performance held by the caller (the ``performance`` option) sets its channels
to the held scores at every frame of every take, unscaled, deterministic takes
(one row) included.

The remaining channels (c >= P) of a model with knot memory ``m > 0`` (``memory``
in the ONNX export's noise metadata, 0 without) remember the knots before: with
``g[j, c]`` the standard normal above (for any integer j, negative ones included),
``L = 32`` taps and weights ``a[l] = m**l / sqrt(sum_{i<L} m**(2 i))``::

    knot[j, c] = a[0] * g[j, c] + a[1] * g[j - 1, c] + ... + a[L - 1] * g[j - L + 1, c]

summed in that order in double precision: still standard normal at every knot, with a
correlation of about ``m`` between neighbouring knots, like the slow drifts of a
performance's energy and expression; a knot still depends only on (seed, take, j).

Frame ``f`` (absolute, counted from the start of the audio) takes
``x = f * noise_rate / fps``, ``j = floor(x)``, ``w = x - j`` and
``noise[f] = scale * ((1 - w) * knot[j] + w * knot[j + 1])`` with
``scale = min(1, temperature / 0.2)``, cast to float32. Deterministic takes
use zero noise. A frame's noise so depends only on (seed, take, frame), never
on windows or stream steps. docs/realtime.md restates both rules.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from probtalk.options import DEFAULT_TEMPERATURE, DEFAULT_VARIATION, MAX_PERFORMANCE_SCORE

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TAKE = np.uint64(0xD1B54A32D192ED03)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
NOISE_POSITION = 2**62  # noise uniforms use positions from here on (code positions stay far below)
NOISE_REFERENCE_TEMPERATURE = DEFAULT_TEMPERATURE  # 0.2: the noise reaches its trained scale there
MEMORY_TAPS = 32  # knots the knot-memory filter reaches back (its weights m**l; 0.88**31 = 0.02)


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


def noise_scale(temperature: float | None) -> float:
    """Standard deviation of a take's noise: 0 for deterministic takes, else ``min(1, temperature / 0.2)``."""
    return 0.0 if temperature is None else min(1.0, float(temperature) / NOISE_REFERENCE_TEMPERATURE)


def memory_weights(memory: float) -> np.ndarray:
    """The knot-memory filter's :data:`MEMORY_TAPS` weights float64 ``a[l] = m**l``, scaled to unit sum of squares."""
    a = float(memory) ** np.arange(MEMORY_TAPS, dtype=np.float64)
    return a / np.sqrt(np.sum(a * a))


def check_memory(memory: float) -> float:
    """``memory`` as a float, or ValueError unless 0 <= memory < 1."""
    m = float(memory)
    if not 0.0 <= m < 1.0:
        raise ValueError(f"noise memory must be in [0, 1) (the correlation of neighbouring knots), got {memory}")
    return m


def _normals(seed: int, take: int, knots: np.ndarray, dim: int) -> np.ndarray:
    """The standard normals ``g`` float64 [len(knots), dim] of knots ``knots`` (Box-Muller of two uniforms)."""
    j = np.asarray(knots, dtype=np.int64)[:, None]
    n = NOISE_POSITION + 2 * (j * int(dim) + np.arange(int(dim), dtype=np.int64)[None, :])
    u1 = uniforms(seed, take, n.ravel()).reshape(n.shape)
    u2 = uniforms(seed, take, (n + 1).ravel()).reshape(n.shape)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def noise_knots(seed: int, take: int, knots: np.ndarray, dim: int, take_channels: int = 0,
                variation: float = DEFAULT_VARIATION, memory: float = 0.0,
                spread: Sequence[float] | None = None) -> np.ndarray:
    """Standard-normal noise knots float64 [len(knots), dim] for absolute knot indices (see the module docstring).

    The first ``take_channels`` channels hold knot 0's values at every knot (the take's performance),
    times ``variation`` and each habit's ``spread`` (None: 1 for each), clipped to
    +-:data:`~probtalk.options.MAX_PERFORMANCE_SCORE`. With ``memory``
    the other channels are the knot-memory filter of the normals at each knot and the 31 before it.
    """
    j = np.asarray(knots, dtype=np.int64)
    if take_channels:
        j = np.concatenate([np.zeros(1, dtype=np.int64), j])  # knot 0 first, for the per-take channels
    if check_memory(memory) and j.size and take_channels < dim:
        # The normals of every knot the filter reaches, drawn once; the knots asked for are among them.
        first = int(j.min()) - MEMORY_TAPS + 1
        g = _normals(seed, take, np.arange(first, int(j.max()) + 1), dim)
        out = g[j - first]
        a = memory_weights(memory)
        filtered = np.zeros((j.size, dim - take_channels))
        for lag in range(MEMORY_TAPS):  # in this order, so that any window gives the same sums
            filtered += a[lag] * g[j - lag - first, take_channels:]
        out[:, take_channels:] = filtered
    else:
        out = _normals(seed, take, j, dim)
    if take_channels:
        width = float(variation) * (np.ones(take_channels) if spread is None else np.asarray(spread, dtype=np.float64))
        habits = np.clip(width * out[:1, :take_channels], -MAX_PERFORMANCE_SCORE, MAX_PERFORMANCE_SCORE)
        out[1:, :take_channels] = habits
        out = out[1:]
    return out


def take_noise(
    seed: int, take: int, first_frame: int, num_frames: int, *, fps: float, rate: float, dim: int, scale: float,
    take_channels: int = 0, variation: float = DEFAULT_VARIATION, memory: float = 0.0,
    spread: Sequence[float] | None = None,
) -> np.ndarray:
    """One take's per-frame noise float32 [num_frames, dim] for absolute frames ``first_frame ...``.

    Args:
        seed: the take sampler's seed.
        take: take index (0-based).
        first_frame: absolute index of the first frame (0 = the start of the audio).
        num_frames: frames wanted.
        fps: motion frame rate.
        rate: noise knots per second.
        dim: noise width C.
        scale: standard deviation (:func:`noise_scale`); 0 gives zeros.
        take_channels: leading channels with one value per take (the performance channels).
        variation: how widely those are drawn (the ``variation`` option; see :func:`noise_knots`).
        memory: the other channels' knot memory (the model's ``noise_memory``; 0 = independent knots).
        spread: each performance channel's width (the model's ``habit_spread``; None = 1 for each).
    """
    if scale == 0.0:
        return np.zeros((int(num_frames), int(dim)), dtype=np.float32)
    x = (int(first_frame) + np.arange(int(num_frames), dtype=np.float64)) * float(rate) / float(fps)
    j = np.floor(x).astype(np.int64)
    w = (x - j)[:, None]
    first = int(j[0]) if j.size else 0
    knots = noise_knots(seed, take, np.arange(first, (int(j[-1]) if j.size else first) + 2), dim, take_channels,
                        variation, memory, spread)
    lo, hi = knots[j - first], knots[j - first + 1]
    return (float(scale) * ((1.0 - w) * lo + w * hi)).astype(np.float32)
