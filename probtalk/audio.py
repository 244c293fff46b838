"""Speech input: read any common audio file (or take an array) as validated 16 kHz mono float32."""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import numbers
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.errors import AudioError, AudioTypeError
from probtalk.layout import AUDIO_SAMPLE_RATE

logger = logging.getLogger(__name__)

MIN_DURATION_S = 0.2
MAX_DURATION_S = 4 * 3600.0
SILENCE_RMS = 1e-4
MAX_PEAK = 1e5  # float samples above this are not audio in [-1, 1] (int16-scaled floats still pass)

AudioSource = str | os.PathLike[str] | np.ndarray | Sequence[float] | Any
"""A file path, or samples: numpy array, torch tensor or list of floats ([N] or [N, C])."""


def load_audio(
    source: AudioSource,
    sample_rate: float | None = None,
    *,
    validate: bool = True,
) -> np.ndarray:
    """Return speech as float32 [N] mono at 16 kHz.

    Args:
        source: a path to wav/flac/ogg/mp3/m4a/..., or samples as a numpy array, torch tensor
            or list of numbers, [N] or [N, C] (channels last; [C, N] with up to 8 channels is
            transposed).
        sample_rate: the samples' rate in Hz, a whole number (required for samples; checked but
            not used for files, which carry their own rate).
        validate: reject empty, silent, too short, too loud or non-finite audio.

    Raises:
        AudioError: unreadable, empty, silent, shorter than 0.2 s, not finite, far outside
            [-1, 1], channels-first with many channels, or a bad sample rate.
        AudioTypeError: ``source`` is neither a path nor samples (e.g. bytes, an int, None),
            or holds complex, boolean or non-numeric values.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if str(source) == "":
            raise AudioError("audio path is empty; give a speech file")
        if sample_rate is not None:
            _sample_rate(sample_rate)  # a file carries its own rate; still refuse nonsense
        audio, sr = _read_file(path)
        name = path.name
    else:
        audio, name = _as_samples(source), "audio array"
        sr = _sample_rate(sample_rate)
    if audio.ndim == 2:
        # [N, C] channels last; a [C, N] array with few channels is transposed.
        if audio.shape[0] < audio.shape[1]:
            if audio.shape[0] > 8:
                raise AudioError(
                    f"{name} of shape {list(audio.shape)} looks channels-first; pass [N, C] samples (transpose it)"
                )
            audio = audio.T
        audio = audio.mean(axis=1)
    if audio.ndim != 1:
        raise AudioError(f"{name}: expected mono [N] or multichannel [N, C] audio, got shape {list(audio.shape)}")
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    if validate:
        _check_amplitude(audio, name)
    audio = audio.astype(np.float32, copy=False)
    if not 1000 <= sr <= 384000:
        raise AudioError(f"{name}: sample rate {sr} Hz is not plausible; give the real rate")
    if sr != AUDIO_SAMPLE_RATE:
        audio = resample(audio, sr, AUDIO_SAMPLE_RATE)
    if validate:
        validate_audio(audio, name)
    return audio


def _as_samples(source: object) -> np.ndarray:
    """A numpy array of real numbers from an array, a torch tensor or a (nested) list."""
    if source is None or isinstance(source, bytes | bytearray | memoryview | int | float | bool | dict | set):
        hint = "; decode the bytes first (e.g. soundfile.read(io.BytesIO(data)))" if isinstance(source, bytes | bytearray) else ""
        raise AudioTypeError(
            f"audio must be a file path or samples (numpy array, torch tensor, list), got {type(source).__name__}{hint}"
        )
    if type(source).__module__.startswith("torch"):
        source = source.detach().cpu().numpy()  # type: ignore[attr-defined]
    try:
        audio = np.asarray(source)
    except (ValueError, TypeError):
        raise AudioTypeError("audio samples must be a regular array of numbers (equal-length channels)") from None
    if audio.dtype.kind in "c":
        raise AudioTypeError("audio samples are complex numbers; pass the real signal (e.g. np.real(x))")
    if audio.dtype.kind == "b":
        raise AudioTypeError("audio samples are booleans; pass float samples in [-1, 1]")
    if audio.dtype.kind not in "fiu":
        raise AudioTypeError(f"audio samples must be numbers, got dtype {audio.dtype}")
    return audio


def _sample_rate(sample_rate: object) -> int:
    if sample_rate is None:
        raise AudioError("audio samples need their sample rate: pass sample_rate=...")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise AudioTypeError(f"sample_rate must be a number of Hz, got {type(sample_rate).__name__}")
    value = float(sample_rate)
    if not (math.isfinite(value) and value == int(value)):
        raise AudioError(f"sample_rate must be a whole number of Hz, got {sample_rate!r}")
    return int(value)


def _check_amplitude(audio: np.ndarray, name: str) -> None:
    """Refuse float samples far outside [-1, 1] (they overflow the encoder); NaN/inf are refused later."""
    if audio.size == 0 or audio.dtype.kind != "f":
        return
    with np.errstate(invalid="ignore"):
        finite = audio[np.isfinite(audio)]
    peak = float(np.max(np.abs(finite), initial=0.0))
    if peak > MAX_PEAK:
        raise AudioError(f"{name} has peak amplitude {peak:.3g}, far outside [-1, 1]; scale the samples to [-1, 1]")


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
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AudioError(f"audio file {path} is a symbolic link loop; point it at a real file") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise AudioError(f"audio file {path} not found; check the path") from None
        raise AudioError(f"cannot read audio file {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioError(f"{path} is a folder, not an audio file")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        raise AudioError(f"{path} is {kind}; give a saved audio file")
    if info.st_size == 0:
        raise AudioError(f"audio file {path} is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise AudioError(f"audio file {path} is not readable (permission denied); check its permissions")
    import soundfile as sf

    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return _read_with_av(path)  # a format libsndfile lacks, or not audio at all
    _warn_if_truncated_wav(path, info.st_size)
    return np.asarray(audio), int(sr)


def _warn_if_truncated_wav(path: Path, size: int) -> None:
    """Log a warning when a RIFF/WAVE file's data chunk is shorter than its header says."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return
                cid, declared = chunk[:4], int.from_bytes(chunk[4:], "little")
                if cid == b"data":
                    have = size - fh.tell()
                    if 0 < declared < 0xFFFFFFFF and have < declared:
                        logger.warning(
                            "%s is truncated: it holds %d of the %d bytes of samples its header declares "
                            "(%.0f%%); animating what is there",
                            path.name, have, declared, 100.0 * have / declared,
                        )
                    return
                fh.seek(declared + (declared & 1), os.SEEK_CUR)
    except OSError:
        return


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
