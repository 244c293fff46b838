"""Speech input: read any common audio file (or take an array) as validated 16 kHz mono float32."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from probtalk.errors import AudioError
from probtalk.layout import AUDIO_SAMPLE_RATE

MIN_DURATION_S = 0.2
MAX_DURATION_S = 4 * 3600.0
SILENCE_RMS = 1e-4


def load_audio(
    source: str | os.PathLike[str] | np.ndarray,
    sample_rate: int | None = None,
    *,
    validate: bool = True,
) -> np.ndarray:
    """Return speech as float32 [N] mono at 16 kHz.

    Args:
        source: a path to wav/flac/ogg/mp3/m4a/... or an array [N] or [N, C] (channels last).
        sample_rate: the array's sample rate (required for arrays; ignored for files).
        validate: reject empty, silent, too short or non-finite audio.

    Raises:
        AudioError: unreadable, empty, silent, shorter than 0.2 s, or not finite.
    """
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise AudioError("an audio array needs its sample rate: pass sample_rate=...")
        audio, sr, name = np.asarray(source), int(sample_rate), "audio array"
    else:
        path = Path(source)
        audio, sr = _read_file(path)
        name = path.name
    if audio.ndim == 2:
        # [N, C] channels last; a [C, N] array with few channels is transposed.
        if audio.shape[0] < audio.shape[1] and audio.shape[0] <= 8:
            audio = audio.T
        audio = audio.mean(axis=1)
    if audio.ndim != 1:
        raise AudioError(f"{name}: expected mono [N] or multichannel [N, C] audio, got shape {list(audio.shape)}")
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    audio = audio.astype(np.float32, copy=False)
    if not 1000 <= sr <= 384000:
        raise AudioError(f"{name}: sample rate {sr} Hz is not plausible; give the real rate")
    if sr != AUDIO_SAMPLE_RATE:
        audio = resample(audio, sr, AUDIO_SAMPLE_RATE)
    if validate:
        validate_audio(audio, name)
    return audio


def validate_audio(audio: np.ndarray, name: str = "audio") -> None:
    """Raise AudioError when 16 kHz audio is empty, non-finite, too short, too long or silent."""
    if audio.size == 0:
        raise AudioError(f"{name} is empty; give a recording with speech")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{name} holds NaN or infinite samples; re-export the recording")
    duration = audio.size / AUDIO_SAMPLE_RATE
    if duration < MIN_DURATION_S:
        raise AudioError(f"{name} is {duration:.2f} s long; give at least {MIN_DURATION_S} s of speech")
    if duration > MAX_DURATION_S:
        raise AudioError(f"{name} is {duration / 3600:.1f} h long; split it into parts under 4 h")
    if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
        raise AudioError(f"{name} is silent; check the recording's level or channel")


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of float32 [N] (scipy), exact for rational rate ratios."""
    from math import gcd

    from scipy.signal import resample_poly

    if sr_in == sr_out:
        return audio.astype(np.float32, copy=False)
    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(audio, sr_out // g, sr_in // g).astype(np.float32)


def audio_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (for provenance in Animation.meta)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_file(path: Path) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioError(f"audio file {path} not found; check the path")
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file {path} is empty (0 bytes)")
    import soundfile as sf

    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return _read_with_av(path)  # a format libsndfile lacks, or not audio at all
    return np.asarray(audio), int(sr)


def _read_with_av(path: Path) -> tuple[np.ndarray, int]:
    """Decode formats libsndfile lacks (m4a/aac, some mp3) with PyAV when it is installed."""
    try:
        import av
    except ImportError:
        raise AudioError(
            f"{path.name} is not a readable audio file (wav/flac/ogg/mp3); convert it, or pip install av"
        ) from None
    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise AudioError(f"{path.name} has no audio stream; give a speech recording")
            chunks, sr = [], streams[0].rate
            for frame in container.decode(streams[0]):
                arr = frame.to_ndarray()
                if arr.ndim == 2 and not frame.format.is_planar:  # packed: [1, N*C]
                    arr = arr.reshape(-1, len(frame.layout.channels)).T
                chunks.append(arr.astype(np.float32) if arr.dtype.kind == "f" else _int_to_float(arr))
    except AudioError:
        raise
    except Exception as exc:  # PyAV raises many error types for non-media input
        raise AudioError(f"{path.name} is not a readable audio file ({type(exc).__name__}); convert it to wav") from None
    if not chunks:
        raise AudioError(f"{path.name} holds no audio samples")
    audio = np.concatenate(chunks, axis=-1)
    return (audio.T if audio.ndim == 2 else audio), int(sr)


def _int_to_float(arr: np.ndarray) -> np.ndarray:
    return arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
