"""Offline sampling over any backend: windows, seeded noise and code choice, decoding, stitching.

Used by the torch model and the ONNX model alike, so both give the same
takes for the same seed (the sampling rule, for codes and noise, is
:mod:`probtalk.runtime.sampling`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.options import DEFAULT_VARIATION
from probtalk.runtime.backend import Backend, StyleInputs
from probtalk.runtime.sampling import noise_scale, select_codes, take_noise
from probtalk.windows import plan_windows, stitch


def frames_for(num_samples: int, fps: float) -> int:
    """Motion frames for ``num_samples`` of 16 kHz audio: the duration at ``fps``, rounded, at least 1."""
    return max(1, int(round(num_samples * fps / AUDIO_SAMPLE_RATE)))


def encoder_inputs(
    backend: Backend,
    first_frame: int,
    num_frames: int,
    *,
    num_samples: int,
    temperature: float | None,
    seed: int,
    phones: np.ndarray | None = None,
    performance: np.ndarray | None = None,
    variation: float = DEFAULT_VARIATION,
) -> dict[str, np.ndarray]:
    """The optional encoder inputs for frames [first_frame, first_frame + num_frames) of a clip.

    Args:
        backend: the model (its ``phone_input`` and ``noise_dim`` say what it takes).
        first_frame: absolute index of the window's first frame.
        num_frames: the window's frames.
        num_samples: takes (one noise row each; a single zero row for deterministic takes).
        temperature: None for deterministic takes (zero noise).
        seed: the sampler's seed.
        phones: int64 phone tokens [T] of the whole clip (None: no transcript); frames past
            its end get 0 (unknown).
        performance: float [take_channels] held values of the performance channels, NaN where
            each take draws its own (None: all drawn); held values are the same in every take,
            deterministic ones included, and are not scaled by the temperature.
        variation: how widely the drawn performance channels are drawn (the ``variation`` option).

    Returns:
        ``{"phones": [1, num_frames]}`` and ``{"noise": [R, num_frames, C]}`` as the model takes them.
    """
    extra: dict[str, np.ndarray] = {}
    if backend.phone_input and phones is not None:
        cut = np.zeros((1, num_frames), dtype=np.int64)
        part = np.asarray(phones, dtype=np.int64)[first_frame : first_frame + num_frames]
        cut[0, : part.size] = part
        extra["phones"] = cut
    if backend.noise_dim:
        scale = noise_scale(temperature)
        rows = num_samples if scale > 0 else 1
        extra["noise"] = np.stack([
            take_noise(seed, k, first_frame, num_frames, fps=backend.fps, rate=backend.noise_rate,
                       dim=backend.noise_dim, scale=scale, take_channels=backend.take_channels, variation=variation,
                       memory=backend.noise_memory, spread=backend.habit_spread)
            for k in range(rows)
        ])
        if performance is not None:
            held = np.flatnonzero(np.isfinite(performance))
            extra["noise"][:, :, held] = np.asarray(performance, np.float32)[held]
    return extra


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
    """Codes int64 [num_samples, T'] for distances [R, T', K] whose first latent sits at ``first_position``.

    Take k uses row k of ``distances`` (its own noise), or row 0 when there is one row.
    """
    positions = first_position + np.arange(distances.shape[1])
    return np.stack(
        [
            select_codes(
                distances[k if distances.shape[0] > 1 else 0], latent_dim=backend.latent_dim,
                temperature=temperature, top_k=top_k, seed=seed, take=k, positions=positions,
            )
            for k in range(num_samples)
        ]
    )


def sample_takes(backend: Backend, wav: np.ndarray, style: StyleInputs, **options: Any) -> list[np.ndarray]:
    """Raw motion [T, 53] per take for 16 kHz speech [N], windowed and cross-faded like long offline audio:
    :func:`sample_takes_with_reference`'s takes, its keyword arguments but ``reference``."""
    return sample_takes_with_reference(backend, wav, style, reference=False, **options)[0]


def sample_takes_with_reference(
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
    phones: np.ndarray | None = None,
    performance: np.ndarray | None = None,
    variation: float = DEFAULT_VARIATION,
    reference: bool = True,
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Raw motion [T, 53] per take for 16 kHz speech [N], windowed and cross-faded like long offline audio,
    and with ``reference`` (and sampled takes) the deterministic take too, from the same pass: one more
    noise row (zero, held performance channels as held) whose codes are the nearest ones. The takes do
    not depend on it (beyond the float rounding of a larger batch).

    Args:
        backend: the model halves (torch or ONNX).
        wav: validated float32 speech [N].
        style: the conditioning.
        num_samples: takes.
        temperature: None for deterministic (nearest-code, zero-noise) takes.
        top_k: sample among the k nearest codes.
        seed: the sampler's seed (take k uses stream k of the counter-based rule, for codes and noise).
        window_seconds: longest stretch encoded at once.
        overlap_seconds: cross-faded overlap between windows.
        phones: per-frame transcript phone tokens int64 [T] (None: audio only; ignored by models without).
        performance: held performance channels (see :func:`encoder_inputs`).
        variation: how widely the takes' performance is drawn (see :func:`encoder_inputs`).
        reference: also return the deterministic take (None when the takes are deterministic already).

    Returns:
        (the takes, the deterministic take or None).
    """
    fps = backend.fps
    reference = reference and temperature is not None
    spf = AUDIO_SAMPLE_RATE / fps
    num_frames = frames_for(wav.size, fps)
    windows = plan_windows(wav.size, num_frames, spf, int(round(window_seconds * fps)), int(round(overlap_seconds * fps)))
    per_take: list[list[np.ndarray]] = [[] for _ in range(num_samples + int(reference))]
    for win in windows:
        extra = encoder_inputs(backend, win.start, win.num_frames, num_samples=num_samples, temperature=temperature,
                               seed=seed, phones=phones, performance=performance, variation=variation)
        if reference and "noise" in extra:
            fixed = encoder_inputs(backend, win.start, win.num_frames, num_samples=1, temperature=None, seed=seed,
                                   performance=performance)["noise"]
            extra["noise"] = np.concatenate([extra["noise"], fixed])
        _, distances = backend.encode(wav[win.sample_start : win.sample_stop], win.num_frames, style, extra)
        first = win.start // backend.frames_per_code
        codes = sample_codes(
            backend, distances[:num_samples] if "noise" in extra else distances, num_samples=num_samples,
            temperature=temperature, top_k=top_k, seed=seed, first_position=first,
        )
        if reference:
            nearest = sample_codes(backend, distances[-1:], num_samples=1, temperature=None, top_k=None, seed=seed,
                                   first_position=first)
            codes = np.concatenate([codes, nearest])
        motion = backend.decode(codes, win.num_frames)
        for k in range(len(per_take)):
            per_take[k].append(motion[k])
    takes = [stitch(windows, parts, num_frames) for parts in per_take]
    return (takes[:num_samples], takes[num_samples]) if reference else (takes, None)
