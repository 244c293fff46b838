"""Batch-level random crops and waveform augmentation (torch only, per clip, seeded).

Everything acts on a collated :class:`probtalk.data.dataset.Batch` and keeps
speech and motion aligned: a crop takes the same time span of both, and a
speed change resamples the motion in time by the same factor.
"""

from __future__ import annotations

import dataclasses
import io
import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from probtalk.errors import MissingExtraError
from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.models.blocks import lengths_to_mask
from probtalk.train.config import AugmentConfig

if TYPE_CHECKING:
    from probtalk.data.dataset import Batch


def _uniform(lo: float, hi: float, gen: torch.Generator) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _repad(clips: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    out = like.new_zeros((len(clips), max(len(c) for c in clips), *like.shape[2:]))
    for i, c in enumerate(clips):
        out[i, : len(c)] = c
    return out


def _rebuild(batch: Batch, audio: list[torch.Tensor], motion: list[torch.Tensor],
             phones: list[torch.Tensor] | None = None, timing: list[torch.Tensor] | None = None) -> Batch:
    lengths = torch.tensor([len(m) for m in motion], dtype=torch.long)
    motion_t = _repad(motion, batch.motion)
    return dataclasses.replace(
        batch,
        phones=None if phones is None else _repad(phones, batch.phones),
        timing=None if timing is None else _repad(timing, batch.timing),
        audio=_repad(audio, batch.audio),
        audio_lengths=torch.tensor([len(a) for a in audio], dtype=torch.long),
        motion=motion_t,
        lengths=lengths,
        motion_mask=lengths_to_mask(lengths, motion_t.shape[1]),
    )


def random_crop(batch: Batch, max_seconds: float, fps: float, gen: torch.Generator) -> Batch:
    """Crop clips longer than ``max_seconds`` to a random window of that length (speech and motion alike)."""
    if max_seconds <= 0:
        return batch
    max_frames = max(1, int(round(max_seconds * fps)))
    if int(batch.lengths.max()) <= max_frames:
        return batch
    spf = AUDIO_SAMPLE_RATE / fps
    audio, motion, phones, timing = [], [], [], []
    has_phones = getattr(batch, "phones", None) is not None
    has_timing = getattr(batch, "timing", None) is not None
    for i in range(len(batch.lengths)):
        t, n = int(batch.lengths[i]), int(batch.audio_lengths[i])
        start = 0 if t <= max_frames else int(torch.randint(0, t - max_frames + 1, (), generator=gen))
        stop = min(t, start + max_frames)
        a0 = min(int(round(start * spf)), n)
        a1 = n if t <= max_frames else min(int(round(stop * spf)), n)
        audio.append(batch.audio[i, a0:max(a1, a0 + 1)])
        motion.append(batch.motion[i, start:stop])
        if has_phones:
            phones.append(batch.phones[i, start:stop])
        if has_timing:
            timing.append(batch.timing[i, start:stop])
    return _rebuild(batch, audio, motion, phones if has_phones else None, timing if has_timing else None)


def _resample_1d(x: torch.Tensor, n_out: int) -> torch.Tensor:
    """Linear resampling of [N, ...] along time to n_out samples."""
    if n_out == x.shape[0]:
        return x
    flat = x.reshape(x.shape[0], -1).T[None]  # [1, C, N]
    out = torch.nn.functional.interpolate(flat, size=n_out, mode="linear", align_corners=True)
    return out[0].T.reshape(n_out, *x.shape[1:])


def time_stretch(x: torch.Tensor, rate: float, n_fft: int = 512, hop: int = 128) -> torch.Tensor:
    """Phase-vocoder time stretch of a 1-D signal: ``rate`` > 1 is faster (shorter), pitch kept."""
    window = torch.hann_window(n_fft, dtype=x.dtype)
    n = x.shape[0]
    if n < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - n))
    spec = torch.stft(x, n_fft, hop, window=window, return_complex=True)  # [F, N]
    bins, frames = spec.shape
    if frames < 2:
        return _resample_1d(x[:n, None], max(1, int(round(n / rate))))[:, 0]
    spec = torch.cat([spec, spec[:, -1:], spec[:, -1:]], 1)  # two frames to spare: istft gets its full length
    pos = torch.arange(0.0, frames + 1, rate, dtype=x.dtype)
    pos = pos[pos < frames + 1]  # a float step can carry arange onto its end (e.g. 363 frames at -1.13 semitones)
    i0 = pos.floor().long()
    frac = (pos - i0)[None]
    mag = (1 - frac) * spec[:, i0].abs() + frac * spec[:, i0 + 1].abs()
    expected = 2 * math.pi * hop * torch.arange(bins, dtype=x.dtype)[:, None] / n_fft
    delta = spec[:, i0 + 1].angle() - spec[:, i0].angle() - expected
    delta = delta - 2 * math.pi * torch.round(delta / (2 * math.pi))
    advance = torch.cat([torch.zeros(bins, 1, dtype=x.dtype), (expected + delta)[:, :-1]], 1)
    phase = spec[:, :1].angle() + advance.cumsum(1)
    return torch.istft(torch.polar(mag, phase), n_fft, hop, window=window, length=max(1, int(round(n / rate))))


