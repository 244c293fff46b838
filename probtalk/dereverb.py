"""Late reverberation taken out of speech before the lip seal's ear recognises it.

Pocketsphinx's acoustic model learnt from close-talking speech: in a room the ear hears far fewer
p, b and m (``benchmarks/ear_rooms.py``: at a direct-to-reverberant ratio of 5 dB and a 0.4 s
reverberation time, the ear's marks fall from 80 to 51 % of the p/b/m midpoints of real speech, and
from 87 to 68 % on a neural voice; dereverberated, to 63 and 73 %). Weighted
prediction error dereverberation (Nakatani et al., "Speech dereverberation based on
variance-normalized delayed linear prediction", IEEE TASLP 2010) predicts each short-time Fourier
bin's late reverberation from the same bin :data:`DELAY` to :data:`DELAY` + :data:`TAPS` frames
earlier, with the prediction weighted by the inverse of the speech's own power (re-estimated
:data:`ITERATIONS` times), and subtracts it. The direct sound and early reflections (the first
:data:`DELAY` frames, 16 ms) stay, so dry speech passes almost unchanged.

Numpy only (importing scipy.signal would cost the command's cold start about half a second);
frequency bins are solved in blocks of :data:`BLOCK`, so memory stays small on long clips.
"""

from __future__ import annotations

import numpy as np

from probtalk.layout import AUDIO_SAMPLE_RATE

#: Short-time Fourier transform: window and hop (samples at 16 kHz; 32 ms and 8 ms).
WINDOW = 512
HOP = 128
#: Prediction delay (frames): what arrives in the first DELAY hops after the sound is kept.
DELAY = 2
#: Prediction taps (frames): the reverberation predicted spans DELAY to DELAY + TAPS hops (16-176 ms).
TAPS = 20
#: Re-estimates of the speech power that weights the prediction.
ITERATIONS = 2
#: Frequency bins solved together (bounds memory: BLOCK x TAPS x frames complex numbers).
BLOCK = 16
#: The power below which a bin counts as silent, relative to the clip's loudest bin (keeps silence
#: from dominating the weighted prediction).
POWER_FLOOR = 1e-6


def dereverberate(audio: np.ndarray, sample_rate: int = AUDIO_SAMPLE_RATE) -> np.ndarray:
    """Speech [N] with its late reverberation predicted and subtracted (float32 [N], same rate).

    Audio shorter than the prediction's reach, silent or not finite comes back as it was. numpy's BLAS
    runs on one thread here whatever the caller set (:func:`probtalk.runtime.threads.numpy_blas_one_thread`,
    as inside ``animate()``): its batched products round differently on more threads, and the word ear
    turned that rounding into other words on a few clips, so a clip heard outside ``animate()`` (a
    benchmark, :func:`probtalk.corpus.ear.listen` called directly) was heard differently inside it.
    """
    from probtalk.runtime.threads import numpy_blas_one_thread

    with numpy_blas_one_thread():
        return _dereverberate(audio, sample_rate)


def _dereverberate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32).ravel()
    size = max(16, WINDOW * sample_rate // AUDIO_SAMPLE_RATE)
    hop = max(4, HOP * sample_rate // AUDIO_SAMPLE_RATE)
    if x.size < size * 4 or not np.isfinite(x).all() or not np.abs(x).max() > 0:
        return x.copy()
    spec = _stft(x, size, hop)  # [F, T]
    bins, frames = spec.shape
    if frames <= DELAY + TAPS:
        return x.copy()
    floor = float(np.abs(spec).max()) ** 2 * POWER_FLOOR
    out = np.empty_like(spec)
    eye = np.eye(TAPS, dtype=np.complex64)
    for lo in range(0, bins, BLOCK):
        y = spec[lo : lo + BLOCK]  # [B, T]
        past = np.zeros((y.shape[0], TAPS, frames), np.complex64)  # past[b, k, t] = y[b, t - DELAY - k]
        for k in range(TAPS):
            s = DELAY + k
            past[:, k, s:] = y[:, : frames - s]
        z = y
        for _ in range(ITERATIONS):
            weighted = past / np.maximum(np.abs(z) ** 2, floor)[:, None, :]
            cov = weighted @ past.conj().transpose(0, 2, 1)  # [B, K, K]
            cross = weighted @ y.conj()[:, :, None]  # [B, K, 1]
            load = np.trace(cov, axis1=1, axis2=2).real[:, None, None] * 1e-6 / TAPS + 1e-12
            filt = np.linalg.solve(cov + load * eye, cross)  # [B, K, 1]
            z = y - (filt.conj().transpose(0, 2, 1) @ past)[:, 0, :]
        out[lo : lo + BLOCK] = z
    return _istft(out, size, hop, x.size)


def _window(size: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)).astype(np.float32)  # periodic Hann


def _stft(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """complex64 [size // 2 + 1, frames]: Hann-windowed frames every ``hop`` samples, the signal padded
    by ``size - hop`` zeros either side so that every sample is covered by size // hop frames."""
    pad = size - hop
    n = x.size + 2 * pad
    frames = 1 + -(-(n - size) // hop)
    padded = np.zeros((frames - 1) * hop + size, np.float32)
    padded[pad : pad + x.size] = x
    idx = np.arange(size)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(padded[idx] * _window(size), axis=1).T.astype(np.complex64)


def _istft(spec: np.ndarray, size: int, hop: int, length: int) -> np.ndarray:
    """The inverse of :func:`_stft` (weighted overlap-add), ``length`` samples."""
    w = _window(size)
    frames = spec.shape[1]
    chunks = np.fft.irfft(spec.T, n=size, axis=1).astype(np.float32) * w
    total = (frames - 1) * hop + size
    y = np.zeros(total, np.float32)
    norm = np.zeros(total, np.float32)
    for t in range(frames):
        y[t * hop : t * hop + size] += chunks[t]
        norm[t * hop : t * hop + size] += w * w
    pad = size - hop
    y = y[pad : pad + length] / np.maximum(norm[pad : pad + length], 1e-8)
    return y.astype(np.float32)
