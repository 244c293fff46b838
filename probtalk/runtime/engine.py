"""Offline sampling over any backend: windows, seeded code choice, decoding, stitching.

Used by the torch model and the ONNX model alike, so both give the same
takes for the same seed (the sampling rule is :mod:`probtalk.runtime.sampling`).
"""

from __future__ import annotations

import numpy as np

from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.runtime.backend import Backend, StyleInputs
from probtalk.runtime.sampling import select_codes
from probtalk.windows import plan_windows, stitch


def frames_for(num_samples: int, fps: float) -> int:
    """Motion frames for ``num_samples`` of 16 kHz audio: the duration at ``fps``, rounded, at least 1."""
    return max(1, int(round(num_samples * fps / AUDIO_SAMPLE_RATE)))


def sample_codes(
    backend: Backend,
    distances: np.ndarray,
    *,
    num_samples: int,
    temperature: float | None,
    top_k: int | None,
    seed: int,
    first_position: int,
) -> np.ndarray:
    """Codes int64 [num_samples, T'] for distances [T', K] whose first latent sits at ``first_position``."""
    positions = first_position + np.arange(distances.shape[0])
    return np.stack(
        [
            select_codes(
                distances, latent_dim=backend.latent_dim, temperature=temperature, top_k=top_k,
                seed=seed, take=k, positions=positions,
            )
            for k in range(num_samples)
        ]
    )


def sample_takes(
    backend: Backend,
    wav: np.ndarray,
    style: StyleInputs,
    *,
    num_samples: int,
    temperature: float | None,
    top_k: int | None,
    seed: int,
    window_seconds: float,
    overlap_seconds: float,
) -> list[np.ndarray]:
    """Raw motion [T, 53] per take for 16 kHz speech [N], windowed and cross-faded like long offline audio.

    Args:
        backend: the model halves (torch or ONNX).
        wav: validated float32 speech [N].
        style: the conditioning.
        num_samples: takes.
        temperature: None for deterministic (nearest-code) takes.
        top_k: sample among the k nearest codes.
        seed: the sampler's seed (take k uses stream k of the counter-based rule).
        window_seconds: longest stretch encoded at once.
        overlap_seconds: cross-faded overlap between windows.
    """
    fps = backend.fps
    spf = AUDIO_SAMPLE_RATE / fps
    num_frames = frames_for(wav.size, fps)
    windows = plan_windows(wav.size, num_frames, spf, int(round(window_seconds * fps)), int(round(overlap_seconds * fps)))
    per_take: list[list[np.ndarray]] = [[] for _ in range(num_samples)]
    for win in windows:
        _, distances = backend.encode(wav[win.sample_start : win.sample_stop], win.num_frames, style)
        codes = sample_codes(
            backend, distances, num_samples=num_samples, temperature=temperature, top_k=top_k,
            seed=seed, first_position=win.start // backend.frames_per_code,
        )
        motion = backend.decode(codes, win.num_frames)
        for k in range(num_samples):
            per_take[k].append(motion[k])
    return [stitch(windows, takes, num_frames) for takes in per_take]