def pitch_shift(x: torch.Tensor, semitones: float) -> torch.Tensor:
    """Shift pitch and formants of 1-D speech by ``semitones`` at the same duration (stretch, then resample)."""
    factor = 2.0 ** (semitones / 12.0)
    if abs(factor - 1.0) < 1e-6 or x.shape[0] < 2:
        return x
    stretched = time_stretch(x, 1.0 / factor)
    return _resample_1d(stretched[:, None], x.shape[0])[:, 0]


def _eq(x: torch.Tensor, max_db: float, gen: torch.Generator) -> torch.Tensor:
    spec = torch.fft.rfft(x)
    f = torch.linspace(0, 1, spec.shape[0])
    tilt = _uniform(-max_db, max_db, gen) * (f - 0.5)  # spectral tilt
    centre, width = _uniform(0.02, 0.5, gen), _uniform(0.02, 0.2, gen)
    band = _uniform(-max_db, max_db, gen) * torch.exp(-0.5 * ((f - centre) / width) ** 2)
    gain = 10 ** ((tilt + band) / 20)
    return torch.fft.irfft(spec * gain, n=x.shape[0])


def reverb(x: torch.Tensor, seconds: float, gen: torch.Generator) -> torch.Tensor:
    """1-D speech through a synthetic room: a noise impulse response decaying 60 dB in ``seconds``, level kept."""
    n_ir = max(2, int(seconds * AUDIO_SAMPLE_RATE))
    t = torch.arange(n_ir) / AUDIO_SAMPLE_RATE
    ir = torch.randn(n_ir, generator=gen) * torch.exp(-6.9 * t / seconds)  # -60 dB at `seconds`
    ir[0] = 1.0
    ir = ir / ir.norm()
    n = x.shape[0] + n_ir - 1
    y = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(ir, n=n), n=n)[: x.shape[0]]
    return y * (x.norm() / y.norm().clamp_min(1e-8))


def add_noise(x: torch.Tensor, snr_db: float, gen: torch.Generator, color: float = 0.0) -> torch.Tensor:
    """1-D speech plus noise at ``snr_db`` below its mean power: white, or with ``color`` its power falling
    as frequency to the power of ``-color`` (1: pink, 3 dB per octave; 2: brown, 6 dB per octave)."""
    power = x.pow(2).mean().clamp_min(1e-10)
    noise = torch.randn(x.shape, generator=gen)
    if color and x.shape[0] > 1:
        spec = torch.fft.rfft(noise)
        f = torch.arange(spec.shape[0], dtype=torch.float32).clamp_min(1.0)  # DC shaped as the lowest band
        noise = torch.fft.irfft(spec * f.pow(-color / 2), n=x.shape[0])
        noise = noise / noise.pow(2).mean().sqrt().clamp_min(1e-12)
    return x + noise * math.sqrt(float(power) / 10 ** (snr_db / 10))


