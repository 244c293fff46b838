"""Speech input: every format, depth, rate and channel layout a user may hand us, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from probtalk.audio import load_audio, resample
from probtalk.errors import AudioError


def tone(sr: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.stack([x] * channels, axis=1) if channels > 1 else x


GOOD = [
    # (suffix, format, subtype, sample rate, channels)
    ("wav", "WAV", "PCM_U8", 8000, 1),
    ("wav", "WAV", "PCM_16", 16000, 1),
    ("wav", "WAV", "PCM_24", 22050, 2),
    ("wav", "WAV", "PCM_32", 44100, 1),
    ("wav", "WAV", "FLOAT", 48000, 2),
    ("wav", "WAV", "PCM_16", 96000, 1),
    ("flac", "FLAC", "PCM_16", 44100, 2),
    ("ogg", "OGG", "VORBIS", 48000, 1),
    ("mp3", "MP3", "MPEG_LAYER_III", 44100, 1),
]


@pytest.mark.parametrize("suffix,fmt,subtype,sr,channels", GOOD)
def test_reads_formats_depths_rates_channels(tmp_path, suffix, fmt, subtype, sr, channels):
    path = tmp_path / f"speech.{suffix}"
    sf.write(path, tone(sr, 1.0, channels), sr, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # one second at 16 kHz (mp3/ogg encoders may add a little padding)
    assert abs(audio.size - 16000) < 2000
    assert 0.05 < np.abs(audio).max() <= 1.01


def test_array_input_needs_rate_and_is_resampled():
    x = tone(48000, 0.5).astype(np.float32)
    with pytest.raises(AudioError, match="sample_rate"):
        load_audio(x)
    y = load_audio(x, 48000)
    assert y.size == 8000
    stereo_channels_first = np.stack([x, x])  # [C, N]
    assert load_audio(stereo_channels_first, 48000).size == 8000


def test_resample_preserves_frequency():
    x = tone(44100, 1.0)
    y = resample(x, 44100, 16000)
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) - 220) <= 2  # 1 Hz bins


def _write_bytes(tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


BAD = [
    ("missing", lambda d: d / "nope.wav", "not found"),
    ("empty file", lambda d: _write_bytes(d, "empty.wav", b""), "empty"),
    ("text file", lambda d: _write_bytes(d, "notes.wav", b"this is not audio at all\n" * 40), "not a readable audio"),
    ("truncated wav", lambda d: _write_bytes(d, "cut.wav", b"RIFF\x24\x00\x00\x00WAVEfmt "), "not a readable audio"),
    ("folder", lambda d: d, "folder"),
]


@pytest.mark.parametrize("label,make,message", BAD, ids=[b[0] for b in BAD])
def test_bad_files_give_one_line_errors(tmp_path, label, make, message):
    with pytest.raises(AudioError, match=message) as info:
        load_audio(make(tmp_path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "audio,message",
    [
        (np.zeros(16000, np.float32), "silent"),
        (tone(16000, 0.1).astype(np.float32), "at least 0.2 s"),
        (np.zeros(0, np.float32), "empty"),
        (np.full(16000, np.nan, np.float32), "NaN"),
    ],
    ids=["silent", "too short", "empty", "nan"],
)
def test_unusable_audio_is_rejected(audio, message):
    with pytest.raises(AudioError, match=message):
        load_audio(audio, 16000)