def room_response(rt60: float, drr_db: float, tail: np.ndarray) -> np.ndarray:
    """A room heard from a distance as an impulse response (float64): 1 (the direct sound), then from 1 ms
    on the noise ``tail`` (one value per sample, its length the response's) decaying 60 dB in ``rt60`` s,
    scaled so that its energy lies ``drr_db`` below the direct sound's."""
    t = np.arange(tail.size) / AUDIO_SAMPLE_RATE
    ir = np.asarray(tail, np.float64) * np.exp(-6.9 * t / rt60)
    ir[:16] = 0.0
    ir *= 10 ** (-drr_db / 20) / max(float(np.linalg.norm(ir)), 1e-12)
    ir[0] = 1.0
    return ir


def convolve(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``x`` through ``ir`` (FFT convolution, float64), ``x``'s length, its level kept."""
    n = x.size + ir.size - 1
    size = 1 << max(0, (n - 1).bit_length())
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: x.size]
    return y * (np.linalg.norm(x) / max(float(np.linalg.norm(y)), 1e-8))


def room(x: torch.Tensor, rt60: float, drr_db: float, gen: torch.Generator) -> torch.Tensor:
    """1-D speech heard in a room from a distance (:func:`room_response`, the tail drawn from ``gen``), level
    kept; the training counterpart of :func:`far_room`."""
    tail = torch.randn(max(32, int(rt60 * AUDIO_SAMPLE_RATE)), generator=gen, dtype=torch.float64).numpy()
    return torch.from_numpy(convolve(x.double().numpy(), room_response(rt60, drr_db, tail))).to(x.dtype)


#: The codecs of :func:`codec`: PyAV encoder, container, and the rate the encoder runs at.
CODECS = {"mp3": ("libmp3lame", "mp3", AUDIO_SAMPLE_RATE), "opus": ("libopus", "ogg", 48000)}


def codec(x: np.ndarray, name: str, kbps: float) -> np.ndarray:
    """16 kHz speech [N] encoded with a lossy codec (:data:`CODECS`) at ``kbps`` kbit/s and decoded again
    (PyAV), float32 [N], as speech taken from video or the web is heard."""
    try:
        import av
    except ImportError:
        raise MissingExtraError("the codec augmentation (codec_prob)", "render") from None

    encoder, container, rate = CODECS[name]
    pcm = (np.clip(np.asarray(x, np.float32), -1.0, 1.0) * 32767.0).astype(np.int16)[None]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(encoder, rate=rate)
        stream.bit_rate = int(kbps * 1000)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = AUDIO_SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    buf.seek(0)
    chunks = []
    with av.open(buf) as src:
        back = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_SAMPLE_RATE)
        for decoded in src.decode(audio=0):
            chunks += [f.to_ndarray().ravel() for f in back.resample(decoded)]
        chunks += [f.to_ndarray().ravel() for f in back.resample(None)]
    y = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    y = y[: x.size]
    return np.pad(y, (0, x.size - y.size))


def perturb_speech(a: torch.Tensor, config: AugmentConfig, gen: torch.Generator) -> tuple[torch.Tensor, float]:
    """One clip's speech [N] randomly perturbed (speed, pitch, EQ, reverb, room, noise, codec, gain) and the speed factor
    applied (1.0 when none; the caller warps the clip's motion and labels to follow, see :func:`speed_source`)."""
    speed = 1.0
    if config.speed_prob > 0 and float(torch.rand((), generator=gen)) < config.speed_prob:
        speed = _uniform(*config.speed_range, gen)
        a = _resample_1d(a[:, None], max(1, int(round(len(a) / speed))))[:, 0]
    if config.pitch_prob > 0 and float(torch.rand((), generator=gen)) < config.pitch_prob:
        a = pitch_shift(a, _uniform(*config.pitch_semitones, gen))
    if config.eq_prob > 0 and float(torch.rand((), generator=gen)) < config.eq_prob:
        a = _eq(a, config.eq_db, gen)
    if config.reverb_prob > 0 and float(torch.rand((), generator=gen)) < config.reverb_prob:
        a = reverb(a, _uniform(*config.reverb_seconds, gen), gen)
    if config.room_prob > 0 and float(torch.rand((), generator=gen)) < config.room_prob:
        a = room(a, _uniform(*config.room_rt60, gen), _uniform(*config.room_drr_db, gen), gen)
    if config.noise_prob > 0 and float(torch.rand((), generator=gen)) < config.noise_prob:
        color = 0.0
        if config.noise_color_prob > 0 and float(torch.rand((), generator=gen)) < config.noise_color_prob:
            color = 1.0 if float(torch.rand((), generator=gen)) < 0.5 else 2.0
        a = add_noise(a, _uniform(*config.snr_db, gen), gen, color)
    if config.codec_prob > 0 and float(torch.rand((), generator=gen)) < config.codec_prob:
        name = "mp3" if float(torch.rand((), generator=gen)) < 0.5 else "opus"
        a = torch.from_numpy(codec(a.numpy(), name, _uniform(*config.codec_kbps, gen)))
    if config.gain_db > 0:
        a = a * 10 ** (_uniform(-config.gain_db, config.gain_db, gen) / 20)
    return a, speed


def far_room(audio: np.ndarray, drr_db: float, seed: int, rt60: float = 0.4) -> np.ndarray:
    """Speech through a synthetic room heard from a distance (the benchmarks' milder room): the direct
    sound, then a noise tail from 1 ms on decaying 60 dB in ``rt60`` s, ``drr_db`` below the direct
    sound in energy (the direct-to-reverberant ratio); level kept. float32 [N] in, float32 [N] out."""
    tail = np.random.default_rng(seed).standard_normal(int(rt60 * AUDIO_SAMPLE_RATE))
    return convolve(np.asarray(audio, np.float64), room_response(rt60, drr_db, tail)).astype(np.float32)


def moved_voice(audio: np.ndarray, pitch: float, room: bool, seed: int) -> np.ndarray:
    """Speech moved off its voice, the benchmarks' proxy for real recordings: pitch and formants shifted by
    ``pitch`` semitones at the same duration; with ``room``, a 0.3 s reverb tail and noise at 20 dB SNR
    (seeded). float32 [N] in, float32 [N] out."""
    x = torch.from_numpy(np.asarray(audio, np.float32))
    if pitch:
        x = pitch_shift(x, pitch)
    if room:
        gen = torch.Generator().manual_seed(int(seed))
        x = add_noise(reverb(x, 0.3, gen), 20.0, gen)
    return x.numpy().astype(np.float32)


def speed_source(frames: int, speed: float) -> tuple[int, torch.Tensor]:
    """Frames after a speed change and, for each, the nearest source frame [n] (labels are not interpolated)."""
    n = max(1, int(round(frames / speed)))
    return n, ((torch.arange(n) + 0.5) * speed - 0.5).round().long().clamp(0, frames - 1)


def augment_batch(batch: Batch, config: AugmentConfig, fps: float, gen: torch.Generator) -> Batch:
    """Randomly perturb each clip's speech (speed, pitch, EQ, reverb, noise, gain); the motion (and the timing
    tracks) follow speed changes."""
    audio, motion, phones, timing = [], [], [], []
    has_phones = getattr(batch, "phones", None) is not None
    has_timing = getattr(batch, "timing", None) is not None
    for i in range(len(batch.lengths)):
        a = batch.audio[i, : int(batch.audio_lengths[i])].float()
        m = batch.motion[i, : int(batch.lengths[i])]
        p = batch.phones[i, : int(batch.lengths[i])] if has_phones else None
        k = batch.timing[i, : int(batch.lengths[i])] if has_timing else None
        a, speed = perturb_speech(a, config, gen)
        if speed != 1.0:
            n, src = speed_source(len(m), speed)
            m = _resample_1d(m, n)
            if p is not None:  # nearest frame: phone tokens are labels, not values
                p = p[src]
            if k is not None:
                k = _resample_1d(k, n)
        audio.append(a)
        motion.append(m)
        if p is not None:
            phones.append(p)
        if k is not None:
            timing.append(k)
    return _rebuild(batch, audio, motion, phones if has_phones else None, timing if has_timing else None)
